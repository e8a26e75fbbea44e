"""Quantities users act on: drug mass (g) and banknote count, from X-ray attenuation or CT density."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

import numpy as np

from screening.scan import Detection, Label

__all__ = [
    "NOTE_MASS_G",
    "ct_mass_g",
    "mass_attenuation_cm2_g",
    "notes_from_mass",
    "reconcile_views",
    "xray_mass_g",
]

#: Mass of one banknote in grams (USD 1.0 g; EUR 0.7-1.1 g): the count is mass / this.
NOTE_MASS_G = 1.0
#: Effective energy (keV) of the high-energy channel of a typical 140-160 kVp baggage scanner.
HIGH_EFFECTIVE_KEV = 70.0
_FORMULAS = {"drugs": "C17H21NO4", "currency": "C6H10O5"}  # cocaine; cellulose (banknote paper)


@lru_cache(maxsize=8)
def mass_attenuation_cm2_g(material: str, kev: float = HIGH_EFFECTIVE_KEV) -> float:
    """Mass attenuation coefficient ``mu/rho`` (cm^2/g) of ``"drugs"`` or ``"currency"`` from xraydb."""
    import xraydb

    formula = _FORMULAS.get(material, material)
    return float(xraydb.material_mu(formula, kev * 1000.0, density=1.0))


def xray_mass_g(
    high: np.ndarray, box: tuple[float, float, float, float], spacing_mm: tuple[float, float], material: str
) -> float | None:
    """Mass of an organic object in a view from its extra high-energy attenuation over the local background.

    ``m = sum(-ln T - background) * pixel_area / (mu/rho)``. The background under the box is a plane
    fitted (least squares) to the attenuation in a ring around it: clutter thickens towards one side of
    an object as often as not, and a flat median of the ring under-subtracted it (with ground-truth boxes
    on 200 simulated bags the median gave 1.9x / 2.4x the true drug / banknote mass per view, the plane
    1.5x / 1.8x). What overlaps the object along the beam still adds mass: see :func:`reconcile_views`.
    Beam hardening is ignored (< 1 % for organics up to 6 g/cm^2 at 100-180 kVp).

    Args:
        high: high-energy transmission ``(H, W)`` in ``[0, 1]``.
        box: ``(x0, y0, x1, y1)`` in pixels.
        spacing_mm: pixel size ``(y, x)`` in mm.
        material: ``"drugs"`` or ``"currency"``.

    Returns:
        grams, or ``None`` when the box is empty.
    """
    h, w = high.shape
    x0, y0, x1, y1 = (round(v) for v in box)
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return None
    pad = max(2, (x1 - x0 + y1 - y0) // 8)
    oy, ox = max(0, y0 - pad), max(0, x0 - pad)
    att = -np.log(np.clip(high[oy : min(h, y1 + pad), ox : min(w, x1 + pad)], 1e-4, 1.0)).astype(np.float64)
    iy, ix = slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox)
    box_att = att[iy, ix]
    excess = np.clip(box_att - _plane_background(att, iy, ix), 0.0, None)
    px_cm2 = spacing_mm[0] * spacing_mm[1] / 100.0
    return float(excess.sum() * px_cm2 / mass_attenuation_cm2_g(material))


def _plane_background(att: np.ndarray, iy: slice, ix: slice) -> np.ndarray | float:
    """Background under the box ``att[iy, ix]``: the least-squares plane through the ring around it.

    Solved from the ring's moments (window sums minus box sums) rather than a design matrix: the
    detector estimates a mass for every drugs/currency box it proposes, ~10 per view.
    """
    hh, ww = att.shape
    ys, xs = np.arange(hh, dtype=np.float64), np.arange(ww, dtype=np.float64)
    yb, xb = ys[iy], xs[ix]
    box = att[iy, ix]
    n = hh * ww - box.size
    if n < 12:  # no ring worth fitting (the box fills the window)
        ring = np.ones(att.shape, bool)
        ring[iy, ix] = False
        return float(np.median(att[ring])) if ring.any() else 0.0
    rows_w, cols_w = att.sum(1), att.sum(0)
    rows_b, cols_b = box.sum(1), box.sum(0)
    sy = ww * ys.sum() - xb.size * yb.sum()
    sx = hh * xs.sum() - yb.size * xb.sum()
    syy = ww * (ys**2).sum() - xb.size * (yb**2).sum()
    sxx = hh * (xs**2).sum() - yb.size * (xb**2).sum()
    sxy = ys.sum() * xs.sum() - yb.sum() * xb.sum()
    sa = rows_w.sum() - rows_b.sum()
    say = ys @ rows_w - yb @ rows_b
    sax = xs @ cols_w - xb @ cols_b
    m = np.array([[n, sy, sx], [sy, syy, sxy], [sx, sxy, sxx]])
    if abs(np.linalg.det(m)) < 1e-9 * max(1.0, n) ** 3:  # ring on one line: no slope to fit
        return sa / n
    c0, cy, cx = np.linalg.solve(m, np.array([sa, say, sax]))
    return c0 + cy * yb[:, None] + cx * xb[None, :]


def reconcile_views(
    detections: Sequence[Detection], min_overlap: float = 0.5, min_score: float = 0.25
) -> list[Detection]:
    """Give drugs/currency seen in two X-ray views the smaller of the two views' mass (and note count).

    Whatever lies in the beam's path in front of or behind the object adds attenuation that no ring
    background can see, so each view over-estimates by its own clutter, never under-estimates by it:
    the smaller of two views is the better estimate (ground-truth boxes, 200 simulated bags: drug mass
    median |relative error| 0.52 -> 0.23 with the plane background, banknote mass 0.90 -> 0.51). The same
    object is found in the other view by its extent along the belt (box columns, the belt axis of every
    X-ray view, :func:`screening.lane.belt.belt_axis`): same label, overlap >= ``min_overlap`` of the
    union, and a calibrated score of at least ``min_score`` (half the operating point: the report's own
    bar), so that a faint proposal on some other object at the same belt position cannot talk a real
    bundle's count down under the excess-currency line. Detections without a match, without a quantity,
    or from CT pass unchanged.
    """

    def measured(x: Detection) -> bool:  # an X-ray drugs/currency box with a quantity
        return (
            x.mass_g is not None
            and x.label in (Label.DRUGS, Label.CURRENCY)
            and len(x.box) == 4
            and bool(x.view)
        )

    witnesses = [o for o in detections if measured(o) and o.score >= min_score]
    out = list(detections)
    for i, d in enumerate(detections):
        if not measured(d):
            continue
        same = [
            (_interval_iou((d.box[0], d.box[2]), (o.box[0], o.box[2])), o)
            for o in witnesses
            if o.view != d.view and o.label == d.label
        ]
        ov, best = max(same, key=lambda t: t[0], default=(0.0, None))
        if (
            best is not None
            and ov >= min_overlap
            and best.mass_g is not None
            and d.mass_g is not None
            and best.mass_g < d.mass_g
        ):
            notes = notes_from_mass(best.mass_g) if d.note_count is not None else None
            out[i] = replace(d, mass_g=best.mass_g, note_count=notes)
    return out


def _interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return max(0.0, inter) / union if union > 0 else 0.0


def ct_mass_g(mhu: np.ndarray, mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> float:
    """Mass of a CT object: sum of voxel densities (MHU/1000 ~ g/cm^3) times the voxel volume."""
    voxel_cm3 = float(np.prod(spacing_mm)) / 1000.0
    return float(np.clip(mhu[mask], 0.0, None).sum() / 1000.0 * voxel_cm3)


def notes_from_mass(mass_g: float | None) -> int | None:
    """Banknote count from the stack's mass (``NOTE_MASS_G`` per note)."""
    if mass_g is None:
        return None
    return max(1, round(mass_g / NOTE_MASS_G))
