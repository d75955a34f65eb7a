"""An analyst downloads the figures the ministries read (issue 18, point 5): the settlements'
table as CSV and XLSX with the same figures as the page, "×" where the page hides one and the
hidden number nowhere in the file; a Korean partner downloads cross-border figures only; a
clinician is refused; a bad address or query is a page that says what is wrong; every download
is in the audit trail.

The figures are computed from real consultations (`compute.refresh`), as the nightly run does."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from farcare.access.policy import AnalyticsScope
from farcare.accounts.models import Role, User
from farcare.analytics import selectors
from farcare.analytics.compute import refresh
from farcare.analytics.models import IndicatorCell
from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Conclusion, Consultation, EvacuationAdvice, Status
from farcare.network.models import Facility, FacilityKind, Settlement, Specialty
from farcare.patients.models import Patient
from farcare.signatures.services import sign_document
from tests.conftest import Chain, logged_in, make_user
from tests.factories import FacilityFactory, PatientFactory, SpecialtyFactory

NOVEMBER = date(2026, 11, 1)
COMPUTED = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
# What the patients are called: none of it may appear in any export or report.
FAMILY, GIVEN = "Тынетегин", "Семён"


@dataclass
class Scene:
    """Chukotka in November 2026: Uelen (the feldsher post) asked often, Lorino rarely (two
    requests: its figure hidden), a Korean hospital answered some of Uelen's requests."""

    chain: Chain
    uelen: Settlement
    lorino: Settlement
    partner: Facility
    cardiology: Specialty
    patients: list[Patient]
    consultations: list[Consultation]


def _at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def consult(
    patient: Patient,
    *,
    requester: User,
    consultant: User,
    specialty: Specialty,
    received: datetime,
    minutes: int | None,
    routed: Facility,
) -> Consultation:
    """A submitted request, answered `minutes` after submission with a signed conclusion (None:
    still waiting)."""
    consultation = Consultation.objects.create(
        client_token=uuid.uuid4(),
        patient=patient,
        requester=requester,
        requesting_facility=patient.home_facility,
        specialty=specialty,
        form="urgent",
        question=f"{patient.family} {patient.given}: chest pain since morning",
        status=Status.COMPLETED if minutes is not None else Status.REQUESTED,
        received_at=received,
        deadline_at=received + timedelta(hours=24),
        routed_facility=routed,
    )
    if minutes is not None:
        conclusion_uuid = uuid.uuid4()
        Conclusion.objects.create(
            uuid=conclusion_uuid,
            consultation=consultation,
            author=consultant,
            findings=f"{patient.family}: stable angina",
            recommendations="Aspirin",
            evacuation=EvacuationAdvice.values[0],
            signed_at=received + timedelta(minutes=minutes),
            signature=sign_document(
                signer_user=consultant,
                document_type="conclusion",
                document_id=str(conclusion_uuid),
                document={"findings": "x"},
            ),
        )
    return consultation


