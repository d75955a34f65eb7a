"""DocumentReference and Binary (attachments and signed conclusions), Provenance (signatures).

DocumentReference ↔ consults.Attachment: a file of a consultation, or the PDF of a signed
conclusion (type LOINC 11488-4 "Consult note"; an amendment `replaces` the earlier version's
document, which becomes `superseded`; its document number, e.g. "ТМК-2026-000123", is its
`identifier`, system `systems.CONCLUSION_NUMBER`, and `identifier=` finds it). The file itself is
the Binary of the same id.

Attachment.hash in FHIR R4 is a SHA-1; FarCare stores a SHA-256 of every file and does not read
whole files to describe them, so the SHA-256 is given in an extension of the attachment
(`SHA256_URL`, the digest in base64) and `hash` is left out. A client that sends `hash` with
its upload has it checked against the content.

Provenance ↔ signatures.Signature of a conclusion: who signed which document when, the
signature itself, and whether it verifies now.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import translation

from farcare.access.policy import Action, consult_sides, visible_patients
from farcare.access.services import require
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import audit_record
from farcare.consults.attachments import ALLOWED, attachment_store, check_upload
from farcare.consults.conclusions import conclusion_verification
from farcare.consults.models import OPEN_STATUSES, Attachment, Conclusion, Consultation
from farcare.consults.workflow import Side
from farcare.network.models import Practitioner
from farcare.patients.models import Patient
from farcare.signatures.models import Signature

from .. import systems
from ..auth import Principal
from ..errors import business_rule
from ..registry import Handler, Include, SearchParam, register
from ..validation import validated

CONSULT_NOTE = "11488-4"  # LOINC "Consult note": the signed conclusion
DOCUMENT_TYPE_SYSTEM = "urn:farcare:document-type"  # "attachment": any other file of a case
SHA256_URL = "urn:farcare:extension:sha256"
VERIFICATION_URL = "urn:farcare:extension:signature-verification"
SIGNATURE_TYPE_SYSTEM = "urn:iso-astm:E1762-95:2013"
AUTHOR_SIGNATURE = "1.2.840.10065.1.12.1.1"
PARTICIPANT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ATTACHMENT_PATH = "DocumentReference.content[0].attachment"
# Content types FarCare accepts, and the file extension check_upload expects for each.
EXTENSION_OF = {content_type: extension for extension, (content_type, *_rest) in ALLOWED.items()}


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _practitioner(user: User) -> dict[str, str]:
    """A reference to the user's Practitioner, or their name alone when they have none."""
    practitioner = Practitioner.objects.filter(user=user).first()
    if practitioner is None:
        return {"display": user.get_full_name() or user.username}
    return {"reference": f"Practitioner/{practitioner.uuid}", "display": str(practitioner)}


def _organisation(user: User) -> dict[str, str] | None:
    facility = user.facility
    if facility is None:
        return None
    return {"reference": f"Organization/{facility.organisation.uuid}", "display": facility.name_en}


def _visible_attachments(principal: Principal) -> QuerySet[Attachment]:
    return Attachment.objects.select_related(
        "consultation__patient", "conclusion", "uploaded_by", "message"
    ).filter(consultation__patient__in=visible_patients(principal.user).values("pk"))


# --- DocumentReference ----------------------------------------------------------------------


def _superseded() -> Exists:
    """A conclusion's document is superseded once a later version of the conclusion exists."""
    return Exists(
        Conclusion.objects.filter(
            consultation=OuterRef("consultation"), version__gt=OuterRef("conclusion__version")
        )
    )


def _type_q(modifier: str, system: str, code: str) -> Q:
    if code == CONSULT_NOTE and system in ("", systems.LOINC):
        condition = Q(conclusion__isnull=False)
    elif code == "attachment" and system in ("", DOCUMENT_TYPE_SYSTEM):
        condition = Q(conclusion__isnull=True)
    else:
        condition = Q(pk__in=[])
    return ~condition if modifier == "not" else condition


def _status_q(modifier: str, system: str, code: str) -> Q:
    superseded = Q(conclusion__isnull=False) & Q(_superseded())
    if code == "superseded":
        condition = superseded
    elif code == "current":
        condition = ~superseded
    else:
        condition = Q(pk__in=[])
    return ~condition if modifier == "not" else condition


def _number_q(modifier: str, system: str, code: str) -> Q:
    """`identifier`: a signed conclusion by its document number (other files have none)."""
    if code and system in ("", systems.CONCLUSION_NUMBER):
        condition = Q(conclusion__number=code)
    else:
        condition = Q(pk__in=[])
    return ~condition if modifier == "not" else condition


