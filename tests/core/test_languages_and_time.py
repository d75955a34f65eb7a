"""Every page in Russian, Korean and English; every time in the viewer's zone, named."""

import pytest

from farcare.accounts.models import Role
from farcare.patients.models import Patient

from ..conftest import logged_in, make_user
from ..factories import PatientFactory

HOME_TITLES = {"ru": "Запрашивающ", "ko": "의뢰", "en": "Requesting clinician"}


@pytest.mark.parametrize("language", ["ru", "ko", "en"])
def test_the_browser_language_is_the_default(chain, language):
    user = make_user(Role.CLINICIAN, chain.post)
    html = logged_in(user, language=language).get("/").content.decode()
    assert f'<html lang="{language}">' in html
    assert HOME_TITLES[language] in html


def test_the_users_own_choice_beats_the_browser(chain):
    user = make_user(Role.CLINICIAN, chain.post, language="ko")
    html = logged_in(user, language="ru").get("/").content.decode()
    assert '<html lang="ko">' in html


def test_switching_language_is_remembered_on_the_account(chain):
    user = make_user(Role.CLINICIAN, chain.post)
    client = logged_in(user, language="en")
    client.post("/i18n/setlang/", {"language": "ko", "next": "/"})
    user.refresh_from_db()
    assert user.language == "ko"


def test_times_are_shown_in_the_viewers_zone_with_the_zone_named(chain):
    patient = PatientFactory(home_facility=chain.post)
    Patient.objects.filter(pk=patient.pk).update(
        registered_at="2026-11-27T00:30:00Z"  # 12:30 in Anadyr, 09:30 in Yakutsk
    )
    in_anadyr = make_user(Role.CLINICIAN, chain.post)
    html = logged_in(in_anadyr).get(f"/patients/{patient.uuid}/").content.decode()
    assert "12:30" in html
    assert "Asia/Anadyr, UTC+12" in html
    coordinator_in_moscow = make_user(Role.CLINICIAN, chain.federal, time_zone="Europe/Moscow")
    html = logged_in(coordinator_in_moscow).get(f"/patients/{patient.uuid}/").content.decode()
    assert "03:30" in html
    assert "Europe/Moscow, UTC+3" in html
