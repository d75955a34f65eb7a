"""Precomputed analytics (issue 18). Nothing here names a person: a fact row keeps the
consultation's, transfer's or result's place, month and times, never the patient, and the
pages read only `IndicatorCell`s, which are counts and figures per place and month.

Facts are refreshed incrementally (`compute.refresh`: the sources changed since the last run's
watermark), then the cells of every month those facts touch are computed again from the facts.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Dimension(models.TextChoices):
    REGION = "region", _("region")
    SETTLEMENT = "settlement", _("settlement")
    FACILITY = "facility", _("facility")
    SPECIALTY = "specialty", _("specialty")
    # The consulting hospital abroad (cross-border consultations only).
    PARTNER = "partner", _("partner hospital")
    # Every region together: the line a region's figure is a part of.
    ALL = "all", _("all regions")


class Outcome(models.TextChoices):
    ANSWERED = "answered", _("answered")
    REJECTED = "rejected", _("declined")
    FAILED = "failed", _("not answered")
    CANCELLED = "cancelled", _("cancelled")
    OPEN = "open", _("open")


class ConsultFact(models.Model):
    """One submitted consultation as analytics counts it (drafts and entries in error are not
    counted). `settlement` and `region` are where the patient lives (equal access is about
    residents); `facility` is the requesting one."""

    consultation = models.OneToOneField(
        "consults.Consultation", on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()
    region = models.CharField(max_length=80)
    settlement = models.ForeignKey("network.Settlement", on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey("network.Facility", on_delete=models.PROTECT, related_name="+")
    specialty = models.ForeignKey("network.Specialty", on_delete=models.PROTECT, related_name="+")
    form = models.CharField(max_length=10)
    cross_border = models.BooleanField(default=False)
    # The consulting facility abroad of a cross-border consultation.
    partner = models.ForeignKey(
        "network.Facility", null=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    requested_at = models.DateTimeField()
    concluded_at = models.DateTimeField(null=True)
    minutes_to_conclusion = models.PositiveIntegerField(null=True)
    # None while the request is open and its deadline has not passed.
    deadline_met = models.BooleanField(null=True)
    escalated = models.BooleanField(default=False)
    reroutes = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"consultation fact {self.month:%Y-%m} {self.region}"

    class Meta:
        indexes = [
            models.Index(fields=["month", "region"], name="consultfact_month_region"),
            models.Index(fields=["month", "cross_border"], name="consultfact_month_cross"),
        ]


class TransferFact(models.Model):
    """One evacuation (issue 16) as analytics counts it."""

    transfer = models.OneToOneField(
        "evacuation.Transfer", on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()
    region = models.CharField(max_length=80)
    settlement = models.ForeignKey("network.Settlement", on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey("network.Facility", on_delete=models.PROTECT, related_name="+")
    condition = models.CharField(max_length=24)
    emergency = models.BooleanField(default=False)
    outcome = models.CharField(max_length=24)
    # First medical contact to arrival at the receiving hospital.
    minutes_to_arrival = models.PositiveIntegerField(null=True)
    # Emergencies only: hospitalised within the national 24-hour target (domain.md §10).
    within_target = models.BooleanField(null=True)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"transfer fact {self.month:%Y-%m} {self.region}"

    class Meta:
        indexes = [models.Index(fields=["month", "region"], name="transferfact_month_region")]


class ResultFact(models.Model):
    """One released diagnostic report (issue 13): order to release, and its critical alerts."""

    report = models.OneToOneField(
        "diagnostics.DiagnosticReport", on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()
    region = models.CharField(max_length=80)
    settlement = models.ForeignKey("network.Settlement", on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey("network.Facility", on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=16)
    minutes_turnaround = models.PositiveIntegerField(null=True)
    critical_alerts = models.PositiveSmallIntegerField(default=0)
    # The slowest acknowledgement of the report's critical alerts; None if any is unanswered.
    critical_ack_minutes = models.PositiveIntegerField(null=True)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"result fact {self.month:%Y-%m} {self.region}"

    class Meta:
        indexes = [models.Index(fields=["month", "region"], name="resultfact_month_region")]


class IndicatorCell(models.Model):
    """One figure: an indicator of one place (or specialty, or partner) in one month.

    `count` is the number of events the figure is computed over (what suppression looks at);
    `value` the figure itself (a count, a rate, minutes, a share), None when nothing to compute
    it from. `cross_border` cells count cross-border consultations only (the partner's view);
    `form` narrows to one consultation form ('' for all)."""

    month = models.DateField()
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    key = models.CharField(max_length=80)
    indicator = models.CharField(max_length=40)
    form = models.CharField(max_length=10, blank=True, default="")
    cross_border = models.BooleanField(default=False)
    count = models.PositiveIntegerField(default=0)
    value = models.FloatField(null=True)
    # Decided once per computation over every line a page can show (core.suppression): every
    # page, export, map and report reads this flag, so no two of them can be subtracted.
    suppressed = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.indicator} {self.dimension}:{self.key} {self.month:%Y-%m}"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "dimension", "key", "indicator", "form", "cross_border"],
                name="one_indicator_cell",
            )
        ]
        indexes = [
            models.Index(
                fields=["month", "dimension", "indicator", "cross_border"],
                name="cell_page_lookup",
            )
        ]


class ComputeRun(models.Model):
    """One run of the nightly computation: what it looked at and how long it took."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    # Sources changed at or after this moment were looked at; the next run starts from the
    # moment this one started (a change during the run is looked at again, never missed).
    since = models.DateTimeField(null=True)
    full = models.BooleanField(default=False)
    facts_written = models.PositiveIntegerField(default=0)
    cells_written = models.PositiveIntegerField(default=0)
    months = models.JSONField(default=list)
    # The same for every run: with the constraint below, at most one run is unfinished.
    slot = models.PositiveSmallIntegerField(default=1, editable=False)
    # A run that failed keeps its row: the months its facts touched are computed by the next.
    failed_at = models.DateTimeField(null=True)
    # A digest of what every month's cells depend on besides the facts (populations, which
    # region a settlement or facility is in): when it changes, every month is computed again.
    geography = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # One run at a time: the nightly loop and a task started by hand would otherwise
            # write the same cells at once. A second run meets this and is refused.
            models.UniqueConstraint(
                fields=["slot"],
                condition=models.Q(finished_at__isnull=True, failed_at__isnull=True),
                name="one_unfinished_analytics_run",
            )
        ]

    def __str__(self) -> str:
        kind = "full" if self.full else "incremental"
        return f"analytics run {self.started_at:%Y-%m-%d %H:%M} ({kind})"
