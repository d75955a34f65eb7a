"""Remote monitoring (issue 17) as FHIR R4: the enrolment as CarePlan, home readings as a part
of the Observation type, alerts as DetectedIssue. Each names its patient, so it is scoped by
`visible_patients` and every read is authorised and audited by the views: a consultant abroad
sees none of it."""

from .care_plan import CarePlanHandler
from .detected_issue import DetectedIssueHandler
from .observation import HomeReadingObservationHandler, is_home_reading

__all__ = [
    "CarePlanHandler",
    "DetectedIssueHandler",
    "HomeReadingObservationHandler",
    "is_home_reading",
]
