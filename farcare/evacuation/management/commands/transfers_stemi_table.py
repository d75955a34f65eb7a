"""`farcare transfers-stemi-table`: for every feldsher post and district hospital of the network,
its nearest PCI-capable hospital, the distance, the fastest airframe of the fleet and the minutes
from the call to the hospital door, and whether that is within the STEMI window of 120 minutes
from first contact (issue 16; windows.py). From the database: the facilities, their capabilities,
the landing sites and the aircraft at their bases.

The figures are for planning, not for a patient: the table counts every airframe of the fleet
whatever its status today (a coordinator's board shows what is free), the usual one-hour dispatch
plus the positioning flight from the aircraft's base to the post (with its own refuelling stops),
and the landing sites' ground minutes. A plane is counted only where both ends have an airstrip.
A post that misses the window plans for fibrinolysis on site under teleconsultation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.evacuation.estimates import Estimate
from farcare.evacuation.geo import Point, great_circle_km
from farcare.evacuation.models import Aircraft, Airfield, Capability, FacilityCapability
from farcare.evacuation.planning import air_estimate
from farcare.evacuation.windows import Condition, advice
from farcare.network.models import Facility, FacilityKind

POST_KINDS = (FacilityKind.FELDSHER_POST, FacilityKind.DISTRICT_HOSPITAL)


@dataclass(frozen=True)
class TableRow:
    facility: Facility
    hospital: Facility | None  # None: no PCI hospital in the country
    distance_km: float
    aircraft: Aircraft | None  # None: the post is the hospital, or no airframe can fly it
    positioning_minutes: float
    estimate: Estimate | None
    total_minutes: float | None
    within_window: bool


def _point(facility: Facility) -> Point:
    return Point(facility.latitude, facility.longitude)


def network_stemi_table(country: str = "RU") -> list[TableRow]:
    """One row per post and district hospital of `country`, by region and name."""
    capable_ids = FacilityCapability.objects.filter(capability=Capability.PCI).values("facility_id")
    hospitals = list(Facility.objects.filter(pk__in=capable_ids, country=country))
    # Ties go to the first registration, so the table reads the same each time.
    fleet = list(Aircraft.objects.select_related("base").order_by("registration"))
    airfields = {a.settlement_id: a for a in Airfield.objects.all()}
    posts = Facility.objects.filter(kind__in=POST_KINDS, country=country).order_by(
        "region", "name_en"
    )
    rows: list[TableRow] = []
    for post in posts:
        here = _point(post)
        if not hospitals:
            rows.append(TableRow(post, None, 0.0, None, 0.0, None, None, False))
            continue
        hospital = min(hospitals, key=lambda h: (great_circle_km(here, _point(h)), h.name_en))
        distance = great_circle_km(here, _point(hospital))
        if hospital.settlement_id == post.settlement_id:
            rows.append(TableRow(post, hospital, distance, None, 0.0, None, 0.0, True))
            continue
        # The same estimate the transfer page shows (planning.air_estimate: positioning from
        # the base, the landing sites' ground minutes), for every airframe that can land.
        options = [
            option
            for option in (air_estimate(plane, post, hospital, airfields) for plane in fleet)
            if option is not None
        ]
        best = min(options, key=lambda option: option.estimate.total_minutes, default=None)
        if best is None:
            rows.append(TableRow(post, hospital, distance, None, 0.0, None, None, False))
            continue
        total = best.estimate.total_minutes
        within = not advice(Condition.STEMI, total, 0).exceeded
        rows.append(
            TableRow(
                post,
                hospital,
                distance,
                best.aircraft,
                best.positioning_minutes,
                best.estimate,
                total,
                within,
            )
        )
    return rows


def _hours(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole // 60} h {whole % 60:02d} min"


def render_markdown(rows: list[TableRow]) -> str:
    within = sum(1 for row in rows if row.within_window)
    lines = [
        "| Region | Post | Nearest PCI hospital | km | Aircraft (base) | Positioning, min "
        "| Total, min | Total | Within 120 min |",
        "|---|---|---|---:|---|---:|---:|---:|---|",
    ]
    for row in rows:
        if row.hospital is None:
            hospital, plane, total, shown = "—", "—", "—", "—"
        else:
            hospital = row.hospital.name_en
            plane = (
                f"{row.aircraft.registration} {row.aircraft.profile.upper()} "
                f"({row.aircraft.base.name_en})"
                if row.aircraft
                else ("on site" if row.total_minutes == 0 else "none can fly it")
            )
            total = "—" if row.total_minutes is None else f"{row.total_minutes:.0f}"
            shown = "—" if row.total_minutes is None else _hours(row.total_minutes)
        lines.append(
            f"| {row.facility.region} | {row.facility.name_en} | {hospital} "
            f"| {row.distance_km:.0f} | {plane} | {row.positioning_minutes:.0f} | {total} "
            f"| {shown} | {'yes' if row.within_window else 'no'} |"
        )
    lines.append("")
    lines.append(
        f"{within} of {len(rows)} posts and district hospitals reach a PCI hospital within "
        "120 minutes of first contact; the others plan for fibrinolysis on site under "
        "teleconsultation, then transfer."
    )
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = (
        "For every feldsher post and district hospital: the nearest PCI-capable hospital, the "
        "distance, the fastest airframe of the fleet (with its positioning flight from its base) "
        "and the minutes to the hospital door; whether it is within the STEMI window (120 min). "
        "`--output FILE` also writes the table to FILE (Markdown)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--country", default="RU")
        parser.add_argument("--output", default="", metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = network_stemi_table(options["country"])
        if not rows:
            raise CommandError("no feldsher post or district hospital in the network")
        text = render_markdown(rows)
        self.stdout.write(text, ending="")
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as out:
                out.write(text)
