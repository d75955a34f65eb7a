"""A year of past consultations for the analytics pages (issue 18), the Korean partner's analyst,
and the first computation of the indicators, so that `make run` shows figures at once.

The history is what the services would have left behind, written in bulk (a few hundred cases
take a fraction of a second this way; through the services, a minute): consultations, their
assignments, the timeline (submitted, routed, half the deadline passed, deadline passed,
declined, reassigned, accepted, signed, acknowledged...), signed and numbered conclusions with
real signatures, and the requesters' acknowledgements. Every case is closed (completed,
rejected, cancelled, failed) and every event of it lies in the twelve months before the current
one: the live demo's cases, worklists and boards stay as they are. Left out, as the history of
an imported record would be: the vital signs, the conclusions' PDF documents, notifications and
the audit trail.

The patients are the demo's own, so every case is placed where a demo patient lives: eleven
remote settlements. How often they are consulted and how fast they are answered follows the
settlement's link, so the inequity the ministries look for is there to see:

- a post on a 64 kbit/s satellite link (Enurmino, Oymyakon) asks about 15 times a year per
  1,000 residents and is answered slowest; posts on 128 kbit/s VSAT about 22, district hospitals
  on 512 kbit/s about 25, and posts on cellular links (Esso, Kurilsk) about 40: some 550 cases;
- Enurmino, Oymyakon, Uelen, Ayan, Lorino and Lavrentiya have 1 to 4 cases in most months:
  hidden, and where one is alone in its region (Oymyakon beside Tiksi, Ayan beside Okhotsk) the
  second cell that would give it away is hidden with it;
- the patients who consented to their data going abroad are often consulted by the Korean
  partners in the specialties they are contracted for (the partner's view);
- some requests wait past half their deadline, some past the deadline (re-routed up the routing
  table, or late with their consultant), some are declined and routed on, a few are handed to
  another consultant by the Chukotka coordinator.

Random but fixed (seeded): the same rows each time for the same current month. Loading twice
changes nothing: the first case's client token means the history is there.
"""

from __future__ import annotations

import base64
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection, models, transaction
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.clinical import icd10
from farcare.consults.conclusions import conclusion_document
from farcare.consults.models import (
    Acknowledgement,
    Assignment,
    AssignmentRole,
    Conclusion,
    Consultation,
    ConsultForm,
    DeadlinePolicy,
    DocumentCounter,
    EvacuationAdvice,
    Helped,
    OutcomeAction,
    RoutingRule,
    Status,
    Transition,
)
from farcare.consults.numbering import CONCLUSION_SERIES, document_year, format_number
from farcare.core.months import add_months, month_start
from farcare.network.models import (
    Facility,
    FacilityKind,
    LinkType,
    PractitionerRole,
    PractitionerRoleKind,
    Specialty,
)
from farcare.patients.models import Consent, ConsentKind, Patient
from farcare.signatures.keystore import decrypt_private_key
from farcare.signatures.models import Signature, SigningKey
from farcare.signatures.services import document_digest, signed_statement
from farcare.signatures.signers import Ed25519Signer, Signer, get_signer

from .loader import PARTNER_SPECIALTIES, _account

SEED = 18
MONTHS = 12
NAMESPACE = uuid.UUID("1c8b6a52-3f0e-4d3e-9a51-0e7d18a1e018")
ANALYST_KR = "analyst_kr"
# The Korean partner's analyst: at the partner hospital the demo's Korean consultant works in.
ANALYST_KR_PLACE = "Seongnam (Bundang)"
ANALYST_KR_NAME = ("지민", "한")  # given, family

# Consultations a year per 1,000 residents, by the link of the settlement's own facility.
YEARLY_PER_1000 = {
    (LinkType.VSAT, 64): 15.0,
    (LinkType.VSAT, 128): 22.0,
    (LinkType.VSAT, 512): 25.0,
    (LinkType.CELLULAR, 256): 40.0,
}
DEFAULT_PER_1000 = 25.0
# How much longer than usual an answer takes when the request comes over the link: the
# material goes up slowly, the consultant asks again, the post is reached at its next session.
SLOWER_OVER = {64: 1.7, 128: 1.3, 256: 0.9, 512: 1.05}
# Winter: more of everything (respiratory infections, trauma, no road out).
SEASON = {12: 1.25, 1: 1.3, 2: 1.2, 3: 1.05, 7: 0.85, 8: 0.85}
# Of a deadline, the median share a consultant takes to sign, per form.
ANSWER_SHARE = {ConsultForm.EMERGENCY: 0.40, ConsultForm.URGENT: 0.30, ConsultForm.PLANNED: 0.25}
FORMS = ((ConsultForm.EMERGENCY, 0.12), (ConsultForm.URGENT, 0.43), (ConsultForm.PLANNED, 0.45))
# Patients whose families consented to a consultation abroad; a request in a partner's
# specialty goes to Korea this often.
ABROAD = {"Ким": 0.8, "Пак": 0.8, "Ёлкина": 0.7, "Нутэвги": 0.6, "Винокурова": 0.6}
ABROAD_SCOPE = (
    "Consent to a teleconsultation at a partner hospital abroad, signed on paper at the post"
)