@pytest.fixture
def scene(chain: Chain) -> Scene:
    cardiology = SpecialtyFactory(code="cardiology", name_en="Cardiology", name_ko="심장내과")
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD,
        region="Korea",
        country="KR",
        time_zone="Asia/Seoul",
        name_en="Seoul partner hospital",
        name_ko="서울 협력 병원",
    )
    partner.settlement.country = "KR"
    partner.settlement.save()
    uelen, lorino = chain.post.settlement, chain.sibling_post.settlement
    uelen.name_en, uelen.name_ru, uelen.population = "Uelen", "Уэлен", 720
    uelen.save()
    lorino.name_en, lorino.name_ru, lorino.population = "Lorino", "Лорино", 1300
    lorino.save()
    feldsher = make_user(Role.CLINICIAN, chain.post)
    hub_doctor = make_user(Role.CONSULTANT, chain.hub)
    korean_doctor = make_user(Role.CONSULTANT, partner)
    patients, consultations = [], []
    # Uelen: twelve requests, seven answered at home, three in Korea, two waiting.
    for index in range(12):
        patient = PatientFactory(home_facility=chain.post, family=FAMILY, given=f"{GIVEN}{index}")
        abroad = 7 <= index < 10
        consultations.append(
            consult(
                patient,
                requester=feldsher,
                consultant=korean_doctor if abroad else hub_doctor,
                specialty=cardiology,
                received=_at(3 + index, 8),
                minutes=None if index >= 10 else 60 + 10 * index,
                routed=partner if abroad else chain.hub,
            )
        )
        patients.append(patient)
    # Five more Korean answers from the district's patients: eight cross-border in all. (With
    # Lorino's two beside them, hidden with them: seven, so either could be five or more.)
    for index in range(5):
        patient = PatientFactory(home_facility=chain.district, family=FAMILY, given="Пётр")
        consultations.append(
            consult(
                patient,
                requester=feldsher,
                consultant=korean_doctor,
                specialty=cardiology,
                received=_at(20 + index, 9),
                minutes=200,
                routed=partner,
            )
        )
        patients.append(patient)
    # Lorino: two requests — a figure to hide.
    for index in range(2):
        patient = PatientFactory(home_facility=chain.sibling_post, family=FAMILY, given="Анна")
        consultations.append(
            consult(
                patient,
                requester=feldsher,
                consultant=hub_doctor,
                specialty=cardiology,
                received=_at(10 + index, 10),
                minutes=45,
                routed=chain.hub,
            )
        )
        patients.append(patient)
    refresh(now=COMPUTED)
    return Scene(chain, uelen, lorino, partner, cardiology, patients, consultations)


def analyst() -> User:
    return make_user(Role.ANALYST, None, language="en")


def korean_partner(scene: Scene) -> User:
    """The partner hospital's analyst: the cross-border figures only."""
    return make_user(Role.ANALYST, scene.partner, language="ko")


SETTLEMENTS = {"month": "2026-11", "dimension": "settlement", "region": "Chukotka"}


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def workbook_cells(content: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def identifiers(scene: Scene) -> list[str]:
    """What would name a person: names, SNILS, the records' UUIDs."""
    found = [FAMILY, GIVEN]
    for patient in scene.patients:
        found += [patient.snils, str(patient.uuid)]
    found += [str(consultation.uuid) for consultation in scene.consultations]
    return found


# --- the analyst -----------------------------------------------------------------------------


def test_the_settlement_table_as_csv_has_the_pages_figures_and_hides_what_it_hides(scene):
    page = selectors.table(
        scope=AnalyticsScope.ALL, month=NOVEMBER, dimension="settlement", region="Chukotka"
    )
    uelen_shown = next(row for row in page.rows if row.label == "Uelen")
    lorino_shown = next(row for row in page.rows if row.label == "Lorino")
    assert uelen_shown.figures["consultations"].text == "12"
    assert lorino_shown.figures["consultations"].suppressed, "two requests: hidden on the page"

    response = logged_in(analyst()).get("/analytics/export/dashboard.csv", SETTLEMENTS)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        'filename="farcare-analytics-2026-11-settlement-chukotka.csv"'
        in response["Content-Disposition"]
    )
    header, *rows = read_csv(response.content)
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_name["Uelen"]["Consultations"] == uelen_shown.figures["consultations"].text
    assert by_name["Uelen"]["Population"] == "720"
    assert by_name["Lorino"]["Consultations"] == "×"
    assert by_name["Lorino"]["Consultations per 1,000 residents"] == "×"
    for indicator in page.indicators:
        column = next(name for name in header if name.startswith(str(indicator.label)))
        for shown in page.rows:
            figure = shown.figures[indicator.code]
            if figure.suppressed:
                assert by_name[shown.label][column] == "×"
    # The last line says what the mark means, in the reader's language.
    assert rows[-1][0].startswith("× — hidden: fewer than 5")


