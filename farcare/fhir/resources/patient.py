"""Patient ↔ patients.Patient. SNILS and the OMS number are identifiers with their systems; the
home facility is the managing organisation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from farcare.access.policy import Action, visible_patients
from farcare.access.services import require
from farcare.network.models import Facility
from farcare.patients import services as patient_services
from farcare.patients.identifiers import digits, oms_is_valid, snils_is_valid
from farcare.patients.models import Patient

from .. import systems
from ..auth import Principal
from ..errors import FhirError, business_rule
from ..registry import Handler, Include, SearchParam, register
from ..validation import validated
from .network import folded

GENDER = {"male": "male", "female": "female", "other": "other", "unknown": "unknown"}


def _identifier_q(modifier: str, system: str, value: str) -> Q:
    if system == systems.SNILS or (not system and len(digits(value)) == 11):
        return Q(snils=digits(value))
    if system == systems.OMS or (not system and len(digits(value)) == 16):
        return Q(oms_policy=digits(value))
    return Q(pk__in=[])


@register
class PatientHandler(Handler):
    resource_type = "Patient"
    model = Patient
    updated_field = "updated_at"
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update", "delete"}
    )
    search_params = {
        "identifier": SearchParam("token", to_q=_identifier_q),
        "name": SearchParam("string", "search_name", system="normalised", sortable=False),
        # Folded by the database (case, ё) so Cyrillic matches on SQLite as on PostgreSQL.
        "family": SearchParam("string", "fhir_family", system="normalised", sortable=True),
        "given": SearchParam("string", "fhir_given", system="normalised"),
        "birthdate": SearchParam("date", "birth_date", system="date", sortable=True),
        "gender": SearchParam("token", "sex"),
        "organization": SearchParam(
            "reference", "home_facility__organisation__uuid", target="Organization"
        ),
        "phone": SearchParam("token", "phone"),
    }
    includes = (Include("organization", "Organization", "home_facility.organisation"),)
    default_sort = "pk"

    def queryset(self, principal: Principal) -> QuerySet[Patient]:
        return _searchable(visible_patients(principal.user)).select_related(
            "home_facility__organisation", "home_settlement"
        )

    def all_objects(self) -> QuerySet[Patient]:
        return _searchable(Patient.objects.all())

    def patient_of(self, obj: Patient) -> Patient:
        return obj

    def to_fhir(self, obj: Patient) -> dict[str, Any]:
        identifiers = []
        if obj.snils:
            identifiers.append({"system": systems.SNILS, "value": obj.snils})
        if obj.oms_policy:
            identifiers.append({"system": systems.OMS, "value": obj.oms_policy})
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": str(obj.uuid),
            "identifier": identifiers,
            "active": True,
            "name": [
                {
                    "use": "official",
                    "family": obj.family,
                    "given": [part for part in (obj.given, obj.middle) if part],
                    "text": obj.full_name,
                }
            ],
            "gender": GENDER.get(obj.sex, "unknown"),
            "birthDate": obj.birth_date.isoformat(),
            "address": [
                {
                    "use": "home",
                    "city": obj.home_settlement.name_en,
                    "district": obj.home_settlement.name_ru,
                    "state": obj.home_settlement.region,
                    "country": obj.home_settlement.country,
                }
            ],
            "managingOrganization": {
                "reference": f"Organization/{obj.home_facility.organisation.uuid}",
                "display": obj.home_facility.name_en,
            },
        }
        if obj.phone:
            resource["telecom"] = [{"system": "phone", "value": obj.phone, "use": "mobile"}]
        if not identifiers:
            del resource["identifier"]
        return resource

    # --- writes ---------------------------------------------------------------------------

    def _data(self, principal: Principal, resource: dict[str, Any]) -> dict[str, Any]:
        patient = validated("Patient", resource)
        names = patient.name or []
        if not names or not names[0].family or not names[0].given:
            raise business_rule("A patient needs a family and a given name.", ["Patient.name"])
        given = list(names[0].given or [])
        if patient.birthDate is None:
            raise business_rule("A patient needs a birth date.", ["Patient.birthDate"])
        snils, oms = "", ""
        for index, identifier in enumerate(patient.identifier or []):
            value = digits(identifier.value or "")
            path = [f"Patient.identifier[{index}].value"]
            if identifier.system == systems.SNILS:
                if not snils_is_valid(value):
                    raise business_rule("The SNILS check number is wrong.", path)
                snils = value
            elif identifier.system == systems.OMS:
                if not oms_is_valid(value):
                    raise business_rule("An OMS policy number has 16 digits.", path)
                oms = value
        facility = self._facility(resource)
        phone = next(
            (t.value for t in (patient.telecom or []) if t.system == "phone" and t.value), ""
        )
        return {
            "family": names[0].family,
            "given": given[0],
            "middle": " ".join(given[1:]),
            "sex": patient.gender or "unknown",
            "birth_date": patient.birthDate,
            "home_facility": facility,
            "home_settlement": facility.settlement,
            "snils": snils,
            "oms_policy": oms,
            "phone": phone or "",
        }

    def _facility(self, resource: dict[str, Any]) -> Facility:
        reference = (resource.get("managingOrganization") or {}).get("reference", "")
        ident = reference.rsplit("/", 1)[-1] if reference.startswith("Organization/") else ""
        facility = None
        if ident:
            facility = (
                Facility.objects.filter(organisation__uuid=ident)
                .select_related("settlement")
                .first()
                if _is_uuid(ident)
                else None
            )
        if facility is None:
            raise business_rule(
                "managingOrganization must name the patient's home organisation in FarCare.",
                ["Patient.managingOrganization"],
            )
        return facility

    def create(self, principal: Principal, resource: dict[str, Any]) -> Patient:
        data = self._data(principal, resource)
        try:
            return patient_services.patient_register(
                accessor=principal.accessor, data=data, confirm_duplicate=True
            )
        except ValidationError as error:
            raise _as_fhir(error) from error

    def update(self, principal: Principal, obj: Patient, resource: dict[str, Any]) -> Patient:
        data = self._data(principal, resource)
        try:
            return patient_services.patient_update(
                accessor=principal.accessor, patient=obj, data=data, confirm_duplicate=True
            )
        except ValidationError as error:
            raise _as_fhir(error) from error

    def delete(self, principal: Principal, obj: Patient) -> None:
        require(accessor=principal.accessor, patient=obj, action=Action.VIEW)
        super().delete(principal, obj)


def _searchable(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    return patients.annotate(fhir_family=folded("family"), fhir_given=folded("given", "middle"))


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _as_fhir(error: ValidationError) -> FhirError:
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        code = getattr(errors[0], "code", "")
        message = " ".join(errors[0].messages)
        if code == "duplicate" or field == "snils":
            return FhirError(409, "duplicate", message, expression=["Patient.identifier"])
        return business_rule(message, [f"Patient.{field}"])
    return business_rule(" ".join(error.messages))
