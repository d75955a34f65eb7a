"""DICOM files as a consultant meets them: labelled by a summary, shown as a preview (X-ray
through its window, ECG on millimetre paper), and refused with a clear message when broken."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from farcare.imaging import InvalidDicom, NothingToRender, samples
from farcare.imaging.dicom import (
    ECG_MM_PER_S,
    ECG_PX_PER_MM,
    dicom_summary,
    read_dicom,
    render_dicom,
)
from farcare.imaging.previews import make_preview


def test_an_xray_is_summarised_for_the_consultant(xray):
    summary = dicom_summary(read_dicom(xray))

    assert summary["modality"] == "CR"
    assert summary["sop_class_name"] == "Computed Radiography Image Storage"
    assert summary["study_description"] == "Рентгенография органов грудной клетки"
    assert summary["body_part"] == "CHEST"
    assert (summary["rows"], summary["columns"], summary["number_of_frames"]) == (512, 416, 1)
    assert summary["waveform_channels"] is None


def test_an_xray_preview_keeps_its_size_when_small_and_shrinks_when_large(xray):
    preview = make_preview(xray, "application/dicom")
    assert preview is not None
    assert (preview.width, preview.height) == (416, 512)
    assert (preview.source_width, preview.source_height) == (416, 512)
    assert preview.content_type == "image/webp"
    assert len(preview.content) < len(xray) / 10

    large = make_preview(samples.xray_dicom(rows=2048, columns=1664), "application/dicom")
    assert large is not None
    assert (large.width, large.height) == (1300, 1600)
    assert (large.source_width, large.source_height) == (1664, 2048)


def test_the_window_is_applied_lungs_dark_bone_bright(xray):
    image = np.asarray(render_dicom(read_dicom(xray)))
    assert image.dtype == np.uint8
    lung, spine = image[230, 125], image[230, 208]  # left lung field, spine
    assert lung < 60
    assert spine > 200


def test_monochrome1_is_inverted_back():
    mono1 = read_dicom(samples.xray_dicom(photometric="MONOCHROME1"))
    mono2 = read_dicom(samples.xray_dicom(photometric="MONOCHROME2"))
    # Stored values are inverted: the lung is high in MONOCHROME1, low in MONOCHROME2 …
    assert mono1.pixel_array[230, 125] > mono1.pixel_array[230, 208]
    shown1 = np.asarray(render_dicom(mono1), dtype=np.int16)
    shown2 = np.asarray(render_dicom(mono2), dtype=np.int16)
    # … yet both are shown alike: dark lung, bright spine.
    assert shown1[230, 125] < 60 < 200 < shown1[230, 208]
    assert np.abs(shown1 - shown2).max() <= 1


def test_a_multiframe_image_shows_its_middle_frame(xray):
    ds = read_dicom(xray)
    middle = ds.pixel_array
    frames = [np.zeros_like(middle), middle, np.full_like(middle, 4095)]
    ds.NumberOfFrames = 3
    ds.PixelData = np.stack(frames).astype("<u2").tobytes()

    shown = np.asarray(render_dicom(ds))
    single = np.asarray(render_dicom(read_dicom(xray)))
    assert np.array_equal(shown, single)
    assert dicom_summary(ds)["number_of_frames"] == 3


def test_an_rgb_image_passes_through():
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.Rows, ds.Columns = 4, 6
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    pixels = np.zeros((4, 6, 3), np.uint8)
    pixels[..., 0] = 200
    pixels[..., 2] = 40
    ds.PixelData = pixels.tobytes()

    image = render_dicom(ds)

    assert image.mode == "RGB"
    assert image.getpixel((3, 2)) == (200, 0, 40)


def test_bytes_that_are_not_dicom_are_refused(xray):
    with pytest.raises(InvalidDicom, match="not a DICOM file"):
        read_dicom(b"%PDF-1.7\n1 0 obj\n")
    with pytest.raises(InvalidDicom, match="not a DICOM file"):
        read_dicom(xray[128:])  # a headerless data set: not accepted (force=False)
    with pytest.raises(InvalidDicom):
        make_preview(b"hello", "application/dicom")


@pytest.mark.parametrize("kept", [140, 200, 400, 1500, 214060, 428110])
def test_a_dicom_file_cut_off_in_transfer_is_refused(xray, kept):
    with pytest.raises(InvalidDicom, match="damaged"):
        make_preview(xray[:kept], "application/dicom")


def test_a_dicom_file_cut_between_elements_before_its_pixels_is_refused(xray):
    ds = read_dicom(xray)
    del ds.PixelData
    with pytest.raises(InvalidDicom, match="damaged"):
        render_dicom(ds)


def test_a_dicom_file_with_nothing_to_show(ecg):
    ds = read_dicom(ecg)
    del ds.WaveformSequence
    with pytest.raises(NothingToRender):
        render_dicom(ds)


def test_an_ecg_is_summarised_with_channels_and_rate(ecg):
    summary = dicom_summary(read_dicom(ecg))

    assert summary["sop_class_name"] == "12-lead ECG Waveform Storage"
    assert summary["modality"] == "ECG"
    assert summary["waveform_channels"] == 12
    assert summary["sampling_frequency"] == 500.0
    assert summary["duration_seconds"] == 10.0
    assert summary["rows"] is None


def _dark(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    cell = np.asarray(image.crop(box).convert("L"))
    return int((cell < 80).sum())


def test_an_ecg_is_drawn_as_twelve_labelled_leads_on_standard_paper(ecg):
    image = render_dicom(read_dicom(ecg))

    # 10 s at 25 mm/s, 5 px per mm, plus margins; four rows (3 × 4 leads and a rhythm strip).
    assert image.size == (1335, 775)
    cells = image.info["ecg_leads"]
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert set(leads) <= set(cells)
    assert "II rhythm" in cells
    for lead in leads:
        left, _top, right, _bottom = cells[lead]
        assert abs(right - left - 2.5 * ECG_MM_PER_S * ECG_PX_PER_MM) <= 1  # 2.5 s each
        # A trace (and the label) is drawn in every cell; the pink grid alone is never dark.
        assert _dark(image, cells[lead]) > 400, lead
    paper = np.asarray(image.convert("L"))
    assert (paper > 150).mean() > 0.9  # mostly pink paper


def test_leads_coded_in_scp_ecg_are_recognised(ecg):
    ds = read_dicom(ecg)
    for channel in ds.WaveformSequence[0].ChannelDefinitionSequence:
        source = channel.ChannelSourceSequence[0]
        source.CodeValue = "5.6.3-9-" + source.CodeValue.removeprefix("2:")
        source.CodingSchemeDesignator = "SCPECG"
        del channel.ChannelLabel

    cells = render_dicom(ds).info["ecg_leads"]

    assert {"I", "aVF", "V6", "II rhythm"} <= set(cells)


def test_an_ecg_preview_is_lossless_and_smaller_than_the_file(ecg):
    preview = make_preview(ecg, "application/dicom")

    assert preview is not None
    assert (preview.width, preview.height) == (1335, 775)
    image = Image.open(io.BytesIO(preview.content))
    drawn = render_dicom(read_dicom(ecg))
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(drawn))
    print(f"ECG file {len(ecg)} B -> preview {len(preview.content)} B")
    assert len(preview.content) < len(ecg) / 4
