"""The monitoring pages as the people who use them: the Uelen feldsher enrols Ivan in the
hypertension programme after a visit, types a pressure of 182/112 at the post, and the district
doctor finds him at the top of the risk list with the alert, acknowledges it or asks for a
teleconsultation with the trend in the question. Ivan sends his own readings from his phone and
reads his state in plain words. A feldsher of another post and a consultant abroad are refused,
and the refusals are in the audit trail; bad input comes back in Russian, never as a 500; the
pages stay light enough for 64 kbit/s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation
from farcare.monitoring.models import (
    AlertStatus,
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ReadingSource,
)
from farcare.monitoring.services import enrolment as enrolment_services
from farcare.monitoring.services import readings as reading_services
from farcare.monitoring.services.readings import ReadingIn
from farcare.network.models import FacilityKind
from farcare.patients.models import Patient

from ..conftest import Chain, logged_in, make_user
from ..factories import FacilityFactory, PatientFactory, SpecialtyFactory

PAGE_LIMIT = 40 * 1024


@dataclass
class Post:
    chain: Chain
    feldsher: User
    doctor: User
    other_feldsher: User
    patient: Patient

    def enrol(self, patient: Patient | None = None) -> Enrolment:
        return enrolment_services.enrol(
            accessor=Accessor(self.feldsher),
            patient=patient or self.patient,
            programme="hypertension",
            responsible_feldsher=self.feldsher,
            responsible_doctor=self.doctor,
            in_person_visit_on=timezone.localdate() - timedelta(days=1),
        )

    def reading(self, systolic: int, diastolic: int, hours_ago: float = 0) -> None:
        reading_services.reading_record(
            accessor=Accessor(self.feldsher),
            patient=self.patient,
            readings=[
                ReadingIn(
                    code="85354-9",
                    value=Decimal(systolic),
                    value_2=Decimal(diastolic),
                    taken_at=timezone.now() - timedelta(hours=hours_ago),
                )
            ],
            source=ReadingSource.CLINICIAN,
        )


@pytest.fixture
def post(chain: Chain) -> Post:
    return Post(
        chain=chain,
        feldsher=make_user(Role.CLINICIAN, chain.post, username="feldsher_uelen", language="en"),
        doctor=make_user(Role.CLINICIAN, chain.district, username="doctor_lavrentiya"),
        other_feldsher=make_user(
            Role.CLINICIAN, chain.other_region_post, username="feldsher_sakha"
        ),
        patient=PatientFactory(home_facility=chain.post, family="Рультытегин", given="Иван"),
    )


def test_the_feldsher_enrols_a_patient_with_the_programmes_figures_prefilled(post: Post) -> None:
    client = logged_in(post.feldsher)
    chooser = client.get(f"/monitoring/enrol/{post.patient.uuid}/")
    assert chooser.status_code == 200 and b"hypertension" in chooser.content
    form = client.get(f"/monitoring/enrol/{post.patient.uuid}/?programme=hypertension")
    assert form.status_code == 200
    page = form.content.decode()
    assert 'name="plan-th_0_0"' in page and 'name="targets-t_8480-6_high"' in page
    assert 'value="135"' in page  # the template's target, prefilled
    answer = client.post(
        f"/monitoring/enrol/{post.patient.uuid}/",
        {
            "programme": "hypertension",
            "responsible_feldsher": str(post.feldsher.pk),
            "responsible_doctor": str(post.doctor.pk),
            "in_person_visit_on": (timezone.localdate() - timedelta(days=2)).isoformat(),
            "phone": "8 914 123-45-67",
            "phone_language": "ru",
            **{k: v for k, v in _prefilled(page).items() if k.startswith(("plan-", "targets-"))},
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    enrolment = Enrolment.objects.get(patient=post.patient)
    assert enrolment.responsible_doctor == post.doctor
    assert enrolment.targets["8480-6"]["high"] == "135"
    assert post.patient.reading_phones.get().number == "+79141234567"
    assert answer["Location"] == f"/monitoring/{enrolment.uuid}/"
    # The patient's page shows the enrolment.
    record = client.get(f"/patients/{post.patient.uuid}/")
    assert b'data-testid="patient-monitoring"' in record.content


def _prefilled(page: str) -> dict[str, str]:
    import re

    return dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', page))


def test_bad_input_on_the_enrolment_form_is_explained_in_russian(post: Post) -> None:
    client = logged_in(post.feldsher, "ru")
    post.feldsher.language = "ru"
    post.feldsher.save()
    client = logged_in(post.feldsher, "ru")
    answer = client.post(
        f"/monitoring/enrol/{post.patient.uuid}/",
        {
            "programme": "hypertension",
            "responsible_feldsher": str(post.feldsher.pk),
            "responsible_doctor": str(post.doctor.pk),
            "in_person_visit_on": "31.02.2026",
            "plan-th_0_0": "сто",
        },
    )
    assert answer.status_code == 400
    text = answer.content.decode()
    assert 'data-testid="error-summary"' in text
    assert "Введите число" in text or "число" in text
    assert not Enrolment.objects.exists()


def test_the_feldsher_enters_a_high_pressure_and_the_doctor_sees_it_at_the_top(post: Post) -> None:
    calm = PatientFactory(home_facility=post.chain.post, family="Спокойный", given="Пётр")
    post.enrol(calm)
    enrolment = post.enrol()
    feldsher = logged_in(post.feldsher)
    page = feldsher.get(f"/monitoring/{enrolment.uuid}/")
    assert page.status_code == 200 and b'data-testid="add-reading"' in page.content
    answer = feldsher.post(
        f"/monitoring/{enrolment.uuid}/reading/",
        {"r-systolic": "182", "r-diastolic": "112", "r-pulse": "88"},
    )
    assert answer.status_code == 302
    assert HomeReading.objects.filter(patient=post.patient, source="clinician").count() == 2
    alert = MonitoringAlert.objects.get(enrolment=enrolment)
    page = feldsher.get(f"/monitoring/{enrolment.uuid}/")
    assert b'data-band="systolic"' in page.content and b'data-points="systolic"' in page.content
    assert len(page.content) < PAGE_LIMIT

    doctor = logged_in(post.doctor)
    listing = doctor.get("/monitoring/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert text.index("Рультытегин") < text.index("Спокойный")
    assert "182/112" in text
    assert len(listing.content) < PAGE_LIMIT
    shown = AuditEvent.objects.filter(action="search", actor_username=post.doctor.username).latest(
        "id"
    )
    assert str(post.patient.uuid) in shown.details["patients_shown"]

    inbox = doctor.get("/monitoring/alerts/")
    assert str(alert.uuid) in inbox.content.decode()
    alert_page = doctor.get(f"/monitoring/alerts/{alert.uuid}/")
    assert alert_page.status_code == 200
    assert b'data-testid="request-consultation"' in alert_page.content
    assert b"<svg" in alert_page.content and len(alert_page.content) < PAGE_LIMIT
    refused = doctor.post(f"/monitoring/alerts/{alert.uuid}/acknowledge/", {"note": ""})
    assert refused.status_code == 400 and b"error-summary" in refused.content
    done = doctor.post(
        f"/monitoring/alerts/{alert.uuid}/acknowledge/",
        {"note": "Called him: amlodipine doubled, recheck tonight", "version": alert.version},
    )
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED


def test_one_button_opens_the_teleconsultation_request_with_the_trend(post: Post) -> None:
    SpecialtyFactory(code="cardiology", name_en="Cardiology")
    enrolment = post.enrol()
    post.reading(150, 95, hours_ago=20)
    post.reading(185, 115)
    alert = MonitoringAlert.objects.filter(enrolment=enrolment).first()
    assert alert is not None
    answer = logged_in(post.doctor).post(f"/monitoring/alerts/{alert.uuid}/consultation/")
    assert answer.status_code == 302
    draft = Consultation.objects.get(patient=post.patient)
    assert answer["Location"].endswith(f"?draft={draft.uuid}")
    assert "185" in draft.question and "Рультытегин" not in draft.question


def test_bad_readings_come_back_in_russian_and_nothing_is_stored(post: Post) -> None:
    enrolment = post.enrol()
    post.feldsher.language = "ru"
    post.feldsher.save()
    client = logged_in(post.feldsher, "ru")
    answer = client.post(
        f"/monitoring/{enrolment.uuid}/reading/",
        {"r-systolic": "80", "r-diastolic": "120", "r-pulse": "9000"},
    )
    assert answer.status_code == 400
    text = answer.content.decode()
    assert "Верхнее число должно быть больше нижнего." in text
    assert "Такого значения не может быть" in text
    empty = client.post(f"/monitoring/{enrolment.uuid}/reading/", {"r-pulse": ""})
    assert empty.status_code == 400 and "Введите хотя бы одно измерение." in empty.content.decode()
    assert not HomeReading.objects.exists()


def test_a_feldsher_of_another_post_is_refused_and_the_refusal_is_audited(post: Post) -> None:
    enrolment = post.enrol()
    client = logged_in(post.other_feldsher)
    assert client.get(f"/monitoring/{enrolment.uuid}/").status_code == 403
    assert (
        client.post(f"/monitoring/{enrolment.uuid}/reading/", {"r-pulse": "70"}).status_code == 403
    )
    assert client.get(f"/monitoring/enrol/{post.patient.uuid}/").status_code == 403
    refused = AuditEvent.objects.filter(
        actor_username=post.other_feldsher.username,
        patient_uuid=post.patient.uuid,
        outcome="denied",
    )
    assert refused.count() >= 2
    assert not HomeReading.objects.exists()
    listing = client.get("/monitoring/")
    assert listing.status_code == 200 and "Рультытегин" not in listing.content.decode()


def test_a_consultant_abroad_gets_no_list_and_no_page(post: Post) -> None:
    enrolment = post.enrol()
    post.reading(182, 112)
    alert = MonitoringAlert.objects.get(enrolment=enrolment)
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, region="Korea", country="KR", time_zone="Asia/Seoul"
    )
    abroad = logged_in(make_user(Role.CONSULTANT, partner))
    for url in (
        "/monitoring/",
        "/monitoring/alerts/",
        f"/monitoring/{enrolment.uuid}/",
        f"/monitoring/alerts/{alert.uuid}/",
    ):
        answer = abroad.get(url)
        assert answer.status_code == 403, url
        assert "Рультытегин" not in answer.content.decode()


def test_the_patient_sends_a_reading_and_reads_their_state_in_plain_words(post: Post) -> None:
    post.enrol()
    person = make_user(Role.PATIENT, None, language="ru")
    post.patient.user = person
    post.patient.save()
    client = logged_in(person, "ru")
    page = client.get("/my/readings/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'inputmode="decimal"' in text and "r-systolic" in text
    bad = client.post("/my/readings/", {"r-systolic": "150"})
    assert bad.status_code == 400 and "Введите оба числа давления." in bad.content.decode()
    sent = client.post("/my/readings/", {"r-systolic": "150", "r-diastolic": "95"})
    assert sent.status_code == 302
    mine = client.get("/my/readings/").content.decode()
    assert "Выше цели, которую поставил ваш врач." in mine
    assert 'data-band="systolic"' in mine
    assert len(mine.encode()) < PAGE_LIMIT
    # Staff do not use the person's page; a person not enrolled is told why.
    assert logged_in(post.feldsher).get("/my/readings/").status_code == 403
    other = make_user(Role.PATIENT, None, language="ru")
    PatientFactory(home_facility=post.chain.post, user=other)
    lonely = logged_in(other, "ru").get("/my/readings/")
    assert b'data-testid="not-enrolled"' in lonely.content


def test_the_feldsher_changes_the_plan_and_ends_the_monitoring(post: Post) -> None:
    enrolment = post.enrol()
    client = logged_in(post.feldsher)
    page = client.get(f"/monitoring/{enrolment.uuid}/").content.decode()
    data = {k: v for k, v in _prefilled(page).items() if k.startswith(("plan-", "targets-"))}
    data.update({"targets-t_8480-6_high": "130", "version": str(enrolment.version)})
    answer = client.post(f"/monitoring/{enrolment.uuid}/plan/", data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    enrolment.refresh_from_db()
    assert enrolment.targets["8480-6"]["high"] == "130"
    refused = client.post(f"/monitoring/{enrolment.uuid}/end/", {"reason": ""})
    assert refused.status_code == 400
    ended = client.post(
        f"/monitoring/{enrolment.uuid}/end/",
        {"reason": "Moved to Anadyr", "version": str(enrolment.version)},
    )
    assert ended.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ENDED
    assert client.get(f"/monitoring/{enrolment.uuid}/").status_code == 200


def test_at_the_posts_station_the_feldsher_still_adds_a_reading(post: Post) -> None:
    """The post's laptop works offline: the reading goes through the same service (the station
    outbox carries it up); the page says that alerts and risk come from the hub, and offers no
    change of the plan, which is the hub's."""
    import uuid

    from farcare.sync.models import StationConfig

    enrolment = post.enrol()
    StationConfig.objects.create(
        hub_url="https://hub.example/",
        token="t" * 40,
        station_uuid=uuid.uuid4(),
        name="Uelen post laptop",
        facility=post.chain.post,
    )
    client = logged_in(post.feldsher)
    page = client.get(f"/monitoring/{enrolment.uuid}/").content.decode()
    assert 'data-testid="station-note"' in page and 'data-testid="add-reading"' in page
    assert 'data-testid="edit-plan"' not in page
    answer = client.post(
        f"/monitoring/{enrolment.uuid}/reading/", {"r-systolic": "146", "r-diastolic": "92"}
    )
    assert answer.status_code == 302
    assert HomeReading.objects.get(patient=post.patient).source == ReadingSource.STATION
    assert "computed at the hub" in client.get(answer["Location"]).content.decode()
    assert client.post(f"/monitoring/{enrolment.uuid}/end/", {"reason": "x"}).status_code == 400


