"""Practitioner, PractitionerRole, Organization, Location ↔ the care network.

The registry is maintained in the Django admin: over FHIR it is read-only (read, vread, history,
search; writes get 405 from the base class). It holds no patient data, so every principal whose
token's scopes allow the type may read all of it.

Mapping:
- Organization ↔ Organisation: English name, Russian and Korean names as `alias` (and as
  translations of `name`), region and country as the address, `type` = healthcare provider plus
  the kinds of its facilities.
- Location ↔ Facility: kind as `type`, coordinates as `position`, settlement/region/country as
  the address, the IANA time zone in the standard timezone extension, the link (type, bandwidth,
  round-trip time) in the FarCare link-profile extension.
- Practitioner ↔ Practitioner: name with the patronymic as the second given name, languages as
  `communication` (BCP 47), specialties as `qualification`.
- PractitionerRole ↔ PractitionerRole: the role kind as `code`, the practitioner's specialties,
  the weekly working hours as `availableTime` (local time of the facility).

Names are searched case- and ё-insensitively in every language they are kept in: the database
compares a folded copy of the names (see `folded`), so SQLite and PostgreSQL answer alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, F, Func, Model, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.db.models.lookups import Contains
from django.db.models.sql.compiler import SQLCompiler
from django.utils import translation

from farcare.network.models import (
    Facility,
    FacilityKind,
    LinkType,
    Organisation,
    Practitioner,
    PractitionerRole,
    PractitionerRoleKind,
    Settlement,
    Specialty,
    WorkingHours,
)

from ..auth import Principal
from ..registry import Handler, Include, SearchParam, register

FACILITY_KIND = "urn:farcare:facility-kind"
SPECIALTY = "urn:farcare:specialty"
PRACTITIONER_ROLE = "urn:farcare:practitioner-role"
LINK_PROFILE = "urn:farcare:link-profile"
LINK_TYPE = "urn:farcare:link-type"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
TIMEZONE = "http://hl7.org/fhir/StructureDefinition/timezone"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
BCP47 = "urn:ietf:bcp:47"
UCUM = "http://unitsofmeasure.org"

LANGUAGE_NAMES = {"ru": "Russian", "en": "English", "ko": "Korean"}
DAYS_OF_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Between folded names; a query never holds it, as `normalise_text` turns it into a space.
NAME_SEPARATOR = "\x1f"


# --- helpers ----------------------------------------------------------------------------------


class Fold(Func):
    """`normalise_text` computed by the database (case folded, ё as е), so that a normalised
    query matches names in any script alike on SQLite and PostgreSQL. SQLite's own LOWER()
    folds ASCII only: there the Python function is registered on the connection."""

    template = "REPLACE(LOWER(%(expressions)s), 'ё', 'е')"
    output_field = CharField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> Any:
        connection.ensure_connection()
        connection.connection.create_function("farcare_fold", 1, _fold_text, deterministic=True)
        return self.as_sql(compiler, connection, template="farcare_fold(%(expressions)s)")


def _fold_text(value: str | None) -> str | None:
    return None if value is None else value.casefold().replace("ё", "е")


class FoldedNames(CharField):
    """Several names folded into one text, each between separators: its `startswith` and
    `exact` lookups apply to each name on its own, as FHIR string search does for a repeating
    element (`contains` finds the text inside any name)."""


class _EachName(Contains):
    # Every lookup here is a LIKE over the whole text, anchored at the separators.
    def get_rhs_op(self, connection: BaseDatabaseWrapper, rhs: str) -> str:
        return str(connection.operators["contains"] % rhs)


@FoldedNames.register_lookup
class _AnyNameStartsWith(_EachName):
    lookup_name = "startswith"
    param_pattern = f"%%{NAME_SEPARATOR}%s%%"


@FoldedNames.register_lookup
class _AnyNameIs(_EachName):
    lookup_name = "exact"
    param_pattern = f"%%{NAME_SEPARATOR}%s{NAME_SEPARATOR}%%"


def folded(*paths: str) -> Fold:
    """The names at `paths` as a `normalised` string parameter searches them: one name is
    matched at the start of any of its words; several are matched each on its own."""
    if len(paths) == 1:
        return Fold(F(paths[0]))
    parts: list[Any] = [Value(NAME_SEPARATOR)]
    for path in paths:
        parts += [F(path), Value(NAME_SEPARATOR)]
    return Fold(Concat(*parts, output_field=CharField()), output_field=FoldedNames())


def folded_phrase(*paths: str) -> Fold:
    """The parts of one name (family, given, patronymic) folded as a single space-joined text."""
    parts: list[Any] = []
    for path in paths:
        parts += [Value(" "), F(path)] if parts else [F(path)]
    return Fold(Concat(*parts, output_field=CharField()))


def _english(label: Any) -> str:
    """A choice label in English: resources must not vary with the reader's language."""
    with translation.override("en"):
        return str(label)


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _translations(**names: str) -> dict[str, Any]:
    """The `_name` element carrying the other-language names as standard translations."""
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": language},
                    {"url": "content", "valueString": text},
                ],
            }
            for language, text in names.items()
            if text
        ]
    }


