"""Remote monitoring of people with chronic illness between visits (issue 17; domain.md §2, §11).
Every moment is stored in UTC.

An `Enrolment` puts one patient in one programme (hypertension, diabetes...) after an in-person
visit, with the plan the clinician set for them (thresholds, trends, reading frequency: `plan`,
a serialised `rules.Plan`), target bands for the charts (`targets`) and the feldsher and doctor
responsible. A `HomeReading` is one measurement, whichever way it came (the person's own page, a
feldsher at the post or a station, a device over FHIR, an SMS); readings belong to the patient,
not to an enrolment, so a person in two programmes types a pressure once. A `MonitoringAlert` is
one episode a rule found (its `dedupe_key`, `rules.Alert`), sent to a responsible clinician who
must acknowledge it before `ack_deadline` or it escalates; its moves are data in `workflow.py`
and each is an `AlertEvent`. `ReadingPhone` names the phone a person sends SMS readings from, and
`SmsMessage` keeps every SMS received and the reply sent to it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .measures import Code
from .rules import AlertKind, Programme, Severity


class ProgrammeChoice(models.TextChoices):
    HYPERTENSION = Programme.HYPERTENSION.value, _("hypertension")
    DIABETES = Programme.DIABETES.value, _("diabetes")
    HEART_FAILURE = Programme.HEART_FAILURE.value, _("heart failure")
    PREGNANCY = Programme.PREGNANCY.value, _("pregnancy")
    AFTER_DISCHARGE = Programme.AFTER_DISCHARGE.value, _("after discharge")


class MeasureChoice(models.TextChoices):
    BP_PANEL = Code.BP_PANEL.value, _("blood pressure")
    HEART_RATE = Code.HEART_RATE.value, _("pulse")
    WEIGHT = Code.WEIGHT.value, _("body weight")
    GLUCOSE = Code.GLUCOSE.value, _("blood glucose")
    SPO2 = Code.SPO2.value, _("oxygen saturation")
    TEMPERATURE = Code.TEMPERATURE.value, _("body temperature")


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    ENDED = "ended", _("ended")


class Enrolment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("patient"),
        on_delete=models.PROTECT,
        related_name="monitoring_enrolments",
    )
    programme = models.CharField(_("programme"), max_length=20, choices=ProgrammeChoice.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=EnrolmentStatus.choices,
        default=EnrolmentStatus.ACTIVE,
        db_index=True,
    )
    # Where the person is followed (their post); the list of a post and of its district doctor.
    facility = models.ForeignKey(
        "network.Facility",
        verbose_name=_("followed at"),
        on_delete=models.PROTECT,
        related_name="monitoring_enrolments",
    )
    responsible_feldsher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible feldsher"),
        on_delete=models.PROTECT,
        related_name="monitored_as_feldsher",
    )
    responsible_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible doctor"),
        on_delete=models.PROTECT,
        related_name="monitored_as_doctor",
    )
    # domain.md §2: remote monitoring follows an in-person visit; its date is required.
    in_person_visit_on = models.DateField(_("in-person visit on"))
    # rules.Plan as the clinician set it (thresholds, gains, schedules), serialised by plans.py.
    plan = models.JSONField(_("plan"), default=dict)
    # Target bands drawn on the charts: {"8480-6": {"low": "100", "high": "139"}, ...}.
    targets = models.JSONField(_("targets"), default=dict, blank=True)
    zone = models.CharField(_("time zone of the person"), max_length=64)
    note = models.TextField(_("note"), blank=True)
    enrolled_at = models.DateTimeField(_("enrolled at"))
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enrolled by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ended by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    end_reason = models.TextField(_("reason for ending"), blank=True)
    # Kept up to date by the services (risk.py) so that a list of thousands sorts on an index.
    risk = models.PositiveIntegerField(_("risk"), default=0)
    risk_reason = models.CharField(_("why"), max_length=200, blank=True)
    last_reading_at = models.DateTimeField(_("last reading"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("monitoring enrolment")
        verbose_name_plural = _("monitoring enrolments")
        # NULLS LAST said: PostgreSQL sorts NULL first in a descending order, SQLite last.
        ordering = ["-risk", models.F("last_reading_at").desc(nulls_last=True), "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "programme"],
                condition=Q(status="active"),
                name="one_active_enrolment_per_programme",
            )
        ]
        indexes = [
            models.Index(fields=["facility", "status", "-risk"], name="enrolment_risk_by_facility"),
        ]
        # The list's whole order (selectors.ENROLMENT_ORDER) over active enrolments is indexed
        # by migration 0002, written per database: SQLite cannot say NULLS LAST in an index.

    def __str__(self) -> str:
        return f"{self.get_programme_display()} ({self.uuid})"


class ReadingSource(models.TextChoices):
    PATIENT = "patient", _("the person's own page")
    CLINICIAN = "clinician", _("entered at the post")
    STATION = "station", _("entered at a station")
    DEVICE = "device", _("device")
    SMS = "sms", _("SMS")


class ReadingStatus(models.TextChoices):
    FINAL = "final", _("final")
    ENTERED_IN_ERROR = "entered_in_error", _("entered in error")


class HomeReading(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("patient"),
        on_delete=models.PROTECT,
        related_name="home_readings",
    )
    code = models.CharField(_("measure"), max_length=10, choices=MeasureChoice.choices)
    # The measure's value in its UCUM unit (measures.MEASURES); for a blood pressure panel the
    # systolic, with the diastolic in value_2.
    value = models.DecimalField(_("value"), max_digits=7, decimal_places=2)
    value_2 = models.DecimalField(
        _("second value"), max_digits=7, decimal_places=2, null=True, blank=True
    )
    unit = models.CharField(_("unit"), max_length=16)
    # The unit the sender wrote when it was converted (a glucose in mg/dL), else blank.
    converted_from = models.CharField(_("converted from"), max_length=16, blank=True)
    taken_at = models.DateTimeField(_("taken at"))
    received_at = models.DateTimeField(_("received at"))
    source = models.CharField(_("source"), max_length=10, choices=ReadingSource.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    device = models.CharField(_("device"), max_length=200, blank=True)
    sms = models.ForeignKey(
        "monitoring.SmsMessage",
        verbose_name=_("SMS"),
        on_delete=models.PROTECT,
        related_name="readings",
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ReadingStatus.choices, default=ReadingStatus.FINAL
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    # Idempotency: a device's Observation identifier or a station's record id, so a retry
    # does not store the reading twice.
    source_id = models.CharField(_("source identifier"), max_length=200, blank=True)
    # What a FHIR client sent that has no column here (fhir/remainder.py), kept, not dropped.
    remainder = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("home reading")
        verbose_name_plural = _("home readings")
        ordering = ["-taken_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "source", "source_id"],
                condition=~Q(source_id=""),
                name="one_reading_per_source_id",
            )
        ]
        indexes = [
            models.Index(fields=["patient", "code", "-taken_at"], name="reading_by_measure"),
            models.Index(fields=["patient", "-taken_at"], name="reading_by_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.value} {self.unit}"


class AlertStatus(models.TextChoices):
    OPEN = "open", _("open")
    ESCALATED = "escalated", _("escalated")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    CLOSED = "closed", _("closed")  # the enrolment ended before anyone acknowledged it


class AlertKindChoice(models.TextChoices):
    THRESHOLD = AlertKind.THRESHOLD.value, _("threshold")
    REPEATED_THRESHOLD = AlertKind.REPEATED_THRESHOLD.value, _("repeated readings over threshold")
    TREND = AlertKind.TREND.value, _("trend")
    MISSED_READING = AlertKind.MISSED_READING.value, _("missed reading")


class SeverityChoice(models.TextChoices):
    WATCH = Severity.WATCH.value, _("watch")
    URGENT = Severity.URGENT.value, _("urgent")
    CRITICAL = Severity.CRITICAL.value, _("critical")


class MonitoringAlert(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrolment = models.ForeignKey(
        Enrolment, verbose_name=_("enrolment"), on_delete=models.PROTECT, related_name="alerts"
    )
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("patient"),
        on_delete=models.PROTECT,
        related_name="monitoring_alerts",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=AlertKindChoice.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=SeverityChoice.choices)
    rule = models.CharField(_("rule"), max_length=40)
    measure = models.CharField(_("measure"), max_length=10, choices=MeasureChoice.choices)
    dedupe_key = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    readings = models.ManyToManyField(HomeReading, related_name="alerts", blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent to"),
        on_delete=models.PROTECT,
        related_name="monitoring_alerts",
    )
    ack_deadline = models.DateTimeField(_("acknowledge by"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AlertStatus.choices,
        default=AlertStatus.OPEN,
        db_index=True,
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    ack_note = models.TextField(_("what was done"), blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    escalated_again_at = models.DateTimeField(_("escalated again at"), null=True, blank=True)
    # The teleconsultation request opened from the alert, if any (a draft until sent).
    consultation = models.ForeignKey(
        "consults.Consultation",
        verbose_name=_("teleconsultation"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("monitoring alert")
        verbose_name_plural = _("monitoring alerts")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "dedupe_key"], name="one_alert_per_episode"
            )
        ]
        indexes = [
            models.Index(fields=["status", "ack_deadline"], name="monitoring_alert_due"),
            models.Index(fields=["recipient", "status"], name="monitoring_alert_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.severity} ({self.uuid})"


class AlertEvent(models.Model):
    """One move of an alert (raised, escalated, acknowledged, closed): its timeline."""

    alert = models.ForeignKey(
        MonitoringAlert, on_delete=models.CASCADE, related_name="events", verbose_name=_("alert")
    )
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    event = models.CharField(max_length=20)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.event} {self.at:%Y-%m-%d %H:%M}"


class ReadingPhone(models.Model):
    """A phone a person sends SMS readings from. A number names one person while active; a
    family sharing a phone enrols it for one of them (the others use the page or the post)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("patient"),
        on_delete=models.PROTECT,
        related_name="reading_phones",
    )
    number = models.CharField(_("phone number"), max_length=16)  # E.164, +79141234567
    language = models.CharField(_("language of replies"), max_length=5, default="ru")
    active = models.BooleanField(_("active"), default=True)
    registered_at = models.DateTimeField(_("registered at"))
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("phone for readings")
        verbose_name_plural = _("phones for readings")
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=Q(active=True), name="one_person_per_reading_phone"
            )
        ]

    def __str__(self) -> str:
        return self.number


