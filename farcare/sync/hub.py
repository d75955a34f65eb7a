"""The hub's side of station sync: enrolment, applying pushed outbox items exactly once, and the
changes a station pulls back. Every item is applied through the domain services as the person
who made it at the station, so the one access policy, the state machine and the audit trail
apply as they do for a page."""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import serializers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from farcare.access.policy import Action, is_abroad, station_patients
from farcare.access.services import require
from farcare.accounts.models import Role, User
from farcare.accounts.services import authenticate_user
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.clinical.vitals import parse_vitals
from farcare.consults.models import Consultation
from farcare.consults.services import RequestData, consult_submit, message_post
from farcare.consults.workflow import IllegalTransition
from farcare.core.bearer import Bearer, new_token, token_digest
from farcare.diagnostics.models import Capability, PerformerRoute
from farcare.network.models import Facility, Organisation, ReferralLink, Settlement, Specialty
from farcare.patients.models import Consent, Patient
from farcare.patients.services import consent_record, patient_register, patient_update

from . import diagnostics_hub, evacuation_hub, monitoring_hub, training_hub
from .models import PatientConflict, Receipt, Station
from .records import consultation_copy, patient_data, patient_fields, patient_record

# A change committed just after a pull may carry a timestamp a little before that pull's cursor
# (it was stamped when its transaction began): pulls overlap by this much. A write here takes
# milliseconds; what is sent twice is applied twice harmlessly, but costs bytes on the link.
CURSOR_OVERLAP = timedelta(seconds=5)


class SyncRefused(Exception):
    """An item the hub will not apply, with the reason for the person who made it."""


def station_for_token(token: str) -> Station | None:
    return (
        Station.objects.select_related("facility", "enrolled_by")
        .filter(token_hash=token_digest(token), revoked_at__isnull=True)
        .first()
    )


def station_credential(token: str) -> Bearer | None:
    """The `core.bearer` resolver for stations' tokens: a station acts through the member of
    its staff named on each request, and holds no FHIR scopes."""
    station = station_for_token(token)
    if station is None:
        return None
    return Bearer(
        kind="station",
        user=None,
        facility_id=station.facility_id,
        allows=lambda _type, _interaction: False,
        subject=station,
    )


def station_enrol(
    *, request: HttpRequest, username: str, password: str, name: str, otp_token: str = ""
) -> tuple[Station, str]:
    """A clinician enrols the laptop at their post with their own credentials. The station's
    token reaches the post's patients and its staff's password hashes, so this is a login like
    any other (`authenticate_user`, channel "sync"): locked accounts are refused, failures
    count, and the code of a second factor must come with the password where the user has or
    must have one (AuthenticationFailed and its kinds tell the caller which)."""
    user = authenticate_user(
        request=request,
        username=username,
        password=password,
        channel="sync",
        otp_token=otp_token or None,
    )
    if user.role != Role.CLINICIAN or user.facility is None:
        raise PermissionDenied(_("Only a clinician of a facility can enrol a station."))
    if is_abroad(user):
        # A station holds its post's patients: 152-FZ keeps them on Russian soil (domain.md §3).
        raise PermissionDenied(
            _("A station holds patients' records and can only be enrolled at a home facility.")
        )
    token = new_token()
    with transaction.atomic():
        station = Station.objects.create(
            name=name.strip()[:120] or user.facility.name_en,
            facility=user.facility,
            token_hash=token_digest(token),
            enrolled_by=user,
        )
        audit_record(
            accessor=Accessor(user, request.META.get("REMOTE_ADDR") or None, "sync"),
            action=AuditAction.CREATE,
            record=station,
            details={"station": station.name, "facility": str(user.facility.uuid)},
        )
    return station, token


STAFF_FIELDS = [
    "uuid",
    "username",
    "password",
    "first_name",
    "last_name",
    "email",
    "role",
    "facility",
    "language",
    "time_zone",
    "is_active",
]


