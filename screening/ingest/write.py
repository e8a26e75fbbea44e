"""Writers for the formats ingest reads: DICOS CT/DX, DICOM CT series and 16-bit PNG energy pairs.

Used by the simulator, tests and demos. Files written here read back through
:func:`screening.ingest.read` to the same values (within the stated quantisation).

Compression: pydicom 3.0 has no JPEG-Lossless (Process 14) *encoder*, so ``compressed=True`` writes
RLE Lossless (1.2.840.10008.1.2.5), which every DICOM toolkit decodes (the DICOS toolkit included);
pydicom encodes it itself, or ~6x faster with the pylibjpeg-rle plugin when installed.
JPEG-Lossless *decoding* (pylibjpeg-libjpeg) is tested with files written by the DICOS toolkit
(pydicos).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from screening.ingest.dicom_io import CT_IMAGE_STORAGE, DICOS_CT, DICOS_DX_PROCESSING
from screening.scan import Modality, Scan

__all__ = [
    "quantise_uint16",
    "write_dicom_ct_series",
    "write_dicos_ct",
    "write_dicos_dx",
    "write_png_pair",
]

_MANUFACTURER = "screening (synthetic writer)"


def _uid() -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid())


def _ds_str(value: float) -> str:
    """A decimal string that fits DICOM's 16-character DS, round-tripping as closely as possible."""
    for digits in range(12, 3, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.3e}"


