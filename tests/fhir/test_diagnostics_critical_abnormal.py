"""A bedside app reads a blood culture the laboratory's system flagged AA (critical abnormal,
HL7 table 0078) over FHIR: the Observation says so in the standard v3 interpretation code with
its display, and it is a valid R4 resource."""

from __future__ import annotations

from fhir.resources.observation import Observation

from farcare.hl7.receive import receive

from ..hl7.conftest import Laboratory, laboratory  # noqa: F401  (the fixture)
from ..hl7.messages import Oru


def test_an_aa_flagged_culture_reads_as_critical_abnormal_over_fhir(
    laboratory: Laboratory,  # noqa: F811
    fhir_as,
) -> None:
    message = Oru(
        "BC-FHIR-1",
        snils=laboratory.patient.snils,
        panel=("600-7", "Blood culture"),
        values=[("600-7", "Blood culture", "CE", "Gram-negative rods^^L", "", "", "AA")],
        filler="BC-0009",
    ).build()
    assert receive(message.encode()).code == "AA"

    found = fhir_as(laboratory.clinician).get(
        "Observation", patient=str(laboratory.patient.uuid), code="600-7"
    )
    assert found.status_code == 200, found.json()
    [entry] = found.json()["entry"]
    culture = entry["resource"]
    [coding] = culture["interpretation"][0]["coding"]
    assert (coding["code"], coding["display"]) == ("AA", "Critical abnormal")
    Observation.model_validate(culture)
