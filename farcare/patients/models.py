from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .identifiers import normalise_text, snils_format


class Sex(models.TextChoices):
    FEMALE = "female", _("female")
    MALE = "male", _("male")
    OTHER = "other", _("other")
    UNKNOWN = "unknown", _("unknown")


class Patient(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    family = models.CharField(_("family name"), max_length=80)
    given = models.CharField(_("given name"), max_length=80)
    middle = models.CharField(_("patronymic"), max_length=80, blank=True)
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    home_settlement = models.ForeignKey(
        "network.Settlement",
        verbose_name=_("home settlement"),
        on_delete=models.PROTECT,
        related_name="patients",
    )
    home_facility = models.ForeignKey(
        "network.Facility",
        verbose_name=_("home facility"),
        on_delete=models.PROTECT,
        related_name="patients",
    )
    snils = models.CharField(_("SNILS"), max_length=11, blank=True)
    oms_policy = models.CharField(_("OMS policy number"), max_length=16, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient_record",
    )
    search_name = models.CharField(max_length=260, editable=False, db_index=True)
    registered_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["family", "given"]
        constraints = [
            models.UniqueConstraint(
                fields=["snils"], condition=~models.Q(snils=""), name="patient_unique_snils"
            ),
        ]
        indexes = [
            models.Index(fields=["birth_date"]),
            # Plain indexes beside the partial unique one: SQLite cannot use that one for
            # `snils = ?`, and every registration and identifier search asks it.
            models.Index(fields=["snils"]),
            models.Index(fields=["oms_policy"]),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.family, self.given, self.middle) if part)

    @property
    def snils_display(self) -> str:
        return snils_format(self.snils) if self.snils else ""

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def save(self, *args: object, **kwargs: object) -> None:
        # The search key is derived from the name, so it can never disagree with it.
        self.search_name = normalise_text(self.full_name)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


# The fields a clinician types when registering or editing a patient.
PATIENT_FIELDS = (
    "family",
    "given",
    "middle",
    "sex",
    "birth_date",
    "home_settlement",
    "home_facility",
    "snils",
    "oms_policy",
    "phone",
)


class ConsentKind(models.TextChoices):
    TREATMENT = "treatment", _("Treatment")
    TELECONSULTATION = "teleconsultation", _("Teleconsultation")
    TRANSFER_ABROAD = "transfer_abroad", _("Transfer of data abroad")
    # Teaching (issue 15): a case de-identified from the patient's consultations may be used in
    # training unless the patient refused. A refusal is a row of its own kind, so that it is
    # recorded, synchronised and withdrawn (revoked) like any consent; while it is active the
    # patient's consultations are never shown as teaching cases (farcare.casebook).
    TEACHING = "teaching", _("Teaching use of the de-identified case")
    TEACHING_REFUSED = "teaching_refused", _("Refusal of teaching use")


class Consent(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(_("consent"), max_length=20, choices=ConsentKind.choices)
    scope = models.CharField(_("scope"), max_length=300)
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revocation_reason = models.CharField(_("reason for revocation"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.patient_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
