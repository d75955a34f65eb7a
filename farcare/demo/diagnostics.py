"""Diagnostics in the demo network (issue 13): every regional hub and district hospital has a
laboratory; Chukotka's laboratory tests go to the regional hospital in Anadyr (a route), whose
radiologists also read images and which has CT; the district hospital in Lavrentiya makes
X-rays (CR/DX). A laboratory technician (`lab.anadyr`) and a radiologist
(`radiologist.anadyr`) work in Anadyr. The feldsher at Uelen has ordered a few tests: a blood
count with normal results, released to the patient; a metabolic panel with a critical
potassium, waiting for acknowledgement; a chest X-ray; a blood count still to be collected.

Loading twice changes nothing: orders are found by their client tokens, results by their
laboratory message identifiers."""

from __future__ import annotations

import uuid

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import LabReportIn, PatientRef, ResultIn
from farcare.diagnostics.models import (
    Capability,
    Category,
    DiagnosticOrder,
    PerformerRoute,
    SpecimenStatus,
)
from farcare.diagnostics.services.ordering import order_place
from farcare.diagnostics.services.results import report_receive
from farcare.diagnostics.services.specimens import (
    specimen_collect,
    specimen_receive,
    specimen_ship,
)
from farcare.network.models import Facility, FacilityKind
from farcare.patients.models import Patient

NAMESPACE = uuid.UUID("5d7c51a2-0c55-4a0e-a7a3-6b1f3f0e9d13")
LABORATORY_USER = "lab.anadyr"
RADIOLOGIST_USER = "radiologist.anadyr"
LIS = Accessor(None, None, "hl7")


def _capabilities(hub: Facility, xray: Facility) -> None:
    for facility in Facility.objects.filter(
        kind__in=(FacilityKind.REGIONAL_HUB, FacilityKind.DISTRICT_HOSPITAL), country="RU"
    ):
        Capability.objects.get_or_create(
            facility=facility, category=Category.LABORATORY, modality=""
        )
    for modality in ("CT", "DX", "CR"):
        Capability.objects.get_or_create(
            facility=hub,
            category=Category.IMAGING,
            modality=modality,
            defaults={"reads_images": True},
        )
    for modality in ("CR", "DX"):
        Capability.objects.get_or_create(
            facility=xray, category=Category.IMAGING, modality=modality
        )
    PerformerRoute.objects.get_or_create(
        region=hub.region, category=Category.LABORATORY, performer=hub, defaults={"rank": 0}
    )


def _staff(hub: Facility) -> None:
    from .loader import _account

    _account(LABORATORY_USER, Role.LABORATORY, hub, "Ирина", "Эттытваль")
    _account(RADIOLOGIST_USER, Role.RADIOLOGIST, hub, "Олег", "Ранаутагин")


def demo_order(
    name: str,
    family: str,
    codes: list[str],
    priority: str,
    category: str,
    orderer: str = "feldsher",
) -> tuple[DiagnosticOrder, bool]:
    token = uuid.uuid5(NAMESPACE, name)
    existing = DiagnosticOrder.objects.filter(client_token=token).first()
    if existing is not None:
        return existing, False
    order = order_place(
        accessor=Accessor(User.objects.get(username=orderer), None, "demo"),
        patient=Patient.objects.get(family=family),
        category=category,
        codes=codes,
        reason={
            "cbc": "Fatigue and pallor; follow-up of iron-deficiency anaemia",
            "bmp": "Palpitations and muscle weakness on diuretics",
            "cbc-waiting": "Annual check-up",
            "xray": "Cough for three weeks, fever",
            "ct": "Cough for three weeks and fever; a shadow on the chest X-ray to explain",
        }[name],
        priority=priority,
        client_token=token,
    )
    return order, True


def _to_the_laboratory(order: DiagnosticOrder) -> None:
    feldsher = Accessor(User.objects.get(username="feldsher"), None, "demo")
    laboratory = Accessor(User.objects.get(username=LABORATORY_USER), None, "demo")
    tubes = list(order.specimens.filter(status=SpecimenStatus.AWAITING))
    for tube in tubes:
        specimen_collect(accessor=feldsher, specimen=tube)
    specimen_ship(
        accessor=feldsher, specimens=tubes, batch=f"UEL-{order.pk:03d}", transport="Mi-8 to Anadyr"
    )
    for tube in tubes:
        specimen_receive(accessor=laboratory, specimen=tube)


def _results(order: DiagnosticOrder, values: list[tuple[str, str, str]], code: str) -> None:
    patient = order.patient
    report_receive(
        accessor=LIS,
        report=LabReportIn(
            patient=PatientRef(
                identifiers=(("SNILS", patient.snils),),
                family=patient.family,
                birth_date=patient.birth_date.isoformat(),
            ),
            code=code,
            placer_number=order.placer_number,
            filler_number=f"ANA-{order.pk:05d}",
            results=tuple(
                ResultIn(sequence=n, code=test, value=value, unit=unit)
                for n, (test, value, unit) in enumerate(values, start=1)
            ),
            source="hl7",
            external_id=f"DEMO-LIS-{order.placer_number}",
            sending_facility=str(order.performer.uuid) if order.performer else "",
        ),
    )


def load_diagnostics() -> None:
    hub = Facility.objects.get(settlement__name_en="Anadyr", kind=FacilityKind.REGIONAL_HUB)
    xray = Facility.objects.get(
        settlement__name_en="Lavrentiya", kind=FacilityKind.DISTRICT_HOSPITAL
    )
    _capabilities(hub, xray)
    _staff(hub)
    cbc, new = demo_order("cbc", "Рультына", ["58410-2"], "routine", Category.LABORATORY)
    if new:
        _to_the_laboratory(cbc)
        _results(
            cbc,
            [
                ("718-7", "124", "g/L"),
                ("6690-2", "6.4", "10*9/L"),
                ("777-3", "238", "10*9/L"),
                ("789-8", "4.1", "10*12/L"),
                ("4544-3", "38", "%"),
            ],
            "58410-2",
        )
    bmp, new = demo_order("bmp", "Тынетегин", ["51990-0"], "stat", Category.LABORATORY)
    if new:
        _to_the_laboratory(bmp)
        _results(
            bmp,
            [
                ("2345-7", "6.1", "mmol/L"),
                ("2160-0", "118", "umol/L"),
                ("2951-2", "134", "mmol/L"),
                ("2823-3", "6.9", "mmol/L"),  # critical: above 6.2
                ("2075-0", "99", "mmol/L"),
                ("2028-9", "21", "mmol/L"),
            ],
            "51990-0",
        )
    demo_order("xray", "Тынетегин", ["36643-5"], "urgent", Category.IMAGING)
    demo_order("cbc-waiting", "Рультына", ["58410-2"], "routine", Category.LABORATORY)
