"""Loading facilities from a CSV register: all rows are checked first, and one bad row leaves the
database as it was. Re-importing the same file changes nothing."""

from __future__ import annotations

import csv
import io
import math
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from .models import (
    CHAIN_LEVEL,
    Facility,
    FacilityKind,
    LinkType,
    Organisation,
    ReferralLink,
    Settlement,
)

REQUIRED_COLUMNS = ("name_en", "name_ru", "region", "lat", "lon", "population", "tz", "role")
# Optional: name_ko (the settlement in Korean), country, link_type, bandwidth_kbps, rtt_ms,
# refers_to.

ROLE_ALIASES = {
    "feldsher_station": FacilityKind.FELDSHER_POST,
    "feldsher_post": FacilityKind.FELDSHER_POST,
    "district_hospital": FacilityKind.DISTRICT_HOSPITAL,
    "regional_hub": FacilityKind.REGIONAL_HUB,
    "federal_center": FacilityKind.FEDERAL_CENTRE,
    "federal_centre": FacilityKind.FEDERAL_CENTRE,
    "partner_hospital": FacilityKind.PARTNER_ABROAD,
    "partner_abroad": FacilityKind.PARTNER_ABROAD,
}

# Facility names per kind: English, Russian, Korean, from the settlement's name in each.
NAME_PATTERNS: dict[str, tuple[str, str, str]] = {
    FacilityKind.FELDSHER_POST: (
        "{en} feldsher–midwife post",
        "ФАП {ru}",
        "{ko} 펠셔·조산 진료소",
    ),
    FacilityKind.DISTRICT_HOSPITAL: (
        "{en} district hospital",
        "{ru}: районная больница",
        "{ko} 지역 병원",
    ),
    FacilityKind.REGIONAL_HUB: (
        "{en} regional hospital",
        "{ru}: региональная больница",
        "{ko} 지역 거점 병원",
    ),
    FacilityKind.FEDERAL_CENTRE: (
        "National Medical Research Centre, {en}",
        "НМИЦ, {ru}",
        "국립 의학 연구 센터, {ko}",
    ),
    FacilityKind.PARTNER_ABROAD: (
        "Partner hospital, {en}",
        "Партнёрская клиника, {ru}",
        "협력 병원, {ko}",
    ),
}


def default_link(kind: str, population: int) -> tuple[str, int, int]:
    """A plausible link when the register gives none (domain.md §1)."""
    if kind in (FacilityKind.FEDERAL_CENTRE, FacilityKind.PARTNER_ABROAD):
        return LinkType.FIBRE, 1_000_000, 30
    if kind == FacilityKind.REGIONAL_HUB:
        return LinkType.FIBRE, 100_000, 60
    if kind == FacilityKind.DISTRICT_HOSPITAL:
        return (LinkType.VSAT, 512, 620) if population < 10_000 else (LinkType.FIBRE, 20_000, 80)
    if population < 600:
        return LinkType.VSAT, 64, 650
    if population < 1500:
        return LinkType.VSAT, 128, 620
    return LinkType.CELLULAR, 256, 300


@dataclass
class RowError:
    row: int
    reason: str

    def __str__(self) -> str:
        return _("row %(row)s: %(reason)s") % {"row": self.row, "reason": self.reason}


class NetworkImportError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    links: int = 0
    facilities: list[Facility] = field(default_factory=list)


@dataclass
class FacilityRow:
    line: int
    name_en: str
    name_ru: str
    name_ko: str
    region: str
    country: str
    latitude: float
    longitude: float
    population: int
    time_zone: str
    kind: str
    link_type: str
    bandwidth_kbps: int
    rtt_ms: int
    refers_to: list[str]


def _number(value: str, kind: type, label: str, errors: list[str]) -> Any:
    try:
        number = kind(value.strip())
    except (TypeError, ValueError):
        errors.append(_("%(label)s %(value)r is not a number") % {"label": label, "value": value})
        return None
    if isinstance(number, float) and not math.isfinite(number):
        errors.append(_("%(label)s %(value)r is not a number") % {"label": label, "value": value})
        return None
    return number


