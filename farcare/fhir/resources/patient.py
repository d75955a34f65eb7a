"""Patient ↔ patients.Patient. SNILS and the OMS number are identifiers with their systems; the
home facility is the managing organisation."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from farcare.access.policy import Action, visible_patients
from farcare.access.services import require
from farcare.core.db.precompiled import Precompiled
from farcare.network.models import Facility, Organisation, Settlement
from farcare.patients import services as patient_services
from farcare.patients.identifiers import digits, oms_is_valid, snils_is_valid
from farcare.patients.models import Patient, Sex

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
    # Visible exactly when the patient is; rendered from the row, its home settlement and
    # facility (with the facility's organisation), and what the client kept (remainder.py).
    lean_read = True
    render_depends_on = (Settlement, Facility, Organisation)
    # queryset() below is all_objects() within visible_patients: a hot search may answer it.
    hot_search_scope = "pk"

    def queryset(self, principal: Principal) -> QuerySet[Patient]:
        return _searchable(visible_patients(principal.user)).select_related(
            "home_facility__organisation", "home_settlement"
        )

    def all_objects(self) -> QuerySet[Patient]:
        # What the rendering reads, in the same query (a create, an update and a re-check
        # render it).
        return _searchable(Patient.objects.all()).select_related(
            "home_facility__organisation", "home_settlement"
        )

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

    # The record holds active patients only; a client's "inactive" cannot be honoured. The
    # address is the client's when sent: FarCare derives one from the home settlement only as a
    # stand-in (remainder.py).
    refused_elements = frozenset({"Patient.active"})
    replaced_elements = frozenset({"address"})

    def _data(
        self,
        principal: Principal,
        resource: dict[str, Any],
        facilities: dict[str, Facility] | None = None,
    ) -> dict[str, Any]:
        """The registration's fields. `facilities`: the facilities by organisation id when the
        caller looked up every entry's at once (`_facilities`); else this one is looked up."""
        _check_before_validation(resource)
        patient = validated("Patient", resource)
        names = patient.name or []
        index = _official_name(resource)
        name = names[index] if names else None
        if name is None or not name.family or not name.given:
            raise business_rule("A patient needs a family and a given name.", ["Patient.name"])
        # Given name, then the patronymic; further given names stay as sent (kept beside the
        # record), never run together into the patronymic.
        given = list(name.given or [])
        name_path = f"Patient.name[{index}]"
        _check_length(name.family, Patient._meta.get_field("family"), f"{name_path}.family")
        _check_length(given[0], Patient._meta.get_field("given"), f"{name_path}.given[0]")
        if len(given) > 1:
            _check_length(given[1], Patient._meta.get_field("middle"), f"{name_path}.given[1]")
        if patient.gender and patient.gender not in Sex.values:
            raise business_rule(f"gender is one of {', '.join(Sex.values)}.", ["Patient.gender"])
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
        facility = self._facility(resource, facilities)
        phone, phone_path = next(
            (
                (t.value, f"Patient.telecom[{i}].value")
                for i, t in enumerate(patient.telecom or [])
                if t.system == "phone" and t.value
            ),
            ("", ""),
        )
        if phone:
            _check_length(phone, Patient._meta.get_field("phone"), phone_path)
        return {
            "family": name.family,
            "given": given[0],
            "middle": given[1] if len(given) > 1 else "",
            "sex": patient.gender or "unknown",
            "birth_date": patient.birthDate,
            "home_facility": facility,
            "home_settlement": facility.settlement,
            "snils": snils,
            "oms_policy": oms,
            "phone": phone or "",
        }

    def _facility(
        self, resource: dict[str, Any], facilities: dict[str, Facility] | None = None
    ) -> Facility:
        ident = _organisation_id(resource)
        if facilities is None:
            facilities = self._facilities([ident] if ident else [])
        facility = facilities.get(ident) if ident else None
        if facility is None:
            raise business_rule(
                "managingOrganization must name the patient's home organisation in FarCare.",
                ["Patient.managingOrganization"],
            )
        return facility

    def _facilities(self, idents: list[str]) -> dict[str, Facility]:
        """The facility of each organisation id (what a rendering shows of it loaded too)."""
        wanted = {ident for ident in idents if _is_uuid(ident)}
        if not wanted:
            return {}
        found: dict[str, Facility] = {}
        if len(wanted) == 1:  # a create's: the query compiled once
            facilities = _FACILITY_OF.run(str(_uuid(next(iter(wanted)))))
        else:
            facilities = list(_facilities_of(Q(organisation__uuid__in=wanted)))
        for facility in facilities:
            # The first by the model's order, as `.first()` found it one by one.
            found.setdefault(str(facility.organisation.uuid), facility)
        return {ident: found[str(_uuid(ident))] for ident in wanted if str(_uuid(ident)) in found}

    def create(self, principal: Principal, resource: dict[str, Any]) -> Patient:
        data = self._data(principal, resource)
        try:
            return patient_services.patient_register(
                accessor=principal.accessor, data=data, confirm_duplicate=True
            )
        except ValidationError as error:
            raise _as_fhir(error) from error

    # --- many registrations at once (a transaction's Patient entries) -----------------------

    creates_many = True
    # A registration is built from the validated fields and the facility `_facilities` loaded
    # with its settlement and organisation: all the rendering reads.
    created_as_stored = True

    def create_many(self, principal: Principal, resources: list[dict[str, Any]]) -> list[Patient]:
        facilities = self._facilities([_organisation_id(resource) for resource in resources])
        registrations = [self._data(principal, resource, facilities) for resource in resources]
        try:
            return patient_services.patients_register_many(
                accessor=principal.accessor, registrations=registrations, confirm_duplicate=True
            )
        except patient_services.RegistrationRefused as refused:
            if isinstance(refused.error, ValidationError):
                raise _as_fhir(refused.error) from refused.error
            raise refused.error from refused

    def condition_key(self, params: list[tuple[str, str]]) -> str | None:
        # `identifier=<SNILS system>|<11 digits>`: what a post's resubmission asks.
        if len(params) != 1 or params[0][0] != "identifier":
            return None
        system, bar, value = params[0][1].partition("|")
        plain = value.isascii() and value.isdigit() and len(value) == 11
        if not bar or system != systems.SNILS or not plain:
            return None
        return value

    def condition_keys(self, resource: dict[str, Any]) -> set[str]:
        identifiers = resource.get("identifier")
        return {
            digits(str(identifier.get("value") or ""))
            for identifier in (identifiers if isinstance(identifiers, list) else [])
            if isinstance(identifier, dict) and identifier.get("system") == systems.SNILS
        }

    def find_many(self, keys: set[str]) -> dict[str, list[Patient]]:
        found: dict[str, list[Patient]] = {key: [] for key in keys}
        for patient in self.all_objects().filter(snils__in=keys).order_by("pk"):
            found[patient.snils].append(patient)
        return found

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


