"""DICOS DX reader (For Presentation / For Processing): one transmission scan per view.

Pixel convention assumed: the (rescaled) pixel value is proportional to the detected intensity and
the full scale of the stored bits is air, so ``T = value / full_scale`` clipped to ``[0, 1]``
(``full_scale = 2**BitsStored - 1`` after the modality rescale). MONOCHROME1 images (bright =
attenuating, common for For Presentation) are inverted: ``T = 1 - value / full_scale``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.ingest.dicom_io import (
    DICOS_DX_PRESENTATION,
    DICOS_DX_PROCESSING,
    bag_id_of,
    collect_meta,
    decode_pixels,
    energy_of,
    rescale_per_frame,
)
from screening.ingest.dicom_io import open_dataset as _open
from screening.ingest.geometry import pixel_spacing
from screening.ingest.limits import ReadLimits
from screening.scan import Modality, Scan

__all__ = ["read_dicos_dx", "to_transmission"]


@dataclass(frozen=True)
class _View:
    name: str
    transmission: np.ndarray  # (H, W) float32 in [0, 1]
    spacing: tuple[float, float]
    assumed: bool
    energy: str
    meta: dict[str, Any]
    ds: Any


def to_transmission(raw: np.ndarray, ds: Any, source: str) -> np.ndarray:
    """Convert stored DX values ``(frames, H, W)`` to transmission in ``[0, 1]`` (see module note).

    Raises:
        InvalidScanError: colour data, a non-positive full scale, or non-finite values.
    """
    if raw.ndim != 3:
        raise InvalidScanError(
            f"DX pixel data has shape {raw.shape}; expected greyscale (SamplesPerPixel=1)", source=source
        )
    bits = int(ds.get("BitsStored", 16) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    full = float(2 ** (bits - 1) - 1 if signed else 2**bits - 1)
    slopes, intercepts, _ = rescale_per_frame(ds, raw.shape[0], source)
    out = raw.astype(np.float32)
    out *= slopes.astype(np.float32)[:, None, None]
    out += intercepts.astype(np.float32)[:, None, None]
    full_scale = full * slopes + intercepts
    if (full_scale <= 0).any():
        raise InvalidScanError(
            f"the rescaled full scale ({full_scale.min():.4g}) is not positive; cannot map values to "
            "transmission. Check RescaleSlope/RescaleIntercept and BitsStored.",
            source=source,
        )
    out /= full_scale.astype(np.float32)[:, None, None]
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper() == "MONOCHROME1":
        out = 1.0 - out
    if not np.isfinite(out).all():
        raise InvalidScanError("transmission values are NaN/inf; check the rescale tags", source=source)
    return np.clip(out, 0.0, 1.0, out=out)


def _frame_labels(ds: Any, nframes: int) -> list[str]:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    labels = []
    for f in range(nframes):
        label = ""
        if f < len(per_frame):
            for item in per_frame[f].get("FrameContentSequence") or []:
                label = str(item.get("FrameLabel", "") or "").strip()
        labels.append(label)
    if nframes == 1 and not labels[0]:
        labels[0] = str(ds.get("ViewPosition", "") or "").strip().lower()
    return labels


def _load(path: Path, limits: ReadLimits) -> list[_View]:
    source = str(path)
    ds = _open(path, limits)
    sop = str(ds.get("SOPClassUID", ""))
    if sop not in (DICOS_DX_PRESENTATION, DICOS_DX_PROCESSING):
        raise UnsupportedFormatError(
            f"SOP Class UID is {sop or 'missing'}; expected DICOS DX ({DICOS_DX_PRESENTATION} or "
            f"{DICOS_DX_PROCESSING})",
            source=source,
        )
    raw = decode_pixels(ds, limits, source)
    trans = to_transmission(raw, ds, source)
    spacing_tag = ds.get("ImagerPixelSpacing") or ds.get("PixelSpacing")
    spacing, assumed = pixel_spacing(spacing_tag, source)
    energy = energy_of(ds)
    meta = collect_meta(ds, "dicos-dx")
    labels = _frame_labels(ds, trans.shape[0])
    return [
        _View(labels[f], trans[f], spacing, assumed, energy, {**meta, "frame": f}, ds)
        for f in range(trans.shape[0])
    ]


def _unique_names(views: Sequence[_View]) -> list[str]:
    names: list[str] = []
    for i, v in enumerate(views):
        name = v.name or f"view{i}"
        while name in names:
            name = f"{name}_{i}"
        names.append(name)
    return names


def read_dicos_dx(paths: Sequence[Path], limits: ReadLimits, *, source: str, bag_fallback: str) -> list[Scan]:
    """Read a bag's DICOS DX file(s) into one scan per view.

    Frames are views (named by per-frame FrameLabel, else ViewPosition, else ``view<i>``). Objects
    whose ImageType says HIGH/LOW ENERGY are paired view by view into ``("high", "low")``;
    otherwise each view is ``("grey",)``.

    Args:
        paths: DX files of one bag.
        limits: size limits.
        source: the path the caller gave.
        bag_fallback: bag id when the files carry no OOI ID.

    Returns:
        One X-ray scan per view, transmission in ``[0, 1]``.

    Raises:
        UnsupportedFormatError: a file is not DICOS DX.
        InvalidScanError: broken pixels, or high/low objects that do not pair up.
        ResourceLimitError: sizes beyond ``limits``.
    """
    views: list[_View] = []
    for path in paths:
        views.extend(_load(path, limits))
    energies = {v.energy for v in views}
    if energies <= {""}:
        names = _unique_names(views)
        return [
            Scan(
                array=v.transmission[None],
                modality=Modality.XRAY,
                spacing_mm=v.spacing,
                channels=("grey",),
                bag_id=bag_id_of(v.ds, bag_fallback),
                view=name,
                source=source,
                meta={**v.meta, **({"spacing_assumed": True} if v.assumed else {})},
            )
            for v, name in zip(views, names, strict=True)
        ]
    high = [v for v in views if v.energy == "high"]
    low = [v for v in views if v.energy == "low"]
    if "" in energies or len(high) != len(low):
        raise InvalidScanError(
            f"{len(high)} high-energy, {len(low)} low-energy and "
            f"{sum(v.energy == '' for v in views)} untagged DX views; dual-energy DX needs one high and one "
            "low image of every view (ImageType value 2 HIGH ENERGY / LOW ENERGY)",
            source=source,
        )
    low_by_name = {v.name: v for v in low}
    if (
        all(v.name for v in high)
        and len(low_by_name) == len(low)
        and {v.name for v in high} == set(low_by_name)
    ):
        low = [low_by_name[v.name] for v in high]  # pair by view name where every view is named
    names = _unique_names(high)
    out = []
    for h, lo, name in zip(high, low, names, strict=True):
        if h.transmission.shape != lo.transmission.shape:
            raise InvalidScanError(
                f"view {name!r}: high-energy image is {h.transmission.shape} but low-energy is "
                f"{lo.transmission.shape}; the two energies of a view must share one grid",
                source=source,
            )
        meta = {
            **h.meta,
            "channel_sop_instance_uids": {
                "high": h.meta.get("SOPInstanceUID", ""),
                "low": lo.meta.get("SOPInstanceUID", ""),
            },
        }
        if h.assumed:
            meta["spacing_assumed"] = True
        out.append(
            Scan(
                array=np.stack([h.transmission, lo.transmission]),
                modality=Modality.XRAY,
                spacing_mm=h.spacing,
                channels=("high", "low"),
                bag_id=bag_id_of(h.ds, bag_fallback),
                view=name,
                source=source,
                meta=meta,
            )
        )
    return out
