"""Tests ordered at Uelen with no link cross to the hub when it returns, exactly once, with the
labels the feldsher printed; the laboratory's results come back at the next sync and show on the
station's pages, released or not; a critical potassium acknowledged at the post is acknowledged
at the hub, from when the feldsher acted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from farcare.diagnostics.models import (
    AlertStatus,
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    SpecimenStatus,
)
from farcare.diagnostics.services.ordering import order_place
from farcare.diagnostics.services.specimens import specimen_collect, specimen_ship
from farcare.patients.models import Patient
from farcare.sync import station as sync
from farcare.sync.models import ItemState, OutboxItem, StationConfig
from farcare.sync.outbox import pending
from farcare.sync.port import station_mark
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import feldsher, hub_json, register

pytestmark = pytest.mark.weaklink

BMP = "51990-0"  # basic metabolic panel: one serum tube


def order_tests(patient: Patient, *, priority: str = "stat", codes: list[str] | None = None):
    return order_place(
        accessor=feldsher(),
        patient=patient,
        category="laboratory",
        codes=codes or [BMP],
        reason="Слабость в мышцах, перебои в сердце на диуретиках",
        priority=priority,
        client_token=uuid.uuid4(),
    )


def collect_and_ship(order: DiagnosticOrder) -> None:
    tubes = list(order.specimens.all())
    for tube in tubes:
        specimen_collect(accessor=feldsher(), specimen=tube)
    specimen_ship(accessor=feldsher(), specimens=tubes, batch="UEL-7", transport="Ми-8 до Анадыря")


def hub_order(hub: HubProcess, order_uuid: Any) -> dict[str, Any] | None:
    return hub_json(
        hub,
        "from farcare.diagnostics.models import DiagnosticOrder\n"
        f"o = DiagnosticOrder.objects.filter(uuid='{order_uuid}').first()\n"
        "result = None if o is None else {\n"
        "  'placer_number': o.placer_number, 'status': o.status, 'priority': o.priority,\n"
        "  'orderer': o.orderer.username, 'performer': o.performer.name_en,\n"
        "  'count': DiagnosticOrder.objects.filter(client_token=o.client_token).count(),\n"
        "  'tubes': [{'label': s.label, 'status': s.status, 'batch': s.batch,\n"
        "     'collected_at': s.collected_at.isoformat() if s.collected_at else None}\n"
        "     for s in o.specimens.all()],\n"
        "}\n",
    )


def hub_lab_reports(
    hub: HubProcess, placer_number: str, potassium: str = "", troponin: str = ""
) -> None:
    """The laboratory in Anadyr receives the tubes and enters the results on its page: the
    metabolic panel, or a troponin (a result the orderer explains before the patient sees it)."""
    results = (
        f"ResultIn(sequence=1, code='10839-9', value='{troponin}', unit='ng/L'),"
        if troponin
        else f"ResultIn(sequence=1, code='2823-3', value='{potassium}', unit='mmol/L'),"
        "ResultIn(sequence=2, code='2951-2', value='139', unit='mmol/L'),"
    )
    code = "10839-9" if troponin else BMP
    hub.python(
        "from farcare.accounts.models import User\n"
        "from farcare.audit.services import Accessor\n"
        "from farcare.diagnostics.inbound import LabReportIn, PatientRef, ResultIn\n"
        "from farcare.diagnostics.models import DiagnosticOrder\n"
        "from farcare.diagnostics.services.results import report_receive\n"
        "from farcare.diagnostics.services.specimens import specimen_receive\n"
        "lab = Accessor(User.objects.get(username='lab.anadyr'), None, 'page')\n"
        f"o = DiagnosticOrder.objects.get(placer_number='{placer_number}')\n"
        "for s in o.specimens.all():\n"
        "    specimen_receive(accessor=lab, specimen=s)\n"
        "report_receive(accessor=lab, report=LabReportIn(\n"
        f"    patient=PatientRef(uuid=str(o.patient.uuid)), code='{code}',\n"
        "    placer_number=o.placer_number, source='page', external_id='lab-' + o.placer_number,\n"
        f"    results=({results}),\n"
        "))\n"
    )


def hub_alert(hub: HubProcess, alert_uuid: Any) -> dict[str, Any]:
    return hub_json(
        hub,
        "from farcare.diagnostics.models import CriticalAlert\n"
        f"a = CriticalAlert.objects.get(uuid='{alert_uuid}')\n"
        "result = {'status': a.status, 'by': a.acknowledged_by.username if a.acknowledged_by\n"
        "  else None, 'at': a.acknowledged_at.isoformat() if a.acknowledged_at else None,\n"
        "  'action': a.action_taken}\n",
    )


def station_client() -> Client:
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")
    return client


def test_an_order_made_offline_crosses_when_the_link_returns_with_its_labels(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    link.go_down()
    patient = register("Анализова")
    order = order_tests(patient)
    collect_and_ship(order)
    # The number the post gives carries its own mark: it never collides with the hub's.
    assert order.placer_number.startswith(f"DX-{station_mark(station.station_uuid)}-")
    assert order.performer is not None  # routed at the post, from the hub's routes
    assert [i.kind for i in pending()] == [
        "patient.create",
        "diag.order",
        "diag.specimen",
        "diag.specimen",
    ]

    assert sync.sync_once().link_down
    assert hub_order(hub, order.uuid) is None

    link.come_up()
    report = sync.sync_until_done(pause=0.1)
    assert not report.link_down and not report.refused
    at_hub = hub_order(hub, order.uuid)
    assert at_hub is not None
    assert at_hub["placer_number"] == order.placer_number
    assert at_hub["orderer"] == "feldsher"
    assert at_hub["performer"] == order.performer.name_en
    tube = order.specimens.get()
    assert at_hub["tubes"] == [
        {
            "label": tube.label,
            "status": "shipped",
            "batch": "UEL-7",
            "collected_at": tube.collected_at.isoformat() if tube.collected_at else None,
        }
    ]

    # The same records again (a push repeated after a drop): nothing is done twice.
    items = list(OutboxItem.objects.filter(kind__startswith="diag."))
    answer = sync.Link(station.hub_url, station.token).json(
        "POST",
        "/api/sync/push",
        {"items": [{"id": str(i.uuid), "kind": i.kind, "payload": i.payload} for i in items]},
    )
    assert {r["status"] for r in answer["results"]} == {"duplicate"}
    assert hub_order(hub, order.uuid)["count"] == 1  # type: ignore[index]


def test_a_stat_order_crosses_before_routine_work_queued_earlier(
    station: StationConfig, link: WeakLink
):
    link.go_down()
    routine = order_tests(register("Плановая"), priority="routine", codes=["58410-2"])
    stat = order_tests(register("Срочная"))
    queue = [(i.kind, i.patient_uuid) for i in pending()]
    assert queue[:2] == [
        ("patient.create", stat.patient.uuid),
        ("diag.order", stat.patient.uuid),
    ]
    assert queue[2:] == [
        ("patient.create", routine.patient.uuid),
        ("diag.order", routine.patient.uuid),
    ]


def test_results_reach_the_post_at_the_next_sync_and_its_acknowledgement_reaches_the_hub(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    order = order_tests(register("Калиева"))
    collect_and_ship(order)
    sync.sync_until_done(pause=0.1)
    hub_lab_reports(hub, order.placer_number, potassium="6.9")

    sync.sync_until_done(pause=0.1)
    order.refresh_from_db()
    assert order.status == "completed"
    assert order.specimens.get().status == SpecimenStatus.RECEIVED
    report = DiagnosticReport.objects.get(order=order)
    values = {v.code: str(v.value_number.normalize()) for v in report.observations.all()}
    assert values == {"2823-3": "6.9", "2951-2": "139"}
    alert = CriticalAlert.objects.get(patient=order.patient)
    assert alert.status == AlertStatus.OPEN
    assert alert.recipient is not None and alert.recipient.username == "feldsher"

    # On the station's pages, in the feldsher's language.
    client = station_client()
    results = client.get(reverse("diagnostics:patient", args=[order.patient.uuid]))
    assert results.status_code == 200
    listing = results.content.decode()
    assert "Базовая биохимическая панель" in listing and "критично" in listing
    values_page = client.get(reverse("diagnostics:report", args=[report.uuid])).content.decode()
    assert "6,9" in values_page  # a Russian decimal comma
    listed = client.get(reverse("diagnostics:orders")).content.decode()
    assert order.placer_number in listed
    page = client.get(reverse("diagnostics:alert", args=[alert.uuid]))
    assert page.status_code == 200 and "6,9" in page.content.decode()

    link.go_down()  # she acts with no link
    acted = client.post(
        reverse("diagnostics:alert", args=[alert.uuid]),
        {"action_taken": "Повторила ЭКГ, отменила калийсберегающий диуретик", "version": 1},
    )
    assert acted.status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    acknowledged_at = alert.acknowledged_at
    assert [i.kind for i in pending()] == ["diag.ack"]

    link.come_up()
    sync.sync_until_done(pause=0.1)
    at_hub = hub_alert(hub, alert.uuid)
    assert at_hub["status"] == "acknowledged"
    assert at_hub["by"] == "feldsher"
    # From when she acted, not from when it crossed.
    assert acknowledged_at is not None
    assert datetime.fromisoformat(at_hub["at"]) == acknowledged_at
    assert at_hub["action"].startswith("Повторила ЭКГ")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by is not None


def test_an_alert_acknowledged_at_both_ends_keeps_the_hubs_and_loses_nothing(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    order = order_tests(register("Дважды"))
    collect_and_ship(order)
    sync.sync_until_done(pause=0.1)
    hub_lab_reports(hub, order.placer_number, potassium="7.1")
    sync.sync_until_done(pause=0.1)
    alert = CriticalAlert.objects.get(patient=order.patient)

    link.go_down()
    # At the hub the coordinator, told on escalation, acts first ...
    hub.python(
        "from farcare.accounts.models import User\n"
        "from farcare.audit.services import Accessor\n"
        "from farcare.diagnostics.models import CriticalAlert\n"
        "from farcare.diagnostics.services.critical import critical_acknowledge\n"
        f"a = CriticalAlert.objects.get(uuid='{alert.uuid}')\n"
        "me = Accessor(User.objects.get(username='coordinator'), None, 'page')\n"
        "critical_acknowledge(accessor=me, alert=a, version=a.version,\n"
        "    action_taken='Позвонил фельдшеру по рации')\n"
    )
    # ... while the feldsher, with no link, acknowledges at the post.
    client = station_client()
    client.post(
        reverse("diagnostics:alert", args=[alert.uuid]),
        {"action_taken": "Отменила спиронолактон", "version": alert.version},
    )
    link.come_up()
    report = sync.sync_until_done(pause=0.1)
    assert not report.refused
    item = OutboxItem.objects.get(kind="diag.ack")
    assert item.state == ItemState.DELIVERED and item.result["kept"] == "hub"
    at_hub = hub_alert(hub, alert.uuid)
    assert at_hub["by"] == "coordinator"
    assert at_hub["action"] == "Позвонил фельдшеру по рации"
    # The post's action is in the hub's audit trail, with its own time.
    kept = hub_json(
        hub,
        "from farcare.audit.models import AuditEvent\n"
        f"e = [x.details for x in AuditEvent.objects.filter(record_id='{alert.uuid}')\n"
        "     if (x.details or {}).get('kept') == 'hub']\n"
        "result = e\n",
    )
    assert [d["action_taken"] for d in kept] == ["Отменила спиронолактон"]
    # The station takes the hub's acknowledgement.
    alert.refresh_from_db()
    assert alert.action_taken == "Позвонил фельдшеру по рации"
    assert alert.status == AlertStatus.ACKNOWLEDGED


def test_bad_diagnostic_pushes_are_refused_one_by_one_in_json(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    from farcare.accounts.models import User

    actor = str(User.objects.get(username="feldsher").uuid)
    now = timezone.now().isoformat()
    bad: list[dict[str, Any]] = [
        {"kind": "diag.order", "payload": {"actor": actor}},
        {"kind": "diag.order", "payload": {"actor": actor, "client_token": "not-a-uuid"}},
        {
            "kind": "diag.specimen",
            "payload": {"actor": actor, "order": str(uuid.uuid4()), "label": "X", "event": "ship"},
        },
        {
            "kind": "diag.ack",
            "payload": {"actor": actor, "alert": str(uuid.uuid4()), "acknowledged_at": now},
        },
        {"kind": "diag.ack", "payload": {"actor": actor, "alert": "x", "acknowledged_at": 5}},
        {"kind": "diag.cancel", "payload": ["not", "an", "object"]},
        {"kind": "diag.order", "payload": {"actor": str(uuid.uuid4())}},
    ]
    link_ = sync.Link(station.hub_url, station.token)
    answer = link_.request(
        "POST",
        "/api/sync/push",
        json={"items": [{"id": str(uuid.uuid4()), **item} for item in bad]},
    )
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["refused"] * len(bad)
    assert all(r["message"] for r in results)
    assert "The order is not known to the hub yet." in results[2]["message"]
    # A body that is not the API's shape is a JSON error too.
    for body in ({"items": "nope"}, {"items": [5]}):
        wrong = link_.request("POST", "/api/sync/push", json=body)
        assert wrong.status_code == 422 and "detail" in wrong.json()


def test_a_result_reviewed_at_the_post_is_released_to_the_patient_at_the_hub(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    order = order_tests(register("Тропонина"), codes=["10839-9"])
    collect_and_ship(order)
    sync.sync_until_done(pause=0.1)
    hub_lab_reports(hub, order.placer_number, troponin="12")
    sync.sync_until_done(pause=0.1)
    report = DiagnosticReport.objects.get(order=order)
    # The post sees it before the patient does: it waits for her explanation.
    assert report.review_required and report.released_at is None
    client = station_client()
    page = client.get(reverse("diagnostics:report", args=[report.uuid])).content.decode()
    assert "Тропонин I" in page

    link.go_down()
    reviewed = client.post(
        reverse("diagnostics:review", args=[report.uuid]), {"version": report.version}
    )
    assert reviewed.status_code == 302
    assert [i.kind for i in pending()] == ["diag.review"]
    link.come_up()
    sync.sync_until_done(pause=0.1)
    at_hub = hub_json(
        hub,
        "from farcare.diagnostics.models import DiagnosticReport\n"
        f"r = DiagnosticReport.objects.get(uuid='{report.uuid}')\n"
        "result = {'by': r.reviewed_by.username, 'released': r.released_at is not None}\n",
    )
    assert at_hub == {"by": "feldsher", "released": True}
