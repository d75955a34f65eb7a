"""The tus 1.0.0 protocol at /uploads/, request by request against the live server, as a
station's upload client or a browser's tus client sees it."""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import timedelta
from email.utils import parsedate_to_datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.consults.models import Attachment
from farcare.consults.services import consult_cancel
from farcare.uploads.models import Upload

from ..conftest import logged_in, make_user
from ..fhir.conftest import issue_token
from .conftest import Case, Tus, attachment_metadata, digest, encode_metadata, pdf, send

MIB = 1024 * 1024


def part_file(parts: Path, location: str) -> Path:
    return parts / location.rstrip("/").rsplit("/", 1)[-1]


def test_options_say_what_the_server_supports(case: Case):
    response = case.tus().options()
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    extensions = response.headers["Tus-Extension"].split(",")
    assert {"creation", "creation-with-upload", "checksum", "termination", "expiration"} == set(
        extensions
    )
    assert response.headers["Tus-Max-Size"] == str(25 * MIB)
    assert set(response.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256", "md5"}
    # No CORS grant: a page on another origin cannot drive these requests.
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_creation_answers_201_with_an_absolute_location_and_an_expiry(case: Case):
    before = timezone.now()
    response = case.tus().create(1000, attachment_metadata(case.consultation))
    assert response.status_code == 201, response.text
    assert response.headers["Tus-Resumable"] == "1.0.0"
    location = response.headers["Location"]
    assert location.startswith(f"{case.url}/uploads/")
    uuid.UUID(location.rsplit("/", 1)[-1])
    expires = parsedate_to_datetime(response.headers["Upload-Expires"])
    assert before + timedelta(hours=71) < expires <= timezone.now() + timedelta(hours=72)


def test_head_says_how_much_has_arrived(case: Case):
    tus = case.tus()
    data = pdf(10_000)
    metadata = attachment_metadata(case.consultation, filename="ЭКГ 12 отведений.pdf")
    location = tus.created(len(data), metadata)
    assert tus.patch(location, 0, data[:4000]).status_code == 204

    response = tus.head(location)
    assert response.status_code == 200
    assert response.headers["Upload-Offset"] == "4000"
    assert response.headers["Upload-Length"] == "10000"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Upload-Expires" in response.headers
    # The metadata comes back as it was sent (pairs in any order: tus gives them no order).
    returned = set(response.headers["Upload-Metadata"].split(","))
    assert returned == set(encode_metadata(**metadata).split(","))


def test_chunks_add_up_and_each_answer_gives_the_new_offset(case: Case, parts: Path):
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    first = tus.patch(location, 0, data[:3000])
    assert first.status_code == 204
    assert first.headers["Upload-Offset"] == "3000"
    assert "Upload-Expires" in first.headers
    assert part_file(parts, location).read_bytes() == data[:3000]
    second = tus.patch(location, 3000, data[3000:6000])
    assert second.headers["Upload-Offset"] == "6000"
    assert part_file(parts, location).read_bytes() == data[:6000]


def test_a_patch_at_the_wrong_offset_is_refused(case: Case, parts: Path):
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    tus.patch(location, 0, data[:3000])
    response = tus.patch(location, 2000, data[2000:5000])
    assert response.status_code == 409
    assert "3000" in response.text
    assert tus.offset(location) == 3000
    assert part_file(parts, location).read_bytes() == data[:3000]


def test_a_patch_of_another_content_type_is_refused(case: Case):
    tus = case.tus()
    location = tus.created(100, attachment_metadata(case.consultation))
    response = tus.patch(location, 0, b"x" * 100, **{"Content-Type": "application/octet-stream"})
    assert response.status_code == 415
    assert tus.offset(location) == 0


def test_a_damaged_chunk_is_refused_and_nothing_of_it_is_kept(case: Case, parts: Path):
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    damaged = data[:5000].replace(b"%PDF", b"%PDX")
    response = tus.patch(location, 0, damaged, checksum=digest("sha1", data[:5000]))
    assert response.status_code == 460
    assert tus.offset(location) == 0
    assert not part_file(parts, location).exists() or not part_file(parts, location).stat().st_size


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
def test_a_chunk_that_matches_its_checksum_is_kept(case: Case, algorithm: str):
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    response = tus.patch(location, 0, data[:5000], checksum=digest(algorithm, data[:5000]))
    assert response.status_code == 204
    assert tus.offset(location) == 5000


def test_an_unknown_checksum_algorithm_is_a_bad_request(case: Case):
    tus = case.tus()
    location = tus.created(100, attachment_metadata(case.consultation, filename="note.txt"))
    response = tus.patch(location, 0, b"x" * 10, checksum="crc32 AAAAAA==")
    assert response.status_code == 400
    assert "sha256" in response.text
    assert tus.offset(location) == 0


def test_a_request_without_tus_resumable_is_refused(case: Case):
    location = case.tus().created(100, attachment_metadata(case.consultation))
    bare = Tus(case.url, issue_token(case.feldsher, "user/*.write"))
    del bare.headers["Tus-Resumable"]
    response = bare.head(location)
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert bare.create(100, attachment_metadata(case.consultation)).status_code == 412


def test_a_file_larger_than_the_limit_is_refused_at_once(case: Case):
    response = case.tus().create(25 * MIB + 1, attachment_metadata(case.consultation))
    assert response.status_code == 413
    assert "25" in response.text
    assert not Upload.objects.exists()


def test_a_request_body_larger_than_a_chunk_is_refused(case: Case, settings):
    settings.FARCARE_UPLOAD_MAX_CHUNK_MB = 1
    tus = case.tus()
    location = tus.created(2 * MIB, attachment_metadata(case.consultation, filename="log.txt"))
    assert tus.patch(location, 0, b"x" * (MIB + 1)).status_code == 413
    assert tus.patch(location, 0, b"x" * MIB).status_code == 204


def test_bytes_past_the_end_of_the_file_are_refused(case: Case):
    tus = case.tus()
    location = tus.created(100, attachment_metadata(case.consultation, filename="note.txt"))
    assert tus.patch(location, 0, b"x" * 101).status_code == 413
    assert tus.offset(location) == 0


def test_a_kind_of_file_that_is_not_accepted_is_refused_at_once(case: Case):
    response = case.tus().create(100, attachment_metadata(case.consultation, filename="setup.exe"))
    assert response.status_code == 415
    assert "setup.exe" in response.text
    mismatch = attachment_metadata(case.consultation, filename="ecg.pdf", filetype="image/png")
    assert case.tus().create(100, mismatch).status_code == 415


def test_messages_come_in_the_users_language(case: Case):
    russian = make_user(Role.CLINICIAN, case.scene.chain.post, language="ru")
    response = case.tus(russian).create(
        100, attachment_metadata(case.consultation, filename="setup.exe")
    )
    assert response.status_code == 415
    assert "не принимаются" in response.text


@pytest.mark.parametrize(
    ("metadata", "status"),
    [
        ({"consultation": "x", "filename": "a.pdf"}, 400),  # no purpose
        ({"purpose": "holiday-photos", "filename": "a.pdf"}, 400),
        ({"purpose": "consult-attachment", "filename": "a.pdf"}, 400),  # no consultation
        ({"purpose": "consult-attachment", "consultation": str(uuid.uuid4())}, 422),
    ],
)
def test_metadata_that_does_not_say_what_the_upload_is_for_is_refused(
    case: Case, metadata: dict[str, str], status: int
):
    response = case.tus().create(100, metadata)
    assert response.status_code == status, response.text
    assert response.text


def test_malformed_metadata_and_length_are_bad_requests(case: Case):
    tus = case.tus()
    bad = {**tus.headers, "Upload-Length": "100", "Upload-Metadata": "filename not-base64!"}
    assert tus.create(100, {}, **bad).status_code == 400
    assert tus.create(100, {}, **{"Upload-Length": "-1"}).status_code == 400
    deferred = {"Upload-Defer-Length": "1"}
    assert tus.create(100, attachment_metadata(case.consultation), **deferred).status_code == 400


def test_without_credentials_nothing_is_created(case: Case):
    anonymous = Tus(case.url)
    assert anonymous.create(100, attachment_metadata(case.consultation)).status_code == 401
    read_only = Tus(case.url, issue_token(case.feldsher, "user/*.read"))
    assert read_only.create(100, attachment_metadata(case.consultation)).status_code == 401
    assert not Upload.objects.exists()


def test_a_logged_in_session_may_upload(case: Case):
    client = logged_in(case.feldsher)
    metadata = attachment_metadata(case.consultation)
    response = client.generic(
        "POST",
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "100",
            "Upload-Metadata": encode_metadata(**metadata),
        },
    )
    assert response.status_code == 201, response.content


