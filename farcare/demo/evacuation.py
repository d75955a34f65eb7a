"""The demo's evacuations (issue 16): the air-ambulance bases and their aircraft, landing sites,
ground routes and the hubs' capabilities (`evacuation.reference`), a receiving doctor at three
hubs, and a few transfers in different states whose timelines are real moves of the state
machine at past times:

- Enurmino → Anadyr, an emergency just requested (no bed yet: the board shows it stalling);
- Ayan → Khabarovsk, an open fracture, bed confirmed, waiting for transport;
- Lorino → Anadyr, frostbite, Mi-8 assigned, held for a blizzard;
- Oymyakon → Yakutsk, a stroke, Mi-8 dispatched;
- Pevek → Anadyr, a STEMI thrombolysed on site then flown by L-410, handed over four days ago;
- Okhotsk → Khabarovsk, an emergency flown from Magadan's base, handed over two days ago.

The Uelen patients are left without a transfer: the demo's "evacuate" conclusion is where a user
opens one. Running it again adds nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from farcare.accounts.models import User
from farcare.evacuation import planning
from farcare.evacuation.models import (
    Aircraft,
    AircraftStatus,
    DecisionChoice,
    Transfer,
    TransferCondition,
    TransportMode,
)
from farcare.evacuation.reference import load_reference
from farcare.evacuation.workflow import Side, apply
from farcare.network.models import Facility, FacilityKind, PractitionerRoleKind
from farcare.patients.models import Patient

# Receiving doctors: a clinician of the hub is who confirms the bed and takes the handover.
RECEIVERS = (
    ("er_anadyr", "Эттувье", "Наталья", "Игоревна", "Anadyr"),
    ("er_yakutsk", "Гаврильев", "Николай", "Семёнович", "Yakutsk"),
    ("er_khabarovsk", "Ли", "Анна", "Викторовна", "Khabarovsk"),
)


@dataclass(frozen=True)
class Move:
    event: str
    minutes_ago: int
    side: Side
    by: str  # username
    note: str = ""


@dataclass(frozen=True)
class DemoTransfer:
    family: str  # the demo patient (patients.csv)
    destination: str  # the hub's settlement
    condition: str
    reason: str
    first_contact_minutes_ago: int
    decided_minutes_ago: int
    requested_by: str
    moves: tuple[Move, ...]
    aircraft: str = ""  # registration, assigned with the "assign" move
    onset_minutes_ago: int | None = None
    decision_choice: str = DecisionChoice.TRANSFER
    decision_note: str = ""
    hold_reason: str = ""
    hold_expected_in_minutes: int = 0
    bed_note: str = ""


DAY = 24 * 60
TRANSFERS: tuple[DemoTransfer, ...] = (
    DemoTransfer(
        "Кергинто",
        "Anadyr",
        TransferCondition.EMERGENCY,
        "Массивное желудочно-кишечное кровотечение, АД 85/50, гемоглобин неизвестен. Идёт инфузия.",
        first_contact_minutes_ago=80,
        decided_minutes_ago=55,
        requested_by="coordinator",
        moves=(),
    ),
    DemoTransfer(
        "Громов",
        "Khabarovsk",
        TransferCondition.EMERGENCY,
        "Открытый перелом левой голени после падения с лодки; шина, кровотечение остановлено.",
        first_contact_minutes_ago=150,
        decided_minutes_ago=120,
        requested_by="coord_khabarovsk",
        moves=(Move("accept", 95, Side.RECEIVER, "er_khabarovsk", "Травматология, койка 4"),),
        bed_note="Травматология, койка 4",
    ),
    DemoTransfer(
        "Ётылин",
        "Anadyr",
        TransferCondition.EMERGENCY,
        "Глубокое отморожение обеих стоп, растёт температура; нужна операция в окружной больнице.",
        first_contact_minutes_ago=7 * 60,
        decided_minutes_ago=6 * 60,
        requested_by="coordinator",
        aircraft="RA-22851",
        moves=(
            Move("accept", 5 * 60 + 30, Side.RECEIVER, "er_anadyr", "Хирургия, койка 12"),
            Move("assign", 5 * 60, Side.COORDINATOR, "coordinator"),
            Move("hold", 4 * 60, Side.COORDINATOR, "coordinator", "Пурга в Лорино"),
        ),
        hold_reason="Пурга в Лорино: видимость менее 200 м, ветер 25 м/с",
        hold_expected_in_minutes=3 * 60,
        bed_note="Хирургия, койка 12",
    ),
    DemoTransfer(
        "Слепцов",
        "Yakutsk",
        TransferCondition.ISCHAEMIC_STROKE,
        "Слабость в правых конечностях и нарушение речи с утра; глюкоза 6,1.",
        onset_minutes_ago=4 * 60,
        first_contact_minutes_ago=3 * 60 + 30,
        decided_minutes_ago=3 * 60,
        requested_by="coord_yakutsk",
        aircraft="RA-22881",
        moves=(
            Move(
                "accept", 2 * 60 + 50, Side.RECEIVER, "er_yakutsk", "Региональный сосудистый центр"
            ),
            Move("assign", 2 * 60 + 40, Side.COORDINATOR, "coord_yakutsk"),
            Move("dispatch", 2 * 60 + 20, Side.COORDINATOR, "coord_yakutsk"),
        ),
        bed_note="Региональный сосудистый центр",
    ),
    DemoTransfer(
        "Ёлкина",
        "Anadyr",
        TransferCondition.STEMI,
        "Нижний ИМпST на ЭКГ; до ЧКВ не успеть за 120 мин: тенектеплаза введена на 10-й минуте.",
        first_contact_minutes_ago=4 * DAY,
        decided_minutes_ago=4 * DAY - 20,
        requested_by="coordinator",
        aircraft="RA-67021",
        decision_choice=DecisionChoice.LOCAL_TREATMENT_THEN_TRANSFER,
        decision_note="Тромболизис на месте под телеконсультацией, затем ЧКВ в окружной больнице.",
        moves=(
            Move("accept", 4 * DAY - 30, Side.RECEIVER, "er_anadyr", "Кардиореанимация"),
            Move("assign", 4 * DAY - 35, Side.COORDINATOR, "coordinator"),
            Move("dispatch", 4 * DAY - 45, Side.COORDINATOR, "coordinator"),
            Move("board", 4 * DAY - 4 * 60, Side.SENDER, "doc_pevek"),
            Move("arrive", 4 * DAY - 6 * 60, Side.COORDINATOR, "coordinator"),
            Move("hand_over", 4 * DAY - 6 * 60 - 20, Side.RECEIVER, "er_anadyr"),
        ),
        bed_note="Кардиореанимация",
    ),
    DemoTransfer(
        "Пак",
        "Khabarovsk",
        TransferCondition.EMERGENCY,
        "Острый живот, подозрение на прободную язву; хирурга в Охотске на этой неделе нет.",
        first_contact_minutes_ago=2 * DAY,
        decided_minutes_ago=2 * DAY - 40,
        requested_by="coord_khabarovsk",
        aircraft="RA-67031",
        moves=(
            Move("accept", 2 * DAY - 60, Side.RECEIVER, "er_khabarovsk", "Хирургия"),
            Move("assign", 2 * DAY - 70, Side.COORDINATOR, "coord_khabarovsk"),
            Move("dispatch", 2 * DAY - 80, Side.COORDINATOR, "coord_khabarovsk"),
            Move("board", 2 * DAY - 4 * 60, Side.SENDER, "doc_okhotsk"),
            Move("arrive", 2 * DAY - 9 * 60, Side.COORDINATOR, "coord_khabarovsk"),
            Move("hand_over", 2 * DAY - 9 * 60 - 30, Side.RECEIVER, "er_khabarovsk"),
        ),
        bed_note="Хирургия",
    ),
)


def _receivers() -> None:
    from .loader import DemoPerson, _people, _specialties

    people = [
        DemoPerson(
            username=username,
            family=family,
            given=given,
            middle=middle,
            settlement=settlement,
            kind=FacilityKind.REGIONAL_HUB,
            role_kind=PractitionerRoleKind.DOCTOR,
            specialties=("surgery",),
            languages=("ru",),
            account_role="clinician",
            on_call_weekend=True,
        )
        for username, family, given, middle, settlement in RECEIVERS
    ]
    _people(_specialties(), people)


def _at(now: datetime, minutes_ago: int) -> datetime:
    return now - timedelta(minutes=minutes_ago)


def _transfer(plan: DemoTransfer, now: datetime) -> None:
    patient = Patient.objects.filter(family=plan.family).select_related("home_facility").first()
    destination = Facility.objects.filter(
        settlement__name_en=plan.destination, kind=FacilityKind.REGIONAL_HUB
    ).first()
    if patient is None or destination is None or patient.home_facility is None:
        return
    users = {u.username: u for u in User.objects.filter(username__in=_usernames(plan))}
    decided = _at(now, plan.decided_minutes_ago)
    transfer = Transfer(
        patient=patient,
        origin=patient.home_facility,
        destination=destination,
        condition=plan.condition,
        reason=plan.reason,
        requested_by=users[plan.requested_by],
        first_contact_at=_at(now, plan.first_contact_minutes_ago),
        onset_at=None if plan.onset_minutes_ago is None else _at(now, plan.onset_minutes_ago),
        decided_at=decided,
        decision_choice=plan.decision_choice,
        decision_note=plan.decision_note,
    )
    aircraft = Aircraft.objects.filter(registration=plan.aircraft).first()
    # The estimate and the advice as they were shown when the decision was taken.
    transfer.estimate = planning.estimate_for(transfer, aircraft)
    total = transfer.estimate.get("total_minutes")
    transfer.advice = planning.advice_json(
        planning.advice_for(
            plan.condition,
            total,
            now=decided,
            first_contact_at=transfer.first_contact_at,
            onset_at=transfer.onset_at,
        )
    )
    transfer.save()
    transfer.events.create(
        from_status="",
        to_status=transfer.status,
        event="request",
        at=decided,
        actor=users[plan.requested_by],
        note=plan.reason,
    )
    for move in plan.moves:
        at = _at(now, move.minutes_ago)
        if move.event == "accept":
            transfer.accepted_by = users[move.by]
            transfer.bed_note = plan.bed_note
        elif move.event == "assign" and aircraft is not None:
            transfer.transport_mode = TransportMode.AIR
            transfer.aircraft = aircraft
        elif move.event == "hold":
            transfer.hold_reason = plan.hold_reason
            transfer.hold_expected_until = now + timedelta(minutes=plan.hold_expected_in_minutes)
        data: dict[str, object] | None = (
            {"aircraft": aircraft.registration} if move.event == "assign" and aircraft else None
        )
        apply(
            transfer,
            move.event,
            sides={move.side},
            actor=users[move.by],
            note=move.note or (plan.hold_reason if move.event == "hold" else ""),
            at=at,
            data=data,
        )
    if aircraft is not None:
        # Committed while the transfer runs; free again once it has ended.
        aircraft.status = (
            AircraftStatus.AVAILABLE if transfer.is_final else AircraftStatus.ON_MISSION
        )
        aircraft.save(update_fields=["status", "updated_at"])


def _usernames(plan: DemoTransfer) -> set[str]:
    return {plan.requested_by, *(move.by for move in plan.moves)}


def load_evacuation() -> None:
    load_reference()
    _receivers()
    families = [plan.family for plan in TRANSFERS]
    if Transfer.objects.filter(patient__family__in=families).exists():
        return
    now = timezone.now()
    for plan in TRANSFERS:
        _transfer(plan, now)
