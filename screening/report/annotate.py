"""Annotated PNG of a bag: every X-ray view / CT projection with coloured boxes and a verdict title bar."""

from __future__ import annotations

import functools
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from screening.decide.policy import Policy
from screening.report._atomic import atomic_write_bytes
from screening.report.png import encode_png
from screening.report.select import reported_detections
from screening.scan import BagReport, Detection, Label, Modality, Scan, Verdict

if TYPE_CHECKING:
    from PIL import Image, ImageFont

__all__ = [
    "LABEL_COLOURS",
    "VERDICT_COLOURS",
    "WATER_MU_PER_MM",
    "annotate",
    "ct_views",
    "project_box",
]

#: Box colour per label (RGB).
LABEL_COLOURS: Mapping[Label, tuple[int, int, int]] = {
    Label.FIREARM: (230, 25, 75),
    Label.AMMUNITION: (245, 130, 48),
    Label.BLADE: (240, 50, 230),
    Label.DRUGS: (145, 30, 180),
    Label.CURRENCY: (60, 180, 75),
    Label.WILDLIFE: (170, 110, 40),
    Label.SHIELD: (255, 225, 25),
}

#: Title bar colour per verdict: green clear, red alarm, amber review.
VERDICT_COLOURS: Mapping[Verdict, tuple[int, int, int]] = {
    Verdict.CLEAR: (30, 150, 60),
    Verdict.ALARM: (200, 30, 40),
    Verdict.REVIEW: (255, 170, 0),
}

#: Linear attenuation of water used to turn MHU sums into transmission (per mm, about 70 keV).
WATER_MU_PER_MM = 0.02

_BACKGROUND = (40, 40, 40)
_GAP = 8
_CAPTION_H = 20
_CHUNK_Z = 16
_LABEL_FONT_PX = 13


def ct_views(scan: Scan, *, mu_per_mm: float = WATER_MU_PER_MM, gamma: float = 0.6) -> dict[str, np.ndarray]:
    """Radiograph-like projections of a CT volume, for annotated PNGs and the console.

    Transmission ``T = exp(-mu_per_mm * sum(max(MHU, 0)) / 1000 * spacing)`` along the projection
    axis (MHU 1000 is water), shown as grey ``255 * T**gamma`` (air white, dense dark). The first
    channel is used (``mhu`` or, for dual energy, ``high``); NaN voxels count as air.

    Args:
        scan: a CT scan, array ``(C, Z, Y, X)`` in MHU, ``spacing_mm`` ``(z, y, x)``.
        mu_per_mm: attenuation of MHU 1000 per millimetre.
        gamma: brightness curve (below 1 brightens thin material).

    Returns:
        ``{"top": (X, Z, 3), "side": (Y, Z, 3)}`` uint8 RGB on the voxel grid: the belt direction
        ``Z`` runs left to right; ``top`` sums along ``Y`` (rows are ``X``), ``side`` sums along
        ``X`` (rows are ``Y``). Map boxes with :func:`project_box`.

    Raises:
        ValueError: the scan is not CT.
    """
    if scan.modality != Modality.CT:
        raise ValueError(f"ct_views needs a CT scan; got {scan.modality} ({scan.source or scan.bag_id})")
    vol = scan.array[0]
    nz, ny, nx = vol.shape
    top = np.empty((nz, nx), np.float64)
    side = np.empty((nz, ny), np.float64)
    for z in range(0, nz, _CHUNK_Z):  # chunks keep the temporary small (a bag CT can be ~1 GB)
        part = np.fmax(vol[z : z + _CHUNK_Z], 0.0)  # fmax turns NaN into 0; +inf stays opaque
        top[z : z + _CHUNK_Z] = part.sum(axis=1, dtype=np.float64)
        side[z : z + _CHUNK_Z] = part.sum(axis=2, dtype=np.float64)
    _, sy, sx = (float(s) for s in scan.spacing_mm)
    views = {"top": top.T * sy, "side": side.T * sx}  # (Z, X) -> (X, Z); (Z, Y) -> (Y, Z)
    out = {}
    for name, path_mm in views.items():
        transmission = np.exp(-mu_per_mm * path_mm / 1000.0)
        grey = (np.clip(transmission, 0.0, 1.0) ** gamma * 255.0 + 0.5).astype(np.uint8)
        out[name] = np.repeat(grey[..., None], 3, axis=-1)
    return out


