"""Quantities users act on: drug mass (g) and banknote count, from X-ray attenuation or CT density."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "NOTE_MASS_G",
    "ct_mass_g",
    "mass_attenuation_cm2_g",
    "notes_from_mass",
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

    ``m = sum(-ln T - background) * pixel_area / (mu/rho)``; the background is the median attenuation in a
    ring around the box. A rough estimate (overlaps add mass, beam hardening is ignored).

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
    ring = -np.log(np.clip(high[oy : min(h, y1 + pad), ox : min(w, x1 + pad)], 1e-4, 1.0))
    inner = np.zeros_like(ring, dtype=bool)
    inner[y0 - oy : y1 - oy, x0 - ox : x1 - ox] = True
    bg = float(np.median(ring[~inner])) if (~inner).any() else 0.0
    excess = np.clip(ring[inner] - bg, 0.0, None)
    px_cm2 = spacing_mm[0] * spacing_mm[1] / 100.0
    return float(excess.sum() * px_cm2 / mass_attenuation_cm2_g(material))


def ct_mass_g(mhu: np.ndarray, mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> float:
    """Mass of a CT object: sum of voxel densities (MHU/1000 ~ g/cm^3) times the voxel volume."""
    voxel_cm3 = float(np.prod(spacing_mm)) / 1000.0
    return float(np.clip(mhu[mask], 0.0, None).sum() / 1000.0 * voxel_cm3)


def notes_from_mass(mass_g: float | None) -> int | None:
    """Banknote count from the stack's mass (``NOTE_MASS_G`` per note)."""
    if mass_g is None:
        return None
    return max(1, round(mass_g / NOTE_MASS_G))
