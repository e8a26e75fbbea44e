"""DICOS CT reader: multi-frame CT objects (uncompressed or JPEG-Lossless) and dual-energy pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.ingest.dicom_io import (
    DICOS_CT,
    bag_id_of,
    collect_meta,
    decode_pixels,
    energy_of,
    frame_value,
    open_dataset,
    to_mhu,
)
from screening.ingest.geometry import pixel_spacing, slice_geometry
from screening.ingest.limits import ReadLimits
from screening.scan import Modality, Scan

__all__ = ["CtVolume", "load_ct_volumes", "read_dicos_ct"]

#: Relative tolerance when checking that the two energies of a pair share one geometry.
SPACING_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CtVolume:
    """One CT stack read from one object.

    Attributes:
        array: MHU values, ``float32`` ``(Z, Y, X)``, slices sorted along the normal.
        spacing_mm: ``(z, y, x)`` in mm.
        spacing_assumed: some spacing came from the default, not the file.
        energy: ``"high"``, ``"low"`` or ``""`` (from ImageType / FrameType).
        meta: source tags (see :func:`collect_meta`).
        source: the file.
        ds: the pydicom dataset (header and pixels), for callers that need more tags.
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float]
    spacing_assumed: bool
    energy: str
    meta: dict[str, Any]
    source: str
    ds: Any


def _frame_energies(ds: Any, nframes: int) -> list[str]:
    """Energy of each frame from per-frame CT Image Frame Type (FrameType value 2), else ``""``."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    out = []
    for f in range(nframes):
        energy = ""
        if f < len(per_frame):
            for item in per_frame[f].get("CTImageFrameTypeSequence") or []:
                joined = " ".join(str(v).upper() for v in (item.get("FrameType") or []))
                energy = "high" if "HIGH ENERGY" in joined else "low" if "LOW ENERGY" in joined else ""
        out.append(energy)
    return out


def _positions(ds: Any, frames: Sequence[int]) -> list[Any]:
    """ImagePositionPatient of each frame: per-frame group, else shared group / top level (one lookup)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    fallback: Any = None
    out = []
    for f in frames:
        value = None
        if f < len(per_frame):
            for item in per_frame[f].get("PlanePositionSequence") or []:
                v = item.get("ImagePositionPatient")
                if v not in (None, ""):
                    value = v
                    break
        if value is None:
            if fallback is None:
                fallback = frame_value(ds, "PlanePositionSequence", "ImagePositionPatient", None)
            value = fallback
        out.append(value)
    return out


def _stack(ds: Any, values: np.ndarray, frames: Sequence[int], source: str) -> tuple[np.ndarray, tuple, bool]:
    positions = _positions(ds, frames)
    orientation = frame_value(ds, "PlaneOrientationSequence", "ImageOrientationPatient", frames[0])
    (sy, sx), xy_assumed = pixel_spacing(
        frame_value(ds, "PixelMeasuresSequence", "PixelSpacing", frames[0]), source
    )
    fallbacks = [
        frame_value(ds, "PixelMeasuresSequence", "SpacingBetweenSlices", frames[0]),
        frame_value(ds, "PixelMeasuresSequence", "SliceThickness", frames[0]),
    ]
    geom = slice_geometry(positions, orientation, fallbacks, source)
    index = np.asarray(frames)[list(geom.order)]
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        stacked = values[index[0] : index[0] + index.size]  # already in order: a view, not a copy
    else:
        stacked = values[index]
    return stacked, (geom.spacing_mm, sy, sx), xy_assumed or geom.assumed


def load_ct_volumes(path: Path, limits: ReadLimits, *, fmt: str = "dicos-ct") -> list[CtVolume]:
    """Read one DICOS CT object into one stack, or two when its frames are tagged HIGH/LOW ENERGY.

    Args:
        path: the DICOS CT file.
        limits: size limits (checked before decoding).
        fmt: format name recorded in ``meta["format"]``.

    Returns:
        One :class:`CtVolume` per energy present in the object.

    Raises:
        UnsupportedFormatError: the object is not DICOS CT (wrong SOP class).
        InvalidScanError: missing/inconsistent pixel data, non-finite values, bad geometry.
        ResourceLimitError: declared sizes beyond ``limits``.
    """
    source = str(path)
    ds = open_dataset(path, limits)
    sop = str(ds.get("SOPClassUID", ""))
    if sop != DICOS_CT:
        raise UnsupportedFormatError(
            f"SOP Class UID is {sop or 'missing'}; expected DICOS CT Image Storage ({DICOS_CT})",
            source=source,
        )
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise InvalidScanError(
            f"SamplesPerPixel={ds.SamplesPerPixel}; a CT volume must be greyscale (1)", source=source
        )
    raw = decode_pixels(ds, limits, source)
    values, _ = to_mhu(raw, ds, source, default_unit="MHU")
    del raw
    nframes = values.shape[0]
    energies = _frame_energies(ds, nframes)
    groups: dict[str, list[int]] = {}
    if {"high", "low"} <= set(energies):
        for f, e in enumerate(energies):
            if not e:
                raise InvalidScanError(
                    f"frame {f} has no HIGH/LOW ENERGY FrameType while others do; cannot split the energies",
                    source=source,
                )
            groups.setdefault(e, []).append(f)
    else:
        groups[energy_of(ds)] = list(range(nframes))
    meta = collect_meta(ds, fmt)
    out = []
    for energy, frames in groups.items():
        array, spacing, assumed = _stack(ds, values, frames, source)
        out.append(CtVolume(array, spacing, assumed, energy, meta, source, ds))
    return out


