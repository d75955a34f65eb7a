from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CLINICIAN = "clinician", _("Requesting clinician")
    CONSULTANT = "consultant", _("Consultant")
    COORDINATOR = "coordinator", _("Coordinator")
    PATIENT = "patient", _("Patient")
    # Diagnostics (issue 13): the staff of a laboratory who receive specimens and enter results,
    # and the radiologist who reads studies on a hub's reading worklist.
    LABORATORY = "laboratory", _("Laboratory staff")
    RADIOLOGIST = "radiologist", _("Radiologist")
    TRAINER = "trainer", _("Trainer")
    ANALYST = "analyst", _("Analyst")
    ADMINISTRATOR = "administrator", _("Administrator")
    # The service account of a FHIR system client (a regional information system, a lab).
    SYSTEM = "system", _("System client")


# Roles that touch patient data in the course of care: a second factor is required for them
# under production settings.
CLINICAL_ROLES = frozenset({Role.CLINICIAN, Role.CONSULTANT, Role.COORDINATOR})


class User(AbstractUser):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    facility = models.ForeignKey(
        "network.Facility",
        verbose_name=_("facility"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    language = models.CharField(
        _("interface language"),
        max_length=5,
        blank=True,
        help_text=_("Empty: follow the browser's language."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        help_text=_("Empty: the time zone of the user's facility."),
    )
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # set_password() leaves the new password in `_password` until the save; a re-hash on
        # login (check_password) clears it first, so only a real change is announced.
        changed = getattr(self, "_password", None) is not None and not self._state.adding
        super().save(*args, **kwargs)
        if changed:
            from .signals import password_changed

            password_changed.send(sender=User, user=self)