def reference_data(station: Station) -> str:
    """The network and the station's own staff (with their password hashes, so that they can
    log in with no link) as Django serialised JSON."""
    objects: list[Any] = [
        *Specialty.objects.all(),
        *Settlement.objects.all(),
        *Organisation.objects.all(),
        *Facility.objects.all(),
        *ReferralLink.objects.all(),
    ]
    # The routes of diagnostic orders, so that a post routes an order offline (and knows where
    # its tubes go) as the hub would.
    objects += [*Capability.objects.all(), *PerformerRoute.objects.all()]
    text: str = serializers.serialize("json", objects)
    users = staff_data(station, active_only=True)
    return text[:-1] + ("," if len(text) > 2 and len(users) > 2 else "") + users[1:]


def staff_data(station: Station, *, active_only: bool = False) -> str:
    """The clinicians of the station's facility: with every pull, so that a changed password or
    a disabled account reaches the post at the next sync (a few hundred bytes)."""
    staff = User.objects.filter(facility=station.facility, role=Role.CLINICIAN)
    if active_only:
        staff = staff.filter(is_active=True)
    text: str = serializers.serialize("json", staff.order_by("pk"), fields=STAFF_FIELDS)
    return text


# ---------------------------------------------------------------- push


def push(*, station: Station, items: list[dict[str, Any]], ip: str | None) -> list[dict[str, Any]]:
    """Apply items in the order given. Each is its own transaction with its receipt: a push
    repeated after a drop answers the same without doing anything twice."""
    results = [_apply(station, item, ip) for item in items]
    Station.objects.filter(pk=station.pk).update(last_seen_at=timezone.now())
    return results


def _apply(station: Station, item: dict[str, Any], ip: str | None) -> dict[str, Any]:
    try:
        op_id = uuid_lib.UUID(str(item.get("id")))
    except ValueError:
        return {"id": str(item.get("id")), "status": "refused", "message": _("No record id.")}
    kind = str(item.get("kind", ""))
    done = Receipt.objects.filter(op_id=op_id).first()
    if done is not None:
        return {"id": str(op_id), "status": "duplicate", "result": done.result}
    payload = item.get("payload") or {}
    if not isinstance(payload, dict):
        return {
            "id": str(op_id),
            "status": "refused",
            "message": _("The record is incomplete or malformed."),
        }
    try:
        actor = _actor(station, payload.get("actor"))
        handler = HANDLERS.get(kind)
        if handler is None:
            raise SyncRefused(_("Unknown kind of record: %(kind)s") % {"kind": kind})
        with translation.override(actor.language or settings.LANGUAGE_CODE):
            try:
                with transaction.atomic():
                    result = handler(station, Accessor(actor, ip, "sync"), payload)
                    Receipt.objects.create(op_id=op_id, station=station, kind=kind, result=result)
            except IntegrityError:
                done = Receipt.objects.filter(op_id=op_id).first()
                if done is None:
                    raise
                return {"id": str(op_id), "status": "duplicate", "result": done.result}
            except PermissionDenied as error:
                # The refusal's own audit record went with the rolled-back transaction: kept
                # again here, linked to the patient where the policy named one.
                patient = getattr(error, "patient", None)
                audit_record(
                    accessor=Accessor(actor, ip, "sync"),
                    action=AuditAction.DENIED,
                    patient_uuid=patient.uuid if patient is not None else None,
                    outcome="denied",
                    details={"sync": kind, "op": str(op_id), "reason": _message(error)},
                )
                raise SyncRefused(_message(error)) from error
            except (ValidationError, IllegalTransition) as error:
                raise SyncRefused(_message(error)) from error
            except (KeyError, TypeError, ValueError) as error:
                # A malformed item is refused on its own; the rest of the push goes on.
                raise SyncRefused(_("The record is incomplete or malformed.")) from error
    except SyncRefused as error:
        return {"id": str(op_id), "status": "refused", "message": str(error)}
    return {"id": str(op_id), "status": "applied", "result": result}


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(str(m) for m in error.messages)
    return str(error) or _("Not allowed.")


def _actor(station: Station, value: Any) -> User:
    """Items are made by the station's own staff, never by someone from elsewhere."""
    actor = User.objects.select_related("facility").filter(uuid=value, is_active=True).first()
    if actor is None or actor.facility_id != station.facility_id:
        raise SyncRefused(_("This person is not on the staff of the station's facility."))
    return actor


