"""Imaging: previews of photos and DICOM files for slow links (previews), reading, describing
and drawing DICOM images and ECGs (dicom), de-identification by the DICOM Basic Application
Level Confidentiality Profile (deidentify), and synthetic sample files (samples).

Plain modules without models. Every error a user may see is an ImagingError, a ValueError
whose message is translated."""

from .errors import (
    BurnedInAnnotation,
    DeidentificationError,
    ImagingError,
    InvalidDicom,
    InvalidImage,
    NothingToRender,
)

__all__ = [
    "BurnedInAnnotation",
    "DeidentificationError",
    "ImagingError",
    "InvalidDicom",
    "InvalidImage",
    "NothingToRender",
]
