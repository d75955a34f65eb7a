"""Transfers and evacuations from a post to a hospital bed, and the transport that carries them
(issue 16; domain.md §2 and §10). Every moment is stored in UTC.

A transfer is one patient's way from the sending facility to the receiving one. Its state machine
is data in `workflow.py`; every move is a `TransferEvent`, the case's timeline. A weather hold
keeps the state it interrupted in `held_from` and is counted in `held_seconds`, so the clocks
(`clocks.py`) can show the time with and without holds.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from farcare.network.models import LocalisedName

from .aircraft import AIRCRAFT, AircraftKind, GroundMode


class TransportBase(LocalisedName):
    """An air-ambulance base: where aircraft stand and crews wait (e.g. Anadyr airport)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    region = models.CharField(_("region"), max_length=80, db_index=True)
    settlement = models.ForeignKey(
        "network.Settlement",
        verbose_name=_("settlement"),
        on_delete=models.PROTECT,
        related_name="transport_bases",
    )
    latitude = models.FloatField(
        _("latitude"), validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        _("longitude"), validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )

    class Meta:
        verbose_name = _("air-ambulance base")
        verbose_name_plural = _("air-ambulance bases")
        ordering = ["region", "name_en"]


class AircraftStatus(models.TextChoices):
    AVAILABLE = "available", _("available")
    ON_MISSION = "on_mission", _("on a mission")
    MAINTENANCE = "maintenance", _("in maintenance")
    GROUNDED = "grounded", _("grounded (weather)")