def _patient(station: Station, value: Any) -> Patient:
    patient = station_patients(station.facility).filter(uuid=value).first()
    if patient is None:
        raise SyncRefused(_("The patient is not known to the hub yet."))
    return patient


def _patient_create(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    record = payload["patient"]
    if Patient.objects.filter(uuid=record["uuid"]).exists():
        return {"patient": record["uuid"]}
    # The clinician at the station was already asked about a likely duplicate there.
    patient = patient_register(
        accessor=accessor,
        data=patient_data(record),
        confirm_duplicate=True,
        uuid=uuid_lib.UUID(record["uuid"]),
    )
    return {"patient": str(patient.uuid)}


def _patient_update(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    """Field by field, three-way: a field the hub has not changed since the station last saw it
    takes the station's value; a field changed at both ends keeps the hub's value, and the
    station's is recorded as a conflict for a person to settle (docs/decisions.md)."""
    patient = _patient(station, payload["patient"])
    current = patient_fields(patient)
    base: dict[str, Any] = payload.get("base") or {}
    changes: dict[str, Any] = payload.get("changes") or {}
    accepted: dict[str, Any] = {}
    conflicts: list[str] = []
    assert accessor.user is not None
    for name, value in changes.items():
        if name not in current or current[name] == value:
            continue
        if current[name] == base.get(name):
            accepted[name] = value
            continue
        conflicts.append(name)
        PatientConflict.objects.create(
            patient=patient,
            field=name,
            base_value=str(base.get(name) or "")[:300],
            hub_value=str(current[name] or "")[:300],
            station_value=str(value or "")[:300],
            station=station,
            edited_by=accessor.user,
            edited_at=datetime.fromisoformat(payload["at"]),
        )
    if accepted:
        patient_update(
            accessor=accessor, patient=patient, data=patient_data(accepted), confirm_duplicate=True
        )
    if conflicts:
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=patient.uuid,
            record=patient,
            details={"conflicts": conflicts, "kept": "hub"},
        )
    return {"patient": str(patient.uuid), "applied": sorted(accepted), "conflicts": conflicts}


def _consent(station: Station, accessor: Accessor, payload: dict[str, Any]) -> dict[str, Any]:
    if not Consent.objects.filter(uuid=payload["consent"]).exists():
        consent_record(
            accessor=accessor,
            patient=_patient(station, payload["patient"]),
            kind=payload["kind"],
            scope=payload["scope"],
            uuid=uuid_lib.UUID(payload["consent"]),
        )
    return {"consent": payload["consent"]}


def _consultation(station: Station, value: Any) -> Consultation:
    consultation = (
        Consultation.objects.select_related("patient")
        .filter(uuid=value, patient__in=station_patients(station.facility))
        .first()
    )
    if consultation is None:
        raise SyncRefused(_("The request is not known to the hub yet."))
    return consultation


def _consult_submit(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    specialty = Specialty.objects.filter(code=payload["specialty"]).first()
    if specialty is None:
        raise SyncRefused(_("Unknown specialty: %(code)s") % {"code": payload["specialty"]})
    vitals, errors = parse_vitals(payload.get("vitals") or {}, translation.get_language() or "ru")
    if errors:
        raise SyncRefused(" ".join(errors.values()))
    consultation = consult_submit(
        accessor=accessor,
        patient=_patient(station, payload["patient"]),
        client_token=uuid_lib.UUID(payload["client_token"]),
        data=RequestData(
            specialty=specialty,
            form=payload["form"],
            question=payload["question"],
            summary=payload.get("summary", ""),
            mode=payload.get("mode", "deferred"),
            language=payload.get("language", "ru"),
            vitals=vitals,
            vitals_missing=payload.get("vitals_missing", ""),
            vitals_missing_note=payload.get("vitals_missing_note", ""),
        ),
        uuid=uuid_lib.UUID(payload["consultation"]),
        declared=payload.get("attachments") or [],
    )
    return {"consultation": str(consultation.uuid), "status": consultation.status}


def _message_post(station: Station, accessor: Accessor, payload: dict[str, Any]) -> dict[str, Any]:
    consultation = _consultation(station, payload["consultation"])
    if not consultation.messages.filter(uuid=payload["message"]).exists():
        message_post(
            accessor=accessor,
            consultation=consultation,
            body=payload["body"],
            uuid=uuid_lib.UUID(payload["message"]),
            declared=payload.get("attachments") or [],
        )
    return {"message": payload["message"]}


HANDLERS: dict[str, Callable[[Station, Accessor, dict[str, Any]], dict[str, Any]]] = {
    "patient.create": _patient_create,
    "patient.update": _patient_update,
    "consent.record": _consent,
    "consult.submit": _consult_submit,
    "message.post": _message_post,
    **diagnostics_hub.HANDLERS,
    **monitoring_hub.HANDLERS,
}


# ---------------------------------------------------------------- pull


def pull(*, station: Station, since: str, ip: str | None) -> dict[str, Any]:
    """What changed for the station's patients since its cursor: patients, their consents and
    the hub's view of each of their consultations."""
    started = timezone.now()
    patients = station_patients(station.facility).select_related("home_settlement", "home_facility")
    consultations = (
        Consultation.objects.filter(patient__in=station_patients(station.facility))
        .select_related("patient", "routed_facility")
        .prefetch_related(
            "assignments__consultant__facility",
            "assignments__facility",
            "messages__author__facility",
            "conclusions__author__facility",
            "conclusions__signature__key",
            "conclusions__signature__signer",
            "conclusions__document",
            "conclusions__evacuation_destination",
            "attachments",
        )
        .order_by("updated_at", "pk")
    )
    consents = Consent.objects.filter(patient__in=station_patients(station.facility))
    cutoff: datetime | None = None
    if since:
        try:
            cutoff = datetime.fromisoformat(since) - CURSOR_OVERLAP
        except ValueError as error:
            raise SyncRefused(
                _("The sync cursor is not a time: %(value)s") % {"value": since}
            ) from error
        patients = patients.filter(updated_at__gte=cutoff)
        consultations = consultations.filter(updated_at__gte=cutoff)
        consents = consents.filter(Q(granted_at__gte=cutoff) | Q(revoked_at__gte=cutoff))
    patient_list = [patient_record(p) for p in patients]
    copies = [consultation_copy(c) for c in consultations]
    diagnostics = diagnostics_hub.changes(station, cutoff)
    evacuation = evacuation_hub.changes(station, cutoff)
    monitoring = monitoring_hub.changes(station, cutoff)
    read = sorted(
        {p["uuid"] for p in patient_list}
        | {c["patient"] for c in copies}
        | {d["patient"] for part in diagnostics.values() for d in part}
        | {t["patient"] for t in evacuation["transfers"]}
        | {m["patient"] for part in monitoring.values() for m in part}
    )
    if read:
        # Each patient sent is linked to this record, so their "who looked at my record" shows
        # the pull (the list itself is hashed in the record's details as "patients_shown").
        audit_record(
            accessor=Accessor(station.enrolled_by, ip, "sync"),
            action=AuditAction.EXPORT,
            record=station,
            details={"station": str(station.uuid)},
            patients=read,
        )
    Station.objects.filter(pk=station.pk).update(last_seen_at=started)
    return {
        "cursor": started.isoformat(),
        "staff": staff_data(station),
        "patients": patient_list,
        "consents": [
            {
                "uuid": str(c.uuid),
                "patient": str(c.patient.uuid),
                "kind": c.kind,
                "scope": c.scope,
                "granted_at": c.granted_at.isoformat(),
                "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
            }
            for c in consents.select_related("patient")
        ],
        "consultations": copies,
        "diagnostics": diagnostics,
        # Transfers of the station's patients with their timelines (read-only there).
        "evacuation": evacuation,
        # Enrolments made here, their readings and alerts (read-only there; see monitoring_hub).
        "monitoring": monitoring,
        # Last: the programmes the post's staff follow (not patient data; see training_hub).
        "training": training_hub.changes(station),
    }


def conflict_settle(*, accessor: Accessor, conflict: PatientConflict) -> None:
    """A clinician who may change the record has looked at both values and decided."""
    decision = require(accessor=accessor, patient=conflict.patient, action=Action.UPDATE)
    with transaction.atomic():
        PatientConflict.objects.filter(pk=conflict.pk, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=conflict.patient.uuid,
            record=conflict,
            purpose=decision.purpose,
            details={"settled": conflict.field},
        )
