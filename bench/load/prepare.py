"""The load test's data, made in the server's own settings (a separate process, started by
bench/load_test.py with the server's environment, after `ProductionServer.prepare` migrated and
loaded the demo network): a volume of patients, the FHIR system client's token and the enrolled
stations; then the plan the locust process reads (who logs in, which patients each can open, the
stations' tokens) as JSON on the path given.

    python bench/load/prepare.py PLAN.json --stations 500 --patients 10000

Stations are made as `sync.hub.station_enrol` makes them (a Station row holding the digest of a
fresh token, enrolled by a clinician of its facility) without 500 password checks and reference
downloads: enrolment is once in a station's life, not part of its steady load.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

SEED = 20_250_519
PER_USER_PATIENTS = 40  # patients each page user (or station) picks from
FHIR_SAMPLE = 2_000  # patients (with their SNILS) the FHIR clients pick from


def setup() -> None:
    import django

    django.setup()


def add_volume(patients: int) -> dict[str, Any]:
    """Patients up to ``patients`` (bench/fhir_throughput.py's generator) and the FHIR
    system client with its bearer token."""
    from django.db import connection
    from fhir_throughput import NAME_PREFIXES, accounts_and_refs, add_patients

    from farcare.patients.models import Patient

    refs = accounts_and_refs()
    missing = patients - Patient.objects.count()
    if missing > 0:
        add_patients(refs, random.Random(SEED), missing)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    rows = list(
        Patient.objects.exclude(snils="").order_by("?").values_list("uuid", "snils")[:FHIR_SAMPLE]
    )
    return {
        "token": refs.system_token,
        "patients": [str(u) for u, _s in rows],
        "snils": [s for _u, s in rows],
        "organisations": refs.organisations,
        "name_prefixes": NAME_PREFIXES,
    }


def _uuids(queryset: Any) -> list[str]:
    return [
        str(u) for u in queryset.order_by("?").values_list("uuid", flat=True)[:PER_USER_PATIENTS]
    ]


def page_users() -> dict[str, list[dict[str, Any]]]:
    """Requesting clinicians (feldshers and district doctors) with patients they may open;
    consultants by name (they find their cases on their worklist)."""
    from farcare.access.policy import is_abroad, visible_patients
    from farcare.accounts.models import Role, User

    clinicians = [
        {"username": user.username, "patients": _uuids(visible_patients(user))}
        for user in User.objects.filter(role=Role.CLINICIAN, is_active=True)
        .exclude(facility=None)
        .select_related("facility")
        .order_by("username")
        if not is_abroad(user)
    ]
    consultants = [
        {"username": username}
        for username in User.objects.filter(role=Role.CONSULTANT, is_active=True)
        .order_by("username")
        .values_list("username", flat=True)
    ]
    return {"clinicians": [c for c in clinicians if c["patients"]], "consultants": consultants}


def enrol_stations(count: int) -> list[dict[str, Any]]:
    """``count`` stations spread over the posts and district hospitals that have a clinician,
    each with what it pushes: its actor, patients and the home settlement of a new patient,
    and a blood-pressure enrolment where its post monitors one."""
    from farcare.access.policy import is_abroad, station_patients
    from farcare.accounts.models import Role, User
    from farcare.core.bearer import new_token, token_digest
    from farcare.monitoring.models import Enrolment, EnrolmentStatus
    from farcare.sync.models import Station

    clinicians = [
        user
        for user in User.objects.filter(role=Role.CLINICIAN, is_active=True)
        .exclude(facility=None)
        .select_related("facility__settlement")
        .order_by("username")
        if not is_abroad(user)
    ]
    posts: dict[int, dict[str, Any]] = {}
    for user in clinicians:
        facility = user.facility
        assert facility is not None
        if facility.pk in posts:
            continue
        patients = station_patients(facility)
        posts[facility.pk] = {
            "facility": facility,
            "actor": user,
            "patients": _uuids(patients),
            "settlement": str(facility.settlement.uuid),
            "facility_uuid": str(facility.uuid),
            "monitored": [
                str(u)
                for u in Enrolment.objects.filter(
                    patient__in=patients, status=EnrolmentStatus.ACTIVE, programme="hypertension"
                ).values_list("patient__uuid", flat=True)[:PER_USER_PATIENTS]
            ],
        }
    stations = []
    rows = []
    places = list(posts.values())
    for number in range(count):
        place = places[number % len(places)]
        token = new_token()
        rows.append(
            Station(
                name=f"load-test station {number + 1}",
                facility=place["facility"],
                token_hash=token_digest(token),
                enrolled_by=place["actor"],
            )
        )
        stations.append(
            {
                "token": token,
                "actor": str(place["actor"].uuid),
                "patients": place["patients"],
                "settlement": place["settlement"],
                "facility": place["facility_uuid"],
                "monitored": place["monitored"],
            }
        )
    Station.objects.bulk_create(rows)
    return stations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--patients", type=int, default=10_000)
    args = parser.parse_args()
    started = time.monotonic()
    setup()
    plan = {
        "password": "farcare-demo",
        "fhir": add_volume(args.patients),
        **page_users(),
        "stations": enrol_stations(args.stations),
    }
    args.plan.write_text(json.dumps(plan, ensure_ascii=False))
    from farcare.patients.models import Patient

    print(
        f"{Patient.objects.count()} patients, {len(plan['stations'])} stations "
        f"({time.monotonic() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