@dataclass(frozen=True)
class Case:
    """A kind of question a specialty is asked, and how the consultant answers it."""

    question: str
    diagnoses: tuple[str, ...]
    findings: str
    recommendations: str
    evacuation: str = EvacuationAdvice.NONE


CASES: dict[str, tuple[Case, ...]] = {
    "cardiology": (
        Case(
            "Давление до 170/100 на фоне лечения, головная боль. Как скорректировать терапию?",
            ("I10",),
            "Неконтролируемая артериальная гипертензия, признаков криза нет.",
            "Добавить амлодипин 5 мг утром; дневник давления две недели.",
        ),
        Case(
            "Неритмичный пульс 110–130, ЭКГ во вложении. Что делать?",
            ("I48",),
            "Фибрилляция предсердий, тахисистолия, гемодинамика стабильна.",
            "Бисопролол 2,5 мг; антикоагулянт по шкале CHA2DS2-VASc; ЭКГ через сутки.",
        ),
        Case(
            "Давящая боль за грудиной 40 минут, подъём ST на ЭКГ. Эвакуация?",
            ("I21.0",),
            "Острый инфаркт миокарда передней стенки.",
            "Тромболизис на месте по протоколу; санавиация в региональный сосудистый центр.",
            EvacuationAdvice.URGENT_AIR,
        ),
    ),
    "neurology": (
        Case(
            "Слабость в правой руке, нарушение речи два часа назад. Что делать?",
            ("I63.9",),
            "Острое нарушение мозгового кровообращения, окно для тромболизиса упущено.",
            "Эвакуация в первичный сосудистый центр; до вылета — контроль АД и глюкозы.",
            EvacuationAdvice.URGENT_AIR,
        ),
        Case(
            "Головные боли с тошнотой два раза в неделю. Обследование?",
            ("G43.9",),
            "Мигрень без ауры, признаков вторичной головной боли нет.",
            "Дневник головной боли; ибупрофен в начале приступа; повторно через месяц.",
        ),
    ),
    "paediatrics": (
        Case(
            "Ребёнок, температура 38,8 три дня, кашель, хрипы справа. Тактика?",
            ("J18.9",),
            "Внебольничная пневмония справа, дыхательной недостаточности нет.",
            "Амоксициллин 45 мг/кг в сутки 7 дней; осмотр через 48 часов.",
        ),
        Case(
            "Ребёнок, рвота и жидкий стул с утра, пьёт неохотно. Что делать?",
            ("A08.4",),
            "Вирусный гастроэнтерит, обезвоживание лёгкой степени.",
            "Пероральная регидратация дробно; при отказе от питья — в район.",
        ),
    ),
    "obstetrics": (
        Case(
            "Беременность 32 недели, давление 145/95, отёки. Тактика?",
            ("O13",),
            "Гестационная гипертензия без протеинурии.",
            "Метилдопа 250 мг трижды; контроль АД и белка в моче; плановый перевод в 36 недель.",
            EvacuationAdvice.PLANNED_TRANSFER,
        ),
    ),
    "surgery": (
        Case(
            "Боль в правой подвздошной области сутки, температура 37,8. Что делать?",
            ("K35.8",),
            "Острый аппендицит.",
            "Холод, без обезболивания до осмотра; эвакуация в районную больницу.",
            EvacuationAdvice.URGENT_AIR,
        ),
        Case(
            "Приступы боли в правом подреберье после еды. Обследование?",
            ("K80.2",),
            "Желчнокаменная болезнь, признаков холецистита нет.",
            "Диета; УЗИ при плановом визите в район; при лихорадке — повторно.",
        ),
    ),
    "traumatology": (
        Case(
            "Падение на вытянутую руку, деформация запястья, снимок во вложении.",
            ("S52.5",),
            "Перелом дистального метаэпифиза лучевой кости без смещения.",
            "Гипсовая лонгета 4 недели; контрольный снимок через 10 дней.",
        ),
        Case(
            "Отморожение пальцев обеих кистей, пузыри. Тактика?",
            ("T33.5",),
            "Поверхностное отморожение кистей.",
            "Пузыри не вскрывать; асептические повязки; обезболивание; осмотр ежедневно.",
        ),
    ),
    "oncology": (
        Case(
            "Образование в левой молочной железе, заключение УЗИ во вложении. Тактика?",
            ("C50.9",),
            "Подозрение на рак молочной железы.",
            "Биопсия при плановом визите в онкодиспансер; маммография.",
            EvacuationAdvice.PLANNED_TRANSFER,
        ),
        Case(
            "Кашель с прожилками крови, похудание, снимок лёгких во вложении.",
            ("C34.9",),
            "Подозрение на рак лёгкого.",
            "КТ грудной клетки и бронхоскопия в региональной больнице.",
            EvacuationAdvice.PLANNED_TRANSFER,
        ),
    ),
    "infectious": (
        Case(
            "Желтушность склер, тёмная моча, в посёлке ещё два случая.",
            ("B15.9",),
            "Вирусный гепатит A.",
            "Изоляция на дому; щадящая диета; сообщить в Роспотребнадзор.",
        ),
    ),
    "psychiatry": (
        Case(
            "Подавленность и бессонница два месяца, мысли о бессмысленности.",
            ("F32.1",),
            "Депрессивный эпизод средней степени.",
            "Сертралин 50 мг; видеоконсультация через две недели; план безопасности.",
        ),
    ),
    "pulmonology": (
        Case(
            "Одышка и кашель с мокротой неделю, курит 30 лет.",
            ("J44.1",),
            "Обострение ХОБЛ.",
            "Ингаляции сальбутамола; преднизолон 40 мг 5 дней; сатурация дважды в день.",
        ),
    ),
    "endocrinology": (
        Case(
            "Глюкоза натощак 11 ммоль/л повторно. Что назначить?",
            ("E11.9",),
            "Впервые выявленный сахарный диабет 2 типа.",
            "Метформин 500 мг дважды; HbA1c через три месяца; школа диабета.",
        ),
        Case(
            "Сердцебиение, потливость, похудание, увеличена щитовидная железа.",
            ("E05.0",),
            "Тиреотоксикоз с диффузным зобом.",
            "Тиамазол 20 мг; ТТГ и свободный Т4 через месяц.",
        ),
    ),
    "radiology": (
        Case(
            "Прошу описать снимок грудной клетки: тень справа.",
            ("R91",),
            "Инфильтрация в нижней доле справа, картина пневмонии.",
            "Контрольный снимок через три недели после лечения.",
        ),
    ),
    "dermatology": (
        Case(
            "Зудящие высыпания на руках месяц, фото во вложении.",
            ("L30.9",),
            "Контактный дерматит.",
            "Исключить контакт с моющими средствами; мазь с гидрокортизоном 10 дней.",
        ),
    ),
    "ophthalmology": (
        Case(
            "Покраснение и гнойное отделяемое из обоих глаз три дня.",
            ("H10.9",),
            "Бактериальный конъюнктивит.",
            "Капли с антибиотиком 7 дней; гигиена; при снижении зрения — повторно.",
        ),
    ),
}
# In English: the Korean partners read English.
ABROAD_QUESTION = "Second opinion requested; history and images attached. What do you advise?"
# Weights of the specialties asked about, for an adult.
ADULT = {
    "cardiology": 22,
    "neurology": 10,
    "surgery": 10,
    "traumatology": 9,
    "oncology": 7,
    "infectious": 4,
    "psychiatry": 3,
    "pulmonology": 6,
    "endocrinology": 9,
    "radiology": 5,
    "dermatology": 6,
    "ophthalmology": 4,
}
CHILD = {
    "paediatrics": 70,
    "traumatology": 8,
    "infectious": 8,
    "dermatology": 6,
    "ophthalmology": 4,
    "radiology": 4,
}
ACCEPT_SHARE = 0.1
OUTCOMES = (
    ("completed", 0.84),
    ("cancelled", 0.06),
    ("rejected", 0.03),
    ("failed", 0.03),
    ("declined", 0.04),
)
CANCEL_REASONS = (
    "Пациент улетел плановым рейсом в район.",
    "Состояние улучшилось, консультация не нужна.",
    "Пациент отказался от консультации.",
)
REJECT_NOTE = "Вопрос не по профилю: направьте к хирургу."
FAIL_NOTE = "Файлы не читаются, а пост сегодня без связи: отправьте запрос заново."
DECLINE_NOTE = "На операции до вечера."
REASSIGN_NOTE = "Передаю консультанту, который знает пациента."