def _localised_name(resource: dict[str, Any], obj: Any) -> None:
    resource["name"] = obj.name_en or obj.name_ru
    others = {"ru": obj.name_ru, "ko": obj.name_ko}
    aliases = [text for text in others.values() if text and text != resource["name"]]
    if aliases:
        resource["_name"] = _translations(**others)
        resource["alias"] = aliases


def _token_in(system: str, field: str, values: Iterable[str]) -> Callable[[str, str, str], Q]:
    """A token parameter over a column of codes from one FarCare code system."""
    allowed = set(values)

    def to_q(modifier: str, token_system: str, code: str) -> Q:
        if (token_system and token_system != system) or code not in allowed:
            condition = Q(pk__in=[])
        else:
            condition = Q(**{field: code})
        return ~condition if modifier == "not" else condition

    return to_q


def _specialty_display(specialty: Specialty) -> dict[str, Any]:
    return _coding(SPECIALTY, specialty.code, specialty.name_en or specialty.name_ru)


def _reference(kind: str, uuid: Any, display: str) -> dict[str, Any]:
    return {"reference": f"{kind}/{uuid}", "display": display}


def _practitioner_name(practitioner: Practitioner) -> str:
    return str(practitioner)


def _organisation_display(organisation: Organisation) -> str:
    return organisation.name_en or organisation.name_ru


def _facility_display(facility: Facility) -> str:
    return facility.name_en or facility.name_ru


# --- Organization -----------------------------------------------------------------------------


def _organisation_type_q(modifier: str, system: str, code: str) -> Q:
    if (not system or system == ORGANIZATION_TYPE) and code == "prov":
        condition = Q(pk__isnull=False)  # every organisation of the network provides care
    elif (not system or system == FACILITY_KIND) and code in FacilityKind.values:
        condition = Q(pk__in=Facility.objects.filter(kind=code).values("organisation_id"))
    else:
        condition = Q(pk__in=[])
    return ~condition if modifier == "not" else condition


@register
class OrganizationHandler(Handler):
    resource_type = "Organization"
    model = Organisation
    search_params = {
        "name": SearchParam("string", "fhir_name", system="normalised"),
        "address-state": SearchParam("string", "region"),
        "address-country": SearchParam("string", "country"),
        "type": SearchParam("token", to_q=_organisation_type_q),
    }

    def queryset(self, principal: Principal) -> QuerySet[Organisation]:
        return Organisation.objects.alias(
            fhir_name=folded("name_en", "name_ru", "name_ko")
        ).prefetch_related("facilities")

    def to_fhir(self, obj: Organisation) -> dict[str, Any]:
        kinds = {facility.kind for facility in obj.facilities.all()}
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "id": str(obj.uuid),
            "active": True,
            "type": [
                _coding(ORGANIZATION_TYPE, "prov", "Healthcare Provider"),
                *(
                    _coding(FACILITY_KIND, kind.value, _english(kind.label))
                    for kind in FacilityKind
                    if kind.value in kinds
                ),
            ],
        }
        _localised_name(resource, obj)
        resource["address"] = [{"state": obj.region, "country": obj.country}]
        return resource

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, Organisation):
            return [instance]
        if isinstance(instance, Facility):  # the kinds of its facilities are the types
            return [instance.organisation]
        return []


# --- Location ---------------------------------------------------------------------------------


