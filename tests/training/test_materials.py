"""A trainer uploads a lecture's PDF and its recording; a post on a weak link gets a light
version first, and a download broken by the link resumes."""

from __future__ import annotations

import io

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader, PdfWriter

from farcare.accounts.models import Role
from farcare.training.models import Material

from ..conftest import logged_in, make_user
from .conftest import Course
from .media import pdf_with_big_image, short_video

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def after_commit(django_capture_on_commit_callbacks):
    """Run what waits for the upload's commit (the light version) as a real commit would."""
    global _after_commit
    _after_commit = django_capture_on_commit_callbacks


_after_commit = None


def upload(course: Course, name: str, data: bytes, kind: str, title: str = "Lecture 1"):
    assert _after_commit is not None
    with _after_commit(execute=True):
        return logged_in(course.trainer).post(
            reverse("training:material_upload", args=[course.programme.uuid]),
            {
                "title": title,
                "kind": kind,
                "session": str(course.sessions[0].uuid),
                "file": SimpleUploadedFile(name, data),
            },
        )


def download(client, material: Material, version: str, **headers: str) -> tuple[int, bytes, dict]:
    response = client.get(
        reverse("training:material_download", args=[material.uuid, version]), headers=headers
    )
    body = b"".join(response.streaming_content) if response.status_code < 300 else b""
    return response.status_code, body, response


def test_a_pdf_with_a_big_image_gets_a_smaller_light_version_that_is_still_a_pdf(course):
    original = pdf_with_big_image()
    response = upload(course, "ecg-lecture.pdf", original, "pdf")
    assert response.status_code == 302
    material = Material.objects.get(title="Lecture 1")
    assert material.size == len(original) and material.session == course.sessions[0]
    assert material.light_file, "the light version is made once the upload has committed"
    assert material.light_size < material.size / 3
    light = material.light_file.read()
    reader = PdfReader(io.BytesIO(light))
    assert len(reader.pages) == 1 and reader.pages[0].images  # the picture is still there

    # The learner sees the light version first, with its size, and the full one as an option.
    page = logged_in(course.feldsher).get(
        reverse("training:programme", args=[course.programme.uuid])
    )
    assert "Light version, " in page.text and "Full version, " in page.text
    assert page.text.index("Light version") < page.text.index("Full version")


def test_a_recording_becomes_audio_only_opus(course):
    original = short_video()
    assert upload(course, "lecture.mp4", original, "recording").status_code == 302
    material = Material.objects.get(title="Lecture 1")
    assert material.content_type == "video/mp4"
    assert material.light_content_type == "audio/ogg" and material.light_size < material.size
    with av.open(material.light_file.open("rb")) as light:
        assert not light.streams.video
        (audio,) = light.streams.audio
        assert audio.codec_context.name == "opus" and audio.channels == 1
        assert 1.5 < float(light.duration or 0) / av.time_base < 2.6


@pytest.mark.parametrize(
    ("name", "data", "kind", "says"),
    [
        ("virus.exe", b"MZ\x90\x00", "pdf", "this kind of file is not accepted"),
        ("lecture.pdf", b"<html>not a pdf</html>", "pdf", "is not the kind of file its name says"),
        ("lecture.mp4", pdf_with_big_image()[:200], "pdf", "is not a file of the kind chosen"),
        ("empty.pdf", b"", "pdf", "empty"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message(course, name, data, kind, says):
    course.trainer.language = "en"
    course.trainer.save(update_fields=["language"])
    response = upload(course, name, data, kind)
    assert response.status_code == 400
    assert says in response.text
    assert not Material.objects.exists()


def test_a_file_over_the_limit_is_refused(course, settings):
    course.trainer.language = "en"
    course.trainer.save(update_fields=["language"])
    settings.FARCARE_TRAINING_MATERIAL_MAX_MB = 0
    response = upload(course, "lecture.pdf", b"%PDF-1.4 tiny", "pdf")
    assert response.status_code == 400 and "larger than 0 MB" in response.text


def test_a_broken_download_resumes_where_it_stopped(course):
    upload(course, "ecg-lecture.pdf", pdf_with_big_image(), "pdf")
    material = Material.objects.get()
    client = logged_in(course.feldsher)
    status, whole, response = download(client, material, "light")
    assert status == 200 and response["Accept-Ranges"] == "bytes"
    assert len(whole) == material.light_size

    # The link dropped after 1000 bytes: the rest is asked for, and only the rest comes.
    status, rest, response = download(
        client, material, "light", Range="bytes=1000-", If_Range=response["ETag"]
    )
    assert status == 206
    assert response["Content-Range"] == f"bytes 1000-{len(whole) - 1}/{len(whole)}"
    assert whole[:1000] + rest == whole

    status, _, response = download(client, material, "full", Range="bytes=99999999-")
    assert status == 416 and response["Content-Range"] == f"bytes */{material.size}"
    # A range whose last byte comes before its first is invalid, so ignored: the whole file.
    status, full, _ = download(client, material, "full", Range="bytes=5-2")
    assert status == 200 and len(full) == material.size
    # A range of a file that changed since (another ETag) gets the whole file again.
    status, again, _ = download(client, material, "light", Range="bytes=1000-", If_Range='"old"')
    assert status == 200 and again == whole


def test_materials_are_for_the_programme_s_trainers_and_learners_only(course, chain):
    upload(course, "ecg-lecture.pdf", pdf_with_big_image(), "pdf")
    material = Material.objects.get()
    stranger = make_user(Role.CLINICIAN, chain.sibling_post)
    patient = make_user(Role.PATIENT)
    for who in (stranger, patient):
        status, _, _ = download(logged_in(who), material, "full")
        assert status == 403
    # The stranger may see the open programme, enrol, and then read it.
    client = logged_in(stranger)
    client.post(reverse("training:enrol", args=[course.programme.uuid]))
    assert download(client, material, "full")[0] == 200


def test_the_command_makes_a_light_version_the_background_task_missed(course):
    # Uploaded with the after-commit step not run (a worker that was down).
    logged_in(course.trainer).post(
        reverse("training:material_upload", args=[course.programme.uuid]),
        {
            "title": "Lecture 2",
            "kind": "pdf",
            "file": SimpleUploadedFile("l2.pdf", pdf_with_big_image()),
        },
    )
    material = Material.objects.get(title="Lecture 2")
    assert not material.light_file
    out = io.StringIO()
    call_command("training", "lighten", stdout=out)
    material.refresh_from_db()
    assert material.light_file and material.light_size < material.size
    assert f"light     {material.uuid}" in out.getvalue()


def test_a_pdf_that_cannot_be_made_lighter_keeps_no_light_version(course):
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)  # text and vectors only: nothing to shrink
    out = io.BytesIO()
    writer.write(out)
    assert upload(course, "agenda.pdf", out.getvalue(), "pdf").status_code == 302
    material = Material.objects.get()
    assert not material.light_file and material.light_size is None
    page = logged_in(course.feldsher).get(
        reverse("training:programme", args=[course.programme.uuid])
    )
    assert 'data-testid="full-download"' in page.text and "Light version" not in page.text
