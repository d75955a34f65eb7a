"""The feldsher's own pages at the post, with the link down: she logs in, registers a patient,
writes a request with vitals and a photo; all of it waits in the outbox and nothing is lost."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from farcare.accounts.models import User
from farcare.consults.models import Consultation, Status
from farcare.imaging.samples import photo_jpeg
from farcare.patients.models import Patient
from farcare.sync import station as sync
from farcare.sync.models import StationConfig
from farcare.sync.outbox import pending
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import hub_consultation

pytestmark = pytest.mark.weaklink


def test_a_whole_request_made_on_the_pages_with_no_link(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    link.go_down()
    user = User.objects.get(username="feldsher")
    User.objects.filter(pk=user.pk).update(language="en")
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")

    facility = station.facility
    answer = client.post(
        "/patients/register/",
        {
            "family": "Страничная",
            "given": "Вера",
            "middle": "",
            "sex": "female",
            "birth_date": "1991-07-03",
            "home_settlement": str(facility.settlement.uuid),
            "home_facility": str(facility.uuid),
            "snils": "",
            "oms_policy": "",
            "phone": "",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    patient = Patient.objects.get(family="Страничная")

    photo = SimpleUploadedFile("rash.jpg", photo_jpeg(1600, 1200, seed=13), "image/jpeg")
    answer = client.post(
        f"/consultations/new/{patient.uuid}/",
        {
            "client_token": str(uuid.uuid4()),
            "specialty": "dermatology",
            "form": "urgent",
            "mode": "deferred",
            "consilium_size": "2",
            "request_language": "ru",
            "question": "Сыпь на груди третий день, температура 38,4",
            "summary": "",
            "vital_respiratory_rate": "20",
            "vital_heart_rate": "104",
            "vital_temperature": "38,4",
            # An urgent request without every NEWS2 reading says why (no pulse oximeter here).
            "vitals_missing": "no_equipment",
            "attachments": photo,
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    consultation = Consultation.objects.get(patient=patient)
    assert consultation.status == Status.REQUESTED
    case = client.get(f"/consultations/{consultation.uuid}/").content.decode()
    assert 'data-testid="delivery"' in case  # how far each part has got
    assert "queued" in case
    assert [i.kind for i in pending()] == [
        "patient.create",
        "consult.submit",
        "file.preview",
        "file.original",
    ]

    link.come_up()
    sync.sync_until_done(pause=0.1)
    at_hub = hub_consultation(hub, consultation.uuid)
    assert at_hub["question"] == "Сыпь на груди третий день, температура 38,4"
    assert at_hub["vitals"]["temperature"] == "38.4"
    assert at_hub["attachments"][0]["original"] is True
    case = client.get(f"/consultations/{consultation.uuid}/").content.decode()
    assert "delivered" in case
    assert "At the hub" in case