@dataclass
class World:
    """The demo's places and people the history draws from (read once)."""

    now: datetime
    clock: dict[str, timedelta]
    residents: dict[int, list[Patient]]  # settlement → the demo patients living there
    home: dict[int, Facility]  # settlement → where its residents are seen
    population: dict[int, int]  # settlement → residents
    district: dict[int, Facility]  # a post's settlement → the district hospital above it
    requesters: dict[int, list[User]]  # facility → its requesting clinicians
    routes: dict[tuple[str, int], list[Facility]]  # (region, specialty) → routing table
    consultants: dict[tuple[int, int], list[User]]  # (facility, specialty) → consultants
    specialties: dict[str, int]
    coordinators: dict[str, User]  # region → its coordinator
    abroad: set[int]  # patients who consented to a consultation abroad


@dataclass
class Planned:
    """One past case before it is written: the rows, linked in memory."""

    consultation: Consultation
    assignments: list[Assignment] = field(default_factory=list)
    events: list[Transition] = field(default_factory=list)
    conclusion: Conclusion | None = None
    acknowledgement: Acknowledgement | None = None


@transaction.atomic
def load_analytics() -> None:
    """The partner's analyst, a year of past consultations, and the indicators computed."""
    _partner_analyst()
    if not Consultation.objects.filter(client_token=_token(0)).exists():
        now = timezone.now()
        world = _world(now)
        _write(_history(world, random.Random(SEED)))
    from farcare.analytics.compute import refresh

    refresh()


