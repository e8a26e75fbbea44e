"""Standard DICOM CT Image Storage series (one slice per file) -> one MHU CT scan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from screening.errors import InvalidScanError, ResourceLimitError, UnsupportedFormatError
from screening.ingest.dicom_io import (
    CT_IMAGE_STORAGE,
    collect_meta,
    decode_pixels,
    frames_of,
    image_dims,
    open_dataset,
    to_mhu,
)
from screening.ingest.geometry import pixel_spacing, slice_geometry
from screening.ingest.limits import ReadLimits
from screening.scan import Modality, Scan

__all__ = ["read_dicom_ct_series"]


def read_dicom_ct_series(
    paths: Sequence[Path], limits: ReadLimits, *, source: str, bag_fallback: str, fmt: str = "dicom-ct-series"
) -> Scan:
    """Read CT Image Storage slices into one volume.

    Headers are read first (no pixels) to check SOP class, sizes, series and limits; slices are
    then sorted by ImagePositionPatient along the slice normal (from ImageOrientationPatient) and
    their gaps checked. Rescaled values are HU by definition of the IOD (unless RescaleType says
    MHU) and are converted as ``MHU = HU + 1000``.

    Args:
        paths: the slice files (any order).
        limits: size limits; ``max_frames`` bounds the slice count and ``max_voxels`` the volume.
        source: the path the caller gave (file or folder).
        bag_fallback: bag id (the folder name or file stem: a medical PatientID is not a bag id).
        fmt: format name for ``meta["format"]``.

    Returns:
        CT scan ``(1, Z, Y, X)`` in MHU, ``channels=("mhu",)``, ``spacing_mm=(z, y, x)``.

    Raises:
        UnsupportedFormatError: a file is not CT Image Storage.
        InvalidScanError: mixed sizes, several series, duplicate or missing slices, broken pixels.
        ResourceLimitError: too many slices or voxels.
    """
    if len(paths) > limits.max_frames:
        raise ResourceLimitError(
            f"{len(paths)} slices is beyond the limit max_frames={limits.max_frames}", source=source
        )
    headers = []
    for path in paths:
        ds = open_dataset(path, limits, header_only=True)
        sop = str(ds.get("SOPClassUID", ""))
        if sop != CT_IMAGE_STORAGE:
            raise UnsupportedFormatError(
                f"SOP Class UID is {sop or 'missing'}; expected CT Image Storage ({CT_IMAGE_STORAGE}) "
                "like the rest of the series",
                source=str(path),
            )
        if frames_of(ds) != 1:
            raise InvalidScanError(
                f"NumberOfFrames={ds.NumberOfFrames}; a CT Image Storage series holds one slice per file",
                source=str(path),
            )
        _, rows, cols, _ = image_dims(ds, limits, str(path))
        headers.append((path, ds, rows, cols))
    sizes = {(r, c) for _, _, r, c in headers}
    if len(sizes) > 1:
        listing = ", ".join(f"{p.name}: {r}x{c}" for p, _, r, c in headers[:6])
        raise InvalidScanError(
            f"slices have mixed sizes {sorted(sizes)} (Rows x Columns; {listing}); a series must share "
            "one grid",
            source=source,
        )
    series = {str(ds.get("SeriesInstanceUID", "")) for _, ds, _, _ in headers}
    if len(series) > 1:
        raise InvalidScanError(
            f"folder holds {len(series)} series (SeriesInstanceUID); one folder must hold one series of "
            "one bag",
            source=source,
        )
    rows, cols = sizes.pop()
    limits.check_image(rows, cols, len(headers), source=source, tags=("Rows", "Columns", "slice count"))
    first = headers[0][1]
    orientation = first.get("ImageOrientationPatient")
    geom = slice_geometry(
        [ds.get("ImagePositionPatient") for _, ds, _, _ in headers],
        orientation,
        [first.get("SpacingBetweenSlices"), first.get("SliceThickness")],
        source,
    )
    (sy, sx), xy_assumed = pixel_spacing(first.get("PixelSpacing"), str(headers[0][0]))
    volume = np.empty((len(headers), rows, cols), dtype=np.float32)
    units = set()
    for z, index in enumerate(geom.order):
        path = headers[index][0]
        ds = open_dataset(path, limits)
        raw = decode_pixels(ds, limits, str(path))
        if raw.ndim != 3 or raw.shape[1:] != (rows, cols):
            raise InvalidScanError(
                f"decoded slice is {raw.shape[1:]}; the series is {rows}x{cols} greyscale", source=str(path)
            )
        mhu, unit = to_mhu(raw, ds, str(path), default_unit="HU")
        units.add(unit)
        volume[z] = mhu[0]
    meta = collect_meta(first, fmt)
    meta["rescale_unit"] = "/".join(sorted(units))
    meta["slice_count"] = len(headers)
    if geom.origin_mm is not None:
        meta["ImagePositionPatient"] = list(geom.origin_mm)
    meta.pop("PatientID", None)  # a medical patient id, not a bag id; never propagated.
    if xy_assumed or geom.assumed:
        meta["spacing_assumed"] = True
    return Scan(
        array=volume[None],
        modality=Modality.CT,
        spacing_mm=(geom.spacing_mm, sy, sx),
        channels=("mhu",),
        bag_id=bag_fallback,
        source=source,
        meta=meta,
    )
