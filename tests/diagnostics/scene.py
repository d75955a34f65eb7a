"""A small diagnostics network for the domain tests of diagnostics: the Chukotka chain of
tests/conftest.py with a laboratory at the district hospital and the regional hub, X-ray at
the district hospital, CT and image reading at the hub; a feldsher at the post who orders,
the district doctor, the region's coordinator, laboratory staff and a patient with an account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import LabReportIn, PatientRef, ResultIn
from farcare.diagnostics.models import Capability, Category, DiagnosticOrder
from farcare.diagnostics.services.ordering import order_place
from farcare.notifications.models import Notification
from farcare.patients.models import Patient

from ..conftest import Chain, make_user
from ..factories import PatientFactory


@dataclass
class Scene:
    chain: Chain
    feldsher: User
    district_doctor: User
    coordinator: User
    district_lab: User
    hub_lab: User
    patient: Patient
    patient_user: User

    def order(self, codes: list[str], *, priority: str = "routine", **kwargs) -> DiagnosticOrder:
        category = kwargs.pop("category", Category.LABORATORY)
        return order_place(
            accessor=Accessor(kwargs.pop("user", self.feldsher), "127.0.0.1"),
            patient=kwargs.pop("patient", self.patient),
            category=category,
            codes=codes,
            reason=kwargs.pop("reason", "Weakness and palpitations for two days"),
            priority=priority,
            client_token=kwargs.pop("client_token", uuid.uuid4()),
            **kwargs,
        )

    def ref(self, **overrides) -> PatientRef:
        fields = {
            "identifiers": (("SNILS", self.patient.snils),),
            "family": self.patient.family,
            "birth_date": self.patient.birth_date.isoformat(),
            "sex": "F",
        }
        fields.update(overrides)
        return PatientRef(**fields)

    def bmp(
        self,
        order: DiagnosticOrder | None,
        *,
        potassium: str = "4.2",
        status: str = "F",
        external_id: str = "LIS-1",
        flags: tuple[str, ...] = (),
        **overrides,
    ) -> LabReportIn:
        """A basic metabolic panel as a laboratory system sends it (one OBR, six OBX)."""
        values = (
            ("2345-7", "5.0", "mmol/L"),
            ("2160-0", "70", "umol/L"),
            ("2951-2", "140", "mmol/L"),
            ("2823-3", potassium, "mmol/L"),
            ("2075-0", "101", "mmol/L"),
            ("2028-9", "25", "mmol/L"),
        )
        fields = {
            "patient": self.ref(),
            "code": "51990-0",
            "placer_number": order.placer_number if order else "",
            "filler_number": "F-77",
            "status": status,
            "issued_at": None,
            "results": tuple(
                ResultIn(
                    sequence=n,
                    code=code,
                    value=value,
                    unit=unit,
                    status=status,
                    flags=flags if code == "2823-3" else (),
                )
                for n, (code, value, unit) in enumerate(values, start=1)
            ),
            "source": "hl7",
            "external_id": external_id,
        }
        fields.update(overrides)
        return LabReportIn(**fields)

    def notifications(self, user: User, event: str) -> list[Notification]:
        return list(Notification.objects.filter(recipient=user, event=event).order_by("pk"))


def make_scene(chain: Chain) -> Scene:
    for facility in (chain.district, chain.hub):
        Capability.objects.create(facility=facility, category=Category.LABORATORY)
    Capability.objects.create(facility=chain.district, category=Category.IMAGING, modality="DX")
    Capability.objects.create(
        facility=chain.hub, category=Category.IMAGING, modality="CT", reads_images=True
    )
    patient_user = make_user(Role.PATIENT, None, language="en")
    patient = PatientFactory(
        home_facility=chain.post,
        sex="female",
        family="Рультына",
        birth_date=date(1980, 5, 17),
        user=patient_user,
    )
    return Scene(
        chain=chain,
        feldsher=make_user(Role.CLINICIAN, chain.post, language="en"),
        district_doctor=make_user(Role.CLINICIAN, chain.district, language="en"),
        coordinator=make_user(Role.COORDINATOR, chain.hub, language="en"),
        district_lab=make_user(Role.LABORATORY, chain.district, language="en"),
        hub_lab=make_user(Role.LABORATORY, chain.hub, language="en"),
        patient=patient,
        patient_user=patient_user,
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def dec(text: str) -> Decimal:
    return Decimal(text)
