from __future__ import annotations

import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from farcare.core.values import pick_name


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(zone)s"), params={"zone": value})


class LocalisedName(models.Model):
    """A name kept in the three interface languages; the reader's language is shown first."""

    name_ru = models.CharField(_("name (Russian)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_ko = models.CharField(_("name (Korean)"), max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        return pick_name({"ru": self.name_ru, "ko": self.name_ko, "en": self.name_en})

    def __str__(self) -> str:
        return self.name


class Specialty(LocalisedName):
    code = models.SlugField(_("code"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("specialty")
        verbose_name_plural = _("specialties")
        ordering = ["code"]


class Settlement(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_ru = models.CharField(_("name (Russian)"), max_length=120)
    name_ko = models.CharField(_("name (Korean)"), max_length=120, blank=True)
    region = models.CharField(_("region"), max_length=80)
    country = models.CharField(_("country"), max_length=2, default="RU")
    latitude = models.FloatField(
        _("latitude"), validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        _("longitude"), validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    population = models.PositiveIntegerField(_("population"), default=0)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["region", "name_en"]
        constraints = [
            models.UniqueConstraint(fields=["name_en", "region"], name="settlement_unique_name")
        ]

    @property
    def name(self) -> str:
        return pick_name({"ru": self.name_ru, "ko": self.name_ko, "en": self.name_en})

    def __str__(self) -> str:
        return self.name


class Organisation(LocalisedName):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    country = models.CharField(_("country"), max_length=2, default="RU")
    region = models.CharField(_("region"), max_length=80)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["country", "region", "name_en"]


class FacilityKind(models.TextChoices):
    FELDSHER_POST = "feldsher_post", _("Feldsher–midwife post")
    DISTRICT_HOSPITAL = "district_hospital", _("District hospital")
    REGIONAL_HUB = "regional_hub", _("Regional hub hospital")
    FEDERAL_CENTRE = "federal_centre", _("Federal medical research centre")
    PARTNER_ABROAD = "partner_abroad", _("Partner hospital abroad")


# The order of the chain of care, lowest first (domain.md §1).
CHAIN_LEVEL = {
    FacilityKind.FELDSHER_POST: 0,
    FacilityKind.DISTRICT_HOSPITAL: 1,
    FacilityKind.REGIONAL_HUB: 2,
    FacilityKind.FEDERAL_CENTRE: 3,
    FacilityKind.PARTNER_ABROAD: 3,
}


class LinkType(models.TextChoices):
    FIBRE = "fibre", _("Fibre")
    VSAT = "vsat", _("Satellite (VSAT)")
    CELLULAR = "cellular", _("2G/3G cellular")
    RADIO = "radio", _("Radio")


class Facility(LocalisedName):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="facilities",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=FacilityKind.choices)
    country = models.CharField(_("country"), max_length=2, default="RU")
    region = models.CharField(_("region"), max_length=80, db_index=True)
    settlement = models.ForeignKey(
        Settlement,
        verbose_name=_("settlement"),
        on_delete=models.PROTECT,
        related_name="facilities",
    )
    latitude = models.FloatField(
        _("latitude"), validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        _("longitude"), validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    link_type = models.CharField(_("link type"), max_length=12, choices=LinkType.choices)
    bandwidth_kbps = models.PositiveIntegerField(
        _("bandwidth, kbit/s"), validators=[MinValueValidator(1)]
    )
    rtt_ms = models.PositiveIntegerField(_("round-trip time, ms"))

    class Meta:
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        ordering = ["region", "kind", "name_en"]

    @property
    def level(self) -> int:
        return CHAIN_LEVEL[FacilityKind(self.kind)]


class ReferralLink(models.Model):
    """`source` refers patients of `specialty` (every specialty when empty) to `target`.
    Lower `rank` is tried first; higher ranks are backups."""

    source = models.ForeignKey(
        Facility,
        on_delete=models.CASCADE,
        related_name="referrals_out",
        verbose_name=_("referring facility"),
    )
    target = models.ForeignKey(
        Facility,
        on_delete=models.CASCADE,
        related_name="referrals_in",
        verbose_name=_("referred to"),
    )
    specialty = models.ForeignKey(
        Specialty,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        verbose_name=_("specialty"),
        help_text=_("Empty: every specialty."),
    )
    rank = models.PositiveSmallIntegerField(_("rank"), default=1)

    class Meta:
        verbose_name = _("referral link")
        verbose_name_plural = _("referral links")
        ordering = ["source", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "specialty"], name="referral_unique_link"
            ),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="referral_not_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.target}"


LANGUAGE_CHOICES = [("ru", "Русский"), ("ko", "한국어"), ("en", "English")]


class Practitioner(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practitioner",
    )
    family = models.CharField(_("family name"), max_length=80)
    given = models.CharField(_("given name"), max_length=80)
    middle = models.CharField(_("patronymic"), max_length=80, blank=True)
    languages = models.JSONField(_("languages spoken"), default=list)
    specialties = models.ManyToManyField(Specialty, blank=True, verbose_name=_("specialties"))

    class Meta:
        verbose_name = _("practitioner")
        verbose_name_plural = _("practitioners")
        ordering = ["family", "given"]

    def __str__(self) -> str:
        return " ".join(part for part in (self.family, self.given, self.middle) if part)


class PractitionerRoleKind(models.TextChoices):
    FELDSHER = "feldsher", _("Feldsher")
    DOCTOR = "doctor", _("Doctor")
    CONSULTANT = "consultant", _("Consultant")
    COORDINATOR = "coordinator", _("Coordinator")
    TRAINER = "trainer", _("Trainer")


class PractitionerRole(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="roles")
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="practitioner_roles"
    )
    kind = models.CharField(_("role"), max_length=16, choices=PractitionerRoleKind.choices)

    class Meta:
        verbose_name = _("practitioner role")
        verbose_name_plural = _("practitioner roles")
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "facility", "kind"], name="practitioner_role_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} — {self.get_kind_display()}, {self.facility}"


WEEKDAYS = [
    (0, _("Mon")),
    (1, _("Tue")),
    (2, _("Wed")),
    (3, _("Thu")),
    (4, _("Fri")),
    (5, _("Sat")),
    (6, _("Sun")),
]


class WorkingHours(models.Model):
    """A weekly working window in the facility's own time zone."""

    role = models.ForeignKey(PractitionerRole, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=WEEKDAYS)
    start = models.TimeField(_("start time"))
    end = models.TimeField(_("end time"))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["role", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end")), name="hours_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"
