"""A feldsher at Uelen with no link enters a home blood pressure for a woman followed for
hypertension: it waits in the station's outbox, crosses when the link returns, is stored at the
hub once (a push repeated, or the same reading pushed again from a restored laptop, changes
nothing) and is evaluated there, where the responsible clinicians are alerted.

And the other way: the district doctor enrols her at the hub and her SMS readings arrive there;
after a sync the laptop at the post shows her monitoring page — the programme, the SMS reading,
later the hub's alert — and the feldsher adds a reading on it with no link."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from farcare.monitoring.measures import Code
from farcare.monitoring.models import (
    AlertStatus,
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ProgrammeChoice,
    ReadingSource,
)
from farcare.monitoring.services.readings import ReadingIn, reading_record
from farcare.sync import station as sync
from farcare.sync.models import OutboxItem, StationConfig
from farcare.sync.outbox import pending
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import feldsher, hub_json, register

pytestmark = pytest.mark.weaklink


def hub_enrol(hub: HubProcess, patient_uuid: Any) -> None:
    """The district doctor enrols her at the hub after her visit (the post's station has no
    plan to evaluate: the hub does it)."""
    hub.python(
        "import datetime\n"
        "from farcare.accounts.models import User\n"
        "from farcare.audit.services import Accessor\n"
        "from farcare.monitoring.services.enrolment import enrol\n"
        "from farcare.patients.models import Patient\n"
        "doctor = User.objects.get(username='doctor')\n"
        "yesterday_utc = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)\n"
        "enrol(accessor=Accessor(doctor, None, 'page'),\n"
        f"      patient=Patient.objects.get(uuid='{patient_uuid}'), programme='hypertension',\n"
        "      responsible_feldsher=User.objects.get(username='feldsher'),\n"
        "      responsible_doctor=doctor, in_person_visit_on=yesterday_utc)\n"
    )


def hub_readings(hub: HubProcess, patient_uuid: Any) -> dict[str, Any]:
    return hub_json(
        hub,
        "from farcare.monitoring.models import HomeReading, MonitoringAlert\n"
        f"rs = HomeReading.objects.filter(patient__uuid='{patient_uuid}')\n"
        "result = {\n"
        "  'readings': [{'code': r.code, 'value': str(r.value), 'value_2': str(r.value_2),\n"
        "     'source': r.source, 'source_id': r.source_id, 'by': r.entered_by.username\n"
        "     if r.entered_by else None, 'taken_at': r.taken_at.isoformat()} for r in rs],\n"
        "  'alerts': [{'measure': a.measure, 'severity': a.severity, 'recipient':\n"
        "     a.recipient.username} for a in MonitoringAlert.objects.filter(\n"
        f"     patient__uuid='{patient_uuid}')],\n"
        "}\n",
    )


def test_a_reading_entered_offline_at_the_post_crosses_once_and_alerts_at_the_hub(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    patient = register("Давлёнова")
    sync.sync_until_done(pause=0.1)
    hub_enrol(hub, patient.uuid)

    link.go_down()
    result = reading_record(
        accessor=feldsher(),
        patient=patient,
        readings=[ReadingIn(code=Code.BP_PANEL.value, value=Decimal(190), value_2=Decimal(115))],
        source=ReadingSource.STATION,
    )
    reading = result.readings[0]
    assert [i.kind for i in pending()] == ["monitoring.reading"]
    assert sync.sync_once().link_down
    assert hub_readings(hub, patient.uuid)["readings"] == []

    link.come_up()
    report = sync.sync_until_done(pause=0.1)
    assert not report.link_down and not report.refused
    at_hub = hub_readings(hub, patient.uuid)
    assert at_hub["readings"] == [
        {
            "code": Code.BP_PANEL.value,
            "value": "190.00",
            "value_2": "115.00",
            "source": "station",
            "source_id": f"station:{reading.uuid}",
            "by": "feldsher",
            "taken_at": reading.taken_at.isoformat(),
        }
    ]
    # Evaluated at the hub against her plan: 190/115 is over 180/110 at once.
    [alert] = at_hub["alerts"]
    assert (alert["measure"], alert["severity"]) == (Code.BP_PANEL.value, "urgent")
    assert alert["recipient"] in {"feldsher", "doctor"}

    # The same record pushed again (an answer lost on the way back): nothing done twice.
    item = OutboxItem.objects.get(kind="monitoring.reading")
    link_to_hub = sync.Link(station.hub_url, station.token)
    answer = link_to_hub.json(
        "POST",
        "/api/sync/push",
        {"items": [{"id": str(item.uuid), "kind": item.kind, "payload": item.payload}]},
    )
    assert [r["status"] for r in answer["results"]] == ["duplicate"]
    # The same reading under a new record id (a laptop restored from a backup): stored once.
    answer = link_to_hub.json(
        "POST",
        "/api/sync/push",
        {"items": [{"id": str(uuid.uuid4()), "kind": item.kind, "payload": item.payload}]},
    )
    assert [r["status"] for r in answer["results"]] == ["applied"]
    assert answer["results"][0]["result"]["duplicate"] is True
    at_hub = hub_readings(hub, patient.uuid)
    assert len(at_hub["readings"]) == 1
    assert len(at_hub["alerts"]) == 1


def test_a_reading_at_the_hub_itself_is_not_queued(db: None, demo_network: None):
    """Only a station queues: the hub's own writes are where they belong."""
    patient = register("Пульсова")
    reading_record(
        accessor=feldsher(),
        patient=patient,
        readings=[ReadingIn(code=Code.HEART_RATE.value, value=Decimal(72))],
        source=ReadingSource.CLINICIAN,
    )
    assert not OutboxItem.objects.exists()