def _partner_analyst() -> User:
    facility = Facility.objects.get(
        settlement__name_en=ANALYST_KR_PLACE, kind=FacilityKind.PARTNER_ABROAD
    )
    given, family = ANALYST_KR_NAME
    return _account(ANALYST_KR, Role.ANALYST, facility, given, family, language="ko")


def _token(serial: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"history/{serial}")


def yearly_rate(link_type: str, bandwidth_kbps: int) -> float:
    """Consultations a year per 1,000 residents of a settlement whose facility has this link."""
    return YEARLY_PER_1000.get((LinkType(link_type), bandwidth_kbps), DEFAULT_PER_1000)


def _world(now: datetime) -> World:
    patients = list(
        Patient.objects.select_related("home_settlement", "home_facility").order_by("pk")
    )
    residents: dict[int, list[Patient]] = defaultdict(list)
    for patient in patients:
        residents[patient.home_settlement_id].append(patient)
    # Where a settlement's residents are seen: their home facility (the loader's choice).
    home = {patient.home_settlement_id: patient.home_facility for patient in patients}
    population = {p.home_settlement_id: p.home_settlement.population for p in patients}
    district = {
        facility.settlement_id: target
        for facility in home.values()
        if facility.kind == FacilityKind.FELDSHER_POST
        for target in [_district_above(facility)]
        if target is not None
    }
    requesters: dict[int, list[User]] = defaultdict(list)
    for user in User.objects.filter(role=Role.CLINICIAN, facility__isnull=False).order_by("pk"):
        assert user.facility_id is not None
        requesters[user.facility_id].append(user)
    routes: dict[tuple[str, int], list[Facility]] = defaultdict(list)
    for rule in RoutingRule.objects.select_related("facility").order_by("rank"):
        routes[(rule.region, rule.specialty_id)].append(rule.facility)
    consultants: dict[tuple[int, int], list[User]] = defaultdict(list)
    for role in (
        PractitionerRole.objects.filter(
            kind=PractitionerRoleKind.CONSULTANT, practitioner__user__isnull=False
        )
        .select_related("practitioner__user")
        .prefetch_related("practitioner__specialties")
        .order_by("pk")
    ):
        consultant = role.practitioner.user
        assert consultant is not None
        for specialty in role.practitioner.specialties.all():
            consultants[(role.facility_id, specialty.pk)].append(consultant)
    coordinators = {
        user.facility.region: user
        for user in User.objects.filter(role=Role.COORDINATOR, facility__isnull=False)
        .select_related("facility")
        .order_by("-pk")
        if user.facility is not None
    }
    return World(
        now=now,
        clock={form: DeadlinePolicy.duration(form) for form in ConsultForm.values},
        residents=dict(residents),
        home=home,
        population=population,
        district=district,
        requesters=dict(requesters),
        routes=dict(routes),
        consultants=dict(consultants),
        specialties=dict(Specialty.objects.values_list("code", "pk")),
        coordinators=coordinators,
        abroad=_consents_abroad(patients, now),
    )


def _district_above(post: Facility) -> Facility | None:
    link = (
        post.referrals_out.filter(
            specialty__isnull=True, target__kind=FacilityKind.DISTRICT_HOSPITAL
        )
        .select_related("target")
        .order_by("rank")
        .first()
    )
    return link.target if link is not None else None


def _consents_abroad(patients: Sequence[Patient], now: datetime) -> set[int]:
    """The patients of ABROAD consented (on paper at their post, before the year began)."""
    recorder = User.objects.get(username="feldsher")
    granted = now - timedelta(days=30 * (MONTHS + 1))
    chosen = {p.pk for p in patients if p.family in ABROAD}
    for pk in chosen:
        Consent.objects.get_or_create(
            patient_id=pk,
            kind=ConsentKind.TRANSFER_ABROAD,
            defaults={"scope": ABROAD_SCOPE, "recorded_by": recorder, "granted_at": granted},
        )
    return chosen


