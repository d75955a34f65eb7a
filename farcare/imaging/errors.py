"""Errors of the imaging package. Each is a ValueError whose message may be shown to the user
as it is (it is translated); the caller decides whether to keep the file without a preview."""

from __future__ import annotations


class ImagingError(ValueError):
    """A file could not be read, rendered or de-identified."""


class InvalidImage(ImagingError):
    """A photo is damaged, of an unsupported kind, or too large to decode safely."""


class InvalidDicom(ImagingError):
    """The bytes are not a readable DICOM Part 10 file."""


class NothingToRender(ImagingError):
    """A DICOM file that holds neither pixels nor a waveform we can draw."""


class DeidentificationError(ImagingError):
    """A DICOM file could not be de-identified."""


class BurnedInAnnotation(DeidentificationError):
    """The pixels carry burned-in text (BurnedInAnnotation YES), which attribute rules cannot
    remove: the caller must withhold the pixel data or have them cleaned."""
