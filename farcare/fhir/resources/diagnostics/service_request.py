"""ServiceRequest ↔ diagnostics.DiagnosticOrder: laboratory tests or imaging ordered for a patient.

A part of the ServiceRequest type beside the consultation request (composite.py): a request with
the category SNOMED CT 108252007 (laboratory procedure) or 363679005 (imaging) is an order.
`identifier` = the placer number (`urn:farcare:placer-number`, type PLAC), the client token
(what makes a retried POST harmless) and the laboratory's filler number once known (FILL);
`code` = the first test (LOINC), `orderDetail` = every test of the order; `reasonCode.text` = the
reason; `performer` = the performing facility's Organization (routed by the network when the
client names none); `requester` = the orderer; `specimen` = the order's tubes; `basedOn` = the
consultation whose recommendation it follows. POST places it through
`diagnostics.services.ordering.order_place`, like the order page.

PUT after placing may only cancel the order: `status` "revoked" with the reason in the extension
`request-statusReason` (valueCodeableConcept.text, the standard place in R4) or, failing that,
in a new `note`; it goes through `order_cancel`, like the page's Cancel (which also tells the
laboratory the order was sent to: HL7 ORC-1 "CA"). A revoked order shows its reason in both.
Any other change to what the order holds is refused (422) saying what may change; an element
the PUT leaves out is not a change (the order keeps it). PATCH is not served (as for every
type)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.consults.models import Consultation
from farcare.diagnostics.models import (
    Category,
    DiagnosticOrder,
    OrderedTest,
    OrderStatus,
    Priority,
    Specimen,
)
from farcare.diagnostics.services.ordering import order_cancel, order_place
from farcare.network.models import Facility
from farcare.patients.models import Patient

from ... import systems
from ...auth import Principal
from ...errors import business_rule, conflict
from ...registry import Handler, Include, SearchParam, register_part
from ...remainder import rendered
from ...validation import validated
from ..consultation.common import REQUESTER_KINDS, _person, as_fhir, person_q
from .common import (
    CATEGORY_OF_SNOMED,
    CLIENT_TOKEN,
    FILLER_NUMBER,
    IDENTIFIER_TYPE,
    ORDER_CATEGORY,
    PLACER_NUMBER,
    choice_q,
    is_uuid,
    loinc,
    negated,
    nothing,
    organisation,
    organisation_q,
    patient_reference,
    referenced,
    when,
)

ORDER_PATHS = {
    "category": "ServiceRequest.category",
    "codes": "ServiceRequest.code",
    "reason": "ServiceRequest.reasonCode",
    "priority": "ServiceRequest.priority",
    "consultation": "ServiceRequest.basedOn",
}


def category_of(resource: dict[str, Any]) -> str:
    for concept in resource.get("category") or []:
        for coding in (concept or {}).get("coding") or []:
            if coding.get("system") in (systems.SNOMED, None) and coding.get("code") in (
                CATEGORY_OF_SNOMED
            ):
                return str(CATEGORY_OF_SNOMED[coding["code"]])
    return ""


def _category_q(modifier: str, system: str, code: str) -> Q:
    if (system and system != systems.SNOMED) or code not in CATEGORY_OF_SNOMED:
        return negated(nothing(), modifier)
    return negated(Q(category=CATEGORY_OF_SNOMED[code]), modifier)


def _code_q(modifier: str, system: str, code: str) -> Q:
    if system and system != systems.LOINC:
        return negated(nothing(), modifier)
    orders = OrderedTest.objects.filter(code=code).values("order_id")
    return negated(Q(pk__in=orders), modifier)


def _identifier_q(modifier: str, system: str, value: str) -> Q:
    condition = nothing()
    if system in ("", PLACER_NUMBER):
        condition |= Q(placer_number=value)
    if system in ("", FILLER_NUMBER) and value:
        condition |= Q(filler_number=value)
    if system in ("", CLIENT_TOKEN) and is_uuid(value):
        condition |= Q(client_token=uuid.UUID(value))
    return negated(condition, modifier)


def _priority_q(modifier: str, system: str, code: str) -> Q:
    return negated(Q(priority=code) if code in Priority.values else nothing(), modifier)


def orders() -> QuerySet[DiagnosticOrder]:
    return DiagnosticOrder.objects.select_related(
        "patient",
        "orderer__practitioner",
        "ordering_facility",
        "performer__organisation",
        "consultation",
    ).prefetch_related("tests", "specimens", "orderer__practitioner__roles")


@register_part
class DiagnosticOrderHandler(Handler):
    resource_type = "ServiceRequest"
    model = DiagnosticOrder
    updated_field = "updated_at"
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update"}
    )
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=choice_q("status", list(OrderStatus.values))),
        "priority": SearchParam("token", to_q=_priority_q),
        "category": SearchParam("token", to_q=_category_q),
        "code": SearchParam("token", to_q=_code_q),
        "authored": SearchParam("date", "created_at", sortable=True),
        "requester": SearchParam("reference", "orderer", to_q=person_q("orderer")),
        "performer": SearchParam("reference", "performer", to_q=organisation_q("performer")),
        "identifier": SearchParam("token", to_q=_identifier_q),
        "based-on": SearchParam("reference", "consultation__uuid", target="ServiceRequest"),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
        Include("performer", "Organization", "performer.organisation"),
    )

    def all_objects(self) -> QuerySet[DiagnosticOrder]:
        return orders()

    def queryset(self, principal: Principal) -> QuerySet[DiagnosticOrder]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))

    def patient_of(self, obj: DiagnosticOrder) -> Patient:
        return obj.patient

    def claims(self, resource: dict[str, Any]) -> bool:
        return bool(category_of(resource))

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, DiagnosticOrder):
            return [instance]
        if isinstance(instance, OrderedTest | Specimen):
            return [instance.order]
        return []

    def to_fhir(self, obj: DiagnosticOrder) -> dict[str, Any]:
        tests = list(obj.tests.all())
        identifiers: list[dict[str, Any]] = [
            {
                "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "PLAC"}]},
                "system": PLACER_NUMBER,
                "value": obj.placer_number,
            },
            {"system": CLIENT_TOKEN, "value": str(obj.client_token)},
        ]
        if obj.filler_number:
            identifiers.append(
                {
                    "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "FILL"}]},
                    "system": FILLER_NUMBER,
                    "value": obj.filler_number,
                }
            )
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": str(obj.uuid),
            "identifier": identifiers,
            "status": obj.status,
            "intent": "order",
            "category": [{"coding": [ORDER_CATEGORY[Category(obj.category)]]}],
            "priority": obj.priority,
            "subject": patient_reference(obj.patient),
            "authoredOn": when(obj.placed_at or obj.created_at),
            "requester": _person(obj.orderer, obj.ordering_facility, REQUESTER_KINDS),
            "reasonCode": [{"text": obj.reason}],
        }
        if tests:
            resource["code"] = loinc(tests[0].code, tests[0].display)
            resource["orderDetail"] = [loinc(test.code, test.display) for test in tests]
            sites = [test.body_site for test in tests if test.body_site]
            if sites:
                resource["bodySite"] = [{"text": site} for site in dict.fromkeys(sites)]
        performer = organisation(obj.performer)
        if performer is not None:
            resource["performer"] = [performer]
        if obj.consultation is not None:
            resource["basedOn"] = [{"reference": f"ServiceRequest/{obj.consultation.uuid}"}]
        specimens = list(obj.specimens.all())
        if specimens:
            resource["specimen"] = [{"reference": f"Specimen/{s.uuid}"} for s in specimens]
        if obj.due_at is not None:
            resource["occurrenceTiming"] = {"repeat": {"boundsPeriod": {"end": when(obj.due_at)}}}
        if obj.note:
            resource["note"] = [{"text": obj.note}]
        if obj.status == OrderStatus.REVOKED and obj.note:
            resource["extension"] = [
                {"url": STATUS_REASON, "valueCodeableConcept": {"text": obj.note}}
            ]
        return resource

    # --- writes ------------------------------------------------------------------------------

    def create(self, principal: Principal, resource: dict[str, Any]) -> DiagnosticOrder:
        validated("ServiceRequest", resource)
        if resource.get("status") != "active":
            raise business_rule("An order is placed as 'active'.", ["ServiceRequest.status"])
        if resource.get("intent") not in ("order", "original-order"):
            raise business_rule("An order's intent is 'order'.", ["ServiceRequest.intent"])
        patient = _subject(resource)
        token = _client_token(resource)
        existing = DiagnosticOrder.objects.filter(client_token=token).first()
        if existing is not None and existing.patient_id != patient.pk:
            raise conflict("This client token belongs to another order; choose a new one.")
        try:
            placed = order_place(
                accessor=principal.accessor,
                patient=patient,
                category=category_of(resource),
                codes=_codes(resource),
                reason=_reason(resource),
                priority=str(resource.get("priority") or Priority.ROUTINE),
                client_token=token,
                consultation=_consultation(resource, patient),
                performer=_performer(resource),
            )
        except ValidationError as error:
            raise as_fhir(error, ORDER_PATHS, "ServiceRequest.status") from error
        return self.all_objects().get(pk=placed.pk)

    def update(
        self, principal: Principal, obj: DiagnosticOrder, resource: dict[str, Any]
    ) -> DiagnosticOrder:
        validated("ServiceRequest", resource)
        served = rendered(self, obj)
        wanted = str(resource.get("status") or "")
        cancelling = wanted == OrderStatus.REVOKED and obj.status != OrderStatus.REVOKED
        if wanted != obj.status and not cancelling:
            raise business_rule(_ONLY_CANCEL, ["ServiceRequest.status"])
        free = {"resourceType", "id", "meta", "text", "status"}
        if cancelling:
            free |= {"note", "extension"}
        changed = [
            key for key in resource if key not in free and not _same(resource[key], served.get(key))
        ]
        if cancelling:
            extensions = [
                e for e in resource.get("extension") or [] if e.get("url") != STATUS_REASON
            ]
            if not _same(extensions, served.get("extension") or []):
                changed.append("extension")
        if changed:
            raise business_rule(_ONLY_CANCEL, [f"ServiceRequest.{key}" for key in changed])
        if not cancelling:
            return obj  # nothing changed: the same version
        try:
            order_cancel(
                accessor=principal.accessor,
                order=obj,
                reason=_cancel_reason(resource, served),
                version=obj.version,
            )
        except ValidationError as error:
            raise as_fhir(error, CANCEL_PATHS, "ServiceRequest.status") from error
        return self.all_objects().get(pk=obj.pk)


# The standard extension for why a request's status is what it is (R4 has no statusReason).
STATUS_REASON = "http://hl7.org/fhir/StructureDefinition/request-statusReason"
CANCEL_PATHS = {"reason": "ServiceRequest.extension", "version": "ServiceRequest.meta"}
_ONLY_CANCEL = (
    "Once placed, an order can only be cancelled: send it back unchanged with status "
    "'revoked' and the reason in the extension " + STATUS_REASON + " (valueCodeableConcept."
    "text) or a note. To change the tests, priority, performer or reason, cancel it and "
    "place a new order."
)


def _same(sent: Any, served: Any) -> bool:
    """Whether `sent` says nothing the served resource does not: every key it has, with the
    same value; lists item by item."""
    if isinstance(sent, dict):
        return isinstance(served, dict) and all(
            key in served and _same(value, served[key]) for key, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(served, list)
            and len(sent) == len(served)
            and all(_same(a, b) for a, b in zip(sent, served, strict=True))
        )
    return bool(sent == served)


def _cancel_reason(resource: dict[str, Any], served: dict[str, Any]) -> str:
    """The statusReason extension's text (or its coding's display), else the notes the order
    did not already have."""
    for extension in resource.get("extension") or []:
        if extension.get("url") != STATUS_REASON:
            continue
        concept = extension.get("valueCodeableConcept") or {}
        text = concept.get("text") or next(
            (c.get("display") for c in concept.get("coding") or [] if c.get("display")), ""
        )
        if text:
            return str(text)
    known = {note.get("text") for note in served.get("note") or []}
    notes = [
        str(note.get("text"))
        for note in resource.get("note") or []
        if note.get("text") and note.get("text") not in known
    ]
    return "\n".join(notes)


def _subject(resource: dict[str, Any]) -> Patient:
    ident = referenced(str((resource.get("subject") or {}).get("reference") or ""), "Patient")
    patient = Patient.objects.filter(uuid=ident).first() if ident else None
    if patient is None:
        raise business_rule(
            "Name a patient known to FarCare as Patient/<id>.", ["ServiceRequest.subject"]
        )
    return patient


def _client_token(resource: dict[str, Any]) -> uuid.UUID:
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == CLIENT_TOKEN:
            if not is_uuid(str(identifier.get("value"))):
                raise business_rule("The client token is a UUID.", ["ServiceRequest.identifier"])
            return uuid.UUID(str(identifier["value"]))
        if identifier.get("system") == PLACER_NUMBER:
            raise business_rule(
                "FarCare gives the placer number; send a client token (urn:farcare:client-token) "
                "instead.",
                ["ServiceRequest.identifier"],
            )
    return uuid.uuid4()


def _codes(resource: dict[str, Any]) -> list[str]:
    """The LOINC codes of `code` and of `orderDetail` (a multi-test order), in order."""
    codes: list[str] = []
    concepts = [resource.get("code") or {}, *(resource.get("orderDetail") or [])]
    for index, concept in enumerate(concepts):
        found = [
            c.get("code") for c in concept.get("coding") or [] if c.get("system") == systems.LOINC
        ]
        if concept and not found:
            path = (
                "ServiceRequest.code" if index == 0 else f"ServiceRequest.orderDetail[{index - 1}]"
            )
            raise business_rule("Code each test in LOINC (http://loinc.org).", [path])
        codes += [str(code) for code in found[:1] if code not in codes]
    if not codes:
        raise business_rule("Say which tests: a LOINC code.", ["ServiceRequest.code"])
    return codes


def _reason(resource: dict[str, Any]) -> str:
    texts = []
    for concept in resource.get("reasonCode") or []:
        text = concept.get("text") or next(
            (c.get("display") for c in concept.get("coding") or [] if c.get("display")), ""
        )
        if text:
            texts.append(str(text))
    return "; ".join(texts)


def _consultation(resource: dict[str, Any], patient: Patient) -> Consultation | None:
    for index, based_on in enumerate(resource.get("basedOn") or []):
        ident = referenced(str(based_on.get("reference") or ""), "ServiceRequest")
        consultation = Consultation.objects.filter(uuid=ident).first() if ident else None
        if consultation is None or consultation.patient_id != patient.pk:
            raise business_rule(
                "basedOn names the consultation (ServiceRequest) of the same patient whose "
                "recommendation this order follows.",
                [f"ServiceRequest.basedOn[{index}]"],
            )
        return consultation
    return None


def _performer(resource: dict[str, Any]) -> Facility | None:
    for index, performer in enumerate(resource.get("performer") or []):
        reference = str(performer.get("reference") or "")
        ident = referenced(reference, "Organization")
        location = referenced(reference, "Location")
        facility = None
        if ident:
            facility = Facility.objects.filter(organisation__uuid=ident).order_by("pk").first()
        elif location:
            facility = Facility.objects.filter(uuid=location).first()
        if facility is None:
            raise business_rule(
                "The performer is an Organization (or Location) known to FarCare; leave it out "
                "to have the network route the order.",
                [f"ServiceRequest.performer[{index}]"],
            )
        return facility
    return None