def test_someone_outside_the_case_may_not_upload_to_it_and_is_audited(case: Case):
    stranger = make_user(Role.CLINICIAN, case.scene.chain.other_region_post)
    response = case.tus(stranger).create(100, attachment_metadata(case.consultation))
    assert response.status_code == 403
    assert AuditEvent.objects.filter(
        actor_username=stranger.username, action="denied", patient_uuid=case.scene.patient.uuid
    ).exists()
    assert not Upload.objects.exists()


def test_another_users_upload_is_not_found(case: Case):
    location = case.tus().created(100, attachment_metadata(case.consultation))
    colleague = make_user(Role.CLINICIAN, case.scene.chain.post)
    other = case.tus(colleague)
    assert other.head(location).status_code == 404
    assert other.patch(location, 0, b"x" * 10).status_code == 404
    assert other.delete(location).status_code == 404
    assert case.tus().offset(location) == 0


def test_an_unknown_upload_is_not_found(case: Case):
    tus = case.tus()
    assert tus.head(f"{case.url}/uploads/{uuid.uuid4()}").status_code == 404
    response = tus.head(f"{case.url}/uploads/not-a-uuid")
    assert response.status_code == 404
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_a_terminated_upload_is_gone_with_its_bytes(case: Case, parts: Path):
    tus = case.tus()
    location = tus.created(10_000, attachment_metadata(case.consultation))
    tus.patch(location, 0, pdf(10_000)[:4000])
    assert part_file(parts, location).exists()
    response = tus.delete(location)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert not part_file(parts, location).exists()
    assert tus.head(location).status_code == 404
    assert tus.patch(location, 4000, b"x").status_code == 404


