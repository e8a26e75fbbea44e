"""X-ray model input: any view (raw dual-energy, grey or RGB) -> letterboxed RGB tensor, and back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.errors import InvalidScanError
from screening.physics.pseudocolour import Palette, render
from screening.scan import Modality, Scan

__all__ = ["Letterbox", "letterbox", "resize_chw", "scan_to_rgb", "unletterbox_boxes"]


@dataclass(frozen=True)
class Letterbox:
    """How an image was placed in the square model input.

    Attributes:
        scale: model pixels per source pixel (same for x and y: shapes are preserved).
        pad_x: left padding in model pixels.
        pad_y: top padding in model pixels.
        size: side of the square model input in pixels.
    """

    scale: float
    pad_x: int
    pad_y: int
    size: int


def scan_to_rgb(scan: Scan, palette: Palette | None = None) -> np.ndarray:
    """Turn one X-ray view into an RGB picture the model reads.

    Raw dual-energy views are rendered with ``palette`` (default: the standard orange/green/blue scheme);
    grey views are replicated to three channels; RGB is passed through. Training renders raw views with
    randomised palettes, so the model does not depend on one vendor's colours.

    Args:
        scan: an X-ray ``Scan`` with channels ``("high", "low")``, ``("grey",)`` or ``("r", "g", "b")``.
        palette: colours for raw dual-energy input.

    Returns:
        ``float32`` array ``(3, H, W)`` in ``[0, 1]`` (1 = white = air).

    Raises:
        InvalidScanError: wrong modality, unknown channel layout or non-finite pixels.
    """
    if scan.modality != Modality.XRAY:
        raise InvalidScanError(
            f"the X-ray detector needs an X-ray view; got modality {scan.modality}",
            source=scan.source or None,
        )
    arr = scan.array
    if not np.isfinite(arr).all():
        raise InvalidScanError(
            "view contains NaN/inf pixels; expected finite transmission values in [0, 1]",
            source=scan.source or None,
        )
    ch = tuple(scan.channels)
    if ch[:2] == ("high", "low"):
        rgb = render(arr[0], arr[1], palette).astype(np.float32) / 255.0
        return np.ascontiguousarray(np.moveaxis(rgb, -1, 0))
    if ch == ("r", "g", "b"):
        return np.clip(arr, 0.0, 1.0).astype(np.float32, copy=False)
    if len(ch) == 1:
        grey = np.clip(arr[0], 0.0, 1.0).astype(np.float32)
        return np.repeat(grey[None], 3, axis=0)
    raise InvalidScanError(
        f"unsupported X-ray channel layout {ch!r}; expected ('high', 'low'), ('grey',) or ('r', 'g', 'b')",
        source=scan.source or None,
    )


def resize_chw(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (anti-aliased when shrinking) resize of a ``(C, H, W)`` float32 image with Pillow."""
    from PIL import Image

    if img.shape[1:] == (height, width):
        return img.astype(np.float32, copy=False)
    out = np.empty((img.shape[0], height, width), dtype=np.float32)
    for c in range(img.shape[0]):
        pil = Image.fromarray(np.ascontiguousarray(img[c], dtype=np.float32), mode="F")
        out[c] = np.asarray(pil.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    return out


def letterbox(img: np.ndarray, size: int, fill: float = 1.0) -> tuple[np.ndarray, Letterbox]:
    """Scale ``img`` (``(C, H, W)``) to fit a ``size`` x ``size`` square, keeping its aspect, centred.

    Padding is ``fill`` (1.0 = air for transmission-like images).

    Returns:
        ``(square (C, size, size) float32, Letterbox)``.
    """
    _, h, w = img.shape
    if h < 2 or w < 2:
        raise InvalidScanError(f"view is {h}x{w} pixels; expected at least 2x2")
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = resize_chw(img, nh, nw)
    out = np.full((img.shape[0], size, size), fill, dtype=np.float32)
    py, px = (size - nh) // 2, (size - nw) // 2
    out[:, py : py + nh, px : px + nw] = resized
    return out, Letterbox(scale=scale, pad_x=px, pad_y=py, size=size)


def unletterbox_boxes(boxes: np.ndarray, lb: Letterbox, shape_hw: tuple[int, int]) -> np.ndarray:
    """Map ``(N, 4)`` xyxy boxes from model pixels back to source pixels (clipped to the image)."""
    out = np.asarray(boxes, dtype=np.float32).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - lb.pad_x) / lb.scale
    out[:, [1, 3]] = (out[:, [1, 3]] - lb.pad_y) / lb.scale
    h, w = shape_hw
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
    return out
