"""Shared DICOM/DICOS plumbing: safe dataset reading, header checks, pixel decoding and meta."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.ingest.limits import ReadLimits, check_file_size

__all__ = [
    "CT_IMAGE_STORAGE",
    "DICOS_CT",
    "DICOS_DX_PRESENTATION",
    "DICOS_DX_PROCESSING",
    "SOP_CLASS_FORMATS",
    "bag_id_of",
    "collect_meta",
    "decode_pixels",
    "energy_of",
    "frame_value",
    "frames_of",
    "image_dims",
    "open_dataset",
    "rescale_per_frame",
    "to_mhu",
]

#: SOP Class UIDs this package reads.
DICOS_CT = "1.2.840.10008.5.1.4.1.1.501.1"
DICOS_DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.501.2.1"
DICOS_DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.501.2.2"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

#: SOP Class UID -> the format name :func:`screening.ingest.detect_format` reports.
SOP_CLASS_FORMATS: dict[str, str] = {
    DICOS_CT: "dicos-ct",
    DICOS_DX_PRESENTATION: "dicos-dx",
    DICOS_DX_PROCESSING: "dicos-dx",
    CT_IMAGE_STORAGE: "dicom-ct",
}

#: Top-level keywords copied into ``Scan.meta`` when present (DICOM keywords as keys).
META_KEYWORDS: tuple[str, ...] = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "DeviceSerialNumber",
    "SoftwareVersions",
    "StationName",
    "InstitutionName",
    "ImageType",
    "KVP",
    "XRayTubeCurrent",
    "InstanceNumber",
    "SeriesNumber",
    "AcquisitionDateTime",
    "ContentDate",
    "ContentTime",
    "StudyDate",
    "StudyTime",
    "PatientID",
    "OOIType",
    "ScanType",
    "PhotometricInterpretation",
    "BitsStored",
    "PresentationIntentType",
    "ViewPosition",
)

#: Values scanners write when a field has no real content; never used as a bag id.
PLACEHOLDER_IDS = frozenset({"", "unknown", "none", "anonymous", "n/a", "na", "0"})


def open_dataset(
    path: Path, limits: ReadLimits, *, header_only: bool = False, tags: tuple[str, ...] | None = None
) -> Any:
    """Read a DICOM/DICOS file with pydicom, turning every failure into a :class:`ScreeningError`.

    Args:
        path: the file.
        limits: its size is checked against ``limits.max_file_bytes`` before reading.
        header_only: stop before the pixel data (cheap; used to sort and classify files).
        tags: read only these top-level keywords (cheapest; e.g. ``("SOPClassUID",)`` to classify a
            file without parsing a large per-frame functional-group sequence).

    Returns:
        The ``pydicom.Dataset``.

    Raises:
        InvalidScanError: the file is empty, truncated or its elements cannot be parsed.
        UnsupportedFormatError: the file is not DICOM at all.
        ResourceLimitError: the file is larger than the limit.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    source = str(path)
    size = check_file_size(path, limits)
    if size == 0:
        raise InvalidScanError("file is empty (0 bytes); expected a DICOM/DICOS object", source=source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                path, stop_before_pixels=header_only or tags is not None, force=True, specific_tags=tags
            )
            # Touch every top-level element so that lazily-parsed raw elements fail here, not later.
            for _ in ds:
                pass
    except InvalidDicomError as exc:
        raise UnsupportedFormatError(
            f"not a DICOM/DICOS file ({exc}); expected a DICM preamble or a DICOM dataset", source=source
        ) from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, OverflowError, NotImplementedError) as exc:
        raise InvalidScanError(
            f"cannot parse the DICOM elements ({type(exc).__name__}: {exc}); the file is truncated or "
            "corrupt. Re-export it from the scanner.",
            source=source,
        ) from None
    if len(ds) == 0 and tags is None:  # with ``tags`` an object may simply lack them
        raise InvalidScanError(
            "no DICOM elements could be read; the file is truncated or corrupt", source=source
        )
    return ds


