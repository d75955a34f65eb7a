"""Demo consultations in every state, made through the same services the pages use, so that a
newcomer sees a living system. Each has a fixed client token: loading twice makes nothing new."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.consults import services
from farcare.consults.models import (
    DEFAULT_DEADLINE_MINUTES,
    Consultation,
    DeadlinePolicy,
    RoutingRule,
    Status,
)
from farcare.network.models import (
    Facility,
    FacilityKind,
    PractitionerRole,
    PractitionerRoleKind,
    Specialty,
)
from farcare.patients.models import Patient

from .loader import PARTNER_SPECIALTIES

NAMESPACE = uuid.UUID("7b0c7f4e-5d1a-4a53-9d55-6f6f2f7c0a11")
# Interregional agreements that come before distance: Chukotka's cardiology is answered from
# Khabarovsk.
AGREEMENTS = {("Chukotka", "cardiology"): "Khabarovsk"}


def _km(a: Facility, b: Facility) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 12742 * math.asin(math.sqrt(h))


def load_routing_table() -> None:
    """Per region and specialty: the region's own hub if it has such a consultant, then the two
    nearest other hubs that do, the federal centre, and the Korean partners for the specialties
    they are contracted for."""
    for form, minutes in DEFAULT_DEADLINE_MINUTES.items():
        DeadlinePolicy.objects.get_or_create(form=form, defaults={"minutes": minutes})
    staffed: dict[int, set[int]] = {}
    for role in PractitionerRole.objects.filter(
        kind=PractitionerRoleKind.CONSULTANT
    ).prefetch_related("practitioner__specialties"):
        staffed.setdefault(role.facility_id, set()).update(
            s.pk for s in role.practitioner.specialties.all()
        )
    hubs = list(
        Facility.objects.filter(kind=FacilityKind.REGIONAL_HUB).select_related("settlement")
    )
    federal = list(Facility.objects.filter(kind=FacilityKind.FEDERAL_CENTRE))
    partners = list(Facility.objects.filter(kind=FacilityKind.PARTNER_ABROAD).order_by("name_en"))
    for own_hub in hubs:
        for specialty in Specialty.objects.all():
            ordered: list[Facility] = []
            if specialty.pk in staffed.get(own_hub.pk, set()):
                ordered.append(own_hub)
            others = sorted(
                (h for h in hubs if h != own_hub and specialty.pk in staffed.get(h.pk, set())),
                key=lambda h: _km(own_hub, h),
            )
            partner_hub = AGREEMENTS.get((own_hub.region, specialty.code))
            others.sort(key=lambda h: h.settlement.name_en != partner_hub)
            ordered += others[:2]
            ordered += [f for f in federal if specialty.pk in staffed.get(f.pk, set())]
            if specialty.code in PARTNER_SPECIALTIES:
                ordered += [p for p in partners if specialty.pk in staffed.get(p.pk, set())]
            for rank, facility in enumerate(ordered, start=1):
                RoutingRule.objects.get_or_create(
                    region=own_hub.region,
                    specialty=specialty,
                    facility=facility,
                    defaults={"rank": rank},
                )


def _token(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


def _accessor(username: str) -> Accessor:
    return Accessor(User.objects.get(username=username), None, "demo")


def _team(consultation: Consultation) -> Accessor:
    assignment = consultation.assignments.filter(ended_at__isnull=True).first()
    assert assignment is not None, f"demo request {consultation.uuid} found no consultant"
    return Accessor(assignment.consultant, None, "demo")


DETERIORATING = {
    "respiratory_rate": 25,
    "spo2": 91,
    "on_oxygen": False,
    "systolic_bp": 92,
    "heart_rate": 128,
    "consciousness": "A",
    "temperature": "36.4",
}
STABLE = {
    "respiratory_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 134,
    "heart_rate": 78,
    "consciousness": "A",
    "temperature": "36.6",
}


def _scenario(
    name: str,
    requester: str,
    patient_family: str,
    specialty: str,
    form: str,
    question: str,
    vitals: dict[str, Any],
    then: Callable[[Consultation], None] | None = None,
    draft: bool = False,
) -> None:
    token = _token(name)
    if Consultation.objects.filter(client_token=token).exists():
        return
    patient = Patient.objects.get(family=patient_family)
    data = services.RequestData(
        specialty=Specialty.objects.get(code=specialty),
        form=form,
        question=question,
        summary="",
        vitals=vitals,
    )
    accessor = _accessor(requester)
    call = services.consult_save_draft if draft else services.consult_submit
    consultation = call(accessor=accessor, patient=patient, client_token=token, data=data)
    if then is not None:
        then(consultation)


def _accept(c: Consultation) -> None:
    services.consult_accept(accessor=_team(c), consultation=c)


def _start(c: Consultation) -> None:
    _accept(c)
    services.message_post(accessor=_team(c), consultation=c, body="Reviewing the material now.")


def _hold(c: Consultation) -> None:
    _accept(c)
    services.message_post(
        accessor=_team(c),
        consultation=c,
        body="Please send a photo of the wound and the latest temperature.",
        ask_requester=True,
    )


def _conclude(c: Consultation, evacuate: bool = False) -> None:
    _accept(c)
    services.conclusion_sign(
        accessor=_team(c),
        consultation=c,
        data=services.ConclusionData(
            findings="History and vitals reviewed.",
            diagnoses=["I21.0"] if evacuate else ["E11.9"],
            recommendations="Aspirin 250 mg, heparin 5000 IU; prepare for the flight."
            if evacuate
            else "Metformin 500 mg twice daily; HbA1c in three months.",
            evacuation="urgent_air" if evacuate else "none",
            evacuation_destination=Facility.objects.get(
                settlement__name_en="Anadyr", kind=FacilityKind.REGIONAL_HUB
            )
            if evacuate
            else None,
        ),
    )


def _acknowledged(c: Consultation) -> None:
    _conclude(c)
    services.consult_acknowledge(
        accessor=Accessor(c.requester, None, "demo"),
        consultation=c,
        action="treated_locally",
        helped="yes",
    )


def _reject(c: Consultation) -> None:
    services.consult_transition(
        accessor=_team(c),
        consultation=c,
        target=Status.REJECTED,
        note="Not a dermatological question: ask a surgeon.",
    )


def _cancel(c: Consultation) -> None:
    services.consult_cancel(
        accessor=Accessor(c.requester, None, "demo"),
        consultation=c,
        reason="The patient was flown out on a scheduled flight.",
    )


def _fail(c: Consultation) -> None:
    _accept(c)
    services.consult_transition(
        accessor=_team(c),
        consultation=c,
        target=Status.FAILED,
        note="The ECG file is unreadable and the post cannot send another today.",
    )


def load_consultations() -> None:
    load_routing_table()
    Q = "What do you advise?"
    _scenario(
        "draft",
        "feldsher",
        "Рультына",
        "dermatology",
        "planned",
        "Rash for a week. " + Q,
        STABLE,
        draft=True,
    )
    _scenario(
        "requested-emergency",
        "feldsher",
        "Тынетегин",
        "cardiology",
        "emergency",
        "Crushing chest pain for two hours, sweating. Thrombolysis or evacuation?",
        DETERIORATING,
    )
    _scenario(
        "accepted",
        "doctor",
        "Нутэвги",
        "paediatrics",
        "urgent",
        "Child, 7, fever 39 for three days, cough. " + Q,
        STABLE,
        _accept,
    )
    _scenario(
        "in-progress",
        "fel_oymyakon",
        "Слепцов",
        "neurology",
        "urgent",
        "Sudden weakness of the right arm this morning. " + Q,
        STABLE,
        _start,
    )
    _scenario(
        "on-hold",
        "fel_lorino",
        "Ётылин",
        "surgery",
        "urgent",
        "Frostbite of both feet, blisters. " + Q,
        STABLE,
        _hold,
    )
    _scenario(
        "completed-evacuation",
        "feldsher",
        "Тынетегин",
        "cardiology",
        "emergency",
        "Chest pain again, ST elevation on the ECG. Evacuate?",
        DETERIORATING,
        lambda c: _conclude(c, evacuate=True),
    )
    _scenario(
        "completed-acknowledged",
        "doc_tiksi",
        "Винокурова",
        "endocrinology",
        "planned",
        "Newly found glucose 11 mmol/L. " + Q,
        STABLE,
        _acknowledged,
    )
    _scenario(
        "rejected",
        "fel_esso",
        "Адуканов",
        "dermatology",
        "planned",
        "Deep wound on the shin after a fall. " + Q,
        STABLE,
        _reject,
    )
    _scenario(
        "cancelled",
        "fel_ayan",
        "Громов",
        "traumatology",
        "urgent",
        "Suspected wrist fracture. " + Q,
        STABLE,
        _cancel,
    )
    _scenario(
        "failed",
        "doc_okhotsk",
        "Пак",
        "cardiology",
        "planned",
        "Palpitations, ECG attached. " + Q,
        STABLE,
        _fail,
    )