def test_the_settlement_table_as_xlsx_has_numbers_and_less_than_five(scene):
    response = logged_in(analyst()).get("/analytics/export/dashboard.xlsx", SETTLEMENTS)

    assert response.status_code == 200
    assert (
        'filename="farcare-analytics-2026-11-settlement-chukotka.xlsx"'
        in (response["Content-Disposition"])
    )
    cells = workbook_cells(response.content)
    assert "November 2026" in str(cells[0][0])
    assert str(cells[1][0]).startswith("× — hidden: fewer than 5")
    header = cells[3]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in cells[4:]}
    assert rows["Uelen"]["Consultations"] == 12
    assert rows["Uelen"]["Population"] == 720
    assert rows["Lorino"]["Consultations"] == "×"
    assert rows["Lorino"]["Request to signed conclusion, median, min"] == "×"


def hidden_numbers(dimension: str) -> dict[str, set[str]]:
    """The numbers the computation hid, per row label: what no file may hold in that row."""
    labels = {str(s.uuid): s.name_en for s in Settlement.objects.all()}
    hidden: dict[str, set[str]] = {}
    for cell in IndicatorCell.objects.filter(
        month=NOVEMBER, dimension=dimension, suppressed=True, form="", cross_border=False
    ):
        numbers = hidden.setdefault(labels[cell.key], set())
        numbers.add(str(cell.count))
        if cell.value is not None:
            numbers |= {str(round(cell.value)), f"{cell.value:.1f}"}
    return hidden


def test_no_hidden_number_is_anywhere_in_either_file(scene):
    client = logged_in(analyst())
    hidden = hidden_numbers("settlement")
    assert {"2", "45"} <= hidden["Lorino"], "Lorino's two requests, answered in 45 minutes"

    csv_rows = read_csv(client.get("/analytics/export/dashboard.csv", SETTLEMENTS).content)
    sheet = workbook_cells(client.get("/analytics/export/dashboard.xlsx", SETTLEMENTS).content)

    figures_from = len(csv_rows[0]) - 7  # the seven indicators of the access group
    for row in csv_rows[1:]:
        assert not hidden.get(row[0], set()) & set(row[figures_from:]), row
    for row in sheet[4:]:
        shown = {str(value) for value in row[figures_from:] if value is not None}
        assert not hidden.get(str(row[0]), set()) & shown, row
    # Lorino's 45 minutes is no figure of any row, nor anywhere else in the files.
    assert "45" not in {cell for row in csv_rows for cell in row}
    assert 45 not in {cell for row in sheet for cell in row}


def test_an_export_names_no_patient(scene):
    client = logged_in(analyst())
    for url, query in (
        ("/analytics/export/dashboard.csv", SETTLEMENTS),
        ("/analytics/export/dashboard.csv", {"dimension": "facility", "month": "2026-11"}),
        ("/analytics/export/partner.csv", {"dimension": "partner", "month": "2026-11"}),
    ):
        content = client.get(url, query).content.decode("utf-8-sig")
        for identifier in identifiers(scene):
            assert identifier not in content


def test_the_map_exported_as_it_opened_is_the_map_of_consultations_per_1000(scene):
    # The map opens on consultations per 1,000 residents; so does its export with no indicator.
    response = logged_in(analyst()).get(
        "/analytics/export/map.csv", {"month": "2026-11", "region": "Chukotka"}
    )

    assert response.status_code == 200
    header, *_rows = read_csv(response.content)
    assert header[-1] == "Consultations per 1,000 residents"
    (event,) = AuditEvent.objects.filter(action=AuditAction.EXPORT)
    assert event.details["query"]["indicator"] == "consultations_per_1000"


def test_the_map_table_is_the_settlements_the_map_colours(scene):
    response = logged_in(analyst()).get(
        "/analytics/export/map.csv",
        {"month": "2026-11", "region": "Chukotka", "indicator": "consultations_per_1000"},
    )

    assert response.status_code == 200
    header, *rows = read_csv(response.content)
    assert header[0] == "Settlement" and "Distance to the regional hub, km" in header
    assert header[-1] == "Consultations per 1,000 residents"
    by_name = {row[0]: row[-1] for row in rows}
    assert by_name["Uelen"] == "16.7", "12 requests of 720 residents"
    assert by_name["Lorino"] == "×"