def test_the_reason_for_the_risk_is_said_in_words_in_the_readers_language(post: Post) -> None:
    enrolment = post.enrol()
    post.reading(185, 115)
    enrolment.refresh_from_db()
    assert enrolment.risk_reason.startswith("alert_urgent")  # stored as codes

    english = logged_in(post.doctor)
    for url in ("/monitoring/", f"/monitoring/{enrolment.uuid}/"):
        text = english.get(url).content.decode()
        assert "urgent alert open" in text, url
        assert "alert_urgent" not in text and "outside_target" not in text, url

    post.doctor.language = "ru"
    post.doctor.save()
    russian = logged_in(post.doctor, "ru")
    for url in ("/monitoring/", f"/monitoring/{enrolment.uuid}/"):
        text = russian.get(url).content.decode()
        assert "открыто срочное оповещение" in text, url
        assert "alert_urgent" not in text, url


def test_the_facility_filter_finds_a_facility_beyond_the_first_hundred(post: Post) -> None:
    """A district doctor follows people at many posts; the 101st post by name is still a filter,
    and a filter that matches nothing the doctor follows is said, never dropped."""
    posts = FacilityFactory.create_batch(100, name_ru="Аа пост", name_en="Aa post")
    last = FacilityFactory(name_ru="Яя пост", name_en="Zz post")
    for facility in [*posts, last]:
        patient = PatientFactory(home_facility=post.chain.post, family=f"Ф{facility.pk}")
        enrolment = post.enrol(patient)
        Enrolment.objects.filter(pk=enrolment.pk).update(facility=facility)
    wanted = Enrolment.objects.get(facility=last)

    doctor = logged_in(post.doctor)
    listing = doctor.get("/monitoring/", {"facility": str(last.uuid)})
    assert listing.status_code == 200
    text = listing.content.decode()
    assert f'data-testid="row-{wanted.uuid}"' in text
    assert text.count('data-testid="row-') == 1
    assert f'value="{last.uuid}" selected' in text

    for bad in ("not-a-uuid", str(post.chain.other_region_post.uuid)):
        refused = doctor.get("/monitoring/", {"facility": bad})
        assert refused.status_code == 400, bad
        text = refused.content.decode()
        assert 'data-testid="facility-error"' in text
        assert 'data-testid="row-' not in text