class Aircraft(models.Model):
    """One airframe at a base. Figures default to the type's profile (`aircraft.py`) and may be
    corrected per airframe (extra tanks, a slower variant)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    base = models.ForeignKey(
        TransportBase, verbose_name=_("base"), on_delete=models.PROTECT, related_name="aircraft"
    )
    registration = models.CharField(_("registration"), max_length=16, unique=True)
    profile = models.CharField(
        _("type"), max_length=16, choices=[(p.code, p.code.upper()) for p in AIRCRAFT]
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=[(k.value, k.value) for k in AircraftKind]
    )
    cruise_kmh = models.FloatField(_("cruise speed, km/h"), validators=[MinValueValidator(1)])
    range_km = models.FloatField(_("range, km"), validators=[MinValueValidator(1)])
    crew = models.PositiveSmallIntegerField(_("crew"))
    status = models.CharField(
        _("availability"),
        max_length=12,
        choices=AircraftStatus.choices,
        default=AircraftStatus.AVAILABLE,
        db_index=True,
    )
    status_note = models.CharField(_("note"), max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("aircraft")
        verbose_name_plural = _("aircraft")
        ordering = ["base", "registration"]

    def __str__(self) -> str:
        return f"{self.registration} ({self.profile})"


class Airfield(models.Model):
    """Where aircraft can land at a settlement, and how long the ground leg to its hospital or
    post takes. A settlement without a row has a helicopter site only, with the default ground
    minutes of `estimates.py`."""

    settlement = models.OneToOneField(
        "network.Settlement", on_delete=models.CASCADE, related_name="airfield"
    )
    has_airstrip = models.BooleanField(_("airstrip for planes"), default=False)
    has_helipad = models.BooleanField(_("helicopter site"), default=True)
    ground_minutes = models.PositiveSmallIntegerField(
        _("minutes between the landing site and the facility"), default=15
    )

    class Meta:
        verbose_name = _("landing site")
        verbose_name_plural = _("landing sites")

    def __str__(self) -> str:
        return f"{self.settlement}"


class GroundRoute(models.Model):
    """A way over the ground between two settlements and the months it runs (a winter road from
    December to April, a river in the navigation season). Both directions."""

    origin = models.ForeignKey(
        "network.Settlement", on_delete=models.CASCADE, related_name="ground_routes_out"
    )
    destination = models.ForeignKey(
        "network.Settlement", on_delete=models.CASCADE, related_name="ground_routes_in"
    )
    mode = models.CharField(
        _("mode"), max_length=12, choices=[(m.value, m.value) for m in GroundMode]
    )
    distance_km = models.FloatField(_("distance, km"), validators=[MinValueValidator(0.1)])
    months = models.JSONField(_("months it runs (1–12)"), default=list)

    class Meta:
        verbose_name = _("ground route")
        verbose_name_plural = _("ground routes")
        constraints = [
            models.UniqueConstraint(
                fields=["origin", "destination", "mode"], name="ground_route_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.origin} – {self.destination} ({self.mode})"


class Capability(models.TextChoices):
    """What a receiving hospital can do for a time-critical patient."""

    PCI = "pci", _("primary PCI (cath lab, 24/7)")
    STROKE_THROMBOLYSIS = "stroke_thrombolysis", _("stroke thrombolysis")
    INTENSIVE_CARE = "intensive_care", _("intensive care")
    TRAUMA = "trauma", _("trauma surgery")
    NEONATAL = "neonatal", _("neonatal intensive care")


class FacilityCapability(models.Model):
    facility = models.ForeignKey(
        "network.Facility", on_delete=models.CASCADE, related_name="capabilities"
    )
    capability = models.CharField(_("capability"), max_length=24, choices=Capability.choices)

    class Meta:
        verbose_name = _("hospital capability")
        verbose_name_plural = _("hospital capabilities")
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "capability"], name="facility_capability_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.facility}: {self.capability}"


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", pgettext_lazy("transfer status", "requested")
    ACCEPTED = "accepted", _("bed confirmed")
    TRANSPORT_ASSIGNED = "transport_assigned", _("transport assigned")
    DISPATCHED = "dispatched", _("dispatched")
    ON_BOARD = "on_board", _("patient on board")
    ARRIVED = "arrived", _("arrived")
    HANDED_OVER = "handed_over", _("handed over")
    HELD = "held", _("held")
    CANCELLED = "cancelled", _("cancelled")
    TREATED_LOCALLY = "treated_locally", _("treated locally")
    DIED = "died", _("died")


FINAL_STATUSES = frozenset(
    {
        TransferStatus.HANDED_OVER,
        TransferStatus.CANCELLED,
        TransferStatus.TREATED_LOCALLY,
        TransferStatus.DIED,
    }
)
# States in which an aircraft is committed to the transfer: one aircraft, one such transfer.
AIRCRAFT_COMMITTED = ("transport_assigned", "dispatched", "on_board", "held")


class TransferCondition(models.TextChoices):
    """The time-critical condition the windows of `windows.py` are counted for."""

    STEMI = "stemi", _("STEMI (heart attack with ST elevation)")
    ISCHAEMIC_STROKE = "ischaemic_stroke", _("stroke")
    EMERGENCY = "emergency", _("other emergency")
    URGENT = "urgent", _("urgent, no threat to life")
    PLANNED = "planned", _("planned transfer")


class TransportMode(models.TextChoices):
    AIR = "air", _("by air")
    GROUND = "ground", _("over the ground")


class DecisionChoice(models.TextChoices):
    """What the clinician chose against the advice shown (never decided for them)."""

    TRANSFER = "transfer", _("transfer now")
    LOCAL_TREATMENT_THEN_TRANSFER = (
        "local_then_transfer",
        _("treat locally under teleconsultation, then transfer"),
    )
    LOCAL_TREATMENT_ONLY = "local_only", _("treat locally, no transfer")


class Transfer(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="transfers"
    )
    consultation = models.ForeignKey(
        "consults.Consultation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
    )
    conclusion = models.ForeignKey(
        "consults.Conclusion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    origin = models.ForeignKey(
        "network.Facility",
        verbose_name=_("from"),
        on_delete=models.PROTECT,
        related_name="transfers_out",
    )
    destination = models.ForeignKey(
        "network.Facility",
        verbose_name=_("to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers_in",
    )
    condition = models.CharField(_("condition"), max_length=20, choices=TransferCondition.choices)
    reason = models.TextField(_("reason for transfer"), max_length=4000)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=TransferStatus.choices,
        default=TransferStatus.REQUESTED,
        db_index=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The clocks (clocks.py): first medical contact (the feldsher saw the patient), symptom onset
    # when known (a stroke's window), the decision to transfer, departure, arrival.
    first_contact_at = models.DateTimeField(_("first medical contact"))
    onset_at = models.DateTimeField(_("symptom onset"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decision to transfer"))
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bed_note = models.CharField(_("bed"), max_length=200, blank=True)
    transport_mode = models.CharField(
        _("transport"), max_length=8, choices=TransportMode.choices, blank=True
    )
    aircraft = models.ForeignKey(
        Aircraft, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    ground_mode = models.CharField(
        _("ground transport"),
        max_length=12,
        choices=[(m.value, m.value) for m in GroundMode],
        blank=True,
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    departed_at = models.DateTimeField(_("departure with the patient"), null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)  # any final state
    # The estimate shown when the decision was taken (minutes and their parts, estimates.py),
    # kept so that it can be compared with what happened.
    estimate = models.JSONField(default=dict, blank=True)
    # Decision support (windows.py) as shown, and what the clinician chose.
    advice = models.JSONField(default=dict, blank=True)
    decision_choice = models.CharField(
        _("decision"), max_length=24, choices=DecisionChoice.choices, blank=True
    )
    decision_note = models.TextField(_("why"), max_length=2000, blank=True)
    # A hold (weather) remembers the state it interrupted and when the crew expects to go on.
    held_from = models.CharField(max_length=20, choices=TransferStatus.choices, blank=True)
    held_since = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(_("reason for the hold"), max_length=300, blank=True)
    hold_expected_until = models.DateTimeField(_("expected to go on"), null=True, blank=True)
    held_seconds = models.PositiveIntegerField(default=0)  # closed holds, summed
    stall_alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-decided_at", "pk"]
        constraints = [
            # One aircraft carries one patient at a time: of two concurrent dispatches of one
            # aircraft, the second cannot commit, whatever the database's isolation.
            models.UniqueConstraint(
                fields=["aircraft"],
                condition=models.Q(status__in=AIRCRAFT_COMMITTED),
                name="transfer_one_per_aircraft",
            ),
            # A patient has one open transfer at a time.
            models.UniqueConstraint(
                fields=["patient"],
                condition=~models.Q(status__in=sorted(s.value for s in FINAL_STATUSES)),
                name="transfer_one_open_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"transfer {self.uuid} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class TransferEvent(models.Model):
    """One move of the state machine, or a note on the timeline (a declined bed, a stall alert)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    event = models.CharField(max_length=24)
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, max_length=2000)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.event} at {self.at}"


class TreatmentGiven(models.Model):
    """What was done for the patient before and during the transfer (a drug, a procedure), for
    the handover: the receiving hospital reads it before the patient arrives."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="treatments")
    given_at = models.DateTimeField(_("given at"))
    description = models.CharField(_("treatment"), max_length=500)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["given_at", "pk"]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.description[:40]}"
