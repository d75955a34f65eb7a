"""Deterministic synthetic files for tests, the demo and benchmarks: a camera photo, a 12-lead
ECG, a chest X-ray and a chest CT series, all made here (nothing is downloaded) and identical
for the same arguments.

The people, places and identifiers in them are invented; they look real on purpose, so that
de-identification and metadata stripping have something to remove."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageChops, ImageDraw
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian

TWELVE_LEAD_ECG_STORAGE = UID("1.2.840.10008.5.1.4.1.1.9.1.1")
CR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.1")
CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")

# Uelen, Chukotka: the GPS position a phone writes into a photo taken at the feldsher post.
UELEN_LATITUDE = (66.0, 9.0, 36.0)
UELEN_LONGITUDE = (169.0, 48.0, 30.0)

# The twelve standard leads in the order of a 12-lead record, with their codes from DICOM
# PS3.16 CID 3001 (MDC, ISO/IEEE 11073-10101); the SCP-ECG codes are 5.6.3-9-<same number>.
STANDARD_LEADS: tuple[tuple[str, str], ...] = (
    ("I", "2:1"),
    ("II", "2:2"),
    ("III", "2:61"),
    ("aVR", "2:62"),
    ("aVL", "2:63"),
    ("aVF", "2:64"),
    ("V1", "2:3"),
    ("V2", "2:4"),
    ("V3", "2:5"),
    ("V4", "2:6"),
    ("V5", "2:7"),
    ("V6", "2:8"),
)

FloatArray = npt.NDArray[np.float64]


def _uid(seed: int, *parts: str) -> UID:
    # A name-based UUID (version 5) in the 2.25 form: the same sample gets the same UIDs.
    name = "/".join(("farcare-sample", str(seed), *parts))
    return UID(f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, name).int}")


# --- photo ------------------------------------------------------------------------------------


def photo_jpeg(
    width: int = 4000,
    height: int = 3000,
    *,
    seed: int = 0,
    quality: int = 90,
    orientation: int = 1,
) -> bytes:
    """A plausible phone photo of a skin lesion as JPEG bytes, with EXIF like a phone writes:
    maker, time, GPS position (Uelen) and `orientation` (1 upright; 6 means "rotate 90° clockwise
    to view", as a phone held upright stores it). At 4000×3000 and quality 90 it is about 2 MB,
    like a real photo, because of the sensor grain; it is made in well under a second."""
    rng = np.random.default_rng(seed)
    # Composed at a quarter of the size and enlarged: smooth light, skin texture, soft shapes.
    sw, sh = max(8, width // 4), max(8, height // 4)
    y = np.linspace(0.0, 1.0, sh, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, sw, dtype=np.float32)[None, :]
    light = 1.0 - 0.4 * ((x - 0.45) ** 2 + (y - 0.4) ** 2)
    coarse = rng.standard_normal((max(2, sh // 3), max(2, sw // 3))).astype(np.float32)
    texture_img = Image.fromarray((coarse * 30 + 128).clip(0, 255).astype(np.uint8), "L")
    texture = np.asarray(texture_img.resize((sw, sh), Image.Resampling.BICUBIC), np.float32)
    base = np.empty((sh, sw, 3), np.float32)
    for channel, (level, slope) in enumerate(((205.0, 30.0), (160.0, 25.0), (135.0, 20.0))):
        base[..., channel] = (level + slope * (x - y)) * light + (texture - 128.0) * 0.25
    small = Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(small)
    for _ in range(40):  # freckles and moles
        cx, cy = rng.uniform(0, sw), rng.uniform(0, sh)
        r = rng.uniform(0.002, 0.008) * sw
        tone = int(rng.integers(90, 150))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(tone + 40, tone, tone - 30))
    cx, cy = sw * 0.52, sh * 0.45  # the lesion: an irregular dark patch with a red rim
    for i in range(24):
        rx = sw * rng.uniform(0.05, 0.09) * (1 - i / 30)
        ry = sh * rng.uniform(0.05, 0.09) * (1 - i / 30)
        ox, oy = rng.normal(0, sw * 0.006), rng.normal(0, sh * 0.006)
        colour = (150 - i * 3, 70 - i * 2, 60 - i) if i else (190, 90, 80)
        draw.ellipse((cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry), fill=colour)
    image = small.resize((width, height), Image.Resampling.BICUBIC)

    # A paper ruler beside the lesion, drawn sharp at full size, as clinicians photograph one.
    draw = ImageDraw.Draw(image)
    left, top = int(width * 0.12), int(height * 0.82)
    length, ruler_h = int(width * 0.5), max(4, int(height * 0.05))
    draw.rectangle((left, top, left + length, top + ruler_h), fill=(236, 234, 224))
    step = max(2, width // 400)
    for i, tick in enumerate(range(0, length, step)):
        tick_h = ruler_h * (0.6 if i % 10 == 0 else 0.3)
        draw.line((left + tick, top, left + tick, top + tick_h), fill=(25, 25, 25))

    # Sensor grain: a seeded noise tile repeated (JPEG cannot exploit the repetition, so the
    # file size stays realistic) and added in C by ImageChops, which keeps this fast.
    tile = rng.standard_normal((509, 511)).astype(np.float32) * 3.0 + 128.0
    tile_img = Image.fromarray(tile.clip(0, 255).astype(np.uint8), "L")
    grain = Image.new("L", (width, height))
    for ty in range(0, height, tile_img.height):
        for tx in range(0, width, tile_img.width):
            grain.paste(tile_img, (tx, ty))
    image = ImageChops.add(image, Image.merge("RGB", (grain, grain, grain)), 1.0, -128)

    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FarCare"
    exif[ExifTags.Base.Model] = "Synthetic phone"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.DateTime] = "2026:11:27 10:30:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = UELEN_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = UELEN_LONGITUDE
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


# --- DICOM common -------------------------------------------------------------------------------


def _patient_and_study(
    ds: Dataset,
    *,
    seed: int,
    patient_name: str,
    patient_id: str,
    study_instance_uid: str | None,
    study_description: str,
    accession_number: str,
) -> None:
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: Cyrillic names
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.IssuerOfPatientID = "UELEN-FAP"
    ds.PatientBirthDate = "19580314"
    ds.PatientSex = "M"
    ds.PatientAge = "068Y"
    ds.PatientAddress = "Чукотский АО, с. Уэлен, ул. Ленина, д. 1"
    ds.PatientTelephoneNumbers = "+7 914 000-00-00"
    other_id = Dataset()
    other_id.PatientID = "112-233-445 95"  # SNILS
    other_id.IssuerOfPatientID = "SNILS"
    other_id.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = DicomSequence([other_id])
    ds.StudyInstanceUID = study_instance_uid or _uid(seed, "study")
    ds.StudyDate = "20261127"
    ds.StudyTime = "103000"
    ds.StudyID = "42"
    ds.AccessionNumber = accession_number
    ds.StudyDescription = study_description
    ds.ReferringPhysicianName = "Иванова^Мария^Петровна"
    ds.NameOfPhysiciansReadingStudy = "Ким^Сергей"
    ds.InstitutionName = "Уэленский фельдшерско-акушерский пункт"
    ds.InstitutionAddress = "с. Уэлен, Чукотский район"
    ds.InstitutionalDepartmentName = "ФАП Уэлен"
    ds.StationName = "UELEN-POST-1"
    ds.DeviceSerialNumber = "SN-778812"
    ds.OperatorsName = "Кергинто^Анна"


def _write(ds: Dataset, sop_class: UID) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "UELEN_FAP"
    ds.file_meta = meta
    out = io.BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


# --- 12-lead ECG --------------------------------------------------------------------------------

# Wave shapes (centre relative to the R peak in s, width in s) and per-lead amplitudes in mV of
# P, Q, R, S and T for a normal adult; the limb leads III, aVR, aVL and aVF are derived from I and
# II by Einthoven's and Goldberger's relations, as an electrocardiograph does.
_WAVES = ((-0.16, 0.022), (-0.035, 0.009), (0.0, 0.011), (0.035, 0.011), (0.28, 0.045))
_AMPLITUDES: dict[str, tuple[float, float, float, float, float]] = {
    "I": (0.10, -0.05, 0.80, -0.10, 0.25),
    "II": (0.15, -0.07, 1.20, -0.15, 0.35),
    "V1": (0.08, 0.00, 0.25, -1.00, 0.10),
    "V2": (0.10, 0.00, 0.50, -1.40, 0.50),
    "V3": (0.10, 0.00, 0.90, -0.90, 0.55),
    "V4": (0.10, -0.05, 1.50, -0.50, 0.50),
    "V5": (0.10, -0.08, 1.30, -0.25, 0.40),
    "V6": (0.10, -0.07, 1.00, -0.10, 0.30),
}
ECG_SENSITIVITY_UV = 2.5  # µV per sample unit, as many electrocardiographs store


def _ecg_leads_mv(seconds: float, rate: int, seed: int) -> dict[str, FloatArray]:
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    beats: list[float] = []
    beat = 0.35
    while beat < seconds + 0.5:
        beats.append(beat)
        beat += 60.0 / 72.0 * (1.0 + rng.normal(0.0, 0.02))  # 72 bpm, mild sinus arrhythmia
    leads: dict[str, FloatArray] = {}
    for name, amplitudes in _AMPLITUDES.items():
        signal = np.zeros(n)
        for r_peak in beats:
            for (offset, width), amplitude in zip(_WAVES, amplitudes, strict=True):
                signal += amplitude * np.exp(-0.5 * ((t - r_peak - offset) / width) ** 2)
        leads[name] = signal
    i, ii = leads["I"], leads["II"]
    leads["III"] = ii - i
    leads["aVR"] = -(i + ii) / 2
    leads["aVL"] = i - ii / 2
    leads["aVF"] = ii - i / 2
    for name in leads:
        wander = 0.04 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi))
        leads[name] = leads[name] + wander + rng.normal(0.0, 0.008, n)
    return leads


def ecg_dicom(
    *,
    seconds: float = 10,
    rate: int = 500,
    seed: int = 0,
    patient_name: str = "Тынетегин^Иван",
    patient_id: str = "UEL-000123",
    study_instance_uid: str | None = None,
) -> bytes:
    """A 12-lead ECG Waveform Storage file (DICOM PS3.3 A.34.3): one multiplex group of twelve
    int16 channels with MDC lead codes, sensitivity in µV, sinus rhythm at about 72 bpm."""
    leads = _ecg_leads_mv(seconds, rate, seed)
    samples = np.stack([leads[name] for name, _ in STANDARD_LEADS], axis=1)
    raw = np.round(samples * 1000.0 / ECG_SENSITIVITY_UV).clip(-32768, 32767).astype("<i2")

    ds = Dataset()
    _patient_and_study(
        ds,
        seed=seed,
        patient_name=patient_name,
        patient_id=patient_id,
        study_instance_uid=study_instance_uid,
        study_description="ЭКГ в 12 отведениях",
        accession_number="E2026-0117",
    )
    ds.SOPClassUID = TWELVE_LEAD_ECG_STORAGE
    ds.SOPInstanceUID = _uid(seed, "ecg", "instance")
    ds.Modality = "ECG"
    ds.SeriesInstanceUID = _uid(seed, "ecg", "series")
    ds.SeriesNumber = 1
    ds.Manufacturer = "FarCare synthetic"
    ds.ManufacturerModelName = "ECG-12"
    ds.InstanceNumber = 1
    ds.ContentDate = "20261127"
    ds.ContentTime = "103512"
    ds.AcquisitionDateTime = "20261127103502"
    ds.AcquisitionContextSequence = DicomSequence([])

    group = Dataset()
    group.MultiplexGroupTimeOffset = "0"
    group.TriggerTimeOffset = "0"
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(STANDARD_LEADS)
    group.NumberOfWaveformSamples = raw.shape[0]
    group.SamplingFrequency = str(rate)
    group.MultiplexGroupLabel = "RHYTHM"
    channels = []
    for label, code in STANDARD_LEADS:
        channel = Dataset()
        channel.ChannelLabel = label
        channel.ChannelSourceSequence = DicomSequence([_code(code, "MDC", f"Lead {label}")])
        channel.ChannelSensitivity = str(ECG_SENSITIVITY_UV)
        channel.ChannelSensitivityUnitsSequence = DicomSequence([_code("uV", "UCUM", "microvolt")])
        channel.ChannelSensitivityCorrectionFactor = "1"
        channel.ChannelBaseline = "0"
        channel.ChannelSampleSkew = "0"
        channel.WaveformBitsStored = 16
        channel.FilterLowFrequency = "0.05"
        channel.FilterHighFrequency = "150"
        channel.NotchFilterFrequency = "50"  # mains in Russia
        channels.append(channel)
    group.ChannelDefinitionSequence = DicomSequence(channels)
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.WaveformData = raw.tobytes()
    ds.WaveformSequence = DicomSequence([group])
    return _write(ds, TWELVE_LEAD_ECG_STORAGE)


# --- chest X-ray --------------------------------------------------------------------------------


def _chest_image(rows: int, columns: int, seed: int) -> npt.NDArray[np.uint16]:
    """A 12-bit PA chest radiograph, drawn from a few shapes: dark lungs in a grey body, a bright
    spine and heart shadow, rib arcs and quantum noise. Higher values are brighter (MONOCHROME2)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns].astype(np.float32)
    y /= rows
    x /= columns
    image = np.full((rows, columns), 300.0, np.float32)  # air around the patient
    body = ((x - 0.5) / 0.46) ** 2 + ((y - 0.55) / 0.6) ** 2 < 1.0
    image[body] = 2300.0
    for centre in (0.3, 0.7):  # lungs
        lung = ((x - centre) / 0.17) ** 2 + ((y - 0.45) / 0.3) ** 2 < 1.0
        image[lung] = 900.0
        for k in range(8):  # ribs: bright arcs across each lung field
            rib_y = 0.2 + 0.07 * k + 0.12 * ((x - centre) / 0.17) ** 2
            image[lung & (np.abs(y - rib_y) < 0.008)] += 500.0
    heart = ((x - 0.56) / 0.14) ** 2 + ((y - 0.62) / 0.13) ** 2 < 1.0
    image[heart] = 2100.0
    image[(np.abs(x - 0.5) < 0.035) & body] = 3300.0  # spine
    image += rng.normal(0.0, 40.0, image.shape).astype(np.float32)
    return image.clip(0, 4095).astype(np.uint16)


