from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .call_notes import call_note


class ConsultForm(models.TextChoices):
    """The form of a consultation decides its answer deadline (domain.md §2)."""

    EMERGENCY = "emergency", _("emergency")
    URGENT = "urgent", _("urgent")
    PLANNED = "planned", _("planned")


# FHIR ServiceRequest.priority for each form.
FHIR_PRIORITY = {
    ConsultForm.EMERGENCY: "stat",
    ConsultForm.URGENT: "urgent",
    ConsultForm.PLANNED: "routine",
}
DEFAULT_DEADLINE_MINUTES = {
    ConsultForm.EMERGENCY: 2 * 60,
    ConsultForm.URGENT: 24 * 60,
    ConsultForm.PLANNED: 7 * 24 * 60,
}


class ConsultMode(models.TextChoices):
    DEFERRED = "deferred", _("deferred (store and forward)")
    REALTIME = "realtime", _("real time")
    CONSILIUM = "consilium", _("consilium of several consultants")


class Status(models.TextChoices):
    """FHIR Task.status (domain.md §6)."""

    DRAFT = "draft", _("draft")
    REQUESTED = "requested", _("requested")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")
    IN_PROGRESS = "in-progress", _("in progress")
    ON_HOLD = "on-hold", _("on hold")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")
    FAILED = "failed", _("failed")
    ENTERED_IN_ERROR = "entered-in-error", _("entered in error")


class VitalsMissing(models.TextChoices):
    """Why an emergency or urgent request goes without some of the vital signs NEWS2 is scored
    from (consults.request_rules): the consultant reads the reason instead of a low score."""

    NO_EQUIPMENT = "no_equipment", _("no equipment to measure them")
    PATIENT_REFUSED = "patient_refused", _("the patient refused")
    NO_TIME = "no_time", _("no time: life-threatening condition")
    OTHER = "other", _("other reason")


OPEN_STATUSES = (Status.REQUESTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD)
# Statuses in which the deadline still runs against the consulting side.
AWAITING_ANSWER = (Status.REQUESTED, Status.ACCEPTED, Status.IN_PROGRESS)


class DeadlinePolicy(models.Model):
    """Minutes from receipt to answer, per form; an administrator edits them."""

    form = models.CharField(_("form"), max_length=10, choices=ConsultForm.choices, unique=True)
    minutes = models.PositiveIntegerField(_("answer within, minutes"))

    class Meta:
        verbose_name = _("deadline")
        verbose_name_plural = _("deadlines")

    def __str__(self) -> str:
        return f"{self.get_form_display()}: {self.minutes} min"

    @classmethod
    def duration(cls, form: str) -> timedelta:
        row = cls.objects.filter(form=form).first()
        minutes = row.minutes if row else DEFAULT_DEADLINE_MINUTES[ConsultForm(form)]
        return timedelta(minutes=minutes)


class RoutingRule(models.Model):
    """Which facility consults requests of a region in a specialty; lower rank first, the rest
    are backups, tried in order when a request is declined or breaches its deadline."""

    region = models.CharField(_("region"), max_length=80)
    specialty = models.ForeignKey(
        "network.Specialty", on_delete=models.CASCADE, verbose_name=_("specialty")
    )
    facility = models.ForeignKey(
        "network.Facility",
        on_delete=models.CASCADE,
        verbose_name=_("consulting facility"),
        related_name="routing_rules",
    )
    rank = models.PositiveSmallIntegerField(_("rank"), default=1)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing table")
        ordering = ["region", "specialty", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "specialty", "facility"], name="routing_unique_rule"
            )
        ]

    def __str__(self) -> str:
        return f"{self.region} / {self.specialty}: {self.rank}. {self.facility}"


class OnCallShift(models.Model):
    """An on-call period outside working hours, in absolute time."""

    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="on_call_shifts"
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))

    class Meta:
        verbose_name = _("on-call shift")
        verbose_name_plural = _("on-call rota")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(starts_at__lt=models.F("ends_at")), name="shift_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consultant}: {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} UTC"


