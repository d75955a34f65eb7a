"""Sample files made once per test session: the 4000×3000 photo takes about half a second."""

from __future__ import annotations

import pytest

from farcare.imaging import samples


@pytest.fixture(scope="session")
def photo() -> bytes:
    return samples.photo_jpeg()


@pytest.fixture(scope="session")
def ecg() -> bytes:
    return samples.ecg_dicom()


@pytest.fixture(scope="session")
def xray() -> bytes:
    return samples.xray_dicom()
