"""X-ray training augmentation: random vendor palettes, grey renderings, geometry, noise and blur.

Parameters are sampled (``sample_params``) separately from applying them (``apply``), so every
augmented sample can be reproduced from its recorded parameters.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from screening.detect.xray_input import resize_chw
from screening.physics.pseudocolour import Palette, render

__all__ = ["AugParams", "apply", "random_palette", "sample_params"]


def _jitter_rgb(rng: np.random.Generator, rgb: tuple[float, float, float], hue: float) -> tuple:
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    h = (h + rng.uniform(-hue, hue)) % 1.0
    s = float(np.clip(s * rng.uniform(0.6, 1.2), 0.1, 1.0))
    v = float(np.clip(v * rng.uniform(0.7, 1.1), 0.3, 1.0))
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h, s, v))


def random_palette(rng: np.random.Generator) -> Palette:
    """A plausible vendor palette: mostly orange/green/blue with jitter, sometimes arbitrary hues."""
    base = Palette()
    wild = rng.random() < 0.2
    hue = 0.5 if wild else 0.06
    return Palette(
        organic=_jitter_rgb(rng, base.organic, hue),
        mixed=_jitter_rgb(rng, base.mixed, hue),
        metal=_jitter_rgb(rng, base.metal, hue),
        ratio_mixed=float(rng.uniform(1.15, 1.35)),
        ratio_metal=float(rng.uniform(1.45, 1.7)),
        impenetrable=float(rng.uniform(0.003, 0.03)),
        gamma=float(rng.uniform(0.35, 1.0)),
        blend=float(rng.uniform(0.04, 0.2)),
    )


@dataclass(frozen=True)
class AugParams:
    """One sample's augmentation.

    Attributes:
        mode: ``"palette"`` (pseudo-colour), ``"grey_high"``, ``"grey_low"`` (single-energy renderings).
        palette: used when ``mode == "palette"``.
        scale: zoom factor applied to the cached view (<1 zooms out, >1 zooms in).
        shift: ``(dx, dy)`` placement in ``[0, 1]`` of the free/cropped range.
        flip_x, flip_y: mirror.
        noise: std of additive Gaussian noise (image units).
        blur: Gaussian blur sigma in pixels (0 = none).
        contrast, brightness: ``out = (img - 0.5) * contrast + 0.5 + brightness``.
    """

    mode: str
    palette: Palette | None
    scale: float
    shift: tuple[float, float]
    flip_x: bool
    flip_y: bool
    noise: float
    blur: float
    contrast: float
    brightness: float


def sample_params(rng: np.random.Generator, strength: float = 1.0) -> AugParams:
    """Random augmentation parameters (``strength`` 0 gives the identity with the default palette)."""
    if strength <= 0:
        return AugParams("palette", Palette(), 1.0, (0.5, 0.5), False, False, 0.0, 0.0, 1.0, 0.0)
    r = rng.random()
    mode = "palette" if r < 0.8 else ("grey_high" if r < 0.92 else "grey_low")
    return AugParams(
        mode=mode,
        palette=random_palette(rng) if mode == "palette" else None,
        scale=float(np.exp(rng.uniform(np.log(0.65), np.log(1.3)))),
        shift=(float(rng.random()), float(rng.random())),
        flip_x=bool(rng.random() < 0.5),
        flip_y=bool(rng.random() < 0.5),
        noise=float(rng.uniform(0.0, 0.04) * strength),
        blur=float(rng.uniform(0.0, 1.2) * strength) if rng.random() < 0.5 else 0.0,
        contrast=float(rng.uniform(0.8, 1.2)),
        brightness=float(rng.uniform(-0.06, 0.06)),
    )


def apply(
    hl: np.ndarray, boxes: np.ndarray, params: AugParams, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Render and transform one cached raw view.

    Args:
        hl: ``(2, S, S)`` high/low transmission.
        boxes: ``(N, 4)`` xyxy in cached pixels.
        params: from :func:`sample_params`.
        size: output side in pixels.
        rng: for the noise field.

    Returns:
        ``rgb float32 (3, size, size)`` in ``[0, 1]``; ``boxes float32 (N, 4)`` in output pixels (clipped;
        boxes that leave the image are dropped by the caller via zero area).
    """
    high, low = hl[0].astype(np.float32), hl[1].astype(np.float32)
    if params.mode == "palette":
        img = np.moveaxis(render(high, low, params.palette).astype(np.float32) / 255.0, -1, 0)
    else:
        grey = high if params.mode == "grey_high" else low
        img = np.repeat(grey[None] ** 0.8, 3, axis=0)
    s_in = hl.shape[-1]
    k = params.scale * size / s_in
    n = max(8, round(s_in * k))
    img = resize_chw(img, n, n)
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * (n / s_in)
    canvas = np.ones((3, size, size), dtype=np.float32)
    if n <= size:
        ox, oy = round(params.shift[0] * (size - n)), round(params.shift[1] * (size - n))
        canvas[:, oy : oy + n, ox : ox + n] = img
        b += np.array([ox, oy, ox, oy], dtype=np.float32)
    else:
        cx, cy = round(params.shift[0] * (n - size)), round(params.shift[1] * (n - size))
        canvas = img[:, cy : cy + size, cx : cx + size].copy()
        b -= np.array([cx, cy, cx, cy], dtype=np.float32)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    b = np.clip(b, 0, size)
    kept = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) >= 0.35 * np.maximum(area, 1e-6)
    b[~kept] = 0.0  # mostly cropped away: not a target (zero area is skipped by encode_targets)
    if params.flip_x:
        canvas = canvas[:, :, ::-1]
        b[:, [0, 2]] = size - b[:, [2, 0]]
    if params.flip_y:
        canvas = canvas[:, ::-1, :]
        b[:, [1, 3]] = size - b[:, [3, 1]]
    if params.blur > 0:
        from scipy.ndimage import gaussian_filter

        canvas = gaussian_filter(canvas, sigma=(0, params.blur, params.blur))
    canvas = (canvas - 0.5) * params.contrast + 0.5 + params.brightness
    if params.noise > 0:
        canvas = canvas + rng.normal(0.0, params.noise, size=canvas.shape).astype(np.float32)
    return np.clip(canvas, 0.0, 1.0).astype(np.float32), b