# --- the history, in memory -----------------------------------------------------------------


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the means here are small (a settlement's month).
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _pick(rng: random.Random, weights: Mapping[str, float] | Sequence[tuple[str, float]]) -> str:
    pairs: list[tuple[str, float]] = (
        list(weights.items()) if isinstance(weights, Mapping) else list(weights)
    )
    return rng.choices([key for key, _w in pairs], [w for _k, w in pairs])[0]


def _specialties_for(patient: Patient, on: datetime) -> dict[str, int]:
    age = (on.date() - patient.birth_date).days // 365
    if age < 16:
        return CHILD
    weights = dict(ADULT)
    if patient.sex == "female" and age < 45:
        weights["obstetrics"] = 8
    return weights


def _history(world: World, rng: random.Random) -> list[Planned]:
    """Every past case, month by month and settlement by settlement, in time order."""
    first = add_months(month_start(world.now.date()), -MONTHS)
    cutoff = datetime(world.now.year, world.now.month, 1, tzinfo=UTC)
    planned: list[Planned] = []
    serial = 0
    for offset in range(MONTHS):
        month = add_months(first, offset)
        start = datetime(month.year, month.month, 1, tzinfo=UTC)
        end = datetime(*add_months(month, 1).timetuple()[:3], tzinfo=UTC)
        for settlement_id in sorted(world.residents):
            facility = world.home[settlement_id]
            mean = (
                yearly_rate(facility.link_type, facility.bandwidth_kbps)
                * world.population[settlement_id]
                / 1000
                / 12
                * SEASON.get(month.month, 1.0)
            )
            for _case in range(_poisson(rng, mean)):
                received = start + (end - start) * rng.random()
                case = _case_of(world, rng, settlement_id, received, _token(serial))
                # Every event before this month: the live demo's month has only its own cases.
                if case is not None and max(e.at for e in case.events) < cutoff:
                    planned.append(case)
                    serial += 1
    return planned


def _case_of(
    world: World,
    rng: random.Random,
    settlement_id: int,
    received: datetime,
    token: uuid.UUID,
) -> Planned | None:
    patient = rng.choice(world.residents[settlement_id])
    post = world.home[settlement_id]
    requesting = post
    if settlement_id in world.district and (post.pk not in world.requesters or rng.random() < 0.2):
        requesting = world.district[settlement_id]  # seen at the district hospital
    if requesting.pk not in world.requesters:
        return None
    requester = rng.choice(world.requesters[requesting.pk])
    code = _pick(rng, _specialties_for(patient, received))
    specialty = world.specialties[code]
    abroad = patient.pk in world.abroad
    table = [
        f
        for f in world.routes.get((requesting.region, specialty), [])
        if abroad or f.kind != FacilityKind.PARTNER_ABROAD
    ]
    ranks = [rank for rank, f in enumerate(table) if (f.pk, specialty) in world.consultants]
    if not ranks:
        return None
    rank = ranks[0]
    if (
        code in PARTNER_SPECIALTIES
        and rng.random() < ABROAD.get(patient.family, 0.0)
        and any(table[r].kind == FacilityKind.PARTNER_ABROAD for r in ranks)
    ):
        # Nobody at home on duty, or the family asked for the partner: straight to Korea.
        rank = rng.choice([r for r in ranks if table[r].kind == FacilityKind.PARTNER_ABROAD])
    form = ConsultForm(_pick(rng, FORMS))
    if code in ("radiology", "dermatology", "ophthalmology", "endocrinology", "psychiatry"):
        form = ConsultForm.PLANNED if form == ConsultForm.EMERGENCY else form
    story = rng.choice(CASES[code])
    if story.evacuation == EvacuationAdvice.URGENT_AIR:
        form = ConsultForm.EMERGENCY
    cross_border = table[rank].kind == FacilityKind.PARTNER_ABROAD
    consultation = Consultation(
        client_token=token,
        patient=patient,
        requester=requester,
        requesting_facility=requesting,
        specialty_id=specialty,
        form=form,
        language="en" if cross_border else "ru",
        question=ABROAD_QUESTION if cross_border else story.question,
        summary="",
        received_at=received,
    )
    case = Planned(consultation)
    _Timeline(world, rng, case, table, ranks, rank, story, post).run()
    return case


class _Timeline:
    """What happened to one request, event by event, as the services and the deadline watcher
    would have recorded it."""

    def __init__(
        self,
        world: World,
        rng: random.Random,
        case: Planned,
        table: list[Facility],
        ranks: list[int],
        rank: int,
        story: Case,
        post: Facility,
    ) -> None:
        self.world, self.rng, self.case, self.story = world, rng, case, story
        self.table, self.ranks, self.rank = table, ranks, rank
        self.c = case.consultation
        self.clock = world.clock[self.c.form]
        self.slower = SLOWER_OVER.get(post.bandwidth_kbps, 1.0)
        share = ANSWER_SHARE[ConsultForm(self.c.form)] * self.slower
        if table[rank].kind == FacilityKind.PARTNER_ABROAD:
            share *= 1.2  # translated both ways
        # Log-normal around the form's usual share of the deadline: most in time, a tail late.
        self.answer = self.clock * share * math.exp(rng.gauss(0.0, 0.55))
        assert self.c.received_at is not None
        self.at: datetime = self.c.received_at

    def event(
        self, event: str, to: str, actor: User | None, note: str = "", at: datetime | None = None
    ) -> datetime:
        """The next event on the timeline: at `at`, or a few seconds after the last one (never
        before it)."""
        after_last = self.at + timedelta(seconds=self.rng.randint(1, 40))
        self.at = after_last if at is None else max(at, after_last)
        self.case.events.append(
            Transition(
                consultation=self.c,
                from_status=self.c.status,
                to_status=to,
                event=event,
                at=self.at,
                actor=actor,
                note=note,
            )
        )
        self.c.status = to
        return self.at

    def route(self, actor: User | None) -> Assignment:
        facility = self.table[self.rank]
        consultant = self.rng.choice(self.world.consultants[(facility.pk, self.c.specialty_id)])
        self.c.routed_facility, self.c.routing_rank = facility, self.rank
        assignment = Assignment(
            consultation=self.c,
            consultant=consultant,
            facility=facility,
            role=AssignmentRole.PRIMARY,
            assigned_by=actor,
        )
        self.case.assignments.append(assignment)
        assignment.assigned_at = self.event("routed", Status.REQUESTED, actor, str(consultant))
        return assignment

    def end(self, assignment: Assignment, reason: str) -> None:
        assignment.ended_at, assignment.end_reason = self.at, reason

    def later(self, share_from: float, share_to: float) -> datetime:
        return self.at + self.clock * self.rng.uniform(share_from, share_to)

    def run(self) -> None:
        c, rng = self.c, self.rng
        c.status = Status.DRAFT
        received = self.at
        self.event("submit", Status.REQUESTED, c.requester, at=received)
        c.received_at = received = self.at
        deadline = c.deadline_at = received + self.clock
        assignment = self.route(c.requester)
        outcome = _pick(rng, OUTCOMES)
        if outcome == "cancelled":
            note = rng.choice(CANCEL_REASONS)
            self.event("cancel", Status.CANCELLED, c.requester, note, at=self.later(0.05, 0.3))
            self.end(assignment, "cancelled")
            return
        if outcome == "rejected":
            consultant = assignment.consultant
            self.event("reject", Status.REJECTED, consultant, REJECT_NOTE, self.later(0.05, 0.3))
            self.end(assignment, "rejected")
            return
        following = self._next_rank()
        if outcome == "declined" and following is not None:
            consultant = assignment.consultant
            self.event("declined", Status.REQUESTED, consultant, DECLINE_NOTE, self.later(0, 0.1))
            self.end(assignment, f"declined: {DECLINE_NOTE}")
            self.rank = following
            assignment = self.route(consultant)
        # Taken up after about a tenth of the deadline; now and then nobody takes it up for
        # half of it (the coordinators are told), or at all (re-routed at the deadline).
        accept_at = received + self.clock * ACCEPT_SHARE * self.slower * math.exp(rng.gauss(0, 0.9))
        answer_at = max(received + self.answer, accept_at + self.clock * rng.uniform(0.05, 0.3))
        if accept_at > deadline - self.clock / 2:
            self.c.half_alert_at = self.event(
                "half_deadline", Status.REQUESTED, None, at=deadline - self.clock / 2
            )
        if accept_at > deadline:
            rerouted = self._breach_unaccepted(assignment, deadline)
            if rerouted is None:
                return
            assignment = rerouted
            deadline = c.deadline_at = self.at + self.clock
            accept_at = self.later(0.02, 0.2)
            answer_at = accept_at + self.clock * rng.uniform(0.1, 0.5)
        assignment.accepted_at = self.event(
            "accept", Status.ACCEPTED, assignment.consultant, at=accept_at
        )
        region = c.requesting_facility.region
        if outcome == "completed" and region in self.world.coordinators and rng.random() < 0.05:
            assignment = self._reassign(assignment, region)
        if rng.random() < 0.4:
            self.event("start", Status.IN_PROGRESS, assignment.consultant)
        if outcome == "failed":
            at = self.at + (answer_at - self.at) / 2
            self.event("fail", Status.FAILED, assignment.consultant, FAIL_NOTE, at=at)
            self.end(assignment, "failed")
            return
        if answer_at > deadline:
            # Late with its consultant: the watcher records the breach at its next pass.
            c.breached_at = self.event(
                "breached", c.status, None, at=deadline + timedelta(seconds=rng.randint(5, 60))
            )
        self._conclude(assignment, max(answer_at, self.at + timedelta(minutes=3)))

    def _next_rank(self) -> int | None:
        later = [r for r in self.ranks if r > self.rank]
        return later[0] if later else None

    def _breach_unaccepted(self, assignment: Assignment, deadline: datetime) -> Assignment | None:
        """Nobody accepted in time: the next facility up the table gets it, with a fresh clock
        (set by the caller); with nowhere left to go, the request fails."""
        self.event("breached", Status.REQUESTED, None, at=deadline)
        self.end(assignment, "deadline passed without acceptance")
        following = self._next_rank()
        if following is None:
            self.c.breached_at = self.at
            self.event("fail", Status.FAILED, None, "deadline passed")
            return None
        self.rank = following
        self.c.half_alert_at = None
        return self.route(None)

    def _reassign(self, assignment: Assignment, region: str) -> Assignment:
        """The coordinator hands the accepted case to a consultant at another facility of the
        routing table (one who knows the patient, or has the time)."""
        others = [
            rank
            for rank in self.ranks
            if rank != self.rank and self.table[rank].kind != FacilityKind.PARTNER_ABROAD
        ]
        if not others:
            return assignment
        self.rank = self.rng.choice(others)
        facility = self.table[self.rank]
        colleague = self.rng.choice(self.world.consultants[(facility.pk, self.c.specialty_id)])
        coordinator = self.world.coordinators[region]
        at = self.at + timedelta(minutes=self.rng.randint(5, 40))
        self.event("reassigned", self.c.status, coordinator, f"{colleague}: {REASSIGN_NOTE}", at)
        self.end(assignment, f"reassigned by the coordinator: {REASSIGN_NOTE}")
        self.c.routed_facility, self.c.routing_rank = facility, self.rank
        moved = Assignment(
            consultation=self.c,
            consultant=colleague,
            facility=facility,
            role=AssignmentRole.PRIMARY,
            assigned_by=coordinator,
            assigned_at=self.at,
            accepted_at=self.at,
        )
        self.case.assignments.append(moved)
        return moved

    def _conclude(self, assignment: Assignment, at: datetime) -> None:
        story = self.story
        destination = self._hub() if story.evacuation != EvacuationAdvice.NONE else None
        # Signed to the second, as conclusion_sign signs (rounded up: after the last event).
        signed = self.event("complete", Status.COMPLETED, assignment.consultant, at=at)
        signed = (signed + timedelta(seconds=1)).replace(microsecond=0)
        self.case.events[-1].at = self.at = signed
        self.case.conclusion = Conclusion(
            consultation=self.c,
            version=1,
            author=assignment.consultant,
            findings=story.findings,
            diagnoses=[
                {"code": code, "label": icd10.label(code, "en")} for code in story.diagnoses
            ],
            recommendations=story.recommendations,
            evacuation=story.evacuation,
            evacuation_destination=destination,
            follow_up="",
            signed_at=signed,
        )
        action = {
            EvacuationAdvice.NONE: OutcomeAction.TREATED_LOCALLY,
            EvacuationAdvice.PLANNED_TRANSFER: OutcomeAction.TRANSFERRED,
            EvacuationAdvice.URGENT_AIR: OutcomeAction.EVACUATED,
        }[EvacuationAdvice(story.evacuation)]
        helped = _pick(self.rng, ((Helped.YES, 0.7), (Helped.PARTLY, 0.2), (Helped.UNKNOWN, 0.1)))
        read = self.at + timedelta(hours=self.rng.uniform(0.5, 20))
        acknowledged = self.event("acknowledged", Status.COMPLETED, self.c.requester, action, read)
        self.case.acknowledgement = Acknowledgement(
            consultation=self.c,
            conclusion=self.case.conclusion,
            by=self.c.requester,
            at=acknowledged,
            action=action,
            helped=helped,
        )

    def _hub(self) -> Facility | None:
        region = self.c.requesting_facility.region
        for facility in self.world.routes.get((region, self.c.specialty_id), []):
            if facility.kind == FacilityKind.REGIONAL_HUB and facility.region == region:
                return facility
        hubs = [f for f in self.table if f.kind == FacilityKind.REGIONAL_HUB]
        return hubs[0] if hubs else None


# --- writing it -----------------------------------------------------------------------------


def _write(planned: list[Planned]) -> None:
    """The rows in a handful of bulk inserts; the times the ORM stamps with the moment of
    loading (auto_now, auto_now_add) are put back to when they happened."""
    consultations = [p.consultation for p in planned]
    for p in planned:
        p.consultation.version = 1 + len(p.events)
    Consultation.objects.bulk_create(consultations, batch_size=500)
    assignments = [a for p in planned for a in p.assignments]
    assigned = [(a.assigned_at, a) for a in assignments]
    Assignment.objects.bulk_create(assignments, batch_size=500)
    Transition.objects.bulk_create([e for p in planned for e in p.events], batch_size=500)
    concluded = [p.conclusion for p in planned if p.conclusion is not None]
    _number_and_sign(concluded)
    Conclusion.objects.bulk_create(concluded, batch_size=500)
    Acknowledgement.objects.bulk_create(
        [p.acknowledgement for p in planned if p.acknowledgement is not None], batch_size=500
    )
    # Drafted a few minutes before it was sent; last changed at its last event.
    _restamp(
        Consultation,
        ("created_at", "updated_at"),
        [
            (p.events[0].at - timedelta(minutes=4), p.events[-1].at, p.consultation.pk)
            for p in planned
        ],
    )
    _restamp(Assignment, ("assigned_at",), [(at, a.pk) for at, a in assigned])


def _restamp(model: type[models.Model], names: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Set `names` (datetimes) of each row, given as (*values, pk), by one executemany: an
    UPDATE per row through the ORM would take longer than everything else here."""
    ops = connection.ops
    column = {f.name: f.column for f in model._meta.concrete_fields}
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(f"{ops.quote_name(column[name])} = %s" for name in names)
    key = ops.quote_name(column["id"])
    values = [(*(ops.adapt_datetimefield_value(v) for v in row[:-1]), row[-1]) for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {columns} WHERE {key} = %s", values)  # noqa: S608


def _number_and_sign(conclusions: list[Conclusion]) -> None:
    """Numbers in signing order, after those the year's counter has given (the live demo's);
    each conclusion signed with its author's key, as `conclusion_sign` signs."""
    conclusions.sort(key=lambda k: k.signed_at)
    last: dict[int, int] = {}
    for conclusion in conclusions:
        year = document_year(conclusion.signed_at)
        if year not in last:
            counter, _created = DocumentCounter.objects.get_or_create(
                series=CONCLUSION_SERIES, year=year
            )
            last[year] = counter.last
        last[year] += 1
        conclusion.number = format_number(CONCLUSION_SERIES, year, last[year])
    for year, value in last.items():
        DocumentCounter.objects.filter(series=CONCLUSION_SERIES, year=year).update(last=value)
    signer = get_signer()
    sign = _signing(signer)
    signatures = []
    for conclusion in conclusions:
        document_id = f"{conclusion.consultation.uuid}/v{conclusion.version}"
        digest = document_digest(conclusion_document(conclusion))
        signed_at = conclusion.signed_at
        data = signed_statement(
            algorithm=signer.algorithm,
            digest=digest,
            document_type="conclusion",
            document_id=document_id,
            signed_at=signed_at,
            signer=conclusion.author,
        )
        key, signed = sign(conclusion.author, data)
        signatures.append(
            Signature(
                signer=conclusion.author,
                key=key,
                algorithm=signer.algorithm,
                signed_at=signed_at,
                document_type="conclusion",
                document_id=document_id,
                digest=digest,
                signature=base64.b64encode(signed).decode("ascii"),
            )
        )
    Signature.objects.bulk_create(signatures, batch_size=500)
    for conclusion, signature in zip(conclusions, signatures, strict=True):
        conclusion.signature = signature


def _signing(signer: Signer) -> Callable[[User, bytes], tuple[SigningKey, bytes]]:
    """The signer's `sign`; for the built-in Ed25519 signer, each author's key is fetched (or
    made) and decrypted once, not once per conclusion: the same signatures, a query each less."""
    if type(signer) is not Ed25519Signer:
        return lambda user, data: signer.sign(user=user, data=data)
    keys: dict[int, tuple[SigningKey, Ed25519PrivateKey]] = {}

    def sign(user: User, data: bytes) -> tuple[SigningKey, bytes]:
        if user.pk not in keys:
            key, _probe = signer.sign(user=user, data=b"")
            raw = decrypt_private_key(key.encrypted_private_key, key_uuid=key.uuid)
            keys[user.pk] = (key, Ed25519PrivateKey.from_private_bytes(raw))
        key, private = keys[user.pk]
        return key, private.sign(data)

    return sign


__all__ = ["ANALYST_KR", "load_analytics", "yearly_rate"]