def _official_name(resource: dict[str, Any]) -> int:
    """The index of the name the record holds: the first official (or usual, or unmarked) one;
    nicknames, maiden and old names are kept as sent."""
    names = resource.get("name")
    if not isinstance(names, list):
        return 0
    for wanted in ("official", "usual", None):
        for index, name in enumerate(names):
            if isinstance(name, dict) and name.get("use") == wanted:
                return index
    return 0


def _check_before_validation(resource: dict[str, Any]) -> None:
    """What the FHIR model would accept but the record cannot hold, refused with its element
    before validation spends time on a megabyte of name."""
    date = resource.get("birthDate")
    if isinstance(date, str) and not FULL_DATE.match(date):
        raise business_rule(
            "A patient record needs the full birth date (YYYY-MM-DD): it identifies the patient "
            "and gives the age the clinical scores use. A year or a month alone is not enough.",
            ["Patient.birthDate"],
        )
    index = _official_name(resource)
    names = resource.get("name")
    name: dict[str, Any] = {}
    if isinstance(names, list) and index < len(names) and isinstance(names[index], dict):
        name = names[index]
    path = f"Patient.name[{index}]"
    if isinstance(name.get("family"), str):
        _check_length(name["family"], Patient._meta.get_field("family"), f"{path}.family")
    given: list[Any] = name["given"] if isinstance(name.get("given"), list) else []
    for position, field in ((0, "given"), (1, "middle")):
        if len(given) > position and isinstance(given[position], str):
            _check_length(
                given[position], Patient._meta.get_field(field), f"{path}.given[{position}]"
            )


FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_length(value: str, field: Any, path: str) -> None:
    """The page's limit for the field, with the page's message."""
    if len(value) > field.max_length:
        raise business_rule(
            _("%(field)s: at most %(limit)d characters (this has %(length)d).")
            % {"field": str(field.verbose_name), "limit": field.max_length, "length": len(value)},
            [path],
        )


def _facilities_of(organisations: Q) -> QuerySet[Facility]:
    return (
        Facility.objects.filter(organisations)
        .select_related("settlement", "organisation")
        .order_by(*(Facility._meta.ordering or ()), "pk")
    )


# The facility of one organisation, asked at every create of a patient.
_FACILITY_OF: Precompiled[Facility] = Precompiled(
    lambda organisation: _facilities_of(Q(organisation__uuid=organisation))[:1], arity=1
)


def _searchable(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    return patients.annotate(fhir_family=folded("family"), fhir_given=folded("given", "middle"))


def _organisation_id(resource: dict[str, Any]) -> str:
    """The id in `managingOrganization.reference` ("Organization/<id>"), or ""."""
    organisation = resource.get("managingOrganization")
    reference = organisation.get("reference") if isinstance(organisation, dict) else ""
    if not isinstance(reference, str) or not reference.startswith("Organization/"):
        return ""
    return reference.rsplit("/", 1)[-1]


def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


def _is_uuid(text: str) -> bool:
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
