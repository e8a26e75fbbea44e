"""Pseudo-colour rendering of dual-energy X-ray: orange organic, green mixed, blue metal, black impenetrable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.scan import Modality, Scan


@dataclass(frozen=True)
class Palette:
    """Vendor-specific look of a pseudo-colour rendering (the simulator randomises these).

    The material class comes from the dual-energy ratio ``R = ln(T_low) / ln(T_high)``: higher for
    higher atomic number. Brightness comes from the high-energy transmission.

    Attributes:
        organic: RGB in [0, 1] for Zeff below ~10 (R below ``ratio_mixed``).
        mixed: RGB for mixed / light inorganic (R between the two ratios).
        metal: RGB for metals (R above ``ratio_metal``).
        ratio_mixed: R where organic turns into mixed.
        ratio_metal: R where mixed turns into metal.
        impenetrable: high-energy transmission below which a pixel is drawn black.
        gamma: brightness curve applied to transmission (lower = brighter thin objects).
        blend: width (in R units) of the soft transition between colour classes.
    """

    organic: tuple[float, float, float] = (1.0, 0.62, 0.18)
    mixed: tuple[float, float, float] = (0.35, 0.8, 0.25)
    metal: tuple[float, float, float] = (0.2, 0.45, 1.0)
    ratio_mixed: float = 1.25
    ratio_metal: float = 1.55
    impenetrable: float = 0.01
    gamma: float = 0.6
    blend: float = 0.08


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
    ratio = dual_energy_ratio(high, low)
    w_mixed = np.clip((ratio - p.ratio_mixed) / p.blend + 0.5, 0.0, 1.0)
    w_metal = np.clip((ratio - p.ratio_metal) / p.blend + 0.5, 0.0, 1.0)
    organic = np.asarray(p.organic, dtype=np.float32)
    mixed = np.asarray(p.mixed, dtype=np.float32)
    metal = np.asarray(p.metal, dtype=np.float32)
    hue = (
        organic * (1 - w_mixed)[..., None]
        + mixed * (w_mixed * (1 - w_metal))[..., None]
        + metal * w_metal[..., None]
    )
    t = np.clip(high, 0.0, 1.0).astype(np.float32)
    brightness = t**p.gamma
    # Thin material fades to white, as on real consoles: mix the hue toward white by transmission.
    rgb = hue * (1 - brightness[..., None]) + brightness[..., None]
    rgb *= np.clip(t / max(p.impenetrable, 1e-6), 0.0, 1.0)[..., None] ** 0.5
    rgb[t < p.impenetrable] = 0.0
    return (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


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