def quantise_uint16(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Map real values to ``uint16`` with a rescale slope/intercept that DICOM can store.

    Integer values spanning at most 65535 are stored exactly (slope 1; intercept 0 when they fit
    ``[0, 65535]``, else their minimum, e.g. -1000 for HU).
    Otherwise the range is spread over the 16 bits; the round-trip error is at most ``slope / 2``.

    Args:
        values: finite real values, any shape.

    Returns:
        ``(stored uint16, slope, intercept)`` with ``values ≈ stored * slope + intercept``; slope
        and intercept are the exact values their DS strings parse back to.

    Raises:
        ValueError: the values are not all finite.
    """
    values = np.asarray(values)
    if not np.isfinite(values).all():
        raise ValueError("cannot write NaN/inf values to DICOM; clean the array first")
    lo = float(values.min()) if values.size else 0.0
    hi = float(values.max()) if values.size else 0.0
    if hi - lo <= 65535 and np.array_equal(values, np.round(values)):
        intercept = 0.0 if lo >= 0 and hi <= 65535 else float(math.floor(lo))
        return (values - intercept).astype(np.uint16), 1.0, intercept
    intercept = float(_ds_str(math.floor(lo)))
    span = hi - intercept
    slope = float(_ds_str(span / 65535.0)) if span > 0 else 1.0
    while (hi - intercept) / slope > 65535.0:  # DS rounding may have shrunk the slope a hair.
        slope = float(_ds_str(slope * (1 + 1e-9) + 1e-12))
    stored = np.clip(np.round((values.astype(np.float64) - intercept) / slope), 0, 65535).astype(np.uint16)
    return stored, slope, intercept


def _now() -> tuple[str, str]:
    now = _dt.datetime.now()
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S.%f")


def _base_dataset(sop_class: str, modality: str, bag_id: str, meta: dict[str, Any]) -> Any:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

    date, time = _now()
    sop_uid = _uid()
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = sop_class
    fm.MediaStorageSOPInstanceUID = sop_uid
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    fm.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = fm
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = time
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.AcquisitionDateTime = date + time
    ds.Modality = modality
    ds.Manufacturer = str(meta.get("Manufacturer", _MANUFACTURER))[:64]
    ds.ManufacturerModelName = str(meta.get("ManufacturerModelName", "synthetic"))[:64]
    ds.PatientID = bag_id[:64]
    ds.StudyInstanceUID = meta.get("StudyInstanceUID") or _uid()
    ds.SeriesInstanceUID = meta.get("SeriesInstanceUID") or _uid()
    ds.FrameOfReferenceUID = meta.get("FrameOfReferenceUID") or _uid()
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    return ds


def _dicos_tags(ds: Any) -> None:
    """Attributes the DICOS IODs make mandatory (checked by the Stratovan toolkit on read)."""
    from screening import __version__

    ds.file_meta.add_new(0x00020004, "CS", "V03")  # DICOS Version in the file meta information
    ds.IssuerOfPatientID = "screening"  # OOI ID Assigning Authority
    ds.TypeOfPatientID = "TEXT"
    ds.PatientSex = "U"
    ds.InstitutionName = "unknown"  # Machine Location
    ds.InstitutionAddress = "unknown"  # Machine Address
    ds.StationName = "synthetic"  # Machine ID
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = f"screening {__version__}"
    ds.DateOfLastCalibration = ds.StudyDate
    ds.TimeOfLastCalibration = ds.StudyTime
    ds.PositionReferenceIndicator = ""
    ds.AcquisitionContextSequence = []
    # DICOS-only tags absent from pydicom's dictionary: Coordinate System, Image Origin, Effective Energy.
    ds.add_new(0x00082108, "CS", "LHS")
    ds.add_new(0x00080118, "CS", "MACHINE")
    ds.DICOSVersion = "V03"
    ds.OOIType = "BAGGAGE"
    ds.ScanType = "OPERATIONAL"
    ds.AcquisitionStatus = "SUCCESSFUL"


def _pixel_module(ds: Any, stored: np.ndarray, photometric: str = "MONOCHROME2") -> None:
    frames, rows, cols = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    if frames > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = frames
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(stored, dtype="<u2").tobytes()


def _save(ds: Any, path: Path, compressed: bool) -> Path:
    from pydicom.uid import RLELossless

    path.parent.mkdir(parents=True, exist_ok=True)
    if compressed:
        ds.compress(RLELossless)  # pydicom picks pylibjpeg-rle when installed (much faster), else its own
    ds.save_as(path, enforce_file_format=True)
    return path


def _item(**tags: Any) -> Any:
    from pydicom.dataset import Dataset

    item = Dataset()
    for key, value in tags.items():
        setattr(item, key, value)
    return item


def _check_ct(scan: Scan) -> None:
    if scan.modality != Modality.CT:
        raise ValueError(f"expected a CT scan; got modality {scan.modality}")
    if not np.isfinite(scan.array).all():
        raise ValueError("cannot write NaN/inf voxels; clean the array first")


def write_dicos_ct(
    scan: Scan,
    path: str | os.PathLike[str],
    *,
    compressed: bool = False,
    bag_id: str | None = None,
    kvp: float | None = None,
) -> Path:
    """Write a CT scan as one multi-frame DICOS CT object (SOP Class 1.2.840.10008.5.1.4.1.1.501.1).

    Layout follows the DICOS CT IOD as the Stratovan toolkit writes it: shared functional groups
    carry PixelSpacing ``[y, x]``, SliceThickness/SpacingBetweenSlices (``z``), identity plane
    orientation and the rescale (RescaleType ``MHU``); per-frame groups carry each slice's
    ImagePositionPatient ``(0, 0, k * z)``. Voxels are ``uint16`` with the slope/intercept of
    :func:`quantise_uint16` (exact for integer MHU in ``[0, 65535]``).

    Channels: ``("mhu",)`` is written with ImageType value 2 ``MU``; a single ``("high",)`` or
    ``("low",)`` channel as ``HIGH ENERGY`` / ``LOW ENERGY`` (write two such files for a two-object
    pair); ``("high", "low")`` as one object of ``2 * Z`` frames whose per-frame CT Image Frame Type
    says ``HIGH ENERGY`` / ``LOW ENERGY`` (one section per energy).

    Args:
        scan: CT scan, ``(C, Z, Y, X)`` MHU.
        path: output file.
        compressed: write RLE Lossless pixel data (see the module note on JPEG-Lossless).
        bag_id: OOI ID written to PatientID; default ``scan.bag_id``.
        kvp: tube voltage recorded in CT X-Ray Details (default ``scan.meta["KVP"]`` or 0).

    Returns:
        The written path.

    Raises:
        ValueError: not a CT scan, non-finite voxels, or unsupported channel names.
    """
    _check_ct(scan)
    path = Path(path)
    energies = {("mhu",): ("MU",), ("high",): ("HIGH ENERGY",), ("low",): ("LOW ENERGY",)}
    if scan.channels == ("high", "low"):
        frame_types = ("HIGH ENERGY", "LOW ENERGY")
        value2 = "MULTI ENERGY"
    elif scan.channels in energies:
        frame_types = energies[scan.channels]
        value2 = frame_types[0]
    else:
        raise ValueError(
            f"channels {scan.channels!r}; expected ('mhu',), ('high',), ('low',) or ('high', 'low')"
        )
    meta = dict(scan.meta)
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        meta.pop(key, None)  # a new object gets new UIDs; the scan's source stays untouched.
    ds = _base_dataset(DICOS_CT, "CT", bag_id or scan.bag_id, meta)
    _dicos_tags(ds)
    ds.ImageType = ["ORIGINAL", value2, "VOLUME", "NONE"]
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    ds.BurnedInAnnotation = "NO"
    ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionDuration = 1.0
    ds.add_new(0x43000902, "FL", 0.0)  # DICOS Effective Energy (keV); 0 = not stated
    stored, slope, intercept = quantise_uint16(scan.array)
    dz, dy, dx = (float(v) for v in scan.spacing_mm)
    kv = kvp if kvp is not None else float(scan.meta.get("KVP", 0) or 0)
    shared = _item(
        CTXRayDetailsSequence=[_item(KVP=_ds_str(kv), FilterType="NONE", FocalSpots=[0])],
        PlaneOrientationSequence=[_item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])],
        PixelMeasuresSequence=[
            _item(
                PixelSpacing=[_ds_str(dy), _ds_str(dx)],
                SliceThickness=_ds_str(dz),
                SpacingBetweenSlices=_ds_str(dz),
            )
        ],
        PixelValueTransformationSequence=[
            _item(RescaleIntercept=_ds_str(intercept), RescaleSlope=_ds_str(slope), RescaleType="MHU")
        ],
    )
    nz = scan.array.shape[1]
    per_frame = []
    for ftype in frame_types:
        for k in range(nz):
            group = _item(PlanePositionSequence=[_item(ImagePositionPatient=[0, 0, _ds_str(k * dz)])])
            group.CTImageFrameTypeSequence = [
                _item(
                    FrameType=["ORIGINAL", ftype, "VOLUME", "NONE"],
                    PixelPresentation="MONOCHROME",
                    VolumetricProperties="VOLUME",
                    VolumeBasedCalculationTechnique="NONE",
                )
            ]
            per_frame.append(group)
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.NumberOfFrames = len(per_frame)
    _pixel_module(ds, stored.reshape(-1, *stored.shape[2:]))
    return _save(ds, path, compressed)


def write_dicom_ct_series(scan: Scan, folder: str | os.PathLike[str], *, hu: bool = True) -> list[Path]:
    """Write a one-channel CT scan as a standard DICOM CT Image Storage series, one slice per file.

    Values are written as HU (MHU - 1000) with RescaleType ``HU`` and a rescale that round-trips
    within ``slope / 2``; slices are ``slice_0000.dcm``... with ImagePositionPatient ``(0, 0, k * z)``.

    Args:
        scan: CT scan with one channel, ``(1, Z, Y, X)`` MHU.
        folder: output folder (created).
        hu: write HU (the medical convention, default). ``False`` writes MHU with RescaleType ``MHU``.

    Returns:
        The slice files in slice order.

    Raises:
        ValueError: not a one-channel CT scan, or non-finite voxels.
    """
    _check_ct(scan)
    if scan.array.shape[0] != 1:
        raise ValueError(f"a CT series holds one channel; got channels {scan.channels!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = scan.array[0].astype(np.float64) - (1000.0 if hu else 0.0)
    stored, slope, intercept = quantise_uint16(values)
    dz, dy, dx = (float(v) for v in scan.spacing_mm)
    study, series, frame_ref = _uid(), _uid(), _uid()
    out = []
    for k in range(stored.shape[0]):
        ds = _base_dataset(
            CT_IMAGE_STORAGE,
            "CT",
            scan.bag_id,
            {"StudyInstanceUID": study, "SeriesInstanceUID": series, "FrameOfReferenceUID": frame_ref},
        )
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0, 0, _ds_str(k * dz)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = _ds_str(k * dz)
        ds.PixelSpacing = [_ds_str(dy), _ds_str(dx)]
        ds.SliceThickness = _ds_str(dz)
        ds.RescaleIntercept = _ds_str(intercept)
        ds.RescaleSlope = _ds_str(slope)
        ds.RescaleType = "HU" if hu else "MHU"
        _pixel_module(ds, stored[k : k + 1])
        out.append(_save(ds, folder / f"slice_{k:04d}.dcm", False))
    return out


def _transmission_uint16(view: np.ndarray, source: str = "") -> np.ndarray:
    if not np.isfinite(view).all():
        from screening.errors import InvalidScanError

        raise InvalidScanError(
            "cannot write NaN/inf pixels; expected transmissions in [0, 1] (clean the array first)",
            source=source or None,
        )
    return np.round(np.clip(view, 0.0, 1.0) * 65535.0).astype(np.uint16)


#: zlib strategy Z_RLE for PNG: still lossless, ~3x faster to encode than the default on 16-bit
#: transmission images for files ~1 % larger (Pillow's ``compress_type``).
PNG_ZLIB_RLE = 3


def write_dicos_dx(scans: Sequence[Scan], path: str | os.PathLike[str], *, bag_id: str | None = None) -> Path:
    """Write the X-ray views of one bag as DICOS DX (For Processing, SOP 1.2.840.10008.5.1.4.1.1.501.2.2).

    Layout (our choice, as the DX IOD is single-frame): ``path`` is a folder holding one file per view
    and energy, ``<index>_<view>.dcs`` for ``("grey",)`` views or ``<index>_<view>_high.dcs`` /
    ``..._low.dcs`` for ``("high", "low")`` views, with ImageType value 2 ``INTENSITY`` /
    ``HIGH ENERGY`` / ``LOW ENERGY``. The view name is kept in the Frame Content FrameLabel (and
    ViewPosition, upper-cased). Pixel values are transmission scaled to the 16-bit full scale
    (``round(T * 65535)``, MONOCHROME2: bright = transmits, 65535 = air). All files of the bag share
    Study/Series/Frame of Reference UIDs.

    Args:
        scans: the views of one bag: same modality (X-ray) and channels.
        path: output folder (created).
        bag_id: OOI ID written to PatientID; default the first scan's ``bag_id``.

    Returns:
        The folder, which :func:`screening.ingest.read` reads back as the bag.

    Raises:
        ValueError: no scans, mixed channels, non-X-ray scans, pseudo-colour channels, or
            non-finite pixels.
    """
    if not scans:
        raise ValueError("write_dicos_dx needs at least one view")
    first = scans[0]
    for s in scans:
        if s.modality != Modality.XRAY:
            raise ValueError(f"expected X-ray scans; got {s.modality}")
        if s.channels != first.channels:
            raise ValueError("all views of one bag must share channels")
    if first.channels not in (("grey",), ("high", "low")):
        raise ValueError(
            f"DX holds transmission; channels must be ('grey',) or ('high', 'low'), got {first.channels}"
        )
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    bag = bag_id or first.bag_id
    uids: dict[str, Any] = {
        "StudyInstanceUID": _uid(),
        "SeriesInstanceUID": _uid(),
        "FrameOfReferenceUID": _uid(),
        # the device that made the views (readers use it to tell which scanner's calibration applies)
        **{k: first.meta[k] for k in ("Manufacturer", "ManufacturerModelName") if first.meta.get(k)},
    }
    for index, scan in enumerate(scans):
        view = scan.view or f"view{index}"
        safe = re.sub(r"[^A-Za-z0-9_-]+", "-", view)[:32]
        for channel, name in enumerate(first.channels):
            ds = _base_dataset(DICOS_DX_PROCESSING, "DX", bag, uids)
            _dicos_tags(ds)
            energy = {"high": "HIGH ENERGY", "low": "LOW ENERGY"}.get(name, "INTENSITY")
            ds.ImageType = ["ORIGINAL", energy]
            ds.InstanceNumber = index + 1
            ds.PresentationIntentType = "FOR PROCESSING"
            ds.BurnedInAnnotation = "NO"
            ds.LossyImageCompression = "00"
            ds.PresentationLUTShape = "IDENTITY"
            ds.PixelIntensityRelationship = "LIN"
            ds.PixelIntensityRelationshipSign = 1
            ds.DetectorType = "SCINTILLATOR"
            ds.KVP = _ds_str(float(scan.meta.get("KVP", 0) or 0))
            ds.XRayTubeCurrentInuA = _ds_str(float(scan.meta.get("XRayTubeCurrentInuA", 1) or 1))
            ds.add_new(0x43000902, "FL", 0.0)  # DICOS Effective Energy (keV); 0 = not stated
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.ImagePositionPatient = [0, 0, 0]
            dy, dx = (float(v) for v in scan.spacing_mm)
            ds.ImagerPixelSpacing = ds.PixelSpacing = [_ds_str(dy), _ds_str(dx)]
            ds.PixelSpacingCalibrationDescription = "nominal detector pitch"
            ds.RescaleIntercept = "0"
            ds.RescaleSlope = "1"
            ds.RescaleType = "US"
            ds.ViewPosition = re.sub(r"[^A-Z0-9_ ]", "_", view.upper())[:16]
            ds.PerFrameFunctionalGroupsSequence = [_item(FrameContentSequence=[_item(FrameLabel=view[:64])])]
            _pixel_module(ds, _transmission_uint16(scan.array[channel])[None])
            suffix = "" if len(first.channels) == 1 else f"_{name}"
            _save(ds, folder / f"{index:02d}_{safe}{suffix}.dcs", False)
    return folder


def write_png_pair(
    scan: Scan, folder: str | os.PathLike[str], *, names: tuple[str, str] = ("high.png", "low.png")
) -> tuple[Path, Path]:
    """Write a dual-energy X-ray view as two 16-bit greyscale PNGs (transmission * 65535).

    Args:
        scan: X-ray scan with ``channels=("high", "low")``, values in ``[0, 1]``.
        folder: output folder (created); read back with :func:`screening.ingest.read` as an
            ``image-pair`` (the brighter image is taken as high energy).
        names: file names for the high and low images.

    Returns:
        ``(high_path, low_path)``.

    Raises:
        ValueError: not a dual-energy X-ray scan; ``InvalidScanError`` (a ``ValueError``) for non-finite
            pixels.
    """
    from PIL import Image

    if scan.modality != Modality.XRAY or scan.channels != ("high", "low"):
        raise ValueError(f"expected an X-ray scan with channels ('high', 'low'); got {scan.channels!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for channel, name in enumerate(names):
        path = folder / name
        pixels = _transmission_uint16(scan.array[channel], scan.source)
        Image.fromarray(pixels).save(
            path, format="PNG", compress_type=PNG_ZLIB_RLE, pnginfo=png_text(scan.meta)
        )
        out.append(path)
    return out[0], out[1]


def png_text(meta: dict[str, Any]) -> Any:
    """PNG text chunks for a scan's file: ``Source`` (the PNG keyword for the device) when it names one."""
    from PIL.PngImagePlugin import PngInfo

    from screening.ingest.device import UNKNOWN_DEVICE, device_of

    info = PngInfo()
    device = device_of(meta)
    if device != UNKNOWN_DEVICE:
        info.add_text("Source", device)
    return info
