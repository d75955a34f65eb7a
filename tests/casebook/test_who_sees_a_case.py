"""Who may still see a teaching case: nobody once it is withdrawn (its files are deleted too);
a trainer names only sessions of programmes they teach; from abroad, only cases of patients who
agreed to the transfer abroad; only the case's reviewer sees who was asked about it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.casebook.models import CaseStatus, TeachingCase
from farcare.casebook.services import case_make, case_move, clinician_answer
from farcare.patients.models import Consent, ConsentKind
from farcare.patients.services import consent_record
from farcare.training.models import Programme, Session

from ..conftest import logged_in, make_user
from .test_consent_and_review import everyone_agrees, ready_to_publish, refuse


def published(case) -> TeachingCase:
    made = ready_to_publish(case)
    everyone_agrees(made)
    return case_move(accessor=Accessor(case.trainer), case=made, event="publish")


def test_a_case_withdrawn_on_the_patient_s_refusal_is_gone_with_its_files(
    case, django_capture_on_commit_callbacks
):
    made = published(case)
    colleague = make_user(Role.TRAINER, case.chain.hub)
    files = list(made.files.all())
    pictured = next(f for f in files if f.preview)
    stored = [f.file.name for f in files] + [pictured.preview.name]
    ask = made.asks.get(clinician=case.consultant)
    pages = [
        f"/casebook/{made.uuid}/",
        f"/casebook/{made.uuid}/review/",
        f"/casebook/files/{files[0].uuid}/",
        f"/casebook/files/{pictured.uuid}/preview/",
    ]
    client = logged_in(colleague)
    assert all(client.get(page).status_code == 200 for page in pages)
    assert logged_in(case.consultant).get(f"/casebook/asked/{ask.uuid}/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        refuse(case)

    for page in pages:
        assert client.get(page).status_code == 404, page
    assert logged_in(case.consultant).get(f"/casebook/asked/{ask.uuid}/").status_code == 404
    assert not any(default_storage.exists(name) for name in stored)
    # The trainer's list still says it was withdrawn, and nothing more.
    listed = client.get("/casebook/").content.decode()
    assert "Withdrawn" in listed and made.title in listed
    assert f"/casebook/{made.uuid}/" not in listed


def test_a_case_withdrawn_by_its_trainer_loses_its_files_too(
    case, django_capture_on_commit_callbacks
):
    made = published(case)
    stored = [f.file.name for f in made.files.all()]
    assert stored and all(default_storage.exists(name) for name in stored)
    client = logged_in(case.trainer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/casebook/{made.uuid}/move/", {"event": "withdraw"})
    made.refresh_from_db()
    assert made.status == CaseStatus.WITHDRAWN
    assert not made.files.exists()
    assert not any(default_storage.exists(name) for name in stored)
    assert client.get(f"/casebook/{made.uuid}/review/").status_code == 404


def test_a_refusal_recorded_around_the_withdrawal_still_hides_the_case(case):
    """A refusal saved without the signal (a bulk import) does not withdraw the case; every
    read checks the refusal all the same."""
    made = published(case)
    learner = make_user(Role.CLINICIAN, case.chain.sibling_post)
    assert logged_in(learner).get(f"/casebook/{made.uuid}/").status_code == 200
    Consent.objects.bulk_create(
        [
            Consent(
                patient=case.patient,
                kind=ConsentKind.TEACHING_REFUSED,
                scope="no teaching",
                recorded_by=case.requester,
            )
        ]
    )
    assert logged_in(learner).get(f"/casebook/{made.uuid}/").status_code == 404
    assert logged_in(case.trainer).get(f"/casebook/{made.uuid}/review/").status_code == 404


def _session(owner, title: str) -> Session:
    programme = Programme.objects.create(title=f"Programme of {title}", owner=owner)
    return Session.objects.create(
        programme=programme, number=1, title=title, starts_at=datetime(2027, 1, 5, tzinfo=UTC)
    )


def test_a_trainer_presents_a_case_only_at_a_session_they_teach(case):
    made = case_make(accessor=Accessor(case.trainer), consultation=case.consultation)
    someone_else = make_user(Role.TRAINER, case.chain.federal)
    mine = _session(case.trainer, "Chest pain")
    theirs = _session(someone_else, "Burns in the tundra")
    client = logged_in(case.trainer)
    review = client.get(f"/casebook/{made.uuid}/review/").content.decode()
    assert "Chest pain" in review
    assert "Burns in the tundra" not in review
    refused = client.post(
        f"/casebook/{made.uuid}/present/", {"session": str(theirs.uuid)}, follow=True
    )
    assert "Choose a session of a programme you teach" in refused.content.decode()
    made.refresh_from_db()
    assert made.presented_at is None
    client.post(f"/casebook/{made.uuid}/present/", {"session": str(mine.uuid)})
    made.refresh_from_db()
    assert made.presented_at == mine


def test_abroad_a_case_is_made_and_read_only_with_the_patient_s_consent_to_transfer(case):
    made = published(case)
    partner = case.korean.facility
    trainer_abroad = make_user(Role.TRAINER, partner)
    consultant_abroad = make_user(Role.CONSULTANT, partner)
    other = case_make(accessor=Accessor(case.trainer), consultation=case.consultation)
    for person in (trainer_abroad, consultant_abroad):
        client = logged_in(person)
        assert client.get(f"/casebook/{made.uuid}/").status_code == 404
        assert made.title not in client.get("/casebook/").content.decode()
    assert logged_in(trainer_abroad).get(f"/casebook/{other.uuid}/review/").status_code == 404
    sources = logged_in(trainer_abroad).get("/casebook/consultations/").content.decode()
    assert "No closed consultation is waiting" in sources
    with pytest.raises(PermissionDenied, match="may not"):
        case_make(accessor=Accessor(trainer_abroad), consultation=case.consultation)

    consent_record(
        accessor=Accessor(case.requester),
        patient=case.patient,
        kind=ConsentKind.TRANSFER_ABROAD,
        scope="pseudonymised case to partner hospitals in Korea",
    )
    for person in (trainer_abroad, consultant_abroad):
        assert logged_in(person).get(f"/casebook/{made.uuid}/").status_code == 200
    assert logged_in(trainer_abroad).get(f"/casebook/{other.uuid}/review/").status_code == 200
    assert case_make(accessor=Accessor(trainer_abroad), consultation=case.consultation)


def test_only_the_reviewer_sees_each_answer_and_nobody_sees_who_was_asked(case):
    made = ready_to_publish(case)
    ask = made.asks.get(clinician=case.korean)
    clinician_answer(
        accessor=Accessor(case.korean), ask=ask, agree=False, reason="Tattoo on the photo"
    )
    reviewer = logged_in(case.trainer).get(f"/casebook/{made.uuid}/review/").content.decode()
    assert 'data-testid="asks"' in reviewer
    assert "consultant: objected — Tattoo on the photo" in reviewer
    colleague = make_user(Role.TRAINER, case.chain.hub)
    other = logged_in(colleague).get(f"/casebook/{made.uuid}/review/").content.decode()
    assert 'data-testid="asks"' not in other
    assert "Tattoo" not in other and "objected" not in other
    assert "3 clinicians asked, 0 agreed" in other
    for page in (reviewer, other):
        for name in ("Smirnov", "Aristarkh", "Петрова", "Снежана", "민준"):
            assert name not in page
