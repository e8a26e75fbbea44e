"""Dual-energy material discrimination: ratio curves of reference materials and a pseudo-Zeff index."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["A_GRID", "REFERENCE_MATERIALS", "material_curves", "material_index", "transmission"]

#: High-energy attenuation values ``a = -ln(T_high)`` at which the reference curves are tabulated.
A_GRID: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
#: Reference materials for index 0, 1 and 2 (organic, light inorganic, metal).
REFERENCE_MATERIALS: tuple[str, str, str] = ("polyethylene", "aluminium", "steel")


def transmission(material: str, thickness_mm: np.ndarray | float, response) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free ``(T_high, T_low)`` of a slab through a detector ``response`` (polychromatic).

    Args:
        material: material name.
        thickness_mm: slab thickness(es), mm.
        response: a :class:`screening.physics.spectra.DetectorResponse`.

    Returns:
        ``(T_high, T_low)`` arrays shaped like ``thickness_mm``.
    """
    from screening.physics.materials import linear_attenuation

    t = np.asarray(thickness_mm, dtype=np.float64)
    mu = linear_attenuation(material, response.energies_kev)
    att = np.exp(-t[..., None] * mu)
    return att @ response.w_high, att @ response.w_low


@lru_cache(maxsize=64)
def _curves_cached(key) -> tuple[tuple[float, ...], ...]:
    from screening.physics.spectra import dual_energy_response

    response = dual_energy_response(*key)
    out = []
    for m in REFERENCE_MATERIALS:
        th, tl = transmission(m, np.geomspace(0.01, 3000.0, 3000), response)
        ok = (th > 1e-9) & (tl > 1e-12) & (th < 1.0)
        ah = -np.log(th[ok])
        ratio = np.log(tl[ok]) / np.log(th[ok])
        out.append(tuple(float(round(v, 4)) for v in np.interp(A_GRID, ah, ratio)))
    return tuple(out)


def material_curves(
    kvp: float = 140.0,
    filter_al_mm: float = 2.0,
    filter_cu_mm: float = 0.0,
    low_scint_mm: float = 0.3,
    mid_filter_cu_mm: float = 0.5,
    high_scint_mm: float = 4.0,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Dual-energy ratio ``R = ln T_low / ln T_high`` of the reference materials versus ``a`` (A_GRID).

    R falls with thickness (beam hardening), so a scanner compares a pixel's R with these curves at
    the pixel's own ``a`` rather than with fixed thresholds. Arguments as in
    :func:`screening.physics.spectra.dual_energy_response`.

    Returns:
        ``(R_organic, R_inorganic, R_metal)``, each a tuple aligned with :data:`A_GRID`.
    """
    key = tuple(
        round(float(v), 3)
        for v in (kvp, filter_al_mm, filter_cu_mm, low_scint_mm, mid_filter_cu_mm, high_scint_mm)
    )
    return _curves_cached(key)  # type: ignore[return-value]


def material_index(high: np.ndarray, low: np.ndarray, curves, floor: float = 1e-4) -> np.ndarray:
    """Pseudo-Zeff index per pixel: 0 = like polyethylene, 1 = like aluminium, 2 = like steel.

    Args:
        high: high-energy transmission ``(H, W)`` in [0, 1].
        low: low-energy transmission ``(H, W)``.
        curves: ``(R_organic, R_inorganic, R_metal)`` from :func:`material_curves`.
        floor: transmission floor before taking logs.

    Returns:
        ``(H, W)`` float32 index (0 where the pixel is essentially air).
    """
    # float32 throughout and one shared grid lookup for the three curves (instead of three np.interp
    # calls in float64): about 3x faster on a 1000 x 700 view, same values to ~1e-6.
    f32 = np.float32
    a_h = -np.log(np.clip(np.asarray(high, f32), f32(floor), f32(1.0)))
    a_l = -np.log(np.clip(np.asarray(low, f32), f32(floor), f32(1.0)))
    grid = np.asarray(A_GRID, f32)
    k = np.clip(np.searchsorted(grid, a_h, side="right"), 1, len(grid) - 1)
    g0 = grid[k - 1]
    frac = np.clip((a_h - g0) / (grid[k] - g0), f32(0.0), f32(1.0))
    r0, r1, r2 = (np.asarray(c, f32)[k - 1] + frac * np.diff(np.asarray(c, f32))[k - 1] for c in curves)
    air = a_h <= 0.02
    ratio = a_l / np.maximum(a_h, f32(1e-6))
    idx = np.where(
        ratio <= r1,
        (ratio - r0) / np.maximum(r1 - r0, f32(1e-3)),
        f32(1.0) + (ratio - r1) / np.maximum(r2 - r1, f32(1e-3)),
    )
    idx[air] = 0.0
    return np.clip(idx, -0.5, 3.0).astype(np.float32, copy=False)
