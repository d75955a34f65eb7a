"""The demo's training: the trainer of the Yakutsk hub runs "Emergency cardiology for
feldshers", four weekly online sessions from next Tuesday, a handout with its light version,
and the Uelen feldsher enrolled. Running it again adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.training.materials import make_light_version, material_add
from farcare.training.models import Programme, ProgrammeStatus
from farcare.training.samples import ecg_handout_pdf
from farcare.training.services import (
    enrol_learner,
    programme_create,
    programme_set_status,
    session_series_create,
)

TITLE = "Emergency cardiology for feldshers"


def load_training() -> None:
    trainer = User.objects.filter(username="trainer").first()
    feldsher = User.objects.filter(username="feldsher").first()
    if trainer is None or feldsher is None or Programme.objects.filter(title=TITLE).exists():
        return
    by = Accessor(trainer, None, "demo")
    programme = programme_create(
        accessor=by,
        title=TITLE,
        summary="Chest pain at a post: the ECG, thrombolysis, the call to the hub, evacuation.",
        audience="feldshers of Chukotka and Yakutia",
    )
    today = timezone.now().date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    session_series_create(
        accessor=by,
        programme=programme,
        title="Acute coronary syndrome at a post",
        first_starts_at=datetime.combine(tuesday, time(9, 0), tzinfo=UTC),
        count=4,
    )
    material = material_add(
        accessor=by,
        programme=programme,
        title="ECG handout: inferior STEMI",
        kind="pdf",
        upload=SimpleUploadedFile("ecg-handout.pdf", ecg_handout_pdf(), "application/pdf"),
    )
    # The loader runs in one transaction: make the light version now, not after commit.
    make_light_version(material_uuid=material.uuid)
    programme_set_status(accessor=by, programme=programme, status=ProgrammeStatus.OPEN)
    enrol_learner(accessor=by, programme=programme, learner=feldsher)
