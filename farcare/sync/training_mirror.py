"""At a station: the hub's training for the post's staff kept as the station's own rows under
the hub's UUIDs (issue 15), so that "My training" lists the programmes, the schedule and the
history with no link, and serves the light versions of the materials from here.

Records come with every pull. The light files come after, and last: only when the outbox has
nothing clinical waiting, in ranges of CHUNK bytes appended to a partial file, so a dropped link
costs at most one range and the next pass resumes where this one stopped. The full versions are
not kept at the station (they are what the light versions spare the link)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction

from farcare.accounts.models import User
from farcare.training.models import Attendance, Enrolment, Material, Programme, Session

from .models import StationConfig
from .outbox import pending

logger = logging.getLogger(__name__)

# One range per request: on a 64 kbit/s link about 30 s, the most a drop can waste.
CHUNK = 256 * 1024


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _required(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _person(copy: dict[str, Any]) -> User:
    """The station's user of that UUID; a trainer the station has never seen is kept as an
    inactive account with no password, only to be named on the pages (never to log in)."""
    user = User.objects.filter(uuid=copy["uuid"]).first()
    if user is not None:
        return user
    username = copy["username"]
    if User.objects.filter(username=username).exists():
        username = f"{username}-{str(copy['uuid'])[:8]}"
    # Under the hub's key, as the station's staff are: a key from this database's own
    # sequence could be one the hub gives a colleague who is mirrored later.
    pk = copy.get("pk")
    user = User(
        pk=pk if pk and not User.objects.filter(pk=pk).exists() else None,
        uuid=copy["uuid"],
        username=username,
        first_name=copy.get("first_name", ""),
        last_name=copy.get("last_name", ""),
        role=copy.get("role", ""),
        is_active=False,
    )
    user.set_unusable_password()
    user.save()
    return user


def mirror(data: dict[str, list[dict[str, Any]]]) -> int:
    """Apply a pull's training records; returns how many programmes came."""
    programmes: dict[str, Programme] = {}
    for copy in data.get("programmes") or []:
        programmes[copy["uuid"]] = _programme(copy)
    sessions: dict[str, Session] = {}
    for copy in data.get("sessions") or []:
        programme = programmes.get(copy["programme"])
        if programme is not None:
            sessions[copy["uuid"]] = _session(copy, programme)
    for copy in data.get("materials") or []:
        programme = programmes.get(copy["programme"])
        if programme is not None:
            _material(copy, programme, sessions.get(copy.get("session") or ""))
    for copy in data.get("enrolments") or []:
        _enrolment(copy, programmes)
    for copy in data.get("attendance") or []:
        _attendance(copy, sessions)
    return len(programmes)


def _programme(copy: dict[str, Any]) -> Programme:
    programme = Programme.objects.filter(uuid=copy["uuid"]).first() or Programme(uuid=copy["uuid"])
    programme.title = copy["title"]
    programme.summary = copy.get("summary", "")
    programme.language = copy.get("language", "ru")
    programme.audience = copy.get("audience", "")
    programme.status = copy["status"]
    programme.owner = _person(copy["owner"])
    programme.save()
    programme.trainers.set([_person(t) for t in copy.get("trainers") or []])
    return programme


def _session(copy: dict[str, Any], programme: Programme) -> Session:
    session = Session.objects.filter(uuid=copy["uuid"]).first() or Session(uuid=copy["uuid"])
    session.programme = programme
    session.number = copy["number"]
    session.title = copy["title"]
    session.starts_at = _required(copy["starts_at"])
    session.duration_minutes = copy["duration_minutes"]
    session.lecture_minutes = copy["lecture_minutes"]
    session.mode = copy["mode"]
    session.room = copy.get("room", "")
    session.credit_hours = Decimal(copy["credit_hours"])
    session.status = copy["status"]
    # A session renumbered at the hub: free the number another of ours still holds.
    Session.objects.filter(programme=programme, number=session.number).exclude(
        uuid=session.uuid
    ).update(number=10_000 + session.number)
    session.save()
    return session