class SmsOutcome(models.TextChoices):
    ACCEPTED = "accepted", _("readings accepted")
    PARTLY = "partly", _("some readings accepted, the rest questioned")
    QUESTIONED = "questioned", _("nothing understood: questioned")
    UNKNOWN_SENDER = "unknown_sender", _("number not registered")


class ReplyStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    # Not sent on purpose: an unregistered number answered within the day (a loop guard).
    SKIPPED = "skipped", _("not sent")


class SmsMessage(models.Model):
    """One SMS received from the gateway's inbound webhook, and the reply to it (an outbox row:
    sent through the gateway after commit, retried until sent or given up on)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The gateway's message id: a webhook retried after a lost answer is recognised, not stored
    # (or replied to) twice.
    gateway_id = models.CharField(_("gateway message id"), max_length=100, unique=True)
    sender = models.CharField(_("from"), max_length=16)
    text = models.TextField(_("text"))
    received_at = models.DateTimeField(_("received at"), db_index=True)
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("patient"),
        on_delete=models.PROTECT,
        related_name="sms_messages",
        null=True,
        blank=True,
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=SmsOutcome.choices)
    problems = models.JSONField(default=list, blank=True)
    reply_text = models.CharField(_("reply"), max_length=320, blank=True)
    reply_language = models.CharField(max_length=5, blank=True)
    reply_status = models.CharField(
        _("reply status"),
        max_length=10,
        choices=ReplyStatus.choices,
        default=ReplyStatus.PENDING,
        db_index=True,
    )
    reply_attempts = models.PositiveIntegerField(default=0)
    reply_next_attempt_at = models.DateTimeField(null=True, blank=True)
    reply_last_error = models.TextField(blank=True)
    reply_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("SMS received")
        verbose_name_plural = _("SMS received")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sender} {self.received_at:%Y-%m-%d %H:%M}"
