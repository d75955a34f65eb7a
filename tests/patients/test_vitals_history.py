"""The patient's record shows their vital signs over time: a table of every set of readings
and a small chart per parameter, drawn on the server, for those who may open the record."""

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from xml.etree import ElementTree

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.clinical.vitals import VITALS
from farcare.consults.models import VitalObservation
from farcare.consults.services import RequestData, consult_submit

from ..conftest import logged_in, make_user
from ..factories import PatientFactory, SpecialtyFactory

SVG = "{http://www.w3.org/2000/svg}"


def ask(feldsher, patient, specialty, vitals):
    return consult_submit(
        accessor=Accessor(feldsher),
        patient=patient,
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=specialty,
            form="urgent",
            question="Shortness of breath, getting worse.",
            vitals=vitals,
        ),
    )


def two_visits(chain, feldsher, time_machine):
    patient = PatientFactory(home_facility=chain.post)
    specialty = SpecialtyFactory(code="pulmonology", name_en="Pulmonology")
    time_machine.move_to(datetime(2026, 11, 3, 23, 0, tzinfo=UTC), tick=False)
    ask(
        feldsher,
        patient,
        specialty,
        {
            "respiratory_rate": Decimal(18),
            "spo2": Decimal(95),
            "systolic_bp": Decimal(130),
            "heart_rate": Decimal(84),
            "temperature": Decimal("37.2"),
            "consciousness": "A",
            "on_oxygen": False,
        },
    )
    time_machine.move_to(datetime(2026, 12, 5, 23, 0, tzinfo=UTC), tick=False)
    ask(
        feldsher,
        patient,
        specialty,
        {
            "respiratory_rate": Decimal(26),
            "spo2": Decimal(89),
            "systolic_bp": Decimal(98),
            "heart_rate": Decimal(122),
            "temperature": Decimal("38.9"),
            "consciousness": "A",
            "on_oxygen": True,
        },
    )
    return patient


def table_rows(html):
    """The vital signs table as a reader sees it: one dict per reading, newest first, keyed by
    the column headings."""
    table = re.search(r'<table data-testid="vitals-table">(.*?)</table>', html, re.S).group(1)
    rows = [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def charts(html):
    found = {}
    start = 0
    while (start := html.find("<svg", start)) >= 0:
        end = html.index("</svg>", start) + len("</svg>")
        root = ElementTree.fromstring(html[start:end])  # noqa: S314 (the page's own markup)
        found[root.get("data-chart")] = root
        start = end
    return found


def test_the_feldsher_sees_the_trend_of_two_visits(chain, feldsher, time_machine):
    patient = two_visits(chain, feldsher, time_machine)
    page = logged_in(feldsher).get(f"/patients/{patient.uuid}/")
    assert page.status_code == 200
    html = page.content.decode()
    drawn = charts(html)
    assert set(drawn) == {
        "trend-respiratory_rate",
        "trend-spo2",
        "trend-systolic_bp",
        "trend-heart_rate",
        "trend-temperature",
        "trend-news2",
    }
    pulse = drawn["trend-heart_rate"]
    assert len(pulse.findall(f"{SVG}circle")) == 2
    assert pulse.find(f"{SVG}text[@data-latest]").text == "122"
    # Times in the feldsher's zone: Uelen post's (Asia/Anadyr, UTC+12): 4 and 6 December.
    assert [c.find(f"{SVG}title").text for c in pulse.findall(f"{SVG}circle")] == [
        "2026-11-04 11:00: 84",
        "2026-12-06 11:00: 122",
    ]
    news2 = drawn["trend-news2"]
    assert [float(c.get("cy")) > 0 for c in news2.findall(f"{SVG}circle")] == [True, True]
    rows = table_rows(html)
    assert [
        (r["When"], r["Pulse rate /min"], r["Air or supplemental oxygen"], r["NEWS2"]) for r in rows
    ] == [
        ("2026-12-06 11:00 (Asia/Anadyr, UTC+12)", "122", "oxygen", "13 High"),
        ("2026-11-04 11:00 (Asia/Anadyr, UTC+12)", "84", "air", "1 Low"),
    ]  # newest first, in words
    # The page stays small: six charts, a few kilobytes each.
    assert sum(len(ElementTree.tostring(root)) for root in drawn.values()) < 6 * 4000


def test_the_page_speaks_the_readers_language(chain, feldsher, time_machine):
    patient = two_visits(chain, feldsher, time_machine)
    feldsher.language = "ru"
    feldsher.save()
    html = logged_in(feldsher).get(f"/patients/{patient.uuid}/").content.decode()
    temperature = charts(html)["trend-temperature"]
    assert temperature.find(f"{SVG}text[@data-latest]").text == "38,9"
    assert temperature.find(f"{SVG}title").text == "Температура тела"
    assert "Показатели в динамике" in html


def test_nobody_outside_the_record_sees_the_charts(chain, feldsher, time_machine):
    patient = two_visits(chain, feldsher, time_machine)
    stranger = make_user(Role.CLINICIAN, chain.other_region_post)
    page = logged_in(stranger).get(f"/patients/{patient.uuid}/")
    assert page.status_code == 403
    assert "<svg" not in page.content.decode()
    assert AuditEvent.objects.filter(
        patient_uuid=patient.uuid, action=AuditAction.DENIED, actor_uuid=stranger.uuid
    ).exists()


def test_a_record_without_readings_says_so(chain, feldsher):
    patient = PatientFactory(home_facility=chain.post)
    html = logged_in(feldsher).get(f"/patients/{patient.uuid}/").content.decode()
    assert "No vital signs recorded yet." in html
    assert "<svg" not in html


def test_readings_sent_before_their_request_are_a_reading_too(chain, feldsher, time_machine):
    """A station may post Observations before the ServiceRequest (FHIR transaction): they
    belong to the patient alone, and NEWS2 is scored from them."""
    patient = two_visits(chain, feldsher, time_machine)
    at = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    for key, value in (("heart_rate", "131"), ("respiratory_rate", "25"), ("spo2", "91")):
        VitalObservation.objects.create(
            patient=patient, key=key, loinc=VITALS[key].loinc, value=value, recorded_at=at
        )
    html = logged_in(feldsher).get(f"/patients/{patient.uuid}/").content.decode()
    rows = table_rows(html)
    assert [(r["Pulse rate /min"], r["NEWS2"]) for r in rows] == [
        ("131", "9 High"),
        ("122", "13 High"),
        ("84", "1 Low"),
    ]
    assert len(charts(html)["trend-heart_rate"].findall(f"{SVG}circle")) == 3