def _pair(volumes: Sequence[CtVolume], source: str) -> tuple[CtVolume, CtVolume]:
    by_energy: dict[str, CtVolume] = {}
    for vol in volumes:
        if vol.energy not in ("high", "low"):
            raise InvalidScanError(
                f"{len(volumes)} CT stacks found but {vol.source} has no HIGH/LOW ENERGY in ImageType; "
                "expected one CT object per bag, or exactly one high- and one low-energy object",
                source=source,
            )
        if vol.energy in by_energy:
            raise InvalidScanError(
                f"two {vol.energy}-energy CT stacks ({by_energy[vol.energy].source}, {vol.source}); expected "
                "exactly one high- and one low-energy object",
                source=source,
            )
        by_energy[vol.energy] = vol
    high, low = by_energy["high"], by_energy["low"]
    if high.array.shape != low.array.shape:
        raise InvalidScanError(
            f"high-energy volume is {high.array.shape} (Z, Y, X) but low-energy is {low.array.shape}; a "
            "dual-energy pair must share one grid",
            source=source,
        )
    if not np.allclose(high.spacing_mm, low.spacing_mm, rtol=SPACING_TOLERANCE):
        raise InvalidScanError(
            f"high-energy spacing {high.spacing_mm} mm differs from low-energy {low.spacing_mm} mm; a "
            "dual-energy pair must share one grid",
            source=source,
        )
    return high, low


def read_dicos_ct(paths: Sequence[Path], limits: ReadLimits, *, source: str, bag_fallback: str) -> Scan:
    """Read a bag's DICOS CT object(s) into one :class:`Scan`.

    One object (one energy) gives ``channels=("mhu",)``; two energies (two files, or one file whose
    frames are tagged HIGH/LOW ENERGY) give ``("high", "low")``.

    Args:
        paths: one or two DICOS CT files of the same bag.
        limits: size limits.
        source: the path the caller was given (file or folder), recorded in ``Scan.source``.
        bag_fallback: bag id when the files carry no OOI ID (PatientID).

    Returns:
        The CT scan, values in MHU.

    Raises:
        InvalidScanError: unreadable files, or objects that do not form one bag.
        UnsupportedFormatError: a file is not DICOS CT.
        ResourceLimitError: sizes beyond ``limits``.
    """
    volumes: list[CtVolume] = []
    for path in paths:
        volumes.extend(load_ct_volumes(path, limits, fmt="dicos-ct"))
    if len(volumes) == 1:
        vol = volumes[0]
        meta = dict(vol.meta)
        if vol.spacing_assumed:
            meta["spacing_assumed"] = True
        if vol.energy:
            meta["energy"] = vol.energy
        return Scan(
            array=vol.array[None],
            modality=Modality.CT,
            spacing_mm=vol.spacing_mm,
            channels=("mhu",),
            bag_id=bag_id_of(vol.ds, bag_fallback),
            source=source,
            meta=meta,
        )
    high, low = _pair(volumes, source)
    meta = dict(high.meta)
    meta["format"] = "dicos-ct-pair" if high.source != low.source else "dicos-ct"
    meta["channel_sources"] = {"high": high.source, "low": low.source}
    meta["channel_sop_instance_uids"] = {
        "high": high.meta.get("SOPInstanceUID", ""),
        "low": low.meta.get("SOPInstanceUID", ""),
    }
    if high.spacing_assumed or low.spacing_assumed:
        meta["spacing_assumed"] = True
    array = np.stack([high.array, low.array])
    return Scan(
        array=array,
        modality=Modality.CT,
        spacing_mm=high.spacing_mm,
        channels=("high", "low"),
        bag_id=bag_id_of(high.ds, bag_fallback),
        source=source,
        meta=meta,
    )
