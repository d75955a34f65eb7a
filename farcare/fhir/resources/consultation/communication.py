"""Communication: the questions and answers of a consultation's thread."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db.models import Model, Prefetch, QuerySet

from farcare.access.policy import visible_patients
from farcare.accounts.models import Role
from farcare.consults import services
from farcare.consults.attachments import ALLOWED
from farcare.consults.models import (
    Assignment,
    Attachment,
    Message,
)
from farcare.patients.models import Patient

from ...auth import Principal
from ...errors import FhirError, business_rule
from ...registry import Handler, Include, SearchParam, register
from ...validation import validated
from .common import (
    COMMUNICATION_CATEGORY,
    CONSULTANT_KINDS,
    MESSAGE_PATHS,
    QUESTION,
    REQUESTER_KINDS,
    _consultant,
    _person,
    _requester,
    _when,
    as_fhir,
    category_q,
    consultation_of,
    person_q,
    referenced,
)


def _messages() -> QuerySet[Message]:
    return Message.objects.select_related(
        "author__practitioner",
        "author__facility",
        "consultation__patient",
        "consultation__requester__practitioner",
        "consultation__requesting_facility",
    ).prefetch_related(
        "author__practitioner__roles",
        "consultation__requester__practitioner__roles",
        Prefetch(
            "consultation__assignments",
            queryset=Assignment.objects.select_related(
                "consultant__practitioner", "facility"
            ).prefetch_related("consultant__practitioner__roles"),
        ),
        "attachments",
    )


def _sender(message: Message) -> dict[str, Any]:
    consultation = message.consultation
    author = message.author
    if author.pk == consultation.requester_id:
        return _requester(consultation)
    assignment = next(
        (a for a in consultation.assignments.all() if a.consultant_id == author.pk), None
    )
    if assignment is not None:
        return _consultant(assignment)
    return _person(author, author.facility, REQUESTER_KINDS + CONSULTANT_KINDS)


def _recipients(message: Message) -> list[dict[str, Any]]:
    """The other side, as it stood when the message was sent."""
    consultation = message.consultation
    author = message.author
    if author.role == Role.CONSULTANT:
        return [_requester(consultation)]
    at = message.created_at
    return [
        _consultant(assignment)
        for assignment in sorted(consultation.assignments.all(), key=lambda a: a.pk)
        if assignment.assigned_at <= at
        and (assignment.ended_at is None or assignment.ended_at > at)
    ]


def _extension_of(content_type: str) -> str:
    return next((ext for ext, (kind, _m, _o) in ALLOWED.items() if kind == content_type), "")


def _uploads(resource: dict[str, Any]) -> list[UploadedFile]:
    """Files sent inline as `payload[].contentAttachment` (base64 `data`)."""
    files: list[UploadedFile] = []
    for index, payload in enumerate(resource.get("payload") or []):
        attachment = payload.get("contentAttachment")
        if not attachment:
            continue
        path = [f"Communication.payload[{index}].contentAttachment"]
        try:
            content = base64.b64decode(attachment.get("data") or "", validate=True)
        except (binascii.Error, ValueError) as error:
            raise business_rule("The attachment's data is not base64.", path) from error
        if not content:
            raise business_rule(
                "Send the file's content as data; a link to elsewhere is not fetched.", path
            )
        content_type = str(attachment.get("contentType") or "")
        name = str(attachment.get("title") or "attachment")
        if "." not in name:
            name += _extension_of(content_type)
        files.append(SimpleUploadedFile(name, content, content_type=content_type))
    return files


@register
class CommunicationHandler(Handler):
    resource_type = "Communication"
    model = Message
    updated_field = "created_at"  # a message is never edited
    interactions = frozenset({"read", "vread", "history-instance", "search-type", "create"})
    search_params = {
        "based-on": SearchParam("reference", "consultation__uuid", target="ServiceRequest"),
        "part-of": SearchParam("reference", "consultation__uuid", target="Task"),
        "encounter": SearchParam("reference", "consultation__uuid", target="Encounter"),
        "patient": SearchParam("reference", "consultation__patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "consultation__patient__uuid", target="Patient"),
        "sender": SearchParam(
            "reference", "author__practitioner__roles__uuid", to_q=person_q("author")
        ),
        "sent": SearchParam("date", "created_at", sortable=True),
        "category": SearchParam("token", to_q=category_q),
    }
    includes = (
        Include("based-on", "ServiceRequest", "consultation"),
        Include("part-of", "Task", "consultation"),
        Include("patient", "Patient", "consultation.patient"),
        Include("subject", "Patient", "consultation.patient"),
    )

    def all_objects(self) -> QuerySet[Message]:
        return _messages()

    def queryset(self, principal: Principal) -> QuerySet[Message]:
        patients = visible_patients(principal.user).values("pk")
        return self.all_objects().filter(consultation__patient__in=patients)

    def patient_of(self, obj: Message) -> Patient:
        return obj.consultation.patient

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, Message):
            return [instance]
        if isinstance(instance, Attachment) and instance.message_id is not None:
            return [instance.message]
        return []

    def to_fhir(self, obj: Message) -> dict[str, Any]:
        consultation = obj.consultation
        payload: list[dict[str, Any]] = []
        if obj.body.strip():
            payload.append({"contentString": obj.body})
        payload += [
            {
                "contentReference": {
                    "reference": f"DocumentReference/{a.uuid}",
                    "display": a.original_name,
                }
            }
            for a in obj.attachments.all()
        ]
        resource: dict[str, Any] = {
            "resourceType": "Communication",
            "id": str(obj.uuid),
            "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
            "partOf": [{"reference": f"Task/{consultation.uuid}"}],
            "status": "completed",
            "subject": {"reference": f"Patient/{consultation.patient.uuid}"},
            "encounter": {"reference": f"Encounter/{consultation.uuid}"},
            "sent": _when(obj.created_at),
            "sender": _sender(obj),
        }
        if obj.asks_requester:
            resource["category"] = [
                {
                    "coding": [
                        {
                            "system": COMMUNICATION_CATEGORY,
                            "code": QUESTION,
                            "display": "Question to the requester",
                        }
                    ]
                }
            ]
        recipients = _recipients(obj)
        if recipients:
            resource["recipient"] = recipients
        if payload:
            resource["payload"] = payload
        return resource

    def consumed(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Files sent inline are DocumentReferences of the thread now (payload
        contentReference): their bytes are not kept twice."""
        payload = [
            part
            for part in resource.get("payload") or []
            if not (isinstance(part, dict) and "contentAttachment" in part)
        ]
        trimmed = {key: value for key, value in resource.items() if key != "payload"}
        if payload:
            trimmed["payload"] = payload
        return trimmed

    def create(self, principal: Principal, resource: dict[str, Any]) -> Message:
        """Post to the thread of the request named by basedOn (or the Task named by partOf)."""
        validated("Communication", resource)
        based_on = [str(r.get("reference", "")) for r in resource.get("basedOn") or []]
        part_of = [str(r.get("reference", "")) for r in resource.get("partOf") or []]
        reference, kind, path = next(
            (
                (ref, kind, path)
                for refs, kind, path in (
                    (based_on, "ServiceRequest", "Communication.basedOn"),
                    (part_of, "Task", "Communication.partOf"),
                )
                for ref in refs
                if referenced(ref, kind)
            ),
            ("", "", "Communication.basedOn"),
        )
        if not reference:
            raise business_rule(
                "A message belongs to a request: basedOn must name its ServiceRequest.", [path]
            )
        try:
            consultation = consultation_of(principal, reference, kind)
        except FhirError as error:
            if error.status == 422:
                error.expression = [path]
            raise
        body = "\n\n".join(
            str(payload["contentString"]).strip()
            for payload in resource.get("payload") or []
            if payload.get("contentString")
        )
        asks = any(
            coding.get("code") == QUESTION
            and coding.get("system") in (COMMUNICATION_CATEGORY, None)
            for category in resource.get("category") or []
            for coding in category.get("coding") or []
        )
        try:
            return services.message_post(
                accessor=principal.accessor,
                consultation=consultation,
                body=body,
                ask_requester=asks,
                files=_uploads(resource),
            )
        except ValidationError as error:
            raise as_fhir(error, MESSAGE_PATHS, "Communication.basedOn") from error
