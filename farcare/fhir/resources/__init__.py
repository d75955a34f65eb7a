"""Importing this package registers every resource handler."""

from . import (  # noqa: F401
    audit_event,
    clinical,
    consultation,
    documents,
    network,
    patient,
    scheduling,
)

# After clinical and consultation: the diagnostics parts join their Observation and
# ServiceRequest types (registry.register_part).
from . import diagnostics  # noqa: F401  isort: skip

# After consultation and network: transfers join ServiceRequest, Task, Encounter and Location.
from . import evacuation  # noqa: F401  isort: skip

# After clinical and diagnostics: home readings join the Observation type (issue 17), beside
# vital signs and laboratory values; CarePlan and DetectedIssue are their own types.
from . import monitoring  # noqa: F401  isort: skip
