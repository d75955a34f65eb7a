"""'Who looked at my record' in plain words: the patient reads each access as a sentence in their
language, pages through them 25 at a time, and picks out a period or a kind of access."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent, Purpose
from farcare.audit.plain_words import AccessKind, kind_of
from farcare.audit.selectors import access_log
from farcare.audit.services import Accessor, audit_record

from ..conftest import logged_in, make_user
from ..factories import PatientFactory


def own_record(chain, language="en"):
    owner = make_user(Role.PATIENT, language=language)
    return owner, PatientFactory(home_facility=chain.post, user=owner)


def sentences(page):
    return [line.sentence for line in page.context["entries"]]


def log_url(patient):
    return f"/patients/{patient.uuid}/access-log/"


def test_a_refused_access_is_told_in_plain_words_with_who_and_where(chain, feldsher):
    owner, patient = own_record(chain)
    stranger = make_user(
        Role.CLINICIAN, chain.other_region_post, first_name="Пётр", last_name="Чужой"
    )
    assert logged_in(stranger).get(f"/patients/{patient.uuid}/").status_code == 403
    logged_in(feldsher).get(f"/patients/{patient.uuid}/")
    page = logged_in(owner).get(log_url(patient))
    assert sentences(page)[1:] == [
        f"{feldsher} (Requesting clinician, Uelen post) opened your record.",
        "Someone tried to open your record and was refused. "
        f"Who: Пётр Чужой (Requesting clinician, {chain.other_region_post.name}).",
    ]
    # The patient's own look at this page is listed first: every access is.
    assert sentences(page)[0] == "You opened the list of who looked at your record."
    html = page.content.decode()
    assert "Someone tried to open your record and was refused." in html
    assert 'data-kind="refused"' in html


def test_the_log_reads_in_russian_and_korean(chain, feldsher):
    owner, patient = own_record(chain, language="ru")
    logged_in(make_user(Role.CLINICIAN, chain.other_region_post)).get(f"/patients/{patient.uuid}/")
    logged_in(feldsher).get(f"/patients/{patient.uuid}/")
    html = logged_in(owner).get(log_url(patient)).content.decode()
    assert "Кто-то пытался открыть вашу медицинскую карту, но получил отказ." in html
    assert f"Вашу медицинскую карту открыл(а) {feldsher} (Запрашивающий" in html
    assert "Вы открыли список тех, кто просматривал вашу медицинскую карту." in html
    owner.language = "ko"
    owner.save()
    html = logged_in(owner).get(log_url(patient)).content.decode()
    assert "누군가 내 진료기록을 열람하려 했으나 거부되었습니다." in html
    assert "님이 내 진료기록을 열람했습니다." in html


def test_the_log_is_paged_25_at_a_time_newest_first(chain, feldsher):
    owner, patient = own_record(chain)
    for _ in range(30):
        audit_record(
            accessor=Accessor(feldsher),
            action=AuditAction.VIEW,
            patient_uuid=patient.uuid,
            record=patient,
        )
    client = logged_in(owner)
    first = client.get(log_url(patient))
    assert len(first.context["page"]) == 25
    assert first.context["page"].paginator.count == 31  # and the patient's own visit
    assert "?page=2" in first.content.decode()
    second = client.get(log_url(patient), {"page": 2})
    assert second.context["page"].paginator.count == 32  # the second visit is listed too
    assert len(second.context["page"]) == 7
    assert "?page=1" in second.content.decode()


def test_the_patient_picks_out_refusals_changes_and_emergency_access(chain, feldsher):
    owner, patient = own_record(chain)
    logged_in(feldsher).get(f"/patients/{patient.uuid}/")
    logged_in(make_user(Role.CLINICIAN, chain.other_region_post)).get(f"/patients/{patient.uuid}/")
    logged_in(feldsher).post(
        f"/patients/{patient.uuid}/consents/", {"kind": "treatment", "scope": "all care"}
    )
    doctor = make_user(Role.CLINICIAN, chain.other_region_hub, first_name="Ольга")
    logged_in(doctor).post(
        f"/access/break-glass/{patient.uuid}/",
        {"reason": "Unconscious on arrival, no one else to ask."},
    )
    logged_in(doctor).get(f"/patients/{patient.uuid}/")
    client = logged_in(owner)
    refused = sentences(client.get(log_url(patient), {"kind": "refused"}))
    assert len(refused) == 1 and refused[0].startswith("Someone tried to open your record")
    changed = sentences(client.get(log_url(patient), {"kind": "changed"}))
    assert changed == [f"{feldsher} (Requesting clinician, Uelen post) added to your record."]
    emergency = sentences(client.get(log_url(patient), {"kind": "break_glass"}))
    assert emergency[-1].endswith(
        "used emergency access to your record. Every emergency access is reviewed."
    )
    assert emergency[0].endswith("opened your record. This was emergency access; it is reviewed.")
    viewed = sentences(client.get(log_url(patient), {"kind": "viewed"}))
    assert f"{feldsher} (Requesting clinician, Uelen post) opened your record." in viewed
    assert not any("emergency" in line or "Someone" in line for line in viewed)


def test_the_patient_picks_a_period(chain, feldsher, time_machine):
    owner, patient = own_record(chain)
    time_machine.move_to(timezone.now() - timedelta(days=40))
    logged_in(feldsher).get(f"/patients/{patient.uuid}/")
    time_machine.move_to(timezone.now() + timedelta(days=40))
    client = logged_in(owner)
    visit = f"{feldsher} (Requesting clinician, Uelen post) opened your record."
    assert visit not in sentences(client.get(log_url(patient), {"period": "30"}))
    assert visit in sentences(client.get(log_url(patient), {"period": "365"}))
    assert visit in sentences(client.get(log_url(patient)))
    # Nonsense in the address is ignored, not an error.
    assert client.get(log_url(patient), {"period": "x", "kind": "y"}).status_code == 200


def test_the_filters_split_the_records_as_the_sentences_do(chain, feldsher):
    """Every record is of exactly one kind, and the database's filter agrees with kind_of."""
    _owner, patient = own_record(chain)
    for action in (AuditAction.VIEW, AuditAction.SEARCH, AuditAction.UPDATE, AuditAction.DENIED):
        for purpose in (Purpose.NORMAL, Purpose.BREAK_GLASS):
            audit_record(
                accessor=Accessor(feldsher),
                action=action,
                purpose=purpose,
                patient_uuid=patient.uuid,
            )
    everything = set(access_log(patient.uuid))
    split = {kind: set(access_log(patient.uuid, kind=kind)) for kind in AccessKind.values}
    assert set().union(*split.values()) == everything
    for kind, events in split.items():
        assert all(kind_of(e.action, e.purpose) == kind for e in events)
    assert not AuditEvent.objects.filter(Q(action=AuditAction.REVIEW)).exists()


def test_an_access_with_nobody_logged_in_says_so():
    from farcare.audit.plain_words import sentence, who_text

    nobody = who_text(name="", role="", place="")
    assert (
        sentence(
            action="denied",
            purpose="normal",
            record_type="Patient",
            who=nobody,
            by_the_patient=False,
        )
        == "Someone tried to open your record and was refused. Who: someone who was not logged in."
    )
    robot = who_text(name="", role="", place="", automatic=True)
    assert (
        sentence(
            action="update",
            purpose="normal",
            record_type="Consultation",
            who=robot,
            by_the_patient=False,
        )
        == "FarCare (automatically) changed your record."
    )