def _quantity(value: int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


@register
class LocationHandler(Handler):
    resource_type = "Location"
    model = Facility
    search_params = {
        "name": SearchParam("string", "fhir_name", system="normalised"),
        "address-city": SearchParam("string", "fhir_city", system="normalised"),
        "address-state": SearchParam("string", "region"),
        "address-country": SearchParam("string", "country"),
        "organization": SearchParam("reference", "organisation__uuid", target="Organization"),
        "type": SearchParam("token", to_q=_token_in(FACILITY_KIND, "kind", FacilityKind.values)),
    }
    includes = (Include("organization", "Organization", "organisation"),)

    def queryset(self, principal: Principal) -> QuerySet[Facility]:
        return Facility.objects.alias(
            fhir_name=folded("name_en", "name_ru", "name_ko"),
            fhir_city=folded("settlement__name_en", "settlement__name_ru"),
        ).select_related("organisation", "settlement")

    def to_fhir(self, obj: Facility) -> dict[str, Any]:
        kind = FacilityKind(obj.kind)
        settlement = obj.settlement
        address: dict[str, Any] = {
            "city": settlement.name_en,
            "state": obj.region,
            "country": obj.country,
        }
        if settlement.name_ru and settlement.name_ru != settlement.name_en:
            address["_city"] = _translations(ru=settlement.name_ru)
        resource: dict[str, Any] = {
            "resourceType": "Location",
            "id": str(obj.uuid),
            "extension": [
                {"url": TIMEZONE, "valueCode": obj.time_zone},
                {
                    "url": LINK_PROFILE,
                    "extension": [
                        {
                            "url": "type",
                            "valueCoding": {
                                "system": LINK_TYPE,
                                "code": obj.link_type,
                                "display": _english(LinkType(obj.link_type).label),
                            },
                        },
                        {
                            "url": "bandwidth",
                            "valueQuantity": _quantity(obj.bandwidth_kbps, "kbit/s"),
                        },
                        {"url": "roundTripTime", "valueQuantity": _quantity(obj.rtt_ms, "ms")},
                    ],
                },
            ],
            "status": "active",
            "mode": "instance",
        }
        _localised_name(resource, obj)
        resource["type"] = [_coding(FACILITY_KIND, kind.value, _english(kind.label))]
        resource["address"] = address
        resource["position"] = {"latitude": obj.latitude, "longitude": obj.longitude}
        resource["managingOrganization"] = _reference(
            "Organization", obj.organisation.uuid, _organisation_display(obj.organisation)
        )
        return resource

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, Facility):
            return [instance]
        if isinstance(instance, Organisation):
            return list(instance.facilities.all())
        if isinstance(instance, Settlement):
            return list(instance.facilities.all())
        return []


# --- Practitioner -----------------------------------------------------------------------------


def _language_q(modifier: str, system: str, code: str) -> Q:
    # `languages` is a JSON list of codes: match the quoted code (as the network pages do).
    foreign = bool(system) and system != BCP47
    condition = Q(pk__in=[]) if foreign else Q(languages__icontains=f'"{code}"')
    return ~condition if modifier == "not" else condition


@register
class PractitionerHandler(Handler):
    resource_type = "Practitioner"
    model = Practitioner
    search_params = {
        "name": SearchParam("string", "fhir_name", system="normalised"),
        "family": SearchParam("string", "fhir_family", system="normalised", sortable=True),
        "given": SearchParam("string", "fhir_given", system="normalised"),
        "communication": SearchParam("token", to_q=_language_q),
    }

    def queryset(self, principal: Principal) -> QuerySet[Practitioner]:
        return (
            Practitioner.objects.annotate(fhir_family=folded("family"))
            .alias(
                fhir_name=folded_phrase("family", "given", "middle"),
                fhir_given=folded("given", "middle"),
            )
            .prefetch_related("specialties")
        )

    def to_fhir(self, obj: Practitioner) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": str(obj.uuid),
            "active": True,
            "name": [
                {
                    "use": "official",
                    "text": _practitioner_name(obj),
                    "family": obj.family,
                    "given": [part for part in (obj.given, obj.middle) if part],
                }
            ],
        }
        specialties = sorted(obj.specialties.all(), key=lambda specialty: specialty.code)
        if specialties:
            resource["qualification"] = [
                {"code": _specialty_display(specialty)} for specialty in specialties
            ]
        languages = [code for code in obj.languages or [] if isinstance(code, str) and code]
        if languages:
            resource["communication"] = [
                _coding(BCP47, code, LANGUAGE_NAMES.get(code, code)) for code in languages
            ]
        return resource

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, Practitioner):
            return [instance]
        if isinstance(instance, Specialty):
            return list(Practitioner.objects.filter(specialties=instance))
        return []


