"""A patient's refusal of teaching use withdraws their cases at once, whichever path recorded
it (a page, FHIR, a station's sync): every one saves a `Consent` row, so the casebook listens
there rather than asking each path to remember it. Runs inside the refusal's transaction."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from farcare.patients.models import Consent, ConsentKind

from .services import withdraw_for_refusal


@receiver(post_save, sender=Consent, dispatch_uid="casebook_withdraw_on_refusal")
def withdraw_on_refusal(sender: type[Consent], instance: Consent, **kwargs: Any) -> None:
    if instance.kind == ConsentKind.TEACHING_REFUSED and instance.revoked_at is None:
        withdraw_for_refusal(instance.patient)