def xray_dicom(
    *,
    rows: int = 512,
    columns: int = 416,
    seed: int = 0,
    photometric: str = "MONOCHROME2",
    patient_name: str = "Тынетегин^Иван",
    patient_id: str = "UEL-000123",
    study_instance_uid: str | None = None,
    instance: int = 1,
    burned_in_annotation: str = "NO",
    window: Sequence[float] | None = (2000.0, 3000.0),
) -> bytes:
    """A small Computed Radiography image (CR Image Storage): 12 bits stored in 16, unsigned, with
    patient identifiers, dates, an institution, physicians, private tags (also inside a sequence)
    and UIDs. `instance` makes another image of the same series (pass the same study UID for the
    same study). `photometric="MONOCHROME1"` stores the same picture inverted (bone dark) with
    the window moved to match, as many CR readers do; a viewer must invert it back. `window` is
    the (centre, width) of the MONOCHROME2 picture, or None for none."""
    pixels = _chest_image(rows, columns, seed)
    if photometric == "MONOCHROME1":
        pixels = (4095 - pixels).astype(np.uint16)
    elif photometric != "MONOCHROME2":
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, not {photometric!r}")

    ds = Dataset()
    _patient_and_study(
        ds,
        seed=seed,
        patient_name=patient_name,
        patient_id=patient_id,
        study_instance_uid=study_instance_uid,
        study_description="Рентгенография органов грудной клетки",
        accession_number="A2026-0042",
    )
    ds.SOPClassUID = CR_IMAGE_STORAGE
    ds.SOPInstanceUID = _uid(seed, "xray", "instance", str(instance))
    ds.Modality = "CR"
    ds.SeriesInstanceUID = _uid(seed, "xray", "series")
    ds.SeriesNumber = 1
    ds.SeriesDescription = "ОГК прямая проекция"
    ds.SeriesDate = "20261127"
    ds.AcquisitionDate = "20261127"
    ds.ContentDate = "20261127"
    ds.SeriesTime = "103000"
    ds.AcquisitionTime = "103105"
    ds.ContentTime = "103110"
    ds.InstanceCreationDate = "20261127"
    ds.PerformingPhysicianName = "Кергинто^Анна"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.Manufacturer = "FarCare synthetic"
    ds.ManufacturerModelName = "CR-1"
    ds.FrameOfReferenceUID = _uid(seed, "xray", "frame")
    ds.InstanceNumber = instance
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PatientOrientation = ["L", "F"]
    ds.BurnedInAnnotation = burned_in_annotation
    ds.ImageComments = f"Снимок пациента {patient_name.replace('^', ' ')}"
    region = _code("51185008", "SCT", "Thorax")
    # A private element inside a kept sequence: removal must recurse into sequences.
    region.private_block(0x0011, "FARCARE SAMPLE", create=True).add_new(0x01, "LO", patient_id)
    ds.AnatomicRegionSequence = DicomSequence([region])

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    if window is not None:
        centre = 4095 - window[0] if photometric == "MONOCHROME1" else window[0]
        ds.WindowCenter = f"{centre:g}"
        ds.WindowWidth = f"{window[1]:g}"
    ds.PixelData = pixels.astype("<u2").tobytes()

    # Private tags as a vendor writes them: the operator's note names the patient.
    block = ds.private_block(0x0009, "ACME CR 1.0", create=True)
    block.add_new(0x01, "LO", f"Оператор: Кергинто; пациент {patient_name}")
    block.add_new(0x02, "DS", "1.25")
    ds.private_block(0x0029, "ACME CR 1.0", create=True).add_new(0x10, "SH", patient_id)
    return _write(ds, CR_IMAGE_STORAGE)