class Consultation(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Chosen by the requesting client when the form is first shown: a retried or doubled
    # submission carries the same token and finds the consultation it already made.
    client_token = models.UUIDField(unique=True)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="consultations"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_consultations"
    )
    requesting_facility = models.ForeignKey(
        "network.Facility", on_delete=models.PROTECT, related_name="requested_consultations"
    )
    specialty = models.ForeignKey(
        "network.Specialty", on_delete=models.PROTECT, verbose_name=_("specialty")
    )
    form = models.CharField(_("form"), max_length=10, choices=ConsultForm.choices)
    mode = models.CharField(
        _("mode"), max_length=10, choices=ConsultMode.choices, default=ConsultMode.DEFERRED
    )
    language = models.CharField(_("language of the request"), max_length=2, default="ru")
    question = models.TextField(_("question"))
    summary = models.TextField(_("clinical summary"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    business_status = models.CharField(max_length=40, blank=True)
    news2_total = models.PositiveSmallIntegerField(null=True, blank=True)
    news2_band = models.CharField(max_length=12, blank=True)
    suggested_form = models.CharField(max_length=10, blank=True)
    # The form NEWS2 suggested when the request was sent; `form` is the one the clinician chose
    # (preselected from the suggestion, and theirs to change): the record keeps both, while
    # `suggested_form` follows readings added later.
    form_suggested = models.CharField(
        _("form suggested by NEWS2"), max_length=10, choices=ConsultForm.choices, blank=True
    )
    vitals_missing = models.CharField(
        _("vital signs missing because"), max_length=20, choices=VitalsMissing.choices, blank=True
    )
    vitals_missing_note = models.CharField(_("what is missing and why"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    received_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True, db_index=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    half_alert_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    routed_facility = models.ForeignKey(
        "network.Facility",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="routed_consultations",
    )
    routing_rank = models.PositiveSmallIntegerField(default=0)
    # Bumped by every change: a form shows the version it was drawn from, and a submission from
    # a stale page is refused instead of overwriting what someone else did meanwhile.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        ordering = ["deadline_at"]
        indexes = [
            models.Index(fields=["status", "deadline_at"]),
            # The coordinator's board and the requester's list read open cases by facility.
            models.Index(
                fields=["requesting_facility", "deadline_at"],
                condition=models.Q(status__in=["requested", "accepted", "in-progress", "on-hold"]),
                name="consult_open_by_facility",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_form_display()} {self.specialty} ({self.uuid})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def fhir_priority(self) -> str:
        return FHIR_PRIORITY[ConsultForm(self.form)]


class AssignmentRole(models.TextChoices):
    PRIMARY = "primary", _("consultant")
    MEMBER = "member", _("consilium member")


class Assignment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="assignments"
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consult_assignments"
    )
    facility = models.ForeignKey("network.Facility", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=8, choices=AssignmentRole.choices)
    assigned_at = models.DateTimeField(auto_now_add=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "consultant"],
                condition=models.Q(ended_at__isnull=True),
                name="assignment_one_active_per_consultant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consultant} on {self.consultation_id}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class VitalObservation(models.Model):
    """One vital sign of a patient. Usually recorded with a request; a remote station may send
    its readings first (a FHIR transaction bundle posts the Observations before the
    ServiceRequest), so the consultation may be empty and the patient is always set."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="vital_observations"
    )
    consultation = models.ForeignKey(
        Consultation, null=True, blank=True, on_delete=models.CASCADE, related_name="vitals"
    )
    key = models.CharField(max_length=32)
    loinc = models.CharField(max_length=16)
    value = models.CharField(max_length=16)
    unit = models.CharField(max_length=16, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consultation", "key"], name="vital_once_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}{self.unit}"


# How the timeline names each event, in the reader's language.
EVENT_LABELS = {
    "submit": _("sent"),
    "discard": _("draft discarded"),
    "accept": _("accepted"),
    "reject": _("rejected"),
    "cancel": _("cancelled"),
    "fail": _("failed"),
    "error": _("entered in error"),
    "start": _("work started"),
    "hold": _("question to the requester"),
    "resume": _("resumed"),
    "complete": _("conclusion signed"),
    "amend": _("conclusion amended"),
    "routed": _("assigned"),
    "unassigned": _("no consultant found"),
    "declined": _("declined"),
    "reassigned": _("reassigned by the coordinator"),
    "message": _("message"),
    "half_deadline": _("half the deadline passed"),
    "breached": _("deadline passed"),
    "acknowledged": _("conclusion acknowledged"),
    "synced": _("state received from the hub"),
    "call_started": _("call started"),
    "call_ended": _("call ended"),
}

# Notes the system writes on the timeline (consults.deadlines), kept in English in the record.
SYSTEM_NOTES = {"deadline passed": _("deadline passed")}


class Transition(models.Model):
    """The case's timeline: every change of state, and every escalation."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="transitions"
    )
    from_status = models.CharField(max_length=20, choices=Status.choices)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    event = models.CharField(max_length=40)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status}→{self.to_status} ({self.event})"

    @property
    def event_label(self) -> str:
        return str(EVENT_LABELS.get(self.event, self.event))

    @property
    def note_label(self) -> str:
        """The note in the reader's language where the system wrote it (what was done, from an
        acknowledgement; a deadline passing); what a person wrote is shown as they wrote it."""
        if self.event == "acknowledged" and self.note in OutcomeAction.values:
            return str(OutcomeAction(self.note).label)
        if self.event in ("call_started", "call_ended"):
            return call_note(self.event, self.note)
        return str(SYSTEM_NOTES.get(self.note, self.note))


class Message(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    body = models.TextField(_("message"))
    asks_requester = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"


class EvacuationAdvice(models.TextChoices):
    NONE = "none", _("no transfer needed")
    PLANNED_TRANSFER = "planned_transfer", _("planned transfer")
    URGENT_AIR = "urgent_air", _("urgent evacuation by air")


class Conclusion(models.Model):
    """A signed medical conclusion. An amendment is a new version; earlier ones stay."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        Consultation, on_delete=models.PROTECT, related_name="conclusions"
    )
    version = models.PositiveSmallIntegerField(default=1)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    findings = models.TextField(_("findings"))
    diagnoses = models.JSONField(_("diagnoses (ICD-10)"), default=list)
    recommendations = models.TextField(_("recommendations"))
    evacuation = models.CharField(
        _("transfer or evacuation"), max_length=20, choices=EvacuationAdvice.choices
    )
    evacuation_destination = models.ForeignKey(
        "network.Facility",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("destination"),
    )
    follow_up = models.TextField(_("follow-up"), blank=True)
    signed_at = models.DateTimeField()
    # "ТМК-2026-000123", given as it is signed and covered by the signature
    # (farcare.consults.numbering); conclusions signed before numbering began have none.
    number = models.CharField(_("document number"), max_length=32, blank=True)
    signature = models.OneToOneField(
        "signatures.Signature", on_delete=models.PROTECT, related_name="conclusion"
    )

    class Meta:
        ordering = ["consultation", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "version"], name="conclusion_unique_version"
            ),
            models.UniqueConstraint(
                fields=["number"], condition=~models.Q(number=""), name="conclusion_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"conclusion v{self.version} of {self.consultation_id}"


class DocumentCounter(models.Model):
    """The last number given in a series of documents in a year (farcare.consults.numbering)."""

    series = models.CharField(max_length=8)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "year"], name="document_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.series}-{self.year}: {self.last}"


class OutcomeAction(models.TextChoices):
    TREATED_LOCALLY = "treated_locally", _("treated locally")
    TRANSFERRED = "transferred", _("transferred")
    EVACUATED = "evacuated", _("evacuated")


class Helped(models.TextChoices):
    YES = "yes", _("yes")
    PARTLY = "partly", _("partly")
    NO = "no", _("no")
    UNKNOWN = "unknown", _("too early to say")


class Acknowledgement(models.Model):
    """The requester closes the loop: read the conclusion, say what was done and whether it
    helped."""

    consultation = models.OneToOneField(
        Consultation, on_delete=models.CASCADE, related_name="acknowledgement"
    )
    conclusion = models.ForeignKey(Conclusion, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    at = models.DateTimeField()
    action = models.CharField(_("what was done"), max_length=20, choices=OutcomeAction.choices)
    helped = models.CharField(_("did it help"), max_length=8, choices=Helped.choices)
    note = models.TextField(_("note"), blank=True)

    def __str__(self) -> str:
        return f"ack {self.consultation_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Stored under the consultation's UUID with a random name: the original file name (which
    # may carry a patient's name) stays in the database only.
    return f"consultations/{instance.consultation.uuid}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    # Set on the PDF of a signed conclusion, filed with the case like any other document.
    conclusion = models.OneToOneField(
        "Conclusion", null=True, blank=True, on_delete=models.PROTECT, related_name="document"
    )
    # Empty while only the preview has crossed a weak link: the original follows, or comes
    # when the consultant asks for it (see farcare.sync).
    file = models.FileField(upload_to=attachment_path, blank=True)
    preview = models.FileField(upload_to=attachment_path, blank=True)
    preview_content_type = models.CharField(max_length=100, blank=True)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    original_received_at = models.DateTimeField(null=True, blank=True)
    original_requested_at = models.DateTimeField(null=True, blank=True)
    # When someone on the consultant's side first opened it: the requester sees "read".
    viewed_at = models.DateTimeField(null=True, blank=True)
    # The requester's word that the file shows no name or number of the patient: until then a
    # file other than DICOM (which is de-identified by rule) is withheld from a consultant
    # abroad, since no program finds a name in a photo of a discharge letter (domain.md §3).
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    identity_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name

    @property
    def has_original(self) -> bool:
        return bool(self.file)
