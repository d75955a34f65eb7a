"""Materials of a programme: a trainer adds a checked file; once that is committed its light
version is made in the background (a failure there leaves the material with no light version,
never undoes it)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from functools import partial

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor

from .files import check_material
from .light import NoLightVersion, light_pdf, light_recording
from .models import Material, MaterialKind, Programme, Session
from .services import _audit, _require_trainer

logger = logging.getLogger(__name__)


def material_add(
    *,
    accessor: Accessor,
    programme: Programme,
    title: str,
    kind: str,
    upload: UploadedFile,
    session: Session | None = None,
) -> Material:
    user = _require_trainer(accessor, programme)
    if session is not None and session.programme_id != programme.pk:
        raise ValidationError({"session": _("This session belongs to another programme.")})
    content_type = check_material(upload, kind)
    title = title.strip() or (upload.name or "")[:200]
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    with transaction.atomic():
        material = Material(
            programme=programme,
            session=session,
            title=title[:200],
            kind=kind,
            content_type=content_type,
            size=upload.size or 0,
            sha256=digest.hexdigest(),
            added_by=user,
        )
        # A random name: the name the browser sent is only shown, never a path.
        material.file.save(f"{uuid.uuid4().hex}{_suffix(content_type)}", upload, save=False)
        material.save()
        _audit(accessor, material, AuditAction.CREATE, size=material.size, kind=kind)
        transaction.on_commit(partial(_enqueue_light, material.uuid), robust=True)
    return material


def _suffix(content_type: str) -> str:
    from .files import FORMATS

    for extension, form in FORMATS.items():
        if form.content_type == content_type:
            return extension
    return ""


def _enqueue_light(material_uuid: uuid.UUID) -> None:
    from .tasks import make_light_version_task

    make_light_version_task.enqueue(str(material_uuid))


def make_light_version(*, material_uuid: uuid.UUID) -> Material | None:
    """Make and keep the material's light version if it is smaller; idempotent."""
    material = Material.objects.filter(uuid=material_uuid).first()
    if material is None or material.light_file:
        return material
    try:
        with material.file.open("rb") as source:
            if material.content_type == "application/pdf":
                data, light_type, suffix = light_pdf(source), "application/pdf", ".pdf"
            elif material.kind == MaterialKind.RECORDING:
                data, light_type, suffix = light_recording(source), "audio/ogg", ".opus"
            else:
                return material
    except NoLightVersion as why:
        logger.info("no light version of material %s: %s", material.uuid, why)
        return material
    if len(data) >= material.size:
        logger.info("light version of material %s is not smaller: not kept", material.uuid)
        return material
    with transaction.atomic():
        locked = Material.objects.select_for_update().get(pk=material.pk)
        if locked.light_file:
            return locked
        locked.light_file.save(f"{uuid.uuid4().hex}{suffix}", ContentFile(data), save=False)
        locked.light_content_type = light_type
        locked.light_size = len(data)
        locked.light_sha256 = hashlib.sha256(data).hexdigest()
        locked.save(
            update_fields=["light_file", "light_content_type", "light_size", "light_sha256"]
        )
    return locked