# --- PractitionerRole -------------------------------------------------------------------------


def _specialty_q(modifier: str, system: str, code: str) -> Q:
    if system and system != SPECIALTY:
        condition = Q(pk__in=[])
    else:
        # A subquery: joining the many-to-many directly would repeat a role once per match.
        condition = Q(
            pk__in=PractitionerRole.objects.filter(practitioner__specialties__code=code).values(
                "pk"
            )
        )
    return ~condition if modifier == "not" else condition


def _available_time(hours: Iterable[WorkingHours]) -> list[dict[str, Any]]:
    """Weekly windows, the days sharing a window grouped as FHIR groups them."""
    windows: dict[tuple[str, str], list[int]] = {}
    for window in sorted(hours, key=lambda h: (h.start, h.end, h.weekday)):
        key = (window.start.strftime("%H:%M:%S"), window.end.strftime("%H:%M:%S"))
        windows.setdefault(key, []).append(window.weekday)
    return [
        {
            "daysOfWeek": [DAYS_OF_WEEK[day] for day in sorted(set(days))],
            "availableStartTime": start,
            "availableEndTime": end,
        }
        for (start, end), days in sorted(windows.items(), key=lambda item: min(item[1]))
    ]


@register
class PractitionerRoleHandler(Handler):
    resource_type = "PractitionerRole"
    model = PractitionerRole
    search_params = {
        "practitioner": SearchParam("reference", "practitioner__uuid", target="Practitioner"),
        "organization": SearchParam(
            "reference", "facility__organisation__uuid", target="Organization"
        ),
        "location": SearchParam("reference", "facility__uuid", target="Location"),
        "specialty": SearchParam("token", to_q=_specialty_q),
        "role": SearchParam(
            "token", to_q=_token_in(PRACTITIONER_ROLE, "kind", PractitionerRoleKind.values)
        ),
    }
    includes = (
        Include("practitioner", "Practitioner", "practitioner"),
        Include("location", "Location", "facility"),
        Include("organization", "Organization", "facility.organisation"),
    )

    def queryset(self, principal: Principal) -> QuerySet[PractitionerRole]:
        return PractitionerRole.objects.select_related(
            "practitioner", "facility__organisation"
        ).prefetch_related("hours", "practitioner__specialties")

    def to_fhir(self, obj: PractitionerRole) -> dict[str, Any]:
        kind = PractitionerRoleKind(obj.kind)
        facility = obj.facility
        resource: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": str(obj.uuid),
            "active": True,
            "practitioner": _reference(
                "Practitioner", obj.practitioner.uuid, _practitioner_name(obj.practitioner)
            ),
            "organization": _reference(
                "Organization",
                facility.organisation.uuid,
                _organisation_display(facility.organisation),
            ),
            "location": [_reference("Location", facility.uuid, _facility_display(facility))],
            "code": [_coding(PRACTITIONER_ROLE, kind.value, _english(kind.label))],
        }
        specialties = sorted(obj.practitioner.specialties.all(), key=lambda s: s.code)
        if specialties:
            resource["specialty"] = [_specialty_display(specialty) for specialty in specialties]
        available = _available_time(obj.hours.all())
        if available:
            resource["availableTime"] = available
            resource["availabilityExceptions"] = (
                f"Hours are local time at the location ({facility.time_zone})."
            )
        return resource

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, PractitionerRole):
            return [instance]
        if isinstance(instance, WorkingHours):
            return [instance.role]
        if isinstance(instance, Practitioner):
            return list(instance.roles.all())
        if isinstance(instance, Facility):
            return list(instance.practitioner_roles.all())
        if isinstance(instance, Organisation):
            return list(PractitionerRole.objects.filter(facility__organisation=instance))
        if isinstance(instance, Specialty):
            return list(PractitionerRole.objects.filter(practitioner__specialties=instance))
        return []