def _int_tag(ds: Any, keyword: str, source: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise InvalidScanError(f"missing required tag {keyword}; cannot size the image", source=source)
    try:
        result = int(value)
    except (TypeError, ValueError):
        raise InvalidScanError(f"tag {keyword}={value!r} is not an integer", source=source) from None
    if result <= 0:
        raise InvalidScanError(f"tag {keyword}={result} must be a positive integer", source=source)
    return result


def image_dims(ds: Any, limits: ReadLimits, source: str) -> tuple[int, int, int, int]:
    """Return ``(frames, rows, columns, samples_per_pixel)`` after checking them against ``limits``.

    Raises:
        InvalidScanError: a size tag is missing or not a positive integer.
        ResourceLimitError: the declared size is beyond ``limits`` (checked before decoding).
    """
    rows = _int_tag(ds, "Rows", source)
    cols = _int_tag(ds, "Columns", source)
    frames = _int_tag(ds, "NumberOfFrames", source, default=1)
    spp = _int_tag(ds, "SamplesPerPixel", source, default=1)
    limits.check_image(rows, cols, frames, source=source)
    return frames, rows, cols, spp


def decode_pixels(ds: Any, limits: ReadLimits, source: str) -> np.ndarray:
    """Decode the pixel data after checking sizes and byte counts.

    Args:
        ds: a dataset read with :func:`open_dataset` (not header-only).
        limits: size limits, checked from the header before decoding.
        source: file named in errors.

    Returns:
        Stored values, shape ``(frames, rows, columns)`` (or ``(frames, rows, columns, samples)``
        for colour), the dtype pydicom gives (integers, or floats for float pixel data).

    Raises:
        InvalidScanError: no pixel data, byte count inconsistent with Rows*Columns*Frames,
            undecodable compressed data, or non-finite float values.
        ResourceLimitError: declared sizes beyond ``limits``.
    """
    frames, rows, cols, spp = image_dims(ds, limits, source)
    keyword = next((k for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if k in ds), None)
    if keyword is None or ds[keyword].value is None or len(ds[keyword].value) == 0:
        raise InvalidScanError(
            "no pixel data (7FE0,0010) in the object; expected an image. The file may be truncated before "
            "its pixel data, or the export stripped it.",
            source=source,
        )
    bits = _int_tag(ds, "BitsAllocated", source, default=32 if keyword == "FloatPixelData" else 64)
    if keyword == "PixelData" and bits not in (1, 8, 16, 32, 64):
        raise InvalidScanError(f"BitsAllocated={bits}; expected 8, 16 or 32", source=source)
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    encapsulated = bool(tsyntax is not None and tsyntax.is_encapsulated and keyword == "PixelData")
    if not encapsulated:
        expected = rows * cols * frames * spp * bits // 8
        got = len(ds[keyword].value)
        if got < expected or got > expected + 1:
            what = "truncated" if got < expected else "inconsistent"
            raise InvalidScanError(
                f"pixel data is {what}: Rows*Columns*NumberOfFrames*SamplesPerPixel*BitsAllocated/8 = "
                f"{rows}*{cols}*{frames}*{spp}*{bits}/8 = {expected} bytes expected, {got} bytes present. "
                "Check the size tags or re-export the file.",
                source=source,
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except Exception as exc:  # decoder plugins raise many types; all mean the same to us.
        missing = "plugin" in str(exc).lower() or "dependenc" in str(exc).lower()
        hint = (
            "install pylibjpeg and pylibjpeg-libjpeg for JPEG-Lossless."
            if missing
            else "the compressed pixel data is truncated or corrupt."
        )
        raise InvalidScanError(
            f"cannot decode the pixel data ({tsyntax.name if tsyntax else 'unknown transfer syntax'}: "
            f"{type(exc).__name__}: {exc}); {hint}",
            source=source,
        ) from None
    arr = np.asarray(arr)
    want = (frames, rows, cols) if spp == 1 else (frames, rows, cols, spp)
    if arr.size != math.prod(want):
        raise InvalidScanError(
            f"decoded pixel data has {arr.size} values; Rows*Columns*NumberOfFrames*SamplesPerPixel "
            f"declares {math.prod(want)}. The size tags disagree with the pixel data.",
            source=source,
        )
    arr = arr.reshape(want)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.isfinite(arr).sum())
        raise InvalidScanError(
            f"float pixel data holds {bad} NaN/inf values; expected finite numbers", source=source
        )
    return arr


def frames_of(ds: Any) -> int:
    """Number of frames the dataset declares (1 when NumberOfFrames is absent)."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _items(ds: Any, keyword: str) -> Iterator[Any]:
    seq = ds.get(keyword)
    if seq:
        yield from seq


def frame_value(ds: Any, sequence: str, keyword: str, frame: int | None = None) -> Any:
    """Look a value up through the functional groups, as the enhanced IODs place it.

    Order: the per-frame group of ``frame``, the shared group, then the top level.

    Args:
        ds: the dataset.
        sequence: the functional-group macro sequence, e.g. ``"PixelMeasuresSequence"``.
        keyword: the attribute inside it, e.g. ``"PixelSpacing"``.
        frame: frame index for the per-frame lookup, or ``None`` to skip it.

    Returns:
        The value, or ``None`` where absent.
    """
    groups: list[Any] = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if frame is not None and per_frame is not None and frame < len(per_frame):
        groups.append(per_frame[frame])
    groups.extend(_items(ds, "SharedFunctionalGroupsSequence"))
    for group in groups:
        for item in _items(group, sequence):
            if keyword in item and item[keyword].value not in (None, ""):
                return item[keyword].value
    value = ds.get(keyword)
    return None if value in (None, "") else value


def rescale_per_frame(ds: Any, nframes: int, source: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Return per-frame ``(slope, intercept, rescale_type)`` from the functional groups or top level.

    Raises:
        InvalidScanError: a slope or intercept is not a finite number.
    """
    slopes = np.ones(nframes, dtype=np.float64)
    intercepts = np.zeros(nframes, dtype=np.float64)
    rtype = ""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    # Per-frame rescale is rare (DICOS shares one); without it every frame has the shared/top-level
    # value, so look it up once instead of walking every frame's functional groups.
    varies = any("PixelValueTransformationSequence" in item for item in per_frame)
    for f in range(nframes if varies else min(1, nframes)):
        s = frame_value(ds, "PixelValueTransformationSequence", "RescaleSlope", f)
        i = frame_value(ds, "PixelValueTransformationSequence", "RescaleIntercept", f)
        t = frame_value(ds, "PixelValueTransformationSequence", "RescaleType", f)
        try:
            slopes[f] = 1.0 if s is None else float(s)
            intercepts[f] = 0.0 if i is None else float(i)
        except (TypeError, ValueError):
            raise InvalidScanError(
                f"RescaleSlope={s!r} / RescaleIntercept={i!r} are not numbers", source=source
            ) from None
        if t:
            rtype = str(t).strip().upper()
    if not varies and nframes > 1:
        slopes[1:], intercepts[1:] = slopes[0], intercepts[0]
    if not (np.isfinite(slopes).all() and np.isfinite(intercepts).all()):
        raise InvalidScanError(
            "RescaleSlope/RescaleIntercept hold NaN/inf; expected finite numbers", source=source
        )
    return slopes, intercepts, rtype


def energy_of(ds: Any) -> str:
    """Return ``"high"``, ``"low"`` or ``""`` from ImageType (DICOS value 2: HIGH/LOW ENERGY)."""
    values = ds.get("ImageType") or []
    if isinstance(values, str):
        values = [values]
    joined = " ".join(str(v).upper() for v in values)
    if "HIGH ENERGY" in joined or "HIGH_ENERGY" in joined:
        return "high"
    if "LOW ENERGY" in joined or "LOW_ENERGY" in joined:
        return "low"
    return ""


def _json_value(value: Any) -> Any:
    from pydicom.multival import MultiValue
    from pydicom.valuerep import IS, DSfloat, PersonName

    if isinstance(value, MultiValue | list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, DSfloat | float):
        return float(value)
    if isinstance(value, IS | int):
        return int(value)
    if isinstance(value, PersonName):
        return str(value)
    return str(value)


def collect_meta(ds: Any, fmt: str) -> dict[str, Any]:
    """Copy the useful source tags into a JSON-ready dict keyed by DICOM keyword, plus ``format``."""
    meta: dict[str, Any] = {"format": fmt}
    for keyword in META_KEYWORDS:
        if keyword in ds:
            value = ds[keyword].value
            if value is not None and value != "":
                meta[keyword] = _json_value(value)
    if "KVP" not in meta:
        kvp = frame_value(ds, "CTXRayDetailsSequence", "KVP", 0)
        if kvp is not None:
            meta["KVP"] = float(kvp)
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax:
        meta["TransferSyntaxUID"] = str(tsyntax)
    return meta


def bag_id_of(ds: Any, fallback: str) -> str:
    """The bag id: DICOS OOI ID (stored in PatientID) when it holds a real value, else ``fallback``."""
    ooi = str(ds.get("PatientID", "") or "").strip()
    if ooi.lower() not in PLACEHOLDER_IDS:
        return ooi
    return fallback


def to_mhu(raw: np.ndarray, ds: Any, source: str, *, default_unit: str) -> tuple[np.ndarray, str]:
    """Apply per-frame Rescale Slope/Intercept and convert to MHU (air 0, water 1000).

    Args:
        raw: stored values, shape ``(frames, rows, columns)``.
        ds: the dataset holding the rescale tags (functional groups or top level).
        source: file named in errors.
        default_unit: unit assumed when RescaleType is absent (``"MHU"`` for DICOS, ``"HU"`` for
            DICOM CT Image Storage, whose rescaled values are Hounsfield units by definition).

    Returns:
        ``(float32 array in MHU, unit found)``.

    Raises:
        InvalidScanError: the rescaled values are not finite, or RescaleType names a unit that is
            neither HU nor MHU.
    """
    slopes, intercepts, rtype = rescale_per_frame(ds, raw.shape[0], source)
    unit = rtype or default_unit
    if unit not in ("HU", "MHU"):
        raise InvalidScanError(
            f"RescaleType={unit!r}; expected 'MHU' (DICOS) or 'HU' (medical CT). Other units cannot be "
            "converted to MHU.",
            source=source,
        )
    with np.errstate(over="ignore", invalid="ignore"):
        out = raw.astype(np.float32)
        out *= slopes.astype(np.float32)[:, None, None]
        out += intercepts.astype(np.float32)[:, None, None]
        if unit == "HU":
            out += np.float32(1000.0)
    if not np.isfinite(out).all():
        raise InvalidScanError(
            "values are NaN/inf after applying RescaleSlope/RescaleIntercept; expected finite MHU. "
            "Check the rescale tags.",
            source=source,
        )
    return out, unit
