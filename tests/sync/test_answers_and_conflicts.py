"""What the hub says about our requests comes back to the post: the consultant's question, the
signed conclusion with its PDF; and a patient edited at both ends is merged by one rule."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from farcare.accounts.models import User
from farcare.consults.models import Status
from farcare.consults.services import message_post
from farcare.imaging.samples import photo_jpeg
from farcare.patients.models import Patient
from farcare.patients.services import patient_update
from farcare.sync import station as sync
from farcare.sync.models import HubCopy, ItemState, OutboxItem, StationConfig
from farcare.sync.station import conclusion_pdf_name
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import feldsher, hub_consultation, hub_json, register, request

pytestmark = pytest.mark.weaklink

CONSULTANT = (
    "from farcare.audit.services import Accessor\n"
    "from farcare.consults.models import Consultation\n"
    "from farcare.consults import services\n"
    "c = Consultation.objects.get(uuid='{uuid}')\n"
    "who = c.assignments.filter(ended_at__isnull=True).first().consultant\n"
    "me = Accessor(who, '127.0.0.1', 'page')\n"
)


def test_the_consultants_question_and_signed_conclusion_come_back(
    station: StationConfig, hub: HubProcess
):
    consultation = request(register("Ответова"), form="urgent")
    sync.sync_until_done(pause=0.1)
    hub_json(
        hub,
        CONSULTANT.format(uuid=consultation.uuid)
        + "services.consult_accept(accessor=me, consultation=c)\n"
        "c.refresh_from_db()\n"
        "services.message_post(accessor=me, consultation=c, body='Какое давление?',"
        " ask_requester=True)\n"
        "result = True\n",
    )
    sync.sync_until_done(pause=0.1)
    consultation.refresh_from_db()
    assert consultation.status == Status.ON_HOLD
    copy = HubCopy.objects.get(consultation_uuid=consultation.uuid)
    assert [m["body"] for m in copy.data["messages"]] == ["Какое давление?"]
    assert copy.data["messages"][0]["asks_requester"] is True

    # The feldsher answers at the post; the answer goes with the next sync and resumes it.
    message_post(accessor=feldsher(), consultation=consultation, body="АД 90/60")
    assert OutboxItem.objects.filter(kind="message.post").count() == 1
    sync.sync_until_done(pause=0.1)
    copy.refresh_from_db()
    assert copy.data["status"] == "in-progress"
    assert [m["body"] for m in copy.data["messages"]] == ["Какое давление?", "АД 90/60"]

    hub_json(
        hub,
        CONSULTANT.format(uuid=consultation.uuid)
        + "services.conclusion_sign(accessor=me, consultation=c, data=services.ConclusionData("
        "findings='Нестабильная стенокардия', diagnoses=['I20.0'],"
        " recommendations='Аспирин 300 мг, наблюдение'))\n"
        "result = True\n",
    )
    sync.sync_until_done(pause=0.1)
    copy.refresh_from_db()
    consultation.refresh_from_db()
    assert consultation.status == Status.COMPLETED
    conclusion = copy.data["conclusion"]
    assert conclusion["findings"] == "Нестабильная стенокардия"
    assert conclusion["signature_valid"] is True
    assert conclusion["number"].startswith("ТМК-")  # the hub's document number, quoted at the post
    pdf = conclusion_pdf_name(copy.data)
    assert pdf is not None
    from django.core.files.storage import default_storage

    with default_storage.open(pdf, "rb") as handle:
        assert handle.read(5) == b"%PDF-"


def test_a_patient_edited_at_both_ends_keeps_the_hubs_value_where_both_changed_it(
    station: StationConfig, hub: HubProcess
):
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None
    # At the hub, the registry changes the phone.
    hub_json(
        hub,
        "from farcare.patients.models import Patient\n"
        f"p = Patient.objects.get(uuid='{patient.uuid}')\n"
        "p.phone = '+79140000002'\n"
        "p.save()\n"
        "result = True\n",
    )
    # At the post, with no link, the feldsher changes the phone and the patronymic.
    patient_update(
        accessor=feldsher(),
        patient=patient,
        data={"phone": "+79140000001", "middle": "Ивановна"},
        confirm_duplicate=True,
    )
    sync.sync_until_done(pause=0.1)
    at_hub = hub_json(
        hub,
        "from farcare.patients.models import Patient\n"
        "from farcare.sync.models import PatientConflict\n"
        f"p = Patient.objects.get(uuid='{patient.uuid}')\n"
        "result = {'phone': p.phone, 'middle': p.middle, 'conflicts': [\n"
        "  (c.field, c.hub_value, c.station_value) for c in p.sync_conflicts.all()]}\n",
    )
    assert at_hub == {
        "phone": "+79140000002",
        "middle": "Ивановна",
        "conflicts": [["phone", "+79140000002", "+79140000001"]],
    }
    item = OutboxItem.objects.get(kind="patient.update")
    assert item.result["conflicts"] == ["phone"]
    patient.refresh_from_db()
    assert (patient.phone, patient.middle) == ("+79140000002", "Ивановна")


def test_a_station_cannot_act_for_someone_of_another_facility(
    station: StationConfig, hub: HubProcess
):
    stranger = hub_json(
        hub,
        "from farcare.accounts.models import User\n"
        "result = str(User.objects.get(username='cardiologist').uuid)\n",
    )
    link = sync.Link(station.hub_url, station.token)
    patient = register("Чужова")
    item = OutboxItem.objects.get(patient_uuid=patient.uuid)
    answer = link.json(
        "POST",
        "/api/sync/push",
        {
            "items": [
                {
                    "id": str(item.uuid),
                    "kind": item.kind,
                    "payload": {**item.payload, "actor": stranger},
                }
            ]
        },
    )
    assert answer["results"][0]["status"] == "refused"
    assert "staff" in answer["results"][0]["message"]
    with pytest.raises(sync.HubRefused):
        sync.Link(station.hub_url, "not-a-token").json("GET", "/api/sync/pull")
    # A malformed item is refused on its own, with a reason, not a server error.
    answer = link.json(
        "POST",
        "/api/sync/push",
        {
            "items": [
                {"id": "not-a-uuid", "kind": "patient.create", "payload": {}},
                {
                    "id": str(uuid.uuid4()),
                    "kind": "patient.create",
                    "payload": {"actor": item.payload["actor"]},
                },
            ]
        },
    )
    assert [r["status"] for r in answer["results"]] == ["refused", "refused"]

    # A laptop reported stolen: the hub revokes it; what waits stays at the post, untouched.
    hub_json(
        hub,
        "from django.utils import timezone\nfrom farcare.sync.models import Station\n"
        "result = Station.objects.update(revoked_at=timezone.now())\n",
    )
    report = sync.sync_once()
    assert report.link_down
    assert OutboxItem.objects.filter(patient_uuid=patient.uuid, state="queued").exists()


def test_the_outbox_page_shows_each_items_state_and_the_link(
    station: StationConfig, link: WeakLink
):
    link.go_down()
    request(register("Страницева"))
    assert sync.sync_once().link_down
    User.objects.filter(username="feldsher").update(language="en")
    client = Client()
    # Logging in needs no link: the post's staff came down with the enrolment.
    assert client.login(username="feldsher", password="farcare-demo")
    html = client.get("/station/").content.decode()
    assert "Страницева" in html
    assert "queued" in html
    assert "down" in html
    assert "Outbox (2)" in html  # the menu counts what waits

    link.come_up()
    sync.sync_until_done(pause=0.1)
    panel = client.get("/station/panel/").content.decode()
    assert "Nothing waits: everything has reached the hub." in panel
    assert panel.count(">delivered<") == 2
    assert "measured" in panel  # the link's rate, from what it carried


def test_the_hub_shows_the_difference_until_a_clinician_settles_it(
    station: StationConfig, hub: HubProcess
):
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None
    hub_json(
        hub,
        "from farcare.patients.models import Patient\n"
        f"p = Patient.objects.get(uuid='{patient.uuid}')\n"
        "p.phone = '+79140000004'\np.save()\nresult = True\n",
    )
    patient_update(
        accessor=feldsher(), patient=patient, data={"phone": "+79140000003"}, confirm_duplicate=True
    )
    sync.sync_until_done(pause=0.1)
    page = hub_json(
        hub,
        "from django.test import Client\n"
        "from farcare.accounts.models import User\n"
        "from farcare.sync.models import PatientConflict\n"
        "c = Client(HTTP_ACCEPT_LANGUAGE='en')\n"
        "c.force_login(User.objects.get(username='doctor'))\n"
        f"html = c.get('/patients/{patient.uuid}/', HTTP_HOST='127.0.0.1').content.decode()\n"
        "conflict = PatientConflict.objects.get()\n"
        "c.post(f'/station/conflicts/{conflict.uuid}/settle/', HTTP_HOST='127.0.0.1')\n"
        "conflict.refresh_from_db()\n"
        "result = {'shown': '+79140000003' in html and 'sync-conflicts' in html,\n"
        "          'settled': conflict.resolved_at is not None}\n",
    )
    assert page == {"shown": True, "settled": True}


def test_originals_on_request_wait_until_the_consultant_asks(
    station: StationConfig, hub: HubProcess, settings: Any
):
    settings.FARCARE_STATION_ORIGINALS = "on-request"
    photo = SimpleUploadedFile("eye.jpg", photo_jpeg(1600, 1200, seed=9), "image/jpeg")
    consultation = request(register("Глазова"), form="urgent", files=[photo])
    sync.sync_until_done(pause=0.1)
    original = OutboxItem.objects.get(kind="file.original")
    preview = OutboxItem.objects.get(kind="file.preview")
    assert original.state == ItemState.ON_REQUEST
    assert preview.state == ItemState.DELIVERED
    hub_json(
        hub,
        "from farcare.consults.models import Attachment\n"
        "from farcare.consults.attachments import attachment_request_original, attachment_viewed\n"
        f"a = Attachment.objects.get(consultation__uuid='{consultation.uuid}')\n"
        "attachment_viewed(a)\nattachment_request_original(a)\nresult = True\n",
    )
    sync.sync_until_done(pause=0.1)
    original.refresh_from_db()
    preview.refresh_from_db()
    assert original.delivered_at is not None
    assert preview.state == ItemState.READ  # the consultant opened it
    assert hub_consultation(hub, consultation.uuid)["attachments"][0]["original"] is True


def test_a_colleague_disabled_at_the_hub_can_no_longer_log_in_at_the_post(
    station: StationConfig, hub: HubProcess
):
    assert Client().login(username="feldsher", password="farcare-demo")
    hub_json(
        hub,
        "from farcare.accounts.models import User\n"
        "u = User.objects.get(username='feldsher')\n"
        "u.set_password('a-new-password-for-2027')\nu.save()\nresult = True\n",
    )
    sync.sync_until_done(pause=0.1)
    assert not Client().login(username="feldsher", password="farcare-demo")
    assert Client().login(username="feldsher", password="a-new-password-for-2027")
    hub_json(
        hub,
        "from farcare.accounts.models import User\n"
        "result = User.objects.filter(username='feldsher').update(is_active=False)\n",
    )
    sync.sync_until_done(pause=0.1)
    assert not Client().login(username="feldsher", password="a-new-password-for-2027")
