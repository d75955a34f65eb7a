"""AuditEvent ↔ the audit trail (read and search only).

Who reads it: administrators (every event); a system client whose token names AuditEvent
explicitly (a wildcard scope is not enough), for the patients of its scope, or every event for a
deployment-wide system; a patient, the events about their own record. Nobody else: their search
is empty and a read is refused.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db.models import Model, Q, QuerySet

from farcare.access.policy import may_read_audit_trail, visible_patients
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent, Purpose
from farcare.audit.services import seal, seal_quietly

from ..auth import Principal
from ..registry import Handler, SearchParam, register

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
USER_SYSTEM = "urn:farcare:user"
CHAIN_URL = "urn:farcare:extension:audit-chain"

# FHIR AuditEvent.action: C create, R read/view/print, U update, D delete, E execute (a search,
# a log-on, a refused attempt, opening emergency access).
ACTION_CODE = {
    AuditAction.VIEW: "R",
    AuditAction.SEARCH: "E",
    AuditAction.CREATE: "C",
    AuditAction.UPDATE: "U",
    AuditAction.DELETE: "D",
    AuditAction.EXPORT: "R",
    AuditAction.DENIED: "E",
    AuditAction.BREAK_GLASS: "E",
    AuditAction.LOGIN: "E",
    AuditAction.LOGIN_FAILED: "E",
    AuditAction.LOGOUT: "E",
    AuditAction.REVIEW: "U",
}
INTERACTION = {
    AuditAction.VIEW: "read",
    AuditAction.SEARCH: "search-type",
    AuditAction.CREATE: "create",
    AuditAction.UPDATE: "update",
    AuditAction.DELETE: "delete",
}
SESSION_ACTIONS = {
    AuditAction.LOGIN: ("110122", "Login"),
    AuditAction.LOGIN_FAILED: ("110122", "Login"),
    AuditAction.LOGOUT: ("110123", "Logout"),
}
OUTCOME = {"success": "0", "denied": "4"}  # anything else: "8", serious failure
# The FHIR resource each kind of audited record is served as (ids are the records' UUIDs).
RECORD_RESOURCE = {
    "Patient": "Patient",
    "Consent": "Consent",
    "Consultation": "ServiceRequest",
    "Attachment": "DocumentReference",
    "VitalObservation": "Observation",
    "Message": "Communication",
}
ETREAT = {"system": ACT_REASON, "code": "ETREAT", "display": "Emergency Treatment"}


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _action_q(modifier: str, system: str, code: str) -> Q:
    actions = [action for action, letter in ACTION_CODE.items() if letter == code]
    condition = Q(action__in=actions)
    return ~condition if modifier == "not" else condition


def _outcome_q(modifier: str, system: str, code: str) -> Q:
    if code == "8":
        condition = ~Q(outcome__in=list(OUTCOME))
    else:
        condition = Q(outcome__in=[name for name, value in OUTCOME.items() if value == code])
    return ~condition if modifier == "not" else condition


def _agent_q(modifier: str, system: str, code: str) -> Q:
    """The actor by the UUID of their account (also as "Type/<uuid>") or by user name."""
    ident = code.rstrip("/").split("/")[-1]
    try:
        condition = Q(actor_uuid=uuid.UUID(ident))
    except ValueError:
        condition = Q(actor_username=code)
    return ~condition if modifier == "not" else condition


def _names_audit_event(principal: Principal) -> bool:
    return any(scope.resource == "AuditEvent" for scope in principal.scopes)


@register
class AuditEventHandler(Handler):
    resource_type = "AuditEvent"
    model = AuditEvent
    search_params = {
        "patient": SearchParam("reference", "patient_uuid", target="Patient"),
        "agent": SearchParam("token", to_q=_agent_q),
        "agent-name": SearchParam("string", "actor_username"),
        "date": SearchParam("date", "created_at", sortable=True),
        "action": SearchParam("token", to_q=_action_q),
        "outcome": SearchParam("token", to_q=_outcome_q),
    }

    def queryset(self, principal: Principal) -> QuerySet[AuditEvent]:
        # What was appended since the sequencer last ran is sealed first, so the events served
        # carry their place in the chain.
        seal_quietly()
        user = principal.user
        events = AuditEvent.objects.all()
        if may_read_audit_trail(user):
            return events
        if user.role == Role.SYSTEM and principal.client is not None:
            if not _names_audit_event(principal):
                return events.none()
            if user.facility_id is None:
                return events
            return events.filter(patient_uuid__in=visible_patients(user).values("uuid"))
        if user.role == Role.PATIENT:
            return events.filter(patient_uuid__in=visible_patients(user).values("uuid"))
        return events.none()

    def versioned_objects(self, instance: Model) -> list[Any]:
        # Every request writes audit events: versioning each as it is written would double the
        # trail. An event never changes; its one version is written when it is first served.
        return []

    def to_fhir(self, obj: AuditEvent) -> dict[str, Any]:
        if obj.seq is None:
            # Its one stored version keeps its place in the chain for good: seal it first.
            seal(wait=True)
            obj.refresh_from_db(fields=["seq", "prev_hash", "hash"])
        resource: dict[str, Any] = {
            "resourceType": "AuditEvent",
            "id": str(obj.uuid),
            "type": _type(obj),
            "action": ACTION_CODE.get(AuditAction(obj.action), "E")
            if obj.action in AuditAction.values
            else "E",
            "recorded": _instant(obj.created_at),
            "outcome": OUTCOME.get(obj.outcome, "8"),
            "agent": [_agent(obj)],
            "source": {
                "site": "FarCare",
                "observer": {"display": "FarCare"},
                "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
            },
            "extension": [
                {
                    "url": CHAIN_URL,
                    "extension": [
                        {"url": "seq", "valueString": str(obj.seq)},
                        {"url": "hash", "valueString": obj.hash},
                        {"url": "prevHash", "valueString": obj.prev_hash},
                    ],
                }
            ],
        }
        subtype = _subtype(obj)
        if subtype is not None:
            resource["subtype"] = [subtype]
        if obj.outcome != "success":
            wanted = obj.details.get("wanted", "") if isinstance(obj.details, dict) else ""
            resource["outcomeDesc"] = f"{obj.outcome}: {wanted}" if wanted else obj.outcome
        if obj.purpose == Purpose.BREAK_GLASS:
            resource["purposeOfEvent"] = [{"coding": [ETREAT]}]
        entities = _entities(obj)
        if entities:
            resource["entity"] = entities
        return resource


def _type(obj: AuditEvent) -> dict[str, str]:
    if obj.action in SESSION_ACTIONS:
        return {"system": DICOM, "code": "110114", "display": "User Authentication"}
    if obj.channel == "fhir":
        return {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}
    if obj.patient_uuid is not None:
        return {"system": DICOM, "code": "110110", "display": "Patient Record"}
    return {"system": DICOM, "code": "110100", "display": "Application Activity"}


def _subtype(obj: AuditEvent) -> dict[str, str] | None:
    if obj.action in SESSION_ACTIONS:
        code, display = SESSION_ACTIONS[AuditAction(obj.action)]
        return {"system": DICOM, "code": code, "display": display}
    if obj.channel == "fhir" and obj.action in INTERACTION:
        return {"system": RESTFUL_INTERACTION, "code": INTERACTION[AuditAction(obj.action)]}
    return None


def _agent(obj: AuditEvent) -> dict[str, Any]:
    who: dict[str, Any] = {"display": obj.actor_username or "anonymous"}
    if obj.actor_uuid is not None:
        who["identifier"] = {"system": USER_SYSTEM, "value": str(obj.actor_uuid)}
    agent: dict[str, Any] = {"who": who, "requestor": True}
    if obj.actor_username:
        agent["altId"] = obj.actor_username
    if obj.actor_role:
        agent["role"] = [{"text": obj.actor_role}]
    if obj.ip_address:
        agent["network"] = {"address": obj.ip_address, "type": "2"}  # 2: an IP address
    if obj.purpose == Purpose.BREAK_GLASS:
        agent["purposeOfUse"] = [{"coding": [ETREAT]}]
    return agent


def _entities(obj: AuditEvent) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if obj.patient_uuid is not None:
        entities.append(
            {
                "what": {"reference": f"Patient/{obj.patient_uuid}"},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    record: dict[str, Any] = {}
    same_patient = obj.record_type == "Patient" and obj.record_id == str(obj.patient_uuid)
    if obj.record_type and obj.record_id and not same_patient:
        resource_type = RECORD_RESOURCE.get(obj.record_type)
        record["what"] = (
            {"reference": f"{resource_type}/{obj.record_id}"}
            if resource_type
            else {
                "identifier": {
                    "system": f"urn:farcare:{obj.record_type.lower()}",
                    "value": obj.record_id,
                },
                "display": obj.record_type,
            }
        )
        record["type"] = {"system": ENTITY_TYPE, "code": "2", "display": "System Object"}
    if obj.details:
        text = json.dumps(obj.details, ensure_ascii=False, sort_keys=True, default=str)
        record["detail"] = [{"type": "details", "valueString": text}]
    if record:
        entities.append(record)
    return entities
