"""Dual-energy line-scan X-ray: fan-beam chords per material, polychromatic Beer–Lambert, noise, blur."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.sim.config import ScannerParams
from screening.sim.geometry import Primitive
from screening.sim.objects import SimObject

__all__ = ["ViewGeometry", "ViewRender", "fold_texture", "path_lengths", "render_view", "view_geometry"]


@dataclass(frozen=True)
class ViewGeometry:
    """Fan-beam geometry of one view (bag frame, mm).

    The source sits ``distance`` from the bag centre; rays fan out across the belt and are
    perpendicular to the belt motion (x). Pixel ``(row, col)`` is the ray through the point of the
    reference plane (through the bag centre) at ``(x0 + (col + .5) p, u0 ± (row + .5) p)``.

    Attributes:
        view: ``"top"`` (source above, rows across the belt) or ``"side"`` (source beside, rows =
            height, top first).
        center: ``(3,)`` bag centre.
        distance: source-to-centre distance, mm.
        pixel_mm: pitch at the reference plane, mm.
        x0: belt coordinate of column 0's left edge.
        u0: fan coordinate of row 0's edge (y for top; z of the top edge for side).
        shape: ``(H, W)``.
    """

    view: str
    center: np.ndarray
    distance: float
    pixel_mm: float
    x0: float
    u0: float
    shape: tuple[int, int]

    def project(self, pts: np.ndarray) -> np.ndarray:
        """Image coordinates ``(row, col)`` in pixels (float) of bag-frame points ``(N, 3)``."""
        c, d, p = self.center, self.distance, self.pixel_mm
        col = (pts[:, 0] - self.x0) / p
        if self.view == "top":
            u = c[1] + (pts[:, 1] - c[1]) * d / (c[2] + d - pts[:, 2])
            row = (u - self.u0) / p
        else:
            u = c[2] + (pts[:, 2] - c[2]) * d / (pts[:, 1] - (c[1] - d))
            row = (self.u0 - u) / p
        return np.stack([row, col], axis=1)

    def rays(self, r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
        """Origins ``(w, 3)`` (one per column) and unit directions ``(h, 3)`` (one per row) of a block."""
        c, d, p = self.center, self.distance, self.pixel_mm
        origin = np.zeros((c1 - c0, 3))
        origin[:, 0] = self.x0 + (np.arange(c0, c1) + 0.5) * p
        direction = np.zeros((r1 - r0, 3))
        if self.view == "top":
            us = self.u0 + (np.arange(r0, r1) + 0.5) * p
            origin[:, 1], origin[:, 2] = c[1], c[2] + d
            direction[:, 1], direction[:, 2] = us - c[1], -d
        else:
            us = self.u0 - (np.arange(r0, r1) + 0.5) * p
            origin[:, 1], origin[:, 2] = c[1] - d, c[2]
            direction[:, 1], direction[:, 2] = d, us - c[2]
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        return origin, direction


def view_geometry(view: str, size: np.ndarray, scanner: ScannerParams, margin_px: int = 16) -> ViewGeometry:
    """Geometry that frames a bag of outer ``size`` (mm, bag frame starting at 0) with a margin."""
    center = np.asarray(size, dtype=np.float64) / 2
    p = scanner.pixel_mm
    corners = np.array([[x, y, z] for x in (0, size[0]) for y in (0, size[1]) for z in (0, size[2])])
    g = ViewGeometry(view, center, scanner.source_distance_mm, p, 0.0, 0.0, (1, 1))
    rc = g.project(corners)
    if view == "top":
        u_lo = (rc[:, 0].min()) * p - margin_px * p
        u_hi = (rc[:, 0].max()) * p + margin_px * p
        u0 = u_lo
    else:
        # rows measured downward from u0: row = (u0 - u)/p with u0 = 0 here
        u_hi = -(rc[:, 0].min()) * p + margin_px * p
        u_lo = -(rc[:, 0].max()) * p - margin_px * p
        u0 = u_hi
    h = int(np.ceil((u_hi - u_lo) / p))
    w = int(np.ceil(size[0] / p)) + 2 * margin_px
    return ViewGeometry(view, center, scanner.source_distance_mm, p, -margin_px * p, float(u0), (h, w))


def fold_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in about [-1, 1] with thin wavy fold lines, for textile path-length modulation.

    Built at a quarter of the resolution (folds are smooth) and upsampled bilinearly.
    """
    from scipy.ndimage import gaussian_filter

    h, w = shape
    h4, w4 = h // 4 + 2, w // 4 + 2
    base = gaussian_filter(rng.standard_normal((h4, w4)).astype(np.float32), 3.0, truncate=2.5)
    base /= base.std() + 1e-6
    warp = gaussian_filter(rng.standard_normal((h4, w4)).astype(np.float32), 5.0, truncate=2.5)
    warp /= warp.std() + 1e-6
    f32 = np.float32
    yy = np.arange(h4, dtype=f32)[:, None] * 4
    xx = np.arange(w4, dtype=f32)[None, :] * 4
    field = f32(0.5) * base
    for _ in range(3):  # float32 throughout (numpy's float32 sin/exp are vectorised; float64 is ~5x slower)
        a = rng.uniform(0, np.pi)
        f = rng.uniform(0.02, 0.05)
        phase = f32(np.cos(a) * f) * xx + f32(np.sin(a) * f) * yy
        phase += f32(2.5) * warp
        phase += f32(rng.uniform(0, 2 * np.pi))
        s = np.sin(phase, out=phase)
        s *= s
        s *= f32(-1.0 / 0.06)
        np.exp(s, out=s)
        s -= f32(0.25)
        s *= f32(0.45)
        field += s
    # bilinear upsampling by 4: columns on the small grid, then rows (row gathers are contiguous copies)
    j0, fc = _interp_index(w, w4)
    cols = field[:, j0] * (f32(1.0) - fc)
    cols += field[:, j0 + 1] * fc
    i0, fr = _interp_index(h, h4)
    out = cols[i0] * (f32(1.0) - fr)[:, None]
    out += cols[i0 + 1] * fr[:, None]
    return np.clip(out, -1.0, 1.0, out=out)


