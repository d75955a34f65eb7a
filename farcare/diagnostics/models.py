"""Diagnostics (issue 13): a test ordered at a post, its specimen on the way to the laboratory
that performs it, the results back (HL7 v2, FHIR or a page), critical values that must reach
someone who acts, and each person's own results.

Codes are LOINC (domain.md §9), units UCUM; statuses follow FHIR (ServiceRequest.status,
Specimen.status, DiagnosticReport.status, Observation.status) so that the FHIR layer maps them
one to one. Corrected results are new rows: a `ResultObservation` is never changed once
stored, the one it replaces keeps `superseded_by`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    LABORATORY = "laboratory", _("laboratory")
    IMAGING = "imaging", _("imaging")


class Priority(models.TextChoices):
    """FHIR ServiceRequest.priority."""

    ROUTINE = "routine", _("routine")
    URGENT = "urgent", _("urgent")
    ASAP = "asap", _("as soon as possible")
    STAT = "stat", _("immediately (stat)")


class OrderStatus(models.TextChoices):
    """FHIR ServiceRequest.status; moves in `diagnostics/workflow.py`."""

    DRAFT = "draft", _("draft")
    ACTIVE = "active", _("ordered")
    ON_HOLD = "on-hold", _("on hold")
    REVOKED = "revoked", _("cancelled")
    COMPLETED = "completed", _("completed")
    ENTERED_IN_ERROR = "entered-in-error", _("entered in error")


class PerformerRoute(models.Model):
    """Which facility performs a category of tests for a region's ordering facilities, in
    order (as `consults.RoutingRule` routes consultations). Without a rule the ordering
    facility itself performs what it is able to, else the first facility up the referral chain
    that is able to (`Capability`)."""

    region = models.CharField(max_length=80)
    category = models.CharField(max_length=12, choices=Category.choices)
    performer = models.ForeignKey("network.Facility", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["region", "category", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "category", "performer"], name="diag_route_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.region} {self.category} #{self.rank}: {self.performer}"


class Capability(models.Model):
    """What a facility performs: a laboratory, or imaging by modality (DICOM codes: CR, DX,
    CT, MR, US, ECG)."""

    facility = models.ForeignKey(
        "network.Facility", on_delete=models.CASCADE, related_name="diagnostic_capabilities"
    )
    category = models.CharField(max_length=12, choices=Category.choices)
    modality = models.CharField(max_length=8, blank=True)
    # A radiologist's reading worklist at a hub reads studies of the facilities it serves.
    reads_images = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "category", "modality"], name="diag_capability_unique"
            )
        ]

    def __str__(self) -> str:
        what = f"{self.category} {self.modality}".strip()
        return f"{self.facility}: {what}"


class DiagnosticOrder(models.Model):
    """A ServiceRequest for one or more tests of one category."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # As for consultations: a retried or doubled submission finds the order it already made.
    client_token = models.UUIDField(unique=True)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="diagnostic_orders"
    )
    orderer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="diagnostic_orders"
    )
    ordering_facility = models.ForeignKey(
        "network.Facility", on_delete=models.PROTECT, related_name="diagnostic_orders_placed"
    )
    performer = models.ForeignKey(
        "network.Facility",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="diagnostic_orders_performed",
    )
    # A consultant's recommendation, ordered from the conclusion in one click.
    consultation = models.ForeignKey(
        "consults.Consultation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="diagnostic_orders",
    )
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.ROUTINE
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=OrderStatus.choices,
        default=OrderStatus.ACTIVE,
        db_index=True,
    )
    # The number the laboratory knows the order by (HL7 ORC-2 / OBR-2 placer order number).
    placer_number = models.CharField(max_length=32, unique=True)
    # The laboratory's own number once known (ORC-3 / OBR-3 filler order number).
    filler_number = models.CharField(max_length=64, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.placer_number


class OrderedTest(models.Model):
    """One line of an order: a LOINC panel or test, or an imaging procedure."""

    order = models.ForeignKey(DiagnosticOrder, on_delete=models.CASCADE, related_name="tests")
    code = models.CharField(max_length=16)  # LOINC
    display = models.CharField(max_length=200)
    modality = models.CharField(max_length=8, blank=True)
    body_site = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


class SpecimenStatus(models.TextChoices):
    AWAITING = "awaiting", _("to be collected")
    COLLECTED = "collected", _("collected")
    SHIPPED = "shipped", _("on the way")
    RECEIVED = "received", _("received by the laboratory")
    REJECTED = "rejected", _("rejected")


class RejectionReason(models.TextChoices):
    HAEMOLYSED = "haemolysed", _("haemolysed")
    TOO_OLD = "too_old", _("too old to test")
    UNLABELLED = "unlabelled", _("unlabelled or mislabelled")
    INSUFFICIENT = "insufficient", _("not enough material")
    WRONG_CONTAINER = "wrong_container", _("wrong container")
    OTHER = "other", _("other reason")


class Specimen(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(DiagnosticOrder, on_delete=models.CASCADE, related_name="specimens")
    kind = models.CharField(_("specimen"), max_length=40)  # e.g. venous blood, urine
    # Printed on the tube's label (barcode); HL7 SPM-2.
    label = models.CharField(max_length=32, unique=True)
    status = models.CharField(
        max_length=12, choices=SpecimenStatus.choices, default=SpecimenStatus.AWAITING
    )
    collected_at = models.DateTimeField(null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    batch = models.CharField(_("shipment batch"), max_length=40, blank=True)
    transport = models.CharField(_("transport"), max_length=80, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=20, choices=RejectionReason.choices, blank=True)
    rejection_note = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label


class ReportStatus(models.TextChoices):
    """FHIR DiagnosticReport.status."""

    PRELIMINARY = "preliminary", _("preliminary")
    FINAL = "final", _("final")
    CORRECTED = "corrected", _("corrected")
    AMENDED = "amended", _("amended")
    CANCELLED = "cancelled", _("cancelled")
    ENTERED_IN_ERROR = "entered-in-error", _("entered in error")


class ResultSource(models.TextChoices):
    HL7 = "hl7", _("laboratory system (HL7 v2)")
    FHIR = "fhir", _("FHIR")
    PAGE = "page", _("entered on a page")
    STATION = "station", _("station")


class DiagnosticReport(models.Model):
    """A laboratory report (its values are `ResultObservation`s) or a radiologist's signed
    report of an imaging study (`imaging.ImagingStudy.report`)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="diagnostic_reports"
    )
    order = models.ForeignKey(
        DiagnosticOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    performer = models.ForeignKey(
        "network.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(max_length=12, choices=Category.choices)
    code = models.CharField(max_length=16)  # LOINC of the panel, test or procedure
    display = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=ReportStatus.choices)
    source = models.CharField(max_length=10, choices=ResultSource.choices)
    # Where the report came from, so a repeat finds it: the laboratory's filler number, a FHIR
    # client's identifier, or the HL7 message that carried it.
    external_id = models.CharField(max_length=120, blank=True, db_index=True)
    # The laboratory's number of the report (HL7 OBR-3), so that a correction sent under a new
    # message id finds it, with or without a FarCare order.
    filler_number = models.CharField(max_length=64, blank=True, db_index=True)
    effective_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField()
    findings = models.TextField(blank=True)
    conclusion = models.TextField(blank=True)
    conclusion_codes = models.JSONField(default=list, blank=True)  # ICD-10
    signature = models.ForeignKey(
        "signatures.Signature", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The patient sees it once released: at once, or after a clinician reviewed it (or the
    # configured delay passed) for tests that need explaining first.
    review_required = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"{self.code} {self.display} ({self.status})"


class Interpretation(models.TextChoices):
    """HL7 v2 OBX-8 / FHIR v3-ObservationInterpretation."""

    NORMAL = "N", _("within the usual range")
    LOW = "L", _("low")
    HIGH = "H", _("high")
    CRITICAL_LOW = "LL", _("critically low")
    CRITICAL_HIGH = "HH", _("critically high")
    ABNORMAL = "A", _("abnormal")
    # A coded or text result the laboratory calls critical (HL7 table 0078 AA): alerts as LL/HH.
    CRITICAL_ABNORMAL = "AA", _("critically abnormal")


class ObservationStatus(models.TextChoices):
    """FHIR Observation.status (HL7 v2 OBX-11: P, F, C)."""

    PRELIMINARY = "preliminary", _("preliminary")
    FINAL = "final", _("final")
    CORRECTED = "corrected", _("corrected")
    CANCELLED = "cancelled", _("cancelled")
    ENTERED_IN_ERROR = "entered-in-error", _("entered in error")


class ValueType(models.TextChoices):
    NUMBER = "NM", _("number")
    TEXT = "ST", _("text")
    CODED = "CE", _("coded")


class ResultObservation(models.Model):
    """One value of a report. Never changed: a correction is a new row, and the one it
    replaces points at it (`superseded_by`), so the history stays whole."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    report = models.ForeignKey(
        DiagnosticReport, on_delete=models.PROTECT, related_name="observations"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="lab_observations"
    )
    code = models.CharField(max_length=16, db_index=True)  # LOINC
    display = models.CharField(max_length=200)
    value_type = models.CharField(max_length=2, choices=ValueType.choices)
    value_number = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    value_text = models.CharField(max_length=400, blank=True)
    unit = models.CharField(max_length=24, blank=True)  # UCUM
    reference_low = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reference_text = models.CharField(max_length=60, blank=True)
    interpretation = models.CharField(max_length=2, choices=Interpretation.choices, blank=True)
    # The sender's abnormal flags exactly as sent (HL7 OBX-8, FHIR interpretation codes), kept
    # whether or not FarCare reads them: `interpretation` is what FarCare made of them.
    flags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=ObservationStatus.choices)
    performer = models.ForeignKey(
        "network.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    effective_at = models.DateTimeField()
    issued_at = models.DateTimeField()
    # The position of the value in its report (HL7 OBX-1), so a correction finds what it
    # corrects, with the code.
    sequence = models.PositiveSmallIntegerField(default=1)
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    # The UUID of the first row of its chain of corrections (its own for a first value): the
    # value's one identity outside (the FHIR Observation's id), whatever row is current.
    first_uuid = models.UUIDField(null=True, blank=True, db_index=True, editable=False)
    # When the patient could first see this value (`diagnostics.release`): a value added to or
    # corrected in a released report that needs a review waits for it, while the patient still
    # sees the values released before.
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report", "sequence", "created_at"]
        indexes = [models.Index(fields=["patient", "code", "effective_at"])]

    def __str__(self) -> str:
        value = self.value_number if self.value_number is not None else self.value_text
        return f"{self.code} {value} {self.unit}".strip()


class CriticalLimit(models.Model):
    """A laboratory's critical limits for a code, in the code's UCUM unit (defaults for
    every laboratory are `facility=None`, loaded from domain.md §9)."""

    code = models.CharField(max_length=16)
    facility = models.ForeignKey(
        "network.Facility", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    low = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    high = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=24)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["code", "facility"], name="diag_critical_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} <{self.low} >{self.high} {self.unit}"


class AlertStatus(models.TextChoices):
    OPEN = "open", _("waiting for acknowledgement")
    ESCALATED = "escalated", _("escalated")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")


class AlertKind(models.TextChoices):
    CRITICAL = "critical", _("critical value")
    # Troponin above the assay's 99th percentile: not a critical value, but in a suspected
    # infarction it must reach a clinician at once (domain.md §9).
    TROPONIN = "troponin", _("troponin above the 99th percentile")


class CriticalAlert(models.Model):
    """A value beyond its critical limit: the orderer is told at once and must acknowledge it
    by `ack_deadline`; unacknowledged, it escalates to the post's district doctor and the
    region's coordinators, and once more to the coordinators when still unacknowledged a second
    deadline later. `acknowledged_at - raised_at` is the time to acknowledgement."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    observation = models.ForeignKey(
        ResultObservation, on_delete=models.PROTECT, related_name="critical_alerts"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=AlertKind.choices, default=AlertKind.CRITICAL)
    status = models.CharField(
        max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True
    )
    raised_at = models.DateTimeField()
    ack_deadline = models.DateTimeField(db_index=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Still unacknowledged at the second deadline after the first escalation: the region's
    # coordinators were told again, urgently (`watch.py`).
    escalated_again_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action_taken = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-raised_at"]

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        """From the result's arrival to its acknowledgement (shown, and measured)."""
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.raised_at

    def __str__(self) -> str:
        return f"{self.kind} alert {self.uuid} ({self.status})"


class ReceivedReport(models.Model):
    """Each delivery of a report, by the sender's identifier and a hash of its content: the
    same delivery again (a resent HL7 message, a retried FHIR POST) is applied once; a new
    delivery for a stored report (final after preliminary, a correction) adds versions."""

    report = models.ForeignKey(DiagnosticReport, on_delete=models.CASCADE, related_name="receipts")
    source = models.CharField(max_length=10, choices=ResultSource.choices)
    external_id = models.CharField(max_length=120)
    content_hash = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id", "content_hash"], name="diag_receipt_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"
