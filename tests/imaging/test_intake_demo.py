"""The demo network has a chest CT waiting on radiologist.anadyr's worklist, kept in FarCare's
own storage, whose frames draw."""

from __future__ import annotations

import re

from farcare.demo.loader import DEMO_PASSWORD
from farcare.imaging.models import ImagingStudy, Storage


def test_the_demo_radiologist_has_a_ct_to_read(demo_network, client):
    study = ImagingStudy.objects.get(modality="CT")
    assert study.storage == Storage.EMBEDDED and study.instance_count == 9
    assert client.login(username="radiologist.anadyr", password=DEMO_PASSWORD)
    worklist = client.get("/imaging/reading/").content.decode()
    assert f"study-{study.uuid}" in worklist and "Тынетегин" in worklist
    viewer = client.get(f"/imaging/studies/{study.uuid}/").content.decode()
    frame = re.search(r'<img class="frame" src="([^"]+)"', viewer).group(1).replace("&amp;", "&")
    assert client.get(frame).status_code == 200
