"""A laboratory's ORU^R01 read into reports, without a database: what the values, units,
ranges, flags and statuses say, and a clear error (with the segment and field) when a message
cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from farcare.hl7.ack import AckCode, ErrorCode
from farcare.hl7.oru import MessageError, parse_oru

from .messages import BMP, Oru


def test_a_cbc_becomes_one_report_with_its_values_units_and_ranges() -> None:
    text = Oru("CBC-1", snils="12345678964", placer="DX-2026-000042").build()

    parsed = parse_oru(text)

    assert parsed.header.control_id == "CBC-1"
    (report,) = parsed.reports
    assert report.code == "58410-2"
    assert report.placer_number == "DX-2026-000042"
    assert report.filler_number == "F-1001"
    assert report.sending_facility == "CITYLAB"
    assert report.external_id == "CITYLAB|F-1001"
    assert report.patient.identifiers == (("snils", "12345678964"),)
    assert (report.patient.family, report.patient.given) == ("Иванов", "Иван")
    assert (report.patient.birth_date, report.patient.sex) == ("1970-01-01", "M")
    # OBR-7 and OBR-22 carried +1200 (Chukotka): kept as the same instants in UTC.
    assert report.effective_at == datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    assert report.issued_at == datetime(2026, 12, 5, 21, 25, tzinfo=UTC)
    haemoglobin = report.results[0]
    assert (haemoglobin.code, haemoglobin.value_type, haemoglobin.value) == ("718-7", "NM", "128")
    assert (haemoglobin.unit, haemoglobin.reference_range) == ("g/L", "130-170")
    assert haemoglobin.flags == ("L",)
    assert haemoglobin.status == "F"
    assert [result.sequence for result in report.results] == [1, 2, 3, 4, 5]


def test_a_basic_metabolic_panel_keeps_all_ten_values_in_order() -> None:
    text = Oru("BMP-1", snils="12345678964", panel=("51990-0", "BMP"), values=BMP).build()

    (report,) = parse_oru(text).reports

    assert report.code == "51990-0"
    assert [result.code for result in report.results] == [row[0] for row in BMP]
    potassium = report.results[1]
    assert (potassium.value, potassium.unit, potassium.reference_range) == (
        "4.4",
        "mmol/L",
        "3.5-5.1",
    )
    assert report.results[9].reference_range == ">60"
    assert report.results[9].unit == "mL/min/{1.73_m2}"


def test_a_corrected_value_arrives_with_status_c_and_the_report_corrected() -> None:
    text = Oru(
        "CBC-2",
        snils="12345678964",
        status="C",
        value_status="C",
        values=[("718-7", "Hemoglobin", "NM", "131", "g/L", "130-170", "N")],
    ).build()

    (report,) = parse_oru(text).reports

    assert report.status == "C"
    assert report.results[0].status == "C"
    assert report.results[0].value == "131"
    # The same filler number: the correction finds the report it corrects.
    assert report.external_id == "CITYLAB|F-1001"


SEGMENTS = "\r".join(
    [
        "MSH|^~\\&|ALISA|CITYLAB|FARCARE|HUB|20261206093000||ORU^R01|U-7|P|2.3|||||||8859/5",
        "PID|1||123-456-789 64^^^СНИЛС^PT~1234567890123456^^^ОМС^HC~"
        "0b0c6b0e-2f4c-4a7d-9a3b-9a7a3c1e2d11^^^FARCARE^PI||Петрова^Анна||19851231|F",
        "OBR|1||F-77|24356-8^Urinalysis^LN|||20261206080000|||||||||||||||20261206090000|||P",
        "NTE|1||Sample slightly \\T\\ visibly haemolysed",
        "OBX|1|ST|5778-6^Color^LN||straw\\S\\yellow||||||P",
        "OBX|2|CE|5767-9^Appearance^LN||CLR^Clear^L||||||F",
        "OBX|3|SN|5811-5^Specific gravity^LN||<^1.005||1.005-1.030|L|||F",
        "OBX|4|SN|2345-7^Glucose^LN||=^5.5|mmol/L||N|||F",
        "NTE|1||Repeated: same result",
        "OBX|5|TX|11488-4^Note^LN||line one~line two||||||F",
    ]
)


def test_an_older_version_with_text_coded_and_structured_values_is_read_leniently() -> None:
    (report,) = parse_oru(SEGMENTS, default_zone=ZoneInfo("Asia/Anadyr")).reports

    assert report.status == "P"
    assert report.patient.uuid == "0b0c6b0e-2f4c-4a7d-9a3b-9a7a3c1e2d11"
    assert report.patient.identifiers == (("snils", "12345678964"), ("oms", "1234567890123456"))
    # The report's note, and a value's note under its code: nothing the laboratory wrote is lost.
    assert report.conclusion == (
        "Sample slightly & visibly haemolysed\n2345-7 Glucose: Repeated: same result"
    )
    # No offset sent: the laboratory's own zone (Anadyr, UTC+12).
    assert report.effective_at == datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    by_code = {result.code: result for result in report.results}
    assert (by_code["5778-6"].value_type, by_code["5778-6"].value) == ("ST", "straw^yellow")
    assert by_code["5778-6"].status == "P"
    assert (by_code["5767-9"].value_type, by_code["5767-9"].value) == ("CE", "Clear")
    assert (by_code["5811-5"].value_type, by_code["5811-5"].value) == ("ST", "<1.005")
    assert (by_code["2345-7"].value_type, by_code["2345-7"].value) == ("NM", "5.5")
    assert by_code["11488-4"].value == "line one\nline two"


def test_line_feeds_between_segments_are_taken_too() -> None:
    (report,) = parse_oru(SEGMENTS.replace("\r", "\r\n")).reports
    assert len(report.results) == 5


@pytest.mark.parametrize(
    ("change", "ack", "code", "location"),
    [
        (("ORU^R01", "ADT^A01"), AckCode.REJECT, ErrorCode.UNSUPPORTED_MESSAGE_TYPE, "MSH-9"),
        (("ORU^R01", "ORU^R30"), AckCode.REJECT, ErrorCode.UNSUPPORTED_EVENT, "MSH-9"),
        (("|P|2.3|", "|P|2.2|"), AckCode.REJECT, ErrorCode.UNSUPPORTED_VERSION, "MSH-12"),
        (("||=^5.5|mmol/L", "||=^five|mmol/L"), AckCode.REJECT, ErrorCode.DATA_TYPE, "OBX-5"),
        (("|SN|2345-7", "|ED|2345-7"), AckCode.REJECT, ErrorCode.DATA_TYPE, "OBX-2"),
        (("20261206080000|||", "2026-12-06|||"), AckCode.REJECT, ErrorCode.DATA_TYPE, "OBR-7"),
        (
            ("|24356-8^Urinalysis^LN|", "||"),
            AckCode.REJECT,
            ErrorCode.REQUIRED_FIELD_MISSING,
            "OBR-4",
        ),
    ],
)
def test_a_message_that_cannot_be_taken_says_why_and_where(
    change: tuple[str, str], ack: AckCode, code: ErrorCode, location: str
) -> None:
    broken = SEGMENTS.replace(*change)
    assert broken != SEGMENTS

    with pytest.raises(MessageError) as raised:
        parse_oru(broken)

    assert raised.value.ack == ack
    assert raised.value.problem.code == code
    assert raised.value.problem.location == location
    assert raised.value.problem.reason


def test_results_before_any_order_segment_are_a_sequence_error() -> None:
    text = SEGMENTS.replace("OBR|1||F-77", "ZZZ|1||F-77")
    with pytest.raises(MessageError) as raised:
        parse_oru(text)
    assert raised.value.problem.code == ErrorCode.SEGMENT_SEQUENCE
    assert raised.value.problem.segment == "OBX"


def test_a_patient_without_identifiers_is_refused_at_pid_3() -> None:
    text = SEGMENTS.replace(
        "123-456-789 64^^^СНИЛС^PT~1234567890123456^^^ОМС^HC~"
        "0b0c6b0e-2f4c-4a7d-9a3b-9a7a3c1e2d11^^^FARCARE^PI",
        "",
    )
    with pytest.raises(MessageError) as raised:
        parse_oru(text)
    assert raised.value.problem.location == "PID-3"


def test_two_orders_in_one_message_are_two_reports() -> None:
    second = (
        "\rOBR|2||F-78|2823-3^Potassium^LN\rOBX|1|NM|2823-3^Potassium^LN||6.8|mmol/L|3.5-5.1|HH|||F"
    )
    reports = parse_oru(SEGMENTS + second).reports
    assert [report.code for report in reports] == ["24356-8", "2823-3"]
    assert reports[1].results[0].flags == ("HH",)
    assert reports[1].patient == reports[0].patient