def _interp_index(n_out: int, n_in: int, factor: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Left neighbours ``(n_out,)`` and float32 right weights; output i samples input i / factor."""
    pos = np.arange(n_out, dtype=np.float64) / factor
    i0 = np.clip(np.floor(pos).astype(np.intp), 0, n_in - 2)
    return i0, (pos - i0).astype(np.float32)


@dataclass
class ViewRender:
    """Noise-free path lengths of one view before the detector model.

    Attributes:
        geometry: the view geometry.
        materials: material names, one per ``lengths`` plane.
        lengths: ``(M, H, W)`` float32 path lengths per material, mm.
        boxes: object index -> ``(x0, y0, x1, y1)`` pixel box (exclusive upper corner).
    """

    geometry: ViewGeometry
    materials: list[str]
    lengths: np.ndarray
    boxes: dict[int, tuple[float, float, float, float]]


def path_lengths(
    objects: list[SimObject],
    geometry: ViewGeometry,
    rng: np.random.Generator,
    box_threshold_mm: float = 0.05,
    boxes_for: set[int] | None = None,
) -> ViewRender:
    """Sum the chord lengths of every primitive into one map per material.

    Args:
        objects: placed objects (bag frame).
        geometry: view geometry.
        rng: generator for textures.
        box_threshold_mm: path length above which a pixel counts for an object's box.
        boxes_for: indices of the objects that need a box (default: all).

    Returns:
        The per-material path lengths and each object's 2-D box.
    """
    h, w = geometry.shape
    names = sorted({p.material for obj in objects for p in obj.parts})
    mats = {m: i for i, m in enumerate(names)}
    lengths = np.zeros((len(names), h, w), np.float32)
    boxes: dict[int, tuple[float, float, float, float]] = {}
    parts = [(idx, prim) for idx, obj in enumerate(objects) for prim in obj.parts]
    blocks = _part_blocks([prim for _, prim in parts], geometry)
    # One ray per row / column for the whole view; every part takes its block's slices (same values).
    origins, directions = geometry.rays(0, h, 0, w)
    texture = None
    may_go_negative: set[int] = set()  # planes where cavities (or deep folds) subtract
    # per object: the largest chord seen in each row and column (its 2-D box is where these pass thr)
    row_peak = np.zeros((len(objects), h), np.float32)
    col_peak = np.zeros((len(objects), w), np.float32)
    for (idx, prim), (r0, r1, c0, c1) in zip(parts, blocks.tolist(), strict=True):
        obj = objects[idx]
        if obj.texture > 0 and texture is None:
            texture = fold_texture((h, w), rng)
        if r1 <= r0 or c1 <= c0:
            continue
        fat, density = _thicken(prim, geometry.pixel_mm)
        want_box = prim.scale > 0 and (boxes_for is None or idx in boxes_for)
        m = mats[prim.material]
        if prim.scale < 0 or obj.texture > 1.0:
            may_go_negative.add(m)
        chord = fat.chord_grid(origins[c0:c1], directions[r0:r1])
        if density != 1.0:
            chord *= np.float32(density)
        if want_box:
            rp, cp = row_peak[idx, r0:r1], col_peak[idx, c0:c1]
            np.maximum(rp, chord.max(axis=1), out=rp)
            np.maximum(cp, chord.max(axis=0), out=cp)
        if prim.scale != 1.0:
            chord *= np.float32(prim.scale)
        if obj.texture > 0 and texture is not None:
            mod = texture[r0:r1, c0:c1] * np.float32(obj.texture)
            mod += np.float32(1.0)
            chord *= mod
        lengths[m, r0:r1, c0:c1] += chord
    row_hit, col_hit = row_peak > box_threshold_mm, col_peak > box_threshold_mm
    for idx in np.flatnonzero(row_hit.any(axis=1)).tolist():
        rows, cols = np.flatnonzero(row_hit[idx]), np.flatnonzero(col_hit[idx])
        boxes[idx] = (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
    for m in sorted(may_go_negative):  # cavities cancel their shells up to rounding
        np.maximum(lengths[m], 0.0, out=lengths[m])
    return ViewRender(geometry, names, lengths, boxes)


def _thicken(prim: Primitive, pixel_mm: float) -> tuple[Primitive, float]:
    """Grow dimensions thinner than a pixel to one pixel at proportionally lower density.

    A detector element integrates over its aperture; sampling one ray per pixel would miss sheets
    thinner than the pitch (a razor blade or banknote edge-on, a 1 mm wire) or alias them into
    dashes. Keeping ``thickness × density`` fixed preserves the integrated attenuation.
    """
    half = 0.5 * pixel_mm
    a0, a1, a2 = prim.size
    if prim.kind == "prism":
        if a2 >= half:
            return prim, 1.0
        normals, offs = prim._planes  # type: ignore[misc]
        offs = offs.copy()
        offs[-2:] = half  # same faces, thicker slab (saves recomputing the polygon's planes)
        new = Primitive(
            prim.kind, prim.center, prim.rot, (a0, a1, half), prim.material, prim.scale, prim.polygon,
            (normals, offs),
        )  # fmt: skip
        return new, a2 / half
    if prim.kind == "cylinder":
        if a0 >= half:
            return prim, 1.0
        new = Primitive(
            prim.kind, prim.center, prim.rot, (half, half, max(a2, half)), prim.material, prim.scale
        )
        return new, (a0 / half) ** 2
    if min(a0, a1, a2) >= half:
        return prim, 1.0
    size = (max(a0, half), max(a1, half), max(a2, half))
    return Primitive(prim.kind, prim.center, prim.rot, size, prim.material, prim.scale), float(
        a0 * a1 * a2 / (size[0] * size[1] * size[2])
    )


_UNIT_CORNERS = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64)


def _part_blocks(prims: list[Primitive], g: ViewGeometry) -> np.ndarray:
    """``(N, 4)`` int pixel blocks ``(r0, r1, c0, c1)`` framing each part's projected bounds (clipped).

    Empty blocks (``r1 <= r0`` or ``c1 <= c0``) mean the part is outside the view.
    """
    if not prims:
        return np.zeros((0, 4), np.int64)
    bounds = np.array([p.world_bounds() for p in prims])  # (N, 2, 3)
    lo, hi = bounds[:, 0], bounds[:, 1]
    corners = lo[:, None, :] + _UNIT_CORNERS[None] * (hi - lo)[:, None, :]  # (N, 8, 3)
    rc = g.project(corners.reshape(-1, 3)).reshape(len(prims), 8, 2)
    out = np.empty((len(prims), 4), np.int64)
    out[:, 0] = np.maximum(np.floor(rc[:, :, 0].min(axis=1)), 0)
    out[:, 1] = np.minimum(np.ceil(rc[:, :, 0].max(axis=1)) + 1, g.shape[0])
    out[:, 2] = np.maximum(np.floor(rc[:, :, 1].min(axis=1)), 0)
    out[:, 3] = np.minimum(np.ceil(rc[:, :, 1].max(axis=1)) + 1, g.shape[1])
    return out


def render_view(
    vr: ViewRender, scanner: ScannerParams, rng: np.random.Generator, noise: bool = True
) -> np.ndarray:
    """Detector model: polychromatic Beer–Lambert per channel, blur, quantum + electronic noise.

    Args:
        vr: path lengths of one view.
        scanner: spectrum, detector, noise and blur parameters.
        rng: generator for noise.
        noise: add noise (off for physics tests).

    Returns:
        ``(2, H, W)`` float32 transmissions ``(high, low)`` in [0, 1] (1 = air).
    """
    from scipy.ndimage import gaussian_filter

    from screening.physics.materials import mu_table
    from screening.physics.spectra import dual_energy_response

    resp = dual_energy_response(*scanner.detector_key())
    keep = (resp.w_low > 1e-4) | (resp.w_high > 1e-4)
    h, w = vr.geometry.shape
    if vr.lengths.shape[0] == 0:
        out = np.ones((2, h, w), np.float32)
    else:
        mu = mu_table(vr.materials, resp.energies_kev)[:, keep].astype(np.float32)  # (M, K)
        flat = vr.lengths.reshape(len(vr.materials), -1)
        # Only rows (detector positions) that see any material need the polychromatic sum.
        rows = np.flatnonzero(vr.lengths.max(axis=(0, 2)) > 0)  # lengths are >= 0
        out = np.ones((2, h, w), np.float32)
        if rows.size:
            r0, r1 = int(rows[0]), int(rows[-1]) + 1
            att = mu.T @ flat[:, r0 * w : r1 * w]  # (K, pixels)
            np.negative(att, out=att)
            np.exp(att, out=att)
            weights = np.stack([resp.w_high[keep], resp.w_low[keep]]).astype(np.float32)
            weights /= weights.sum(axis=1, keepdims=True)
            np.matmul(weights, att, out=out.reshape(2, h * w)[:, r0 * w : r1 * w])
    if noise:
        out = gaussian_filter(
            out, sigma=(0.0, scanner.blur_px, scanner.motion_blur_px), mode="nearest", truncate=2.5
        )
        for c, n0 in ((0, scanner.photons_high), (1, scanner.photons_low)):
            sd = np.sqrt(np.maximum(out[c], 0.0) * np.float32(1.0 / n0))
            sd += np.float32(scanner.electronic_noise)
            sd *= rng.standard_normal((h, w), dtype=np.float32)
            out[c] += sd
    return np.clip(out, 0.0, 1.0, out=out)