def _parse_row(line: int, raw: dict[str, str]) -> tuple[FacilityRow | None, list[str]]:
    errors: list[str] = []
    value = {key: (raw.get(key) or "").strip() for key in raw if key}
    for column in REQUIRED_COLUMNS:
        if not value.get(column):
            errors.append(_("%(column)s is empty") % {"column": column})
    if errors:
        return None, errors
    latitude = _number(value["lat"], float, _("latitude"), errors)
    longitude = _number(value["lon"], float, _("longitude"), errors)
    population = _number(value["population"], int, _("population"), errors)
    if latitude is not None and not -90 <= latitude <= 90:
        errors.append(_("latitude %(value)s is outside −90…90") % {"value": latitude})
    if longitude is not None and not -180 <= longitude <= 180:
        errors.append(_("longitude %(value)s is outside −180…180") % {"value": longitude})
    if population is not None and population < 0:
        errors.append(_("population is negative"))
    if value["tz"] not in zoneinfo.available_timezones():
        errors.append(_("unknown time zone %(zone)r") % {"zone": value["tz"]})
    kind = ROLE_ALIASES.get(value["role"])
    if kind is None:
        errors.append(
            _("unknown role %(role)r; expected one of %(roles)s")
            % {"role": value["role"], "roles": ", ".join(sorted(ROLE_ALIASES))}
        )
    country = value.get("country") or ("KR" if value["region"] == "Korea" else "RU")
    if len(country) != 2 or not country.isalpha():
        errors.append(_("country %(country)r is not a two-letter code") % {"country": country})
    link_type, bandwidth, rtt = default_link(kind or "", population or 0)
    if value.get("link_type"):
        link_type = value["link_type"]
        if link_type not in LinkType.values:
            errors.append(_("unknown link type %(link)r") % {"link": link_type})
    if value.get("bandwidth_kbps"):
        bandwidth = _number(value["bandwidth_kbps"], int, _("bandwidth"), errors)
        if bandwidth is not None and bandwidth <= 0:
            errors.append(_("bandwidth must be positive"))
    if value.get("rtt_ms"):
        rtt = _number(value["rtt_ms"], int, _("round-trip time"), errors)
        if rtt is not None and rtt < 0:
            errors.append(_("round-trip time is negative"))
    if errors:
        return None, errors
    assert kind is not None
    return (
        FacilityRow(
            line=line,
            name_en=value["name_en"],
            name_ru=value["name_ru"],
            name_ko=value.get("name_ko", ""),
            region=value["region"],
            country=country.upper(),
            latitude=latitude,
            longitude=longitude,
            population=population,
            time_zone=value["tz"],
            kind=kind,
            link_type=link_type,
            bandwidth_kbps=bandwidth,
            rtt_ms=rtt,
            refers_to=[
                part.strip() for part in value.get("refers_to", "").split(";") if part.strip()
            ],
        ),
        [],
    )