@register
class DocumentReferenceHandler(Handler):
    resource_type = "DocumentReference"
    model = Attachment
    interactions = frozenset({"read", "vread", "history-instance", "search-type", "create"})
    search_params = {
        "patient": SearchParam("reference", "consultation__patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "consultation__patient__uuid", target="Patient"),
        "type": SearchParam("token", to_q=_type_q),
        "identifier": SearchParam("token", to_q=_number_q),
        "status": SearchParam("token", to_q=_status_q),
        "date": SearchParam("date", "uploaded_at", sortable=True),
        "related": SearchParam("reference", "consultation__uuid", target="ServiceRequest"),
    }
    includes = (
        Include("patient", "Patient", "consultation.patient"),
        Include("subject", "Patient", "consultation.patient"),
        Include("related", "ServiceRequest", "consultation"),
    )

    def all_objects(self) -> QuerySet[Attachment]:
        return Attachment.objects.select_related(
            "consultation__patient", "conclusion", "uploaded_by", "message"
        )

    def queryset(self, principal: Principal) -> QuerySet[Attachment]:
        return _visible_attachments(principal)

    def patient_of(self, obj: Attachment) -> Patient:
        return obj.consultation.patient

    def versioned_objects(self, instance: Model) -> list[Any]:
        if not isinstance(instance, Attachment):
            return []
        changed: list[Any] = [instance]
        if instance.conclusion_id is not None:
            # The new version of a conclusion supersedes the documents of the earlier ones.
            changed += Attachment.objects.filter(
                consultation_id=instance.consultation_id, conclusion__isnull=False
            ).exclude(pk=instance.pk)
        return changed

    def to_fhir(self, obj: Attachment) -> dict[str, Any]:
        consultation = obj.consultation
        attachment: dict[str, Any] = {
            "contentType": obj.content_type,
            "url": f"Binary/{obj.uuid}",
            "size": obj.size,
            "title": obj.original_name,
            "creation": _instant(obj.uploaded_at),
        }
        if obj.sha256:
            digest = base64.b64encode(bytes.fromhex(obj.sha256)).decode()
            attachment["extension"] = [{"url": SHA256_URL, "valueBase64Binary": digest}]
        resource: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": str(obj.uuid),
            "status": "current",
            "type": {
                "coding": [
                    {"system": DOCUMENT_TYPE_SYSTEM, "code": "attachment", "display": "Attachment"}
                ],
                "text": "Attachment to a teleconsultation",
            },
            "subject": {"reference": f"Patient/{consultation.patient.uuid}"},
            "date": _instant(obj.uploaded_at),
            "author": [_practitioner(obj.uploaded_by)],
            "content": [{"attachment": attachment}],
            "context": {"related": [{"reference": f"ServiceRequest/{consultation.uuid}"}]},
        }
        if not obj.file:  # declared by a station; the original is still crossing the link
            resource["docStatus"] = "preliminary"
        if obj.message is not None:  # sent in the case's thread
            resource["context"]["related"].append(
                {"reference": f"Communication/{obj.message.uuid}"}
            )
        conclusion = obj.conclusion
        if conclusion is not None:
            resource.update(_conclusion_fields(obj, conclusion))
        return resource

    # --- writes ---------------------------------------------------------------------------

    def consumed(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The file's bytes are the Binary now (content.attachment.url): not kept twice."""
        trimmed = dict(resource)
        contents = []
        for content in resource.get("content") or []:
            if isinstance(content, dict) and isinstance(content.get("attachment"), dict):
                attachment = {k: v for k, v in content["attachment"].items() if k != "data"}
                content = {**content, "attachment": attachment}
            contents.append(content)
        if contents:
            trimmed["content"] = contents
        return trimmed

    def create(self, principal: Principal, resource: dict[str, Any]) -> Attachment:
        document = validated("DocumentReference", resource)
        if document.status != "current":
            raise business_rule(
                "A new document is stored as 'current'.", ["DocumentReference.status"]
            )
        codings = (document.type.coding or []) if document.type else []
        if any(c.system == systems.LOINC and c.code == CONSULT_NOTE for c in codings):
            raise business_rule(
                "A conclusion is signed by the consultant in FarCare, not uploaded.",
                ["DocumentReference.type"],
            )
        consultation = _related(document)
        subject = document.subject.reference if document.subject else ""
        if subject and subject.rstrip("/").split("/")[-1] != str(consultation.patient.uuid):
            raise business_rule(
                "The subject must be the patient of the consultation.",
                ["DocumentReference.subject"],
            )
        decision = _authorise_upload(principal, consultation)
        upload = _upload(document)
        try:
            check_upload(upload)
            assert principal.user is not None
            stored = attachment_store(consultation=consultation, upload=upload, user=principal.user)
        except ValidationError as error:
            raise business_rule(" ".join(error.messages), [ATTACHMENT_PATH]) from error
        audit_record(
            accessor=principal.accessor,
            action=AuditAction.CREATE,
            patient_uuid=consultation.patient.uuid,
            record=stored,
            purpose=decision.purpose,
            details={"fhir": "DocumentReference", "size": stored.size},
        )
        return self.all_objects().get(pk=stored.pk)


def _conclusion_fields(obj: Attachment, conclusion: Conclusion) -> dict[str, Any]:
    later = Conclusion.objects.filter(
        consultation_id=conclusion.consultation_id, version__gt=conclusion.version
    ).exists()
    fields: dict[str, Any] = {
        "status": "superseded" if later else "current",
        "docStatus": "amended" if conclusion.version > 1 else "final",
        "type": {
            "coding": [{"system": systems.LOINC, "code": CONSULT_NOTE, "display": "Consult note"}],
            "text": "Teleconsultation conclusion",
        },
        "description": f"Signed conclusion, version {conclusion.version}",
        "author": [_practitioner(conclusion.author)],
        "authenticator": _practitioner(conclusion.author),
    }
    if conclusion.number:  # conclusions signed before numbering began have none
        fields["identifier"] = [
            {"use": "official", "system": systems.CONCLUSION_NUMBER, "value": conclusion.number}
        ]
    earlier = Attachment.objects.filter(
        consultation_id=conclusion.consultation_id,
        conclusion__version=conclusion.version - 1,
    ).first()
    if earlier is not None:
        fields["relatesTo"] = [
            {"code": "replaces", "target": {"reference": f"DocumentReference/{earlier.uuid}"}}
        ]
    return fields


def _related(document: Any) -> Consultation:
    path = ["DocumentReference.context.related[0]"]
    related = (document.context.related or []) if document.context else []
    reference = related[0].reference if related and related[0].reference else ""
    parts = reference.rstrip("/").split("/")
    consultation = None
    if len(parts) >= 2 and parts[-2] == "ServiceRequest":
        try:
            consultation = (
                Consultation.objects.select_related(
                    "patient", "requesting_facility", "routed_facility"
                )
                .filter(uuid=uuid.UUID(parts[-1]))
                .first()
            )
        except ValueError:
            consultation = None
    if consultation is None:
        raise business_rule(
            "context.related must name the consultation (ServiceRequest/<id>) the file is for.",
            path,
        )
    if consultation.status not in OPEN_STATUSES:
        raise business_rule(
            "Files are added to an open consultation only; this one is not open.", path
        )
    return consultation


def _authorise_upload(principal: Principal, consultation: Consultation) -> Any:
    """Either side of the case may add a file (as in its thread); anyone else needs the right
    to change the patient's record. Both must be able to see the patient, which keeps
    consultants abroad (who see a pseudonymised case) out of the patient-bound API."""
    sides = consult_sides(principal.user, consultation)
    action = Action.VIEW if sides & {Side.REQUESTER, Side.CONSULTANT} else Action.UPDATE
    return require(accessor=principal.accessor, patient=consultation.patient, action=action)


def _upload(document: Any) -> SimpleUploadedFile:
    contents = document.content or []
    attachment = contents[0].attachment if contents else None
    if attachment is None or attachment.data is None:
        raise business_rule(
            "Send the file inline, base64-encoded, in content[0].attachment.data.",
            [f"{ATTACHMENT_PATH}.data"],
        )
    data: bytes = attachment.data
    if attachment.hash is not None and attachment.hash != _sha1(data):
        raise business_rule(
            "The file does not match its hash (SHA-1): it was damaged on the way.",
            [f"{ATTACHMENT_PATH}.hash"],
        )
    content_type = attachment.contentType or ""
    name = PurePath(attachment.title or "upload").name
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED and content_type in EXTENSION_OF:
        name += EXTENSION_OF[content_type]
    elif (
        extension in ALLOWED
        and content_type
        and content_type.split(";")[0].strip() != ALLOWED[extension][0]
    ):
        raise business_rule(
            f"contentType {content_type} does not match a {extension} file.",
            [f"{ATTACHMENT_PATH}.contentType"],
        )
    return SimpleUploadedFile(name[:200], data, content_type=content_type or "")


def _sha1(data: bytes) -> bytes:
    """FHIR R4's Attachment.hash: an integrity check of the transfer, not a security measure."""
    return hashlib.sha1(data, usedforsecurity=False).digest()


# --- Binary ---------------------------------------------------------------------------------


@register
class BinaryHandler(Handler):
    """The file of a DocumentReference (read only). Versions are written on read only: a file
    never changes, and writing its base64 copy on every save would double the storage."""

    resource_type = "Binary"
    model = Attachment
    interactions = frozenset({"read", "vread"})

    # A file whose original has not arrived yet has no Binary (404) until it does.
    def all_objects(self) -> QuerySet[Attachment]:
        return Attachment.objects.select_related("consultation__patient").exclude(file="")

    def queryset(self, principal: Principal) -> QuerySet[Attachment]:
        return _visible_attachments(principal).exclude(file="")

    def patient_of(self, obj: Attachment) -> Patient:
        return obj.consultation.patient

    def versioned_objects(self, instance: Model) -> list[Any]:
        return []

    def to_fhir(self, obj: Attachment) -> dict[str, Any]:
        with obj.file.open("rb") as handle:
            content = handle.read()
        return {
            "resourceType": "Binary",
            "id": str(obj.uuid),
            "contentType": obj.content_type,
            "securityContext": {"reference": f"DocumentReference/{obj.uuid}"},
            "data": base64.b64encode(content).decode(),
        }


# --- Provenance -----------------------------------------------------------------------------


@register
class ProvenanceHandler(Handler):
    resource_type = "Provenance"
    model = Signature
    search_params = {
        "target": SearchParam(
            "reference", "conclusion__document__uuid", target="DocumentReference"
        ),
        "patient": SearchParam(
            "reference", "conclusion__consultation__patient__uuid", target="Patient"
        ),
    }
    includes = (Include("target", "DocumentReference", "conclusion.document"),)

    def all_objects(self) -> QuerySet[Signature]:
        # Signatures of conclusions that are filed as documents: the target of a Provenance.
        return Signature.objects.filter(conclusion__document__isnull=False).select_related(
            "signer__facility__organisation",
            "key",
            "conclusion__consultation__patient",
            "conclusion__document",
        )

    def queryset(self, principal: Principal) -> QuerySet[Signature]:
        return self.all_objects().filter(
            conclusion__consultation__patient__in=visible_patients(principal.user).values("pk")
        )

    def patient_of(self, obj: Signature) -> Patient:
        return obj.conclusion.consultation.patient

    def to_fhir(self, obj: Signature) -> dict[str, Any]:
        conclusion = obj.conclusion
        signer = _practitioner(obj.signer)
        with translation.override("en"):  # the same words in every version of the resource
            result = conclusion_verification(conclusion)
        agent: dict[str, Any] = {
            "type": {
                "coding": [
                    {"system": PARTICIPANT_TYPE_SYSTEM, "code": "author", "display": "Author"}
                ]
            },
            "who": signer,
        }
        organisation = _organisation(obj.signer)
        if organisation is not None:
            agent["onBehalfOf"] = organisation
        operation = ("UPDATE", "revise") if conclusion.version > 1 else ("CREATE", "create")
        return {
            "resourceType": "Provenance",
            "id": str(obj.uuid),
            "target": [{"reference": f"DocumentReference/{conclusion.document.uuid}"}],
            "occurredDateTime": _instant(obj.signed_at),
            "recorded": _instant(obj.signed_at),
            "activity": {
                "coding": [
                    {
                        "system": DATA_OPERATION_SYSTEM,
                        "code": operation[0],
                        "display": operation[1],
                    }
                ]
            },
            "agent": [agent],
            "signature": [
                {
                    "type": [
                        {
                            "system": SIGNATURE_TYPE_SYSTEM,
                            "code": AUTHOR_SIGNATURE,
                            "display": "Author's Signature",
                        }
                    ],
                    "when": _instant(obj.signed_at),
                    "who": signer,
                    # What is signed is FarCare's canonical JSON statement of the conclusion.
                    "targetFormat": "application/json",
                    "sigFormat": "application/octet-stream",
                    "data": obj.signature,
                    "extension": [
                        {
                            "url": VERIFICATION_URL,
                            "extension": [
                                {"url": "valid", "valueBoolean": result.valid},
                                {"url": "reason", "valueString": result.reason},
                                {"url": "algorithm", "valueString": obj.algorithm},
                                {"url": "digest", "valueString": obj.digest},
                            ],
                        }
                    ],
                }
            ],
        }