def hub_sms(hub: HubProcess, patient_uuid: Any) -> None:
    """Her phone is registered for readings at the hub and she sends her morning pressure."""
    hub.python(
        "from farcare.accounts.models import User\n"
        "from farcare.audit.services import Accessor\n"
        "from farcare.monitoring.services.enrolment import phone_register\n"
        "from farcare.monitoring.sms_inbound import sms_receive\n"
        "from farcare.patients.models import Patient\n"
        "doctor = User.objects.get(username='doctor')\n"
        f"p = Patient.objects.get(uuid='{patient_uuid}')\n"
        "phone_register(accessor=Accessor(doctor, None, 'page'), patient=p,\n"
        "               number='8 914 555-01-17')\n"
        "m = sms_receive(gateway_id='gw-1', sender='+79145550117', text='АД 150/95 П 88')\n"
        "assert m.outcome == 'accepted', m.outcome\n"
    )


def hub_end(hub: HubProcess, enrolment_uuid: Any) -> None:
    hub.python(
        "from farcare.accounts.models import User\n"
        "from farcare.audit.services import Accessor\n"
        "from farcare.monitoring.models import Enrolment\n"
        "from farcare.monitoring.services.enrolment import enrolment_end\n"
        "enrolment_end(accessor=Accessor(User.objects.get(username='doctor'), None, 'page'),\n"
        f"    enrolment=Enrolment.objects.get(uuid='{enrolment_uuid}'),\n"
        "    reason='Moved to Anadyr')\n"
    )


def feldsher_at_post() -> Client:
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")
    return client


def shown(page: str, choice: Any) -> str:
    """A choice's name in the language the page is in (the feldsher's)."""
    found = re.search(r'<html lang="([^"]+)"', page)
    with translation.override(found.group(1) if found else "en"):
        return str(choice.label)


def test_the_post_follows_a_person_enrolled_at_the_hub_and_adds_a_reading_offline(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    patient = register("Тонометрова")
    sync.sync_until_done(pause=0.1)
    hub_enrol(hub, patient.uuid)
    hub_sms(hub, patient.uuid)
    # Made at the hub: nothing of it at the post before a sync (the demo's own people came down).
    assert not Enrolment.objects.filter(patient=patient).exists()

    report = sync.sync_until_done(pause=0.1)
    assert not report.link_down and not report.refused
    enrolment = Enrolment.objects.get(patient=patient)
    assert enrolment.programme == ProgrammeChoice.HYPERTENSION
    assert enrolment.responsible_feldsher.username == "feldsher"
    assert enrolment.responsible_doctor.username == "doctor"
    assert enrolment.plan and enrolment.last_reading_at is not None
    page = feldsher_at_post().get(f"/monitoring/{enrolment.uuid}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert shown(text, ProgrammeChoice.HYPERTENSION) in text
    assert "150/95" in text and shown(text, ReadingSource.SMS) in text  # from her phone
    assert 'data-testid="add-reading"' in text and 'data-testid="station-note"' in text
    from_phone = HomeReading.objects.filter(patient=patient)
    assert sorted(r.code for r in from_phone) == sorted([Code.BP_PANEL, Code.HEART_RATE])
    # The SMS itself (her number, its text) stays at the hub.
    assert {(r.source, r.sms) for r in from_phone} == {(ReadingSource.SMS, None)}

    # No link: the feldsher measures 190/115 at the post and types it on the page.
    link.go_down()
    answer = feldsher_at_post().post(
        f"/monitoring/{enrolment.uuid}/reading/", {"r-systolic": "190", "r-diastolic": "115"}
    )
    assert answer.status_code == 302, answer.content.decode()
    own = HomeReading.objects.get(patient=patient, source=ReadingSource.STATION)
    assert [i.kind for i in pending()] == ["monitoring.reading"]
    assert not MonitoringAlert.objects.filter(patient=patient).exists()  # the hub raises them
    assert sync.sync_once().link_down

    link.come_up()
    report = sync.sync_until_done(pause=0.1)
    assert not report.link_down and not report.refused
    at_hub = hub_readings(hub, patient.uuid)
    assert [r["source_id"] for r in at_hub["readings"] if r["source"] == "station"] == [
        f"station:{own.uuid}"
    ]
    [hub_alert] = at_hub["alerts"]
    assert (hub_alert["measure"], hub_alert["severity"]) == (Code.BP_PANEL.value, "urgent")

    # The hub's answer came down: its alert is at the post, her reading is there once (ours).
    sync.sync_until_done(pause=0.1)
    [alert] = MonitoringAlert.objects.filter(patient=patient)
    assert alert.status == AlertStatus.OPEN and alert.recipient.username == hub_alert["recipient"]
    assert list(alert.readings.all()) == [own]
    assert sorted(HomeReading.objects.filter(patient=patient).values_list("source", flat=True)) == [
        ReadingSource.SMS,
        ReadingSource.SMS,
        ReadingSource.STATION,
    ]
    text = feldsher_at_post().get(f"/monitoring/{enrolment.uuid}/").content.decode()
    assert 'data-testid="alerts"' in text and f"/monitoring/alerts/{alert.uuid}/" in text
    assert text.count("190/115") == 1
    assert feldsher_at_post().get(f"/monitoring/alerts/{alert.uuid}/").status_code == 200

    # She moves away: the doctor ends the monitoring at the hub; the post sees it ended.
    hub_end(hub, enrolment.uuid)
    sync.sync_until_done(pause=0.1)
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ENDED and enrolment.end_reason == "Moved to Anadyr"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED
    text = feldsher_at_post().get(f"/monitoring/{enrolment.uuid}/").content.decode()
    assert shown(text, EnrolmentStatus.ENDED) in text
    assert 'data-testid="add-reading"' not in text
    assert HomeReading.objects.filter(patient=patient).count() == 3
