"""Pseudo-colour rendering of dual-energy X-ray: orange organic, green mixed, blue metal, black opaque."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.scan import Modality, Scan

__all__ = ["DEFAULT_CURVES", "Palette", "dual_energy_ratio", "render", "to_display"]

#: Reference ratio curves (polyethylene, aluminium, steel) of the default scanner (140 kVp, 2 mm Al,
#: 0.3 mm CsI / 0.5 mm Cu / 4 mm GOS), tabulated on :data:`screening.physics.dual_energy.A_GRID`.
#: Regenerate with ``screening.physics.dual_energy.material_curves()`` (a test checks they agree).
DEFAULT_CURVES: tuple[tuple[float, ...], ...] = (
    (
        1.1807,
        1.1794,
        1.1769,
        1.1734,
        1.1703,
        1.1659,
        1.1622,
        1.1561,
        1.1514,
        1.1475,
        1.1441,
        1.1384,
        1.1335,
        1.1292,
    ),
    (
        2.1168,
        2.0208,
        1.9092,
        1.8155,
        1.7526,
        1.6768,
        1.6209,
        1.5407,
        1.4837,
        1.4398,
        1.4041,
        1.3488,
        1.3072,
        1.2746,
    ),
    (
        3.626,
        3.3313,
        3.015,
        2.7336,
        2.547,
        2.3321,
        2.1786,
        1.9627,
        1.8134,
        1.7037,
        1.6198,
        1.4998,
        1.4176,
        1.3575,
    ),
)


@dataclass(frozen=True)
class Palette:
    """Vendor-specific look of a pseudo-colour rendering (the simulator randomises these).

    The material class comes from the dual-energy ratio ``R = ln(T_low) / ln(T_high)``: higher for
    higher atomic number. R also falls with thickness (beam hardening), so when ``curves`` is set the
    class comes from where R lies between reference-material curves at the pixel's own attenuation
    (a pseudo-Zeff index: 0 polyethylene, 1 aluminium, 2 steel); otherwise from the fixed ratios.
    Brightness comes from the high-energy transmission.

    Attributes:
        organic: RGB in [0, 1] for Zeff below ~10.
        mixed: RGB for mixed / light inorganic.
        metal: RGB for metals.
        ratio_mixed: R where organic turns into mixed (used when ``curves`` is empty).
        ratio_metal: R where mixed turns into metal (used when ``curves`` is empty).
        impenetrable: high-energy transmission below which a pixel is drawn black.
        gamma: brightness curve applied to transmission (lower = brighter thin objects).
        blend: width (in R or index units) of the soft transition between colour classes.
        curves: reference ratio curves ``(R_organic, R_inorganic, R_metal)`` on ``A_GRID``; ``()`` means
            use the fixed ratios.
        index_mixed: pseudo-Zeff index where organic turns into mixed.
        index_metal: pseudo-Zeff index where mixed turns into metal.
        saturation: how strongly thin material keeps its hue (0 = fades to white like thin air).
        smooth_px: Gaussian sigma (pixels) applied to the material estimate before colouring, as
            consoles do to stop quantum noise from flickering between classes (0 = off).
        air_level: transmission drawn as pure white (consoles clip the air/noise band to white).
    """

    organic: tuple[float, float, float] = (1.0, 0.62, 0.18)
    mixed: tuple[float, float, float] = (0.35, 0.8, 0.25)
    metal: tuple[float, float, float] = (0.2, 0.45, 1.0)
    ratio_mixed: float = 1.25
    ratio_metal: float = 1.55
    impenetrable: float = 0.01
    gamma: float = 0.6
    blend: float = 0.08
    curves: tuple[tuple[float, ...], ...] = DEFAULT_CURVES
    index_mixed: float = 0.6
    index_metal: float = 1.4
    saturation: float = 0.0
    smooth_px: float = 1.0
    air_level: float = 1.0


def dual_energy_ratio(high: np.ndarray, low: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    """``ln(T_low) / ln(T_high)`` per pixel; 1.0 where the bag is essentially transparent."""
    a_high = -np.log(np.clip(high, floor, 1.0))
    a_low = -np.log(np.clip(low, floor, 1.0))
    out = np.ones_like(a_high, dtype=np.float32)
    mask = a_high > 0.02
    out[mask] = a_low[mask] / a_high[mask]
    return out


def render(high: np.ndarray, low: np.ndarray, palette: Palette | None = None) -> np.ndarray:
    """Render a dual-energy pair as pseudo-colour.

    Args:
        high: high-energy transmission ``(H, W)`` in [0, 1].
        low: low-energy transmission ``(H, W)`` in [0, 1].
        palette: colours and thresholds; the default is a typical orange/green/blue scheme.

    Returns:
        ``uint8`` image ``(H, W, 3)``.
    """
    p = palette or Palette()
    if p.curves:
        from screening.physics.dual_energy import material_index

        idx = material_index(high, low, p.curves)
        if p.smooth_px > 0:
            from scipy.ndimage import gaussian_filter

            idx = gaussian_filter(idx, p.smooth_px, mode="nearest")
        w_mixed = np.clip((idx - p.index_mixed) / p.blend + 0.5, 0.0, 1.0)
        w_metal = np.clip((idx - p.index_metal) / p.blend + 0.5, 0.0, 1.0)
    else:
        ratio = dual_energy_ratio(high, low)
        w_mixed = np.clip((ratio - p.ratio_mixed) / p.blend + 0.5, 0.0, 1.0)
        w_metal = np.clip((ratio - p.ratio_metal) / p.blend + 0.5, 0.0, 1.0)
    # Per-channel arithmetic on (H, W) planes: avoids several (H, W, 3) float temporaries.
    w_org = 1.0 - w_mixed
    w_mix = w_mixed * (1.0 - w_metal)
    t = np.clip(high / max(p.air_level, 1e-3), 0.0, 1.0).astype(np.float32)
    brightness = t**p.gamma
    if p.saturation > 0:
        # Keep some hue even for thin material: consoles boost colour saturation of faint objects.
        brightness = brightness * (1.0 - p.saturation * np.sqrt(np.sqrt(1.0 - t)))  # (1-t)**0.25, 6x faster
    # Thin material fades to white, as on real consoles: mix the hue toward white by transmission.
    shade = np.sqrt(np.clip(t / max(p.impenetrable, 1e-6), 0.0, 1.0))
    shade[t < p.impenetrable] = 0.0
    dark = 1.0 - brightness
    out = np.empty((*t.shape, 3), dtype=np.uint8)
    for c in range(3):
        hue = p.organic[c] * w_org + p.mixed[c] * w_mix + p.metal[c] * w_metal
        chan = (hue * dark + brightness) * shade
        out[..., c] = (np.clip(chan, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return out


def to_display(scan: Scan, palette: Palette | None = None) -> np.ndarray:
    """An 8-bit RGB picture of an X-ray view for consoles and annotated PNGs (``(H, W, 3)`` uint8)."""
    if scan.modality != Modality.XRAY:
        raise ValueError(f"to_display needs an X-ray scan; got {scan.modality}")
    ch = scan.channels
    if ch[:2] == ("high", "low"):
        return render(scan.array[0], scan.array[1], palette)
    if ch == ("r", "g", "b"):
        return (np.clip(np.moveaxis(scan.array, 0, -1), 0, 1) * 255 + 0.5).astype(np.uint8)
    grey = (np.clip(scan.array[0], 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)