def parse_network_csv(text: str) -> list[FacilityRow]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise NetworkImportError(
            [RowError(1, _("missing columns: %(columns)s") % {"columns": ", ".join(missing)})]
        )
    rows: list[FacilityRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for line, raw in enumerate(reader, start=2):
        if None in raw:
            errors.append(RowError(line, _("more values than columns")))
            continue
        row, row_errors = _parse_row(line, raw)
        errors.extend(RowError(line, reason) for reason in row_errors)
        if row is not None:
            key = (row.name_en, row.region)
            if key in seen:
                errors.append(
                    RowError(line, _("the same settlement as row %(row)s") % {"row": seen[key]})
                )
            seen[key] = line
            rows.append(row)
    names = {row.name_en for row in rows}
    for row in rows:
        for target in row.refers_to:
            if (
                target not in names
                and not Facility.objects.filter(settlement__name_en=target).exists()
            ):
                errors.append(
                    RowError(row.line, _("refers to unknown %(name)r") % {"name": target})
                )
    if errors:
        raise NetworkImportError(sorted(errors, key=lambda error: error.row))
    return rows


def _upsert(model: Any, lookup: dict[str, Any], values: dict[str, Any]) -> tuple[Any, str]:
    instance = model.objects.filter(**lookup).first()
    if instance is None:
        return model.objects.create(**lookup, **values), "created"
    changed = [name for name, new in values.items() if getattr(instance, name) != new]
    if changed:
        for name in changed:
            setattr(instance, name, values[name])
        instance.save(update_fields=changed)
        return instance, "updated"
    return instance, "unchanged"


def _facility_names(row: FacilityRow) -> dict[str, str]:
    en, ru, ko = NAME_PATTERNS[row.kind]
    return {
        "name_en": en.format(en=row.name_en),
        "name_ru": ru.format(ru=row.name_ru),
        # A register without Korean names (the column is optional) names the place in English.
        "name_ko": ko.format(ko=row.name_ko or row.name_en),
    }


def _distance_km(a: Facility, b: Facility) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371 * 2 * math.asin(math.sqrt(h))


def derive_referral_links(facilities: list[Facility]) -> int:
    """The standard chain for facilities with no referral yet: a post refers to the nearest
    district hospital of its region (else the hub), a district hospital to the regional hub, a hub
    to the federal centre."""
    everything = list(Facility.objects.all())
    created = 0
    for facility in facilities:
        if facility.referrals_out.exists():
            continue
        targets: list[Facility]
        if facility.kind == FacilityKind.FELDSHER_POST:
            targets = [
                f
                for f in everything
                if f.region == facility.region and f.kind == FacilityKind.DISTRICT_HOSPITAL
            ] or [
                f
                for f in everything
                if f.region == facility.region and f.kind == FacilityKind.REGIONAL_HUB
            ]
        elif facility.kind == FacilityKind.DISTRICT_HOSPITAL:
            targets = [
                f
                for f in everything
                if f.region == facility.region and f.kind == FacilityKind.REGIONAL_HUB
            ]
        elif facility.kind == FacilityKind.REGIONAL_HUB:
            targets = [f for f in everything if f.kind == FacilityKind.FEDERAL_CENTRE]
        else:
            targets = []
        targets = sorted(targets, key=lambda target: _distance_km(facility, target))
        if targets:
            ReferralLink.objects.create(source=facility, target=targets[0], rank=1)
            created += 1
    return created


@transaction.atomic
def import_network(text: str) -> ImportResult:
    rows = parse_network_csv(text)
    result = ImportResult()
    by_name: dict[str, Facility] = {}
    for row in rows:
        settlement, _state = _upsert(
            Settlement,
            {"name_en": row.name_en, "region": row.region},
            {
                "name_ru": row.name_ru,
                "name_ko": row.name_ko,
                "country": row.country,
                "latitude": row.latitude,
                "longitude": row.longitude,
                "population": row.population,
                "time_zone": row.time_zone,
            },
        )
        names = _facility_names(row)
        organisation, _state = _upsert(
            Organisation,
            {"name_en": names["name_en"], "region": row.region},
            {"name_ru": names["name_ru"], "name_ko": names["name_ko"], "country": row.country},
        )
        facility, state = _upsert(
            Facility,
            {"settlement": settlement, "kind": row.kind},
            {
                **names,
                "organisation": organisation,
                "country": row.country,
                "region": row.region,
                "latitude": row.latitude,
                "longitude": row.longitude,
                "time_zone": row.time_zone,
                "link_type": row.link_type,
                "bandwidth_kbps": row.bandwidth_kbps,
                "rtt_ms": row.rtt_ms,
            },
        )
        setattr(result, state, getattr(result, state) + 1)
        by_name[row.name_en] = facility
        result.facilities.append(facility)
    for row in rows:
        for rank, target_name in enumerate(row.refers_to, start=1):
            target = (
                by_name.get(target_name)
                or Facility.objects.filter(settlement__name_en=target_name)
                .order_by("-kind")
                .first()
            )
            assert target is not None  # checked in parse_network_csv
            _link, created = ReferralLink.objects.get_or_create(
                source=by_name[row.name_en], target=target, specialty=None, defaults={"rank": rank}
            )
            result.links += int(created)
    result.links += derive_referral_links(
        sorted(result.facilities, key=lambda facility: CHAIN_LEVEL[FacilityKind(facility.kind)])
    )
    return result


def import_network_file(path: Path) -> ImportResult:
    return import_network(path.read_text(encoding="utf-8"))