def project_box(box: Sequence[float], view: str) -> tuple[float, float, float, float]:
    """Project a CT box ``(x0, y0, z0, x1, y1, z1)`` onto a :func:`ct_views` image.

    Returns:
        ``(col0, row0, col1, row1)`` in that view's pixels: ``top`` is ``(z0, x0, z1, x1)``,
        ``side`` is ``(z0, y0, z1, y1)``.

    Raises:
        ValueError: not a 6-number box or an unknown view.
    """
    if len(box) != 6:
        raise ValueError(f"project_box needs a CT box (x0, y0, z0, x1, y1, z1); got {tuple(box)!r}")
    x0, y0, z0, x1, y1, z1 = (float(v) for v in box)
    if view == "top":
        return z0, x0, z1, x1
    if view == "side":
        return z0, y0, z1, y1
    raise ValueError(f"unknown CT view {view!r}; expected 'top' or 'side'")


@dataclass(frozen=True)
class _Panel:
    name: str
    rgb: np.ndarray  # (H, W, 3) uint8 on the image grid
    aspect: tuple[float, float]  # (row, col) pixel size, relative
    boxes: tuple[tuple[Detection, tuple[float, float, float, float]], ...]  # (det, (c0, r0, c1, r1))


def _panels(scans: Sequence[Scan], detections: Sequence[Detection]) -> list[_Panel]:
    panels: list[_Panel] = []
    n_xray = sum(scan.modality == Modality.XRAY for scan in scans)
    for i, scan in enumerate(scans):
        if scan.modality == Modality.CT:
            sz, sy, sx = (float(s) for s in scan.spacing_mm)
            dets = [d for d in detections if len(d.box) == 6]
            for view, rgb in ct_views(scan).items():
                rows = sx if view == "top" else sy
                boxes = tuple((d, project_box(d.box, view)) for d in dets)
                name = f"CT {view}" + (f" #{i}" if len(scans) > 1 else "")
                panels.append(_Panel(name, rgb, (rows, sz), boxes))
        else:
            from screening.physics.pseudocolour import to_display

            sy, sx = (float(s) for s in scan.spacing_mm)
            view = scan.view or f"view{i}"
            dets = [
                d
                for d in detections
                if len(d.box) == 4 and (d.view == scan.view or (not d.view and n_xray == 1))
            ]
            boxes = tuple((d, (d.box[0], d.box[1], d.box[2], d.box[3])) for d in dets)
            panels.append(_Panel(view, to_display(scan), (sy, sx), boxes))
    return panels


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` px (loaded once per size; fonts are read-only once made)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _scale(panel: _Panel, min_px: int, max_px: int) -> tuple[float, float]:
    """Pixels on screen per image pixel, ``(rows, cols)``: aspect-correct, height within limits."""
    h, w = panel.rgb.shape[:2]
    ar, ac = panel.aspect
    base = min(ar, ac) if min(ar, ac) > 0 else 1.0
    fr, fc = (ar / base, ac / base) if min(ar, ac) > 0 else (1.0, 1.0)
    height = h * fr
    k = min_px / height if height < min_px else (max_px / height if height > max_px else 1.0)
    if w * fc * k > 4 * max_px:  # very long (e.g. a long CT along the belt): cap the width too
        k *= 4 * max_px / (w * fc * k)
    return fr * k, fc * k


def _draw_panel(panel: _Panel, min_px: int, max_px: int, policy: Policy | None) -> Image.Image:
    from PIL import Image, ImageDraw

    kr, kc = _scale(panel, min_px, max_px)
    h, w = panel.rgb.shape[:2]
    size = (max(1, round(w * kc)), max(1, round(h * kr)))
    img = Image.fromarray(np.ascontiguousarray(panel.rgb), "RGB")
    if size != (w, h):
        up = size[0] >= w and size[1] >= h
        img = img.resize(size, Image.Resampling.NEAREST if up else Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (size[0], size[1] + _CAPTION_H), _BACKGROUND)
    canvas.paste(img, (0, _CAPTION_H))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 3), panel.name, fill=(230, 230, 230), font=_font(_LABEL_FONT_PX))
    for det, (c0, r0, c1, r1) in panel.boxes:
        colour = LABEL_COLOURS.get(det.label, (255, 255, 255))
        counts = policy is None or det.score >= policy.threshold(det.label)
        x0, x1 = sorted((c0 * kc, c1 * kc))
        y0, y1 = sorted((r0 * kr + _CAPTION_H, r1 * kr + _CAPTION_H))
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=colour, width=3 if counts else 1)
        _label(canvas, f"{det.label} {det.score:.2f}", (x0, y0), colour)
    return canvas


@functools.lru_cache(maxsize=4096)
def _label_tile(text: str, colour: tuple[int, int, int], font_px: int) -> Image.Image:
    """A ``"label score"`` tag: ``text`` in black or white on ``colour`` with a 2 px margin.

    Cached: a lane sees the same few hundred label/score strings over and over, and drawing text is
    most of the cost of a panel with many boxes. Read-only once made (pasted, never drawn on).
    """
    from PIL import Image, ImageDraw

    font = _font(font_px)
    left, top, right, bottom = font.getbbox(text)
    tile = Image.new("RGB", (right - left + 5, bottom - top + 5), colour)
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    ImageDraw.Draw(tile).text((2 - left, 2 - top), text, fill=ink, font=font)
    return tile


def _label(canvas: Image.Image, text: str, corner: tuple[float, float], colour: tuple[int, int, int]) -> None:
    """Paste the tag for ``text`` above the box corner (inside the box where there is no room)."""
    tile = _label_tile(text, colour, _LABEL_FONT_PX)
    tw, th = tile.width - 1, tile.height - 1
    x = min(max(0.0, corner[0]), max(0.0, canvas.width - tw))
    y = corner[1] - th if corner[1] - th >= _CAPTION_H else corner[1]
    canvas.paste(tile, (round(x), round(y)))


def _title(report: BagReport, width: int, hidden: int = 0) -> Image.Image:
    from PIL import Image, ImageDraw

    colour = VERDICT_COLOURS[report.verdict]
    big, small = _font(18), _font(13)
    chars = max(20, width // 7)
    reasons = "; ".join(report.reasons) if report.reasons else "no reasons given"
    lines = textwrap.wrap(reasons, chars, max_lines=3, placeholder=" ...") or [""]
    if hidden:
        lines.append(f"{hidden} weaker detection(s) not drawn; report.json lists them all")
    bar = Image.new("RGB", (width, 30 + 17 * len(lines)), colour)
    draw = ImageDraw.Draw(bar)
    ink = (0, 0, 0) if report.verdict == Verdict.REVIEW else (255, 255, 255)
    draw.text((8, 5), f"{str(report.verdict).upper()}   bag {report.bag_id}", fill=ink, font=big)
    for i, line in enumerate(lines):
        draw.text((8, 29 + 17 * i), line, fill=ink, font=small)
    return bar


def _placeholder(report: BagReport, width: int) -> Image.Image:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, 200), _BACKGROUND)
    draw = ImageDraw.Draw(img)
    text = "No image could be shown: " + ("; ".join(report.reasons) or "no scans were readable")
    sources = ", ".join(report.sources)
    if sources:
        text += f" (sources: {sources})"
    for i, line in enumerate(textwrap.wrap(text, max(20, width // 8), max_lines=9, placeholder=" ...")):
        draw.text((12, 16 + 19 * i), line, fill=(235, 235, 235), font=_font(14))
    return img


def annotate(
    scans: Sequence[Scan],
    report: BagReport,
    path: str | os.PathLike[str],
    *,
    policy: Policy | None = None,
    min_panel_px: int = 256,
    max_panel_px: int = 768,
) -> Path:
    """Write a PNG of the bag for operators and audits, atomically.

    Each X-ray view is drawn with :func:`screening.physics.pseudocolour.to_display`; each CT volume
    as its :func:`ct_views` top and side projections. Boxes are coloured by label
    (:data:`LABEL_COLOURS`) with ``"label score"`` text; with a ``policy``, boxes under their label's
    threshold are drawn thin. A title bar shows the verdict (green clear, red alarm, amber review),
    the bag id and the reasons. With no scans (unreadable input) the picture states the reasons.

    Args:
        scans: the bag's scans (may be empty).
        report: its report.
        path: destination ``.png``; its folder is created if needed.
        policy: optional, to tell counting boxes from sub-threshold annotations.
        min_panel_px: small images are enlarged (nearest neighbour) to at least this height.
        max_panel_px: large images are reduced to at most this height.

    Returns:
        The written path.

    Raises:
        ScreeningError: the file cannot be written.
    """
    from PIL import Image

    shown = reported_detections(report.detections, policy or Policy())
    panels = [_draw_panel(p, min_panel_px, max_panel_px, policy) for p in _panels(scans, shown)]
    body_w = sum(p.width for p in panels) + _GAP * (len(panels) + 1) if panels else 0
    width = max(480, body_w)
    if not panels:
        panels = [_placeholder(report, width - 2 * _GAP)]
    title = _title(report, width, len(report.detections) - len(shown))
    body_h = max(p.height for p in panels) + 2 * _GAP
    canvas = Image.new("RGB", (width, title.height + body_h), _BACKGROUND)
    canvas.paste(title, (0, 0))
    x = _GAP
    for panel in panels:
        canvas.paste(panel, (x, title.height + _GAP))
        x += panel.width + _GAP
    # Lossless either way; encode_png is ~8x faster than Pillow's PNG writer at compress_level=1.
    return atomic_write_bytes(path, encode_png(np.asarray(canvas)))
