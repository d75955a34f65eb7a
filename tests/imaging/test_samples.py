"""The synthetic files are realistic enough to test with, valid DICOM, and deterministic."""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import ExifTags, Image

from farcare.imaging import samples
from farcare.imaging.dicom import read_dicom


def test_the_photo_is_like_a_phone_photo(photo):
    started = time.perf_counter()
    again = samples.photo_jpeg()
    elapsed = time.perf_counter() - started

    assert again == photo  # deterministic
    assert 1_500_000 < len(photo) < 3_000_000
    print(f"photo {len(photo)} B made in {elapsed:.2f} s")
    assert elapsed < 5  # about 0.6 s on a 2-core laptop; generous for a busy CI machine
    image = Image.open(io.BytesIO(photo))
    assert image.format == "JPEG"
    exif = image.getexif()
    assert exif[ExifTags.Base.Orientation] == 1
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert gps[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert gps[ExifTags.GPS.GPSLatitude] == samples.UELEN_LATITUDE
    assert samples.photo_jpeg(seed=1, width=400, height=300) != samples.photo_jpeg(
        seed=2, width=400, height=300
    )


def test_the_ecg_is_a_valid_12_lead_record_at_72_bpm(ecg):
    ds = read_dicom(ecg)

    assert ds.SOPClassUID == samples.TWELVE_LEAD_ECG_STORAGE
    assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert ds.Modality == "ECG"
    group = ds.WaveformSequence[0]
    assert (group.NumberOfWaveformChannels, group.NumberOfWaveformSamples) == (12, 5000)
    assert group.WaveformSampleInterpretation == "SS"
    assert group.WaveformBitsAllocated == 16
    codes = [c.ChannelSourceSequence[0].CodeValue for c in group.ChannelDefinitionSequence]
    assert codes == [code for _lead, code in samples.STANDARD_LEADS]
    units = group.ChannelDefinitionSequence[0].ChannelSensitivityUnitsSequence[0]
    assert (units.CodeValue, units.CodingSchemeDesignator) == ("uV", "UCUM")

    lead_ii = ds.waveform_array(0)[:, 1] / 1000.0  # µV to mV
    assert 0.8 < lead_ii.max() < 1.6  # R waves of about 1.2 mV
    peaks = np.flatnonzero(
        (lead_ii[1:-1] > 0.7) & (lead_ii[1:-1] >= lead_ii[:-2]) & (lead_ii[1:-1] > lead_ii[2:])
    )
    assert 11 <= len(peaks) <= 13  # 72 bpm over 10 s
    assert samples.ecg_dicom() == ecg


def test_the_xray_has_what_de_identification_must_remove(xray):
    ds = read_dicom(xray)

    assert ds.SOPClassUID == samples.CR_IMAGE_STORAGE
    assert (ds.PhotometricInterpretation, ds.BitsStored, ds.BitsAllocated) == (
        "MONOCHROME2",
        12,
        16,
    )
    assert ds.pixel_array.max() <= 4095
    assert str(ds.PatientName) == "Тынетегин^Иван"
    assert ds.InstitutionName and ds.ReferringPhysicianName and ds.StudyDate
    assert any(element.tag.is_private for element in ds)
    second = read_dicom(samples.xray_dicom(instance=2))
    assert second.SeriesInstanceUID == ds.SeriesInstanceUID
    assert second.SOPInstanceUID != ds.SOPInstanceUID
