"""De-identification by the DICOM Basic Application Level Confidentiality Profile: what a
privacy officer would check before a file leaves for a partner hospital abroad."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from importlib import resources

import numpy as np
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from farcare.imaging import BurnedInAnnotation, DeidentificationError, samples
from farcare.imaging.deidentify import _choose, deidentify, new_uid
from farcare.imaging.dicom import read_dicom, render_dicom

SALT = b"farcare-test-salt-0123456789"
OTHER_SALT = b"another-deployment-salt-987654"
PSEUDONYM = "FC-7F3A21"
STUDY = "1.2.643.5.1.13.13.12.2.25.8754.1"

# Everything in the samples that identifies the patient, the staff or the place.
IDENTIFYING = [
    "Тынетегин",
    "UEL-000123",
    "19580314",
    "068Y",
    "Уэлен",
    "Ленина",
    "+7 914",
    "112-233-445 95",
    "Иванова",
    "Ким",
    "Кергинто",
    "A2026-0042",
    "E2026-0117",
    "SN-778812",
    "UELEN",
    "20261127",
    "103000",
    "Оператор",
]


def _walk(ds: Dataset) -> Iterator[DataElement]:
    for element in ds:
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from _walk(item)


def _texts(ds: Dataset) -> list[str]:
    texts = []
    for element in [*_walk(ds), *_walk(ds.file_meta)]:
        if element.VR in ("OB", "OW", "SQ", "UN"):
            continue
        value = element.value
        texts.append(str(list(value) if isinstance(value, list | tuple) else value))
    return texts


@pytest.fixture
def originals() -> tuple[Dataset, Dataset]:
    xray = read_dicom(samples.xray_dicom(study_instance_uid=STUDY))
    ecg = read_dicom(samples.ecg_dicom(study_instance_uid=STUDY))
    return xray, ecg


def test_no_identifying_value_remains_anywhere(originals):
    xray, _ecg = originals
    uids = [
        str(ds[keyword].value)
        for ds in originals
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    ] + [str(xray.FrameOfReferenceUID), str(xray.file_meta.MediaStorageSOPInstanceUID)]
    for original in originals:
        texts = " | ".join(_texts(original))
        assert "Тынетегин" in texts and STUDY in texts  # the check can see them

        result = deidentify(original, salt=SALT, pseudonym=PSEUDONYM)

        texts = " | ".join(_texts(result))
        for needle in IDENTIFYING + uids:
            assert needle not in texts, needle
        assert result.PatientName == PSEUDONYM
        assert result.PatientID == PSEUDONYM
        assert result.PatientBirthDate == ""
        assert result.StudyDate == ""
        assert "InstitutionName" not in result
        assert "OtherPatientIDsSequence" not in result


def test_private_tags_are_removed_also_inside_sequences(originals):
    xray, _ecg = originals
    assert any(element.tag.is_private for element in _walk(xray))
    assert any(element.tag.is_private for element in _walk(xray.AnatomicRegionSequence[0]))

    result = deidentify(xray, salt=SALT, pseudonym=PSEUDONYM)

    assert not any(element.tag.is_private for element in _walk(result))
    # The sequence itself is not identifying and stays, with its code.
    assert result.AnatomicRegionSequence[0].CodeMeaning == "Thorax"


def test_uids_stay_consistent_within_a_study_and_differ_with_another_salt(originals):
    xray, ecg = originals
    # The ECG refers to the X-ray: the reference must follow the X-ray's new UID.
    reference = Dataset()
    reference.ReferencedSOPClassUID = xray.SOPClassUID
    reference.ReferencedSOPInstanceUID = xray.SOPInstanceUID
    ecg.ReferencedInstanceSequence = Sequence([reference])

    new_xray = deidentify(xray, salt=SALT, pseudonym=PSEUDONYM)
    new_ecg = deidentify(ecg, salt=SALT, pseudonym=PSEUDONYM)
    elsewhere = deidentify(xray, salt=OTHER_SALT, pseudonym=PSEUDONYM)

    assert new_xray.StudyInstanceUID == new_ecg.StudyInstanceUID != STUDY
    assert new_xray.SOPInstanceUID != new_ecg.SOPInstanceUID
    assert new_ecg.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == (
        new_xray.SOPInstanceUID
    )
    assert new_ecg.ReferencedInstanceSequence[0].ReferencedSOPClassUID == xray.SOPClassUID
    assert elsewhere.StudyInstanceUID != new_xray.StudyInstanceUID
    for uid in (new_xray.StudyInstanceUID, new_xray.SeriesInstanceUID, new_xray.SOPInstanceUID):
        assert uid.startswith("2.25.")
        assert UID(uid).is_valid
    assert new_xray.SOPClassUID == xray.SOPClassUID  # a class, not an instance: kept
    assert new_uid(STUDY, SALT) == new_xray.StudyInstanceUID


def test_the_result_says_how_it_was_de_identified(originals):
    result = deidentify(originals[0], salt=SALT, pseudonym=PSEUDONYM)

    assert result.PatientIdentityRemoved == "YES"
    assert "Basic Application Confidentiality Profile" in result.DeidentificationMethod
    (code,) = result.DeidentificationMethodCodeSequence
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    assert code.CodeMeaning == "Basic Application Confidentiality Profile"
    assert result.LongitudinalTemporalInformationModified == "REMOVED"


def test_pixels_are_unchanged_and_the_file_stays_valid_dicom(originals):
    xray, _ecg = originals
    result = deidentify(xray, salt=SALT, pseudonym=PSEUDONYM)
    assert result.PixelData == xray.PixelData

    out = io.BytesIO()
    result.save_as(out)  # no special options: the result carries its preamble and meta
    reread = read_dicom(out.getvalue())

    assert reread.file_meta.MediaStorageSOPInstanceUID == reread.SOPInstanceUID
    assert "SourceApplicationEntityTitle" not in reread.file_meta
    assert np.array_equal(reread.pixel_array, xray.pixel_array)
    assert render_dicom(reread).size == (416, 512)
    assert "Тынетегин".encode() not in out.getvalue()


def test_an_ecg_keeps_what_its_iod_requires(originals):
    _xray, ecg = originals
    result = deidentify(ecg, salt=SALT, pseudonym="Пациент 7")

    # Waveform Identification: Content Date/Time and Acquisition DateTime are Type 1 (X/Z/D → D).
    assert result.ContentDate == "19000101"
    assert result.AcquisitionDateTime == "19000101000000"
    assert result.AcquisitionContextSequence == []  # Type 2: emptied, not removed
    out = io.BytesIO()
    result.save_as(out)
    reread = read_dicom(out.getvalue())
    assert reread.PatientName == "Пациент 7"
    assert render_dicom(reread).info["ecg_leads"]["V6"]


def test_the_original_is_left_untouched(originals):
    xray, _ecg = originals
    before = xray.to_json_dict(bulk_data_threshold=1_000_000, bulk_data_element_handler=len)

    deidentify(xray, salt=SALT, pseudonym=PSEUDONYM)

    assert xray.to_json_dict(bulk_data_threshold=1_000_000, bulk_data_element_handler=len) == (
        before
    )


def test_burned_in_annotation_is_refused():
    ds = read_dicom(samples.xray_dicom(burned_in_annotation="YES"))

    with pytest.raises(BurnedInAnnotation, match="burned into its pixels"):
        deidentify(ds, salt=SALT, pseudonym=PSEUDONYM)
    assert issubclass(BurnedInAnnotation, DeidentificationError)
    assert issubclass(BurnedInAnnotation, ValueError)


@pytest.mark.parametrize("pseudonym", ["", "   ", "a" * 65, "A\\B", "line\nbreak"])
def test_a_bad_pseudonym_is_refused(originals, pseudonym):
    with pytest.raises(DeidentificationError, match="pseudonym"):
        deidentify(originals[0], salt=SALT, pseudonym=pseudonym)


def test_a_short_salt_is_refused(originals):
    with pytest.raises(ValueError, match="salt"):
        deidentify(originals[0], salt=b"short", pseudonym=PSEUDONYM)


def test_the_profile_table_is_the_standard_one():
    text = resources.files("farcare.imaging").joinpath("data/basic_profile.csv").read_text()
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    actions = {row["keyword"]: row["action"] for row in rows if row["keyword"]}
    by_tag = {row["tag"]: row["action"] for row in rows}

    assert len(rows) > 600
    assert set(by_tag.values()) <= {
        "D",
        "Z",
        "X",
        "K",
        "C",
        "U",
        "X/Z",
        "X/D",
        "Z/D",
        "X/Z/D",
        "X/Z/U*",
    }
    assert actions["PatientName"] == "Z"
    assert actions["PatientID"] == "Z/D"
    assert actions["PatientBirthDate"] == "Z"
    assert actions["StudyInstanceUID"] == "U"
    assert actions["InstitutionName"] == "X/Z/D"
    assert actions["AccessionNumber"] == "Z"
    assert actions["SourceImageSequence"] == "X/Z/U*"
    assert by_tag["private"] == "X"
    assert by_tag["60xx3000"] == "X"  # overlay data


@pytest.mark.parametrize(
    ("action", "required", "chosen"),
    [
        ("X/Z/D", None, "X"),  # optional in the IOD: removed
        ("X/Z/D", 2, "Z"),  # Type 2: emptied
        ("X/Z/D", 1, "D"),  # Type 1: a dummy value
        ("X/Z", 2, "Z"),
        ("Z/D", None, "Z"),
        ("Z/D", 1, "D"),
        ("X/D", 2, "D"),
        ("X/Z/U*", None, "X"),
        ("X/Z/U*", 1, "U"),
        ("U", None, "U"),
    ],
)
def test_combined_actions_take_the_strictest_the_iod_allows(action, required, chosen):
    assert _choose(action, required) == chosen


def test_an_overlay_goes_with_its_data(originals):
    xray, _ecg = originals
    xray.add_new(0x60000010, "US", 512)  # Overlay Rows
    xray.add_new(0x60000011, "US", 416)  # Overlay Columns
    xray.add_new(0x60000040, "CS", "G")  # Overlay Type
    xray.add_new(0x60000050, "SS", [1, 1])  # Overlay Origin
    xray.add_new(0x60000100, "US", 1)  # Overlay Bits Allocated
    xray.add_new(0x60000102, "US", 0)  # Overlay Bit Position
    xray.add_new(0x60003000, "OW", bytes(512 * 416 // 8))  # Overlay Data: may show a name

    result = deidentify(xray, salt=SALT, pseudonym=PSEUDONYM)

    assert not [element for element in result if element.tag.group == 0x6000]
