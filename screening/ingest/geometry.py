"""Slice geometry from DICOM position/orientation tags: slice order and spacing along the normal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from screening.errors import InvalidScanError

__all__ = ["DEFAULT_SPACING_MM", "SliceGeometry", "pixel_spacing", "slice_geometry"]

#: Spacing used where the source says nothing; recorded as ``meta["spacing_assumed"] = True``.
DEFAULT_SPACING_MM = 1.0

#: Relative tolerance on the gaps between slice positions before a stack counts as irregular.
GAP_TOLERANCE = 0.1


@dataclass(frozen=True)
class SliceGeometry:
    """Where each slice sits along the stack normal.

    Attributes:
        order: slice indices sorted by position along the normal (ascending).
        spacing_mm: distance between consecutive slices in millimetres.
        assumed: ``True`` when no tag gave the spacing and :data:`DEFAULT_SPACING_MM` was used.
        origin_mm: position of the first slice (after sorting), or ``None`` when unknown.
    """

    order: tuple[int, ...]
    spacing_mm: float
    assumed: bool
    origin_mm: tuple[float, float, float] | None = None


def _floats(value: object, n: int) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if arr.shape != (n,) or not np.isfinite(arr).all():
        return None
    return arr


def pixel_spacing(value: object, source: str) -> tuple[tuple[float, float], bool]:
    """Parse DICOM PixelSpacing ``[row spacing (y), column spacing (x)]`` in mm.

    Returns:
        ``((y, x), assumed)``; ``assumed`` is ``True`` when the tag was absent and the default used.

    Raises:
        InvalidScanError: the tag is present but not two positive finite numbers.
    """
    if value is None:
        return (DEFAULT_SPACING_MM, DEFAULT_SPACING_MM), True
    arr = _floats(value, 2)
    if arr is None or (arr <= 0).any():
        raise InvalidScanError(
            f"PixelSpacing={value!r}; expected two positive numbers (row, column spacing in mm)",
            source=source,
        )
    return (float(arr[0]), float(arr[1])), False


def slice_geometry(
    positions: Sequence[object | None],
    orientation: object | None,
    fallbacks: Sequence[object | None],
    source: str,
) -> SliceGeometry:
    """Sort slices along the normal and find their spacing.

    Args:
        positions: ImagePositionPatient of each slice (``None`` where absent).
        orientation: ImageOrientationPatient (6 direction cosines), or ``None``.
        fallbacks: candidate spacing tags in order of preference (e.g. SpacingBetweenSlices,
            SliceThickness); the first positive number is used when positions cannot give it.
        source: file or folder named in errors.

    Returns:
        The slice order and spacing.

    Raises:
        InvalidScanError: two slices share a position, or the gaps between slices are irregular
            (a missing slice), so the volume geometry would be wrong.
    """
    n = len(positions)
    fallback = None
    for cand in fallbacks:
        try:
            value = float(cand) if cand is not None and cand != "" else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = None
        if value is not None and np.isfinite(value) and value > 0:
            fallback = value
            break
    pts = [_floats(p, 3) for p in positions]
    cosines = _floats(orientation, 6)
    if n == 0 or any(p is None for p in pts):
        spacing = fallback if fallback is not None else DEFAULT_SPACING_MM
        return SliceGeometry(tuple(range(n)), spacing, fallback is None)
    if cosines is None:
        cosines = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    normal = np.cross(cosines[:3], cosines[3:])
    norm = np.linalg.norm(normal)
    normal = normal / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    stack = np.stack([p for p in pts if p is not None])
    along = stack @ normal
    order = np.argsort(along, kind="stable")
    origin = tuple(float(v) for v in stack[order[0]])
    if n == 1:
        spacing = fallback if fallback is not None else DEFAULT_SPACING_MM
        return SliceGeometry((0,), spacing, fallback is None, origin)  # type: ignore[arg-type]
    gaps = np.diff(along[order])
    if (gaps <= 1e-6).any():
        dup = int(np.sum(gaps <= 1e-6))
        raise InvalidScanError(
            f"{dup} pair(s) of slices share the same ImagePositionPatient; expected one slice per position. "
            "The object may hold several stacks (sections); export one stack per object.",
            source=source,
        )
    spacing = float(np.median(gaps))
    if (np.abs(gaps - spacing) > GAP_TOLERANCE * spacing).any():
        raise InvalidScanError(
            f"slice gaps are irregular (from {gaps.min():.4g} to {gaps.max():.4g} mm, median {spacing:.4g}); "
            "a slice is probably missing from the stack",
            source=source,
        )
    return SliceGeometry(tuple(int(i) for i in order), spacing, False, origin)  # type: ignore[arg-type]
