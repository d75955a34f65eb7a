"""A laboratory system flags its values with HL7 v2.5.1 table 0078: FarCare reads AA (critical
abnormal) as critical whatever the value's type, `<` and `>` (off the analyser's scale) as low
and high, keeps every flag as sent, and answers the ones it does not interpret with a warning
in an AA: the results are stored, nothing is dropped, and the laboratory knows."""

from __future__ import annotations

from farcare.diagnostics.models import AlertKind, CriticalAlert, ResultObservation
from farcare.hl7.receive import receive

from .conftest import Laboratory
from .messages import Oru


def ack_segments(answer: str) -> list[str]:
    return [segment for segment in answer.split("\r") if segment]


def value(laboratory: Laboratory, code: str) -> ResultObservation:
    return ResultObservation.objects.get(patient=laboratory.patient, code=code)


def test_a_positive_blood_culture_flagged_aa_alerts_the_post_like_a_critical_potassium(
    laboratory: Laboratory,
) -> None:
    message = Oru(
        "BC-1",
        snils=laboratory.patient.snils,
        panel=("600-7", "Blood culture"),
        values=[("600-7", "Blood culture", "CE", "Gram-negative rods^^L", "", "", "AA")],
        filler="BC-0001",
    ).build()

    answer = receive(message.encode())

    assert answer.code == "AA"
    assert "1 critical" in answer.text
    culture = value(laboratory, "600-7")
    assert (culture.value_text, culture.interpretation, culture.flags) == (
        "Gram-negative rods",
        "AA",
        ["AA"],
    )
    alert = CriticalAlert.objects.get(observation=culture)
    assert alert.kind == AlertKind.CRITICAL
    # No order: the clinicians of the patient's post are told.
    assert alert.recipient == laboratory.clinician


def test_values_off_the_analysers_scale_read_as_low_or_high_and_critical_past_the_limit(
    laboratory: Laboratory,
) -> None:
    message = Oru(
        "SCALE-1",
        snils=laboratory.patient.snils,
        panel=("51990-0", "BMP"),
        values=[
            # Below the scale's end of 1.5 mmol/L: every value it stands for is under 2.8.
            ("2823-3", "Potassium", "SN", "<^1.5", "mmol/L", "3.5-5.1", "<"),
            # Above the scale, no range sent and none in FarCare's table for this code.
            ("2339-0", "Glucose (blood)", "ST", "HI", "mmol/L", "", ">"),
        ],
        filler="BMP-0002",
    ).build()

    answer = receive(message.encode())

    assert answer.code == "AA"
    potassium = value(laboratory, "2823-3")
    assert (potassium.value_text, potassium.interpretation, potassium.flags) == (
        "<1.5",
        "LL",
        ["<"],
    )
    assert CriticalAlert.objects.filter(observation=potassium).exists()
    glucose = value(laboratory, "2339-0")
    assert (glucose.interpretation, glucose.flags) == ("H", [">"])
    assert not CriticalAlert.objects.filter(observation=glucose).exists()
    assert not any(segment.startswith("ERR") for segment in ack_segments(answer.message))


def test_flags_farcare_does_not_read_are_kept_and_named_back_as_warnings(
    laboratory: Laboratory,
) -> None:
    message = Oru(
        "FLAGS-1",
        snils=laboratory.patient.snils,
        values=[
            ("718-7", "Hemoglobin", "NM", "128", "g/L", "130-170", "L~W"),  # low, and worse
            ("6690-2", "Leukocytes", "NM", "7.2", "10*9/L", "4.0-9.0", "N"),
            ("2106-3", "hCG", "CE", "Positive", "", "", "POS"),
        ],
        filler="CBC-0003",
    ).build()
    message = message.replace("L\\R\\W", "L~W")  # two repetitions of OBX-8, as sent

    answer = receive(message.encode())

    assert answer.code == "AA"
    segments = ack_segments(answer.message)
    assert segments[1].startswith("MSA|AA|FLAGS-1|")
    warnings = [segment.split("|") for segment in segments if segment.startswith("ERR")]
    assert [(err[2], err[3].split("^")[0], err[4]) for err in warnings] == [
        ("OBX^1^8", "103", "W"),
        ("OBX^3^8", "103", "W"),
    ]
    assert "flag W" in warnings[0][8] and "718-7" in warnings[0][8]
    assert "flag POS" in warnings[1][8] and "2106-3" in warnings[1][8]
    # Everything stored; the flags as sent; what FarCare read of them.
    haemoglobin = value(laboratory, "718-7")
    assert (haemoglobin.interpretation, haemoglobin.flags) == ("L", ["L", "W"])
    hcg = value(laboratory, "2106-3")
    assert (hcg.value_text, hcg.interpretation, hcg.flags) == ("Positive", "", ["POS"])
    assert value(laboratory, "6690-2").flags == ["N"]