def test_an_expired_upload_is_gone_and_the_sweep_removes_it(
    case: Case, parts: Path, django_capture_on_commit_callbacks
):
    tus = case.tus()
    stale = tus.created(10_000, attachment_metadata(case.consultation))
    tus.patch(stale, 0, pdf(10_000)[:4000])
    fresh = tus.created(10_000, attachment_metadata(case.consultation))
    tus.patch(fresh, 0, pdf(10_000)[:4000])
    Upload.objects.filter(uuid=stale.rsplit("/", 1)[-1]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert tus.head(stale).status_code == 410
    assert tus.patch(stale, 4000, b"x" * 10).status_code == 410

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the sweep's files go on commit
        call_command("uploads", "expire", stdout=out)
    assert "1 expired upload removed." in out.getvalue()
    assert not Upload.objects.filter(uuid=stale.rsplit("/", 1)[-1]).exists()
    assert not part_file(parts, stale).exists()
    assert tus.head(stale).status_code == 404
    # The other upload is untouched.
    assert tus.offset(fresh) == 4000
    assert part_file(parts, fresh).stat().st_size == 4000


def test_each_chunk_moves_the_expiry_forward(case: Case, time_machine):
    tus = case.tus()
    location = tus.created(10_000, attachment_metadata(case.consultation))
    first = parsedate_to_datetime(tus.patch(location, 0, pdf(1000)).headers["Upload-Expires"])
    time_machine.move_to(timezone.now() + timedelta(hours=60), tick=True)
    second = case.tus().patch(location, 1000, b"x" * 1000)  # a fresh token: 60 h later
    assert second.status_code == 204
    assert parsedate_to_datetime(second.headers["Upload-Expires"]) >= first + timedelta(hours=59)


def test_a_complete_upload_becomes_an_attachment_of_the_case(case: Case, parts: Path):
    tus = case.tus()
    data = pdf(50_000)
    location = tus.created(len(data), attachment_metadata(case.consultation, "ЭКГ.pdf"))
    for start in range(0, len(data), 16_384):
        chunk = data[start : start + 16_384]
        response = tus.patch(location, start, chunk, checksum=digest("sha256", chunk))
        assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(len(data))
    assert "Upload-Expires" not in response.headers  # a complete upload no longer expires
    result = response.headers["FarCare-Upload-Result"]

    attachment = Attachment.objects.get(uuid=result)
    assert attachment.consultation == case.consultation
    assert attachment.original_name == "ЭКГ.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert not part_file(parts, location).exists()

    # The consultant opens it from the case and gets the same bytes.
    page = logged_in(case.consultant).get(f"/consultations/attachments/{result}/")
    assert page.status_code == 200
    assert hashlib.sha256(b"".join(page.streaming_content)).hexdigest() == attachment.sha256

    created = AuditEvent.objects.get(action="create", record_type="Attachment", record_id=result)
    assert created.actor_username == case.feldsher.username
    assert created.patient_uuid == case.scene.patient.uuid
    assert created.channel == "upload"
    assert created.ip_address == "127.0.0.1"

    # HEAD still answers for the complete upload, naming what it became.
    head = tus.head(location)
    assert head.headers["Upload-Offset"] == str(len(data))
    assert head.headers["FarCare-Upload-Result"] == result


def test_the_last_patch_retried_after_a_lost_answer_is_accepted_again(case: Case):
    tus = case.tus()
    data = pdf(5000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    done = tus.patch(location, 0, data)
    assert done.status_code == 204
    # The answer was lost: the client asks (HEAD), finds the offset at the end, and sends the
    # (empty) rest.
    again = tus.patch(location, len(data), b"")
    assert again.status_code == 204
    assert again.headers["Upload-Offset"] == str(len(data))
    assert again.headers["FarCare-Upload-Result"] == done.headers["FarCare-Upload-Result"]
    assert Attachment.objects.filter(consultation=case.consultation).count() == 1


def test_a_file_whose_content_is_not_what_its_name_says_fails_when_complete(
    case: Case, parts: Path
):
    tus = case.tus()
    data = b"MZ" + b"\x00" * 998  # a program, named as a picture
    location = tus.created(len(data), attachment_metadata(case.consultation, "photo.png"))
    response = tus.patch(location, 0, data)
    assert response.status_code == 422
    assert "photo.png" in response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert not Attachment.objects.filter(consultation=case.consultation).exists()
    assert not part_file(parts, location).exists()
    assert tus.head(location).status_code == 410
    # A retry hears the same reason.
    assert "photo.png" in tus.patch(location, 0, data).text


def test_the_first_chunk_may_come_with_the_creation(case: Case):
    """creation-with-upload: a small file crosses in one request instead of two round trips."""
    tus = case.tus()
    data = pdf(8000)
    response = tus.create(
        len(data), attachment_metadata(case.consultation), data=data, checksum=digest("sha1", data)
    )
    assert response.status_code == 201, response.text
    assert response.headers["Upload-Offset"] == str(len(data))
    attachment = Attachment.objects.get(uuid=response.headers["FarCare-Upload-Result"])
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()

    part = tus.create(len(data), attachment_metadata(case.consultation), data=data[:3000])
    assert part.status_code == 201
    assert part.headers["Upload-Offset"] == "3000"
    assert tus.offset(part.headers["Location"]) == 3000

    damaged = tus.create(
        len(data), attachment_metadata(case.consultation), data=data, checksum="sha1 AAAA"
    )
    assert damaged.status_code == 460
    assert Upload.objects.count() == 2  # nothing was created by the damaged request


def test_two_clients_sending_the_same_chunk_at_once_store_it_once(live_case: Case, parts: Path):
    case = live_case
    tus = case.tus()
    data = pdf(200_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    answers: list[int] = []

    def send() -> None:
        answers.append(tus.patch(location, 0, data[:100_000]).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [204, 409]
    assert tus.offset(location) == 100_000
    assert part_file(parts, location).read_bytes() == data[:100_000]


def test_bytes_a_crash_left_beyond_the_offset_are_dropped(case: Case, parts: Path):
    """A crash after the bytes were written but before the offset was saved leaves them in the
    part file; the next chunk at the saved offset replaces them."""
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    tus.patch(location, 0, data[:4000])
    with part_file(parts, location).open("ab") as part:
        part.write(b"garbage of a request whose offset was never saved")
    response = tus.patch(location, 4000, data[4000:])
    assert response.status_code == 204
    result = response.headers["FarCare-Upload-Result"]
    assert Attachment.objects.get(uuid=result).sha256 == hashlib.sha256(data).hexdigest()


def test_access_is_asked_again_when_the_last_byte_arrives(case: Case, parts: Path):
    """A large file takes hours over the satellite; the case may close meanwhile."""
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    tus.patch(location, 0, data[:4000])
    consult_cancel(
        accessor=case.scene.accessor(case.feldsher),
        consultation=case.consultation,
        reason="The patient was evacuated by air.",
    )
    response = tus.patch(location, 4000, data[4000:])
    assert response.status_code == 422
    assert "not open" in response.text
    assert not Attachment.objects.filter(consultation=case.consultation).exists()
    assert not part_file(parts, location).exists()


def test_a_client_that_cannot_send_patch_says_so_in_a_header(case: Case):
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    response = send(
        "POST",
        location,
        data[:4000],
        {
            **tus.headers,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert response.status_code == 204
    assert tus.offset(location) == 4000


def test_bytes_the_disk_lost_are_asked_for_again(case: Case, parts: Path):
    """If the part file holds less than the saved offset (a restored backup), the client is
    sent back to what is really there instead of leaving a hole in the file."""
    tus = case.tus()
    data = pdf(10_000)
    location = tus.created(len(data), attachment_metadata(case.consultation))
    tus.patch(location, 0, data[:6000])
    with part_file(parts, location).open("r+b") as part:
        part.truncate(2500)
    response = tus.patch(location, 6000, data[6000:])
    assert response.status_code == 409
    assert tus.offset(location) == 2500
    done = tus.patch(location, 2500, data[2500:])
    assert done.status_code == 204
    result = done.headers["FarCare-Upload-Result"]
    assert Attachment.objects.get(uuid=result).sha256 == hashlib.sha256(data).hexdigest()