# --- chest CT -----------------------------------------------------------------------------------


def _ct_slice(size: int, position: float, seed: int) -> npt.NDArray[np.int16]:
    """One axial slice of a chest in Hounsfield units: air around, soft tissue (40 HU) with fat
    (-100) under the skin, two lungs (-850) whose size changes with `position` (0 at the top of
    the series, 1 at the bottom), a heart (45) low in the chest, the aorta (50), a vertebra
    (700) and a sternum (400), with noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    y /= size
    x /= size
    hu = np.full((size, size), -1000.0, np.float32)
    body = ((x - 0.5) / 0.44) ** 2 + ((y - 0.5) / 0.32) ** 2 < 1.0
    inner = ((x - 0.5) / 0.41) ** 2 + ((y - 0.5) / 0.29) ** 2 < 1.0
    hu[body] = -100.0
    hu[inner] = 40.0
    lung_size = 0.6 + 0.4 * np.sin(np.pi * (0.25 + 0.6 * position))
    for centre in (0.32, 0.68):
        lung = ((x - centre) / (0.14 * lung_size)) ** 2 + ((y - 0.48) / (0.22 * lung_size)) ** 2
        hu[lung < 1.0] = -850.0
    heart_size = 0.05 + 0.1 * position
    heart = ((x - 0.54) / heart_size) ** 2 + ((y - 0.5) / (heart_size * 0.9)) ** 2 < 1.0
    hu[heart] = 45.0
    hu[((x - 0.5) / 0.035) ** 2 + ((y - 0.66) / 0.035) ** 2 < 1.0] = 50.0  # aorta
    hu[((x - 0.5) / 0.06) ** 2 + ((y - 0.76) / 0.05) ** 2 < 1.0] = 700.0  # vertebra
    hu[((x - 0.5) / 0.04) ** 2 + ((y - 0.2) / 0.015) ** 2 < 1.0] = 400.0  # sternum
    hu += rng.normal(0.0, 12.0, hu.shape).astype(np.float32)
    return hu.clip(-1024, 3071).astype(np.int16)


def ct_series(
    *,
    slices: int = 5,
    size: int = 256,
    seed: int = 0,
    patient_name: str = "Тынетегин^Иван",
    patient_id: str = "UEL-000123",
    study_instance_uid: str | None = None,
    thickness_mm: float = 5.0,
) -> list[bytes]:
    """An axial chest CT series (CT Image Storage) of `slices` images of `size`² pixels: 16-bit
    signed values with a rescale of -1024 (stored = HU + 1024), a mediastinal window in the
    header, slice positions `thickness_mm` apart, and the identifiers of the other samples."""
    study_uid = study_instance_uid or _uid(seed, "ct", "study")
    series_uid = _uid(seed, "ct", "series", study_uid)
    files = []
    for index in range(slices):
        ds = Dataset()
        _patient_and_study(
            ds,
            seed=seed,
            patient_name=patient_name,
            patient_id=patient_id,
            study_instance_uid=study_uid,
            study_description="КТ органов грудной клетки",
            accession_number="A2026-0043",
        )
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = _uid(seed, "ct", "instance", study_uid, str(index + 1))
        ds.Modality = "CT"
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 2
        ds.SeriesDescription = "Грудь аксиально 5 мм"
        ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20261127"
        ds.SeriesTime = "110000"
        ds.AcquisitionTime = ds.ContentTime = f"1100{index:02d}"
        ds.BodyPartExamined = "CHEST"
        ds.Manufacturer = "FarCare synthetic"
        ds.ManufacturerModelName = "CT-16"
        ds.FrameOfReferenceUID = _uid(seed, "ct", "frame", study_uid)
        ds.InstanceNumber = index + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.BurnedInAnnotation = "NO"
        ds.KVP = "120"
        ds.SliceThickness = f"{thickness_mm:g}"
        position = -index * thickness_mm
        ds.ImagePositionPatient = ["-175", "-175", f"{position:g}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.SliceLocation = f"{position:g}"
        ds.PixelSpacing = [f"{350 / size:g}", f"{350 / size:g}"]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = size
        ds.Columns = size
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        hu = _ct_slice(size, index / max(slices - 1, 1), seed * 1000 + index)
        ds.PixelData = (hu.astype(np.int32) + 1024).astype("<i2").tobytes()
        files.append(_write(ds, CT_IMAGE_STORAGE))
    return files