def _material(copy: dict[str, Any], programme: Programme, session: Session | None) -> None:
    material = Material.objects.filter(uuid=copy["uuid"]).first() or Material(uuid=copy["uuid"])
    light_sha256 = copy.get("light_sha256") or ""
    changed = material.pk is not None and material.light_sha256 != light_sha256
    material.programme = programme
    material.session = session
    material.title = copy["title"]
    material.kind = copy["kind"]
    material.content_type = copy["content_type"]
    material.size = copy["size"]
    material.sha256 = copy["sha256"]
    material.added_by = _person(copy["added_by"])
    if changed or not copy.get("light_size"):
        material.light_file = ""
    material.light_content_type = copy.get("light_content_type") or ""
    material.light_size = copy.get("light_size")
    material.light_sha256 = light_sha256
    material.save()


def _enrolment(copy: dict[str, Any], programmes: dict[str, Programme]) -> None:
    programme = programmes.get(copy["programme"])
    learner = User.objects.filter(uuid=copy["learner"]).first()
    if programme is None or learner is None:
        return
    Enrolment.objects.update_or_create(
        programme=programme,
        learner=learner,
        defaults={
            "uuid": copy["uuid"],
            "enrolled_at": _required(copy["enrolled_at"]),
            "withdrawn_at": _time(copy.get("withdrawn_at")),
        },
    )


def _attendance(copy: dict[str, Any], sessions: dict[str, Session]) -> None:
    session = sessions.get(copy["session"])
    learner = User.objects.filter(uuid=copy["learner"]).first()
    if session is None or learner is None:
        return
    Attendance.objects.update_or_create(
        session=session,
        learner=learner,
        defaults={
            "uuid": copy["uuid"],
            "how": copy["how"],
            "joined_at": _required(copy["joined_at"]),
            "left_at": _time(copy.get("left_at")),
            "minutes": copy.get("minutes", 0),
        },
    )


# ---------------------------------------------------------------- light files


def waiting_files() -> list[Material]:
    """Materials whose light version the hub has and this station has not yet."""
    return list(
        Material.objects.filter(light_size__isnull=False, light_file="").order_by("added_at", "pk")
    )


def _partial(material: Material) -> Path:
    # Under this station's own id: a partial file is this enrolment's, never another's sharing
    # the storage (the material's UUID is the hub's, the same at every station).
    station = StationConfig.objects.values_list("station_uuid", flat=True).first()
    folder = Path(settings.MEDIA_ROOT) / "station" / "training-partial" / str(station or "none")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{material.uuid}.part"


def fetch_light_files(link: Any) -> int:
    """Fetch what is missing, range by range, while nothing clinical waits in the outbox;
    returns how many files were completed. A `LinkDown` propagates (the pass reports it)."""
    done = 0
    for material in waiting_files():
        if _fetch_one(link, material):
            done += 1
        if pending().exists():
            break
    return done


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_one(link: Any, material: Material) -> bool:
    size = int(material.light_size or 0)
    part = _partial(material)
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    while have < size:
        if pending().exists():
            return False  # clinical data first; this file resumes at the next pass
        last = min(have + CHUNK, size) - 1
        response = link.request(
            "GET",
            f"/api/sync/training/{material.uuid}/light",
            headers={"Range": f"bytes={have}-{last}"},
        )
        if response.status_code == 404:
            logger.info("the hub has no light version of %s any more", material.uuid)
            part.unlink(missing_ok=True)
            return False
        if response.status_code == 200:
            # The hub sent the whole file (it ignored or could not serve the range).
            part.write_bytes(response.content)
        elif response.status_code == 206:
            with part.open("ab") as out:
                out.write(response.content)
        else:
            logger.warning(
                "light file %s: the hub answered %s", material.uuid, response.status_code
            )
            return False
        have = part.stat().st_size
    if have != size or (material.light_sha256 and _sha256(part) != material.light_sha256):
        # Damaged on the way (or changed at the hub meanwhile): fetched again next pass.
        logger.warning("light file %s did not arrive whole; fetching it again", material.uuid)
        part.unlink()
        return False
    suffix = ".opus" if material.light_content_type == "audio/ogg" else ".pdf"
    with transaction.atomic():
        locked = Material.objects.select_for_update().get(pk=material.pk)
        with part.open("rb") as handle:
            locked.light_file.save(f"{material.uuid.hex}{suffix}", File(handle), save=False)
        locked.save(update_fields=["light_file"])
    part.unlink()
    return True