def test_a_trend_is_one_row_per_month(scene):
    response = logged_in(analyst()).get(
        "/analytics/export/trend.xlsx",
        {"dimension": "settlement", "key": str(scene.uelen.uuid)},
    )

    assert response.status_code == 200
    cells = workbook_cells(response.content)
    assert cells[3][0] == "Month"
    assert cells[4][0] == "November 2026"


def test_every_export_is_audited_with_its_query(scene):
    user = analyst()
    logged_in(user).get("/analytics/export/dashboard.xlsx", SETTLEMENTS)

    event = AuditEvent.objects.filter(actor_username=user.username, action=AuditAction.EXPORT).get()
    assert event.details["analytics"] == "dashboard"
    assert event.details["fmt"] == "xlsx"
    assert event.details["query"]["dimension"] == "settlement"
    assert event.details["query"]["month"] == "2026-11"
    assert event.patient_uuid is None


# --- the Korean partner ----------------------------------------------------------------------


def test_a_korean_partner_exports_cross_border_figures_only(scene):
    client = logged_in(korean_partner(scene), "ko")

    partners = client.get(
        "/analytics/export/partner.csv", {"month": "2026-11", "dimension": "partner"}
    )
    assert partners.status_code == 200
    header, *rows = read_csv(partners.content)
    by_name = {row[0]: row for row in rows}
    # Eight cross-border requests, all from Chukotka, all to the Seoul hospital.
    assert by_name["서울 협력 병원"][header.index("원격 협진")] == "8"
    for domestic in ("dashboard", "map"):
        refused = client.get(f"/analytics/export/{domestic}.csv", SETTLEMENTS)
        assert refused.status_code == 403
    domestic_trend = client.get(
        "/analytics/export/trend.csv", {"dimension": "region", "key": "Chukotka"}
    )
    assert domestic_trend.status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).count() == 3


# --- refusals and mistakes -------------------------------------------------------------------


def test_a_clinician_is_refused_and_the_refusal_is_audited(scene):
    feldsher = make_user(Role.CLINICIAN, scene.chain.post)

    response = logged_in(feldsher).get("/analytics/export/dashboard.csv", SETTLEMENTS)

    assert response.status_code == 403
    event = AuditEvent.objects.get(actor_username=feldsher.username, action=AuditAction.DENIED)
    assert event.details["analytics"] == "dashboard"


@pytest.mark.parametrize(
    ("address", "query", "status", "message"),
    [
        ("/analytics/export/dashboard.pdf", SETTLEMENTS, 404, "CSV or XLSX"),
        ("/analytics/export/patients.csv", SETTLEMENTS, 404, "no analytics table"),
        (
            "/analytics/export/dashboard.csv",
            {"month": "1999-01", "dimension": "settlement"},
            422,
            "month",
        ),
        ("/analytics/export/dashboard.csv", {"dimension": "patient"}, 422, "listed values"),
        (
            "/analytics/export/trend.csv",
            {"dimension": "settlement", "key": "nobody"},
            422,
            "no such",
        ),
        ("/analytics/export/trend.xlsx", {}, 422, "required"),
    ],
)
def test_a_bad_address_or_query_is_a_clear_error_not_a_crash_and_audited(
    scene, address, query, status, message
):
    user = analyst()

    response = logged_in(user).get(address, query)

    assert response.status_code == status
    assert message in response.content.decode()
    # Audited as a page audits a query it cannot answer: what was asked, and that it was not.
    (event,) = AuditEvent.objects.filter(actor_username=user.username)
    table, fmt = address.rsplit("/", 1)[1].split(".")
    assert event.action == AuditAction.EXPORT
    assert event.details == {
        "analytics": table,
        "fmt": fmt,
        "query": query,
        "invalid": True,
        "status": status,
    }
