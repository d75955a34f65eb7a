"""A hub that crashes in the middle of an upload: what it acknowledged survives, the station's
client resumes where the hub says, and the file arrives whole."""

from __future__ import annotations

import base64
import hashlib
import io

import requests
from tusclient.client import TusClient

from farcare.testing.hub import HubProcess

from .conftest import CHUNK, Tus, attachment_metadata, pdf


def open_case(hub: HubProcess) -> tuple[str, str]:
    """The demo's open request of `feldsher`, and the consultant it is assigned to."""
    found = hub.python(
        "from farcare.consults.models import Consultation\n"
        "case = Consultation.objects.get(requester__username='feldsher', status='requested')\n"
        "print(case.uuid, case.assignments.get(ended_at__isnull=True).consultant.username)"
    )
    consultation, consultant = found.split()
    return consultation, consultant


def test_an_upload_survives_a_crash_of_the_hub(hub: HubProcess):
    consultation, consultant = open_case(hub)
    token = hub.user_token("feldsher")
    data = pdf(200_000, seed=11)
    client = TusClient(f"{hub.url}/uploads/", headers={"Authorization": f"Bearer {token}"})
    station = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=CHUNK,
        metadata=attachment_metadata(consultation, "xray.pdf"),
        upload_checksum=True,
    )
    station.upload(stop_at=3 * CHUNK)
    tus = Tus(hub.url, token)
    assert tus.offset(station.url) == 3 * CHUNK

    hub.stop(kill=True)  # as in a power cut: no clean shutdown
    hub.start()

    assert tus.offset(station.url) == 3 * CHUNK  # what was acknowledged was kept
    resumed = client.uploader(
        file_stream=io.BytesIO(data), url=station.url, chunk_size=CHUNK, upload_checksum=True
    )
    assert resumed.offset == 3 * CHUNK
    resumed.upload()
    result = resumed.request.response_headers["farcare-upload-result"]

    # The consultant fetches the file from the hub (FHIR Binary) and gets the same bytes.
    reader = hub.user_token(consultant, "user/*.read")
    response = requests.get(
        f"{hub.url}/fhir/Binary/{result}",
        headers={"Authorization": f"Bearer {reader}", "Accept": "application/fhir+json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    binary = response.json()
    assert binary["contentType"] == "application/pdf"
    assert hashlib.sha256(base64.b64decode(binary["data"])).digest() == (
        hashlib.sha256(data).digest()
    )
