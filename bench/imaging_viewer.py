"""Bytes of the imaging viewer's first screen over a weak link: the viewer page (gzipped, as
GZipMiddleware sends it), its first frame (a 512 px WebP of a 512² CT slice), the stylesheets
and HTMX a first visit also fetches, and a frame of each window preset; from FarCare's own
storage and, when Orthanc is installed, from a real Orthanc on loopback (DICOMweb).

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/imaging_viewer.py

A temporary SQLite database and media root; the project's var/ is never touched."""

from __future__ import annotations

import gzip
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="farcare-imaging-bench-"))
os.environ["FARCARE_DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ["FARCARE_MEDIA_ROOT"] = str(WORK / "media")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farcare.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

BUDGET = 60 * 1024


def main() -> int:
    setup_test_environment()
    call_command("migrate", verbosity=0)
    from farcare.accounts.models import Role
    from farcare.audit.services import Accessor
    from farcare.diagnostics.models import Capability
    from farcare.imaging import samples
    from farcare.imaging.services import study_store
    from farcare.network.models import FacilityKind
    from tests.factories import PASSWORD, FacilityFactory, PatientFactory, UserFactory, link

    hub = FacilityFactory(kind=FacilityKind.REGIONAL_HUB)
    district = FacilityFactory(kind=FacilityKind.DISTRICT_HOSPITAL)
    link(district, hub)
    Capability.objects.create(facility=hub, category="imaging", modality="CT", reads_images=True)
    doctor = UserFactory(role=Role.CLINICIAN, facility=district)
    reader = UserFactory(role=Role.RADIOLOGIST, facility=hub)
    patient = PatientFactory(home_facility=district)
    client = Client(HTTP_ACCEPT_LANGUAGE="ru")
    assert client.login(username=reader.username, password=PASSWORD)

    statics = sum(
        len(gzip.compress(Path(finders.find(name)).read_bytes()))  # type: ignore[arg-type]
        for name in ("farcare/farcare.css", "imaging/imaging.css", "farcare/htmx.min.js")
    )
    ok = True
    sources = [("embedded", None)]
    from tests.imaging.orthanc import orthanc_missing, running_orthanc

    if not orthanc_missing():
        sources.append(("orthanc", running_orthanc(WORK / "orthanc")))
    for seed, (name, orthanc) in enumerate(sources):
        url = orthanc.__enter__() if orthanc is not None else ""
        settings.FARCARE_DICOMWEB_URL = url
        study = study_store(
            accessor=Accessor(doctor),
            patient=patient,
            files=samples.ct_series(slices=20, size=512, seed=seed + 50),
            facility=district,
        )
        page = client.get(f"/imaging/studies/{study.uuid}/")
        html = page.content.decode()
        frame_url = re.search(r'<img class="frame" src="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        frame_url = frame_url.replace("&amp;", "&")
        frame = client.get(frame_url, HTTP_ACCEPT="image/webp,*/*")
        page_gz = len(gzip.compress(page.content))
        first = page_gz + len(frame.content)
        presets = {
            key: len(client.get(re.sub(r"w=\w+", f"w={key}", frame_url)).content)
            for key in ("mediastinum", "lung", "bone", "brain")
        }
        jpeg = len(client.get(frame_url, HTTP_ACCEPT="image/jpeg").content)
        print(f"== {name} storage (CT 20 slices of 512², viewport 512 px)")
        print(f"  viewer page: {len(page.content):,} B, gzipped {page_gz:,} B")
        print(f"  first frame: {len(frame.content):,} B WebP ({jpeg:,} B as JPEG)")
        print(f"  first screen (page + first frame): {first:,} B of {BUDGET:,} B budget")
        print(
            f"  + first visit's CSS and HTMX (gzipped, then cached): {statics:,} B "
            f"→ {first + statics:,} B"
        )
        print("  one frame per preset: " + ", ".join(f"{k} {v:,} B" for k, v in presets.items()))
        ok = ok and first <= BUDGET
        if orthanc is not None:
            orthanc.__exit__(None, None, None)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
