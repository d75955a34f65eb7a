"""Identifier and code systems. The Russian federal OIDs are those of the ЕГИСЗ register; a
deployment that uses others changes them here."""

SNILS = "urn:oid:1.2.643.100.3"
OMS = "urn:oid:1.2.643.100.7"  # ЕНП: the unified number of the OMS policy
FARCARE_FACILITY = "urn:farcare:facility"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# The number a signed conclusion is filed and quoted under (farcare.consults.numbering), unique in
# the deployment: "ТМК-2026-000123".
CONCLUSION_NUMBER = "urn:farcare:conclusion-number"
