"""Analytic solid primitives (ellipsoid, cylinder, convex prism): exact ray chords, inside tests, volumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Primitive", "box", "cylinder", "ellipsoid", "prism", "rotation", "transform"]

_EPS = 1e-9
_UNIT_CORNERS = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64)


def _next(poly: np.ndarray) -> np.ndarray:
    """Each polygon vertex's successor ``(N, 2)`` (``np.roll(poly, -1, axis=0)``, without its overhead)."""
    return np.concatenate((poly[1:], poly[:1]))


def rotation(yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Rotation matrix ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (columns = local axes in the parent frame)."""
    a, b, c = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


@dataclass(frozen=True, eq=False)
class Primitive:
    """A homogeneous solid in millimetres.

    Attributes:
        kind: ``"ellipsoid"`` (``size`` = radii), ``"cylinder"`` (``size`` = (radius, radius, half
            length), axis = local z) or ``"prism"`` (convex ``polygon`` in local xy, ``size[2]`` = half
            thickness along local z).
        center: position ``(3,)`` in the parent frame, mm.
        rot: ``(3, 3)`` rotation, columns are the local axes in the parent frame.
        size: see ``kind``.
        material: material name (see :mod:`screening.physics.materials`).
        scale: density multiplier; ``-1`` carves a cavity out of an enclosing primitive of the same material.
        polygon: ``(N, 2)`` convex counter-clockwise vertices (prism only), mm.
    """

    kind: str
    center: np.ndarray
    rot: np.ndarray
    size: tuple[float, float, float]
    material: str
    scale: float = 1.0
    polygon: np.ndarray | None = None
    _planes: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("ellipsoid", "cylinder", "prism"):
            raise ValueError(f"unknown primitive kind {self.kind!r}; valid: ellipsoid, cylinder, prism")
        if self.kind == "prism" and self._planes is None:
            # plain slicing instead of np.roll / np.c_ (this runs for every prism a bag builds)
            poly = np.asarray(self.polygon, dtype=np.float64)
            n = len(poly)
            edges = _next(poly) - poly
            n3 = np.zeros((n + 2, 3))
            n3[:n, 0], n3[:n, 1] = edges[:, 1], -edges[:, 0]
            n3[:n, :2] /= np.linalg.norm(n3[:n, :2], axis=1, keepdims=True) + _EPS
            n3[n, 2], n3[n + 1, 2] = 1.0, -1.0
            d3 = np.empty(n + 2)
            d3[:n] = (n3[:n, :2] * poly).sum(axis=1)
            d3[n:] = self.size[2]
            object.__setattr__(self, "_planes", (n3, d3))

    # ------------------------------------------------------------------ geometry
    def volume_mm3(self) -> float:
        """Signed volume × ``scale`` sign is not applied; plain geometric volume in mm³."""
        a, b, c = self.size
        if self.kind == "ellipsoid":
            return 4.0 / 3.0 * np.pi * a * b * c
        if self.kind == "cylinder":
            return np.pi * a * a * 2.0 * c
        p = np.asarray(self.polygon)
        nxt = _next(p)
        area = 0.5 * abs(np.dot(p[:, 0], nxt[:, 1]) - np.dot(p[:, 1], nxt[:, 0]))
        return float(area * 2.0 * c)

    def local_box(self) -> tuple[np.ndarray, np.ndarray]:
        """Local-frame bounding box ``(lo, hi)``, each ``(3,)`` (cached; kept by :func:`transform`)."""
        cached = self.__dict__.get("_local_box")
        if cached is None:
            a, b, c = self.size
            if self.kind == "prism":
                p = np.asarray(self.polygon)
                lo = np.array([p[:, 0].min(), p[:, 1].min(), -c])
                hi = np.array([p[:, 0].max(), p[:, 1].max(), c])
            else:
                lo, hi = np.array([-a, -b, -c]), np.array([a, b, c])
            cached = (lo, hi)
            object.__setattr__(self, "_local_box", cached)
        return cached

    def local_corners(self) -> np.ndarray:
        """The 8 corners of the local bounding box ``(8, 3)``."""
        lo, hi = self.local_box()
        return lo + _UNIT_CORNERS * (hi - lo)

    def world_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds ``(lo, hi)`` in the parent frame (of the rotated local bounding box)."""
        cached = self.__dict__.get("_bounds")
        if cached is None:
            lo, hi = self.local_box()
            # box centre moves rigidly; half-extents along the parent axes are |rot| @ half-sizes
            mid = self.rot @ ((lo + hi) * 0.5) + self.center
            half = np.abs(self.rot) @ ((hi - lo) * 0.5)
            cached = (mid - half, mid + half)
            object.__setattr__(self, "_bounds", cached)
        return cached

    def chord_grid(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Chord lengths for a grid of rays: origin per column, direction per row (line-scan geometry).

        Equivalent to ``chord(origins[None], directions[:, None])`` but separable, float32 and much faster.

        Args:
            origins: ``(W, 3)`` ray origins, mm (outside and before the solid).
            directions: ``(H, 3)`` unit directions.

        Returns:
            ``(H, W)`` float32 chord lengths, mm.
        """
        o = (origins - self.center) @ self.rot  # (W, 3); quadrics stay float64 (cancellation)
        d = directions @ self.rot  # (H, 3)
        a0, a1, a2 = self.size
        f32 = np.float32
        if self.kind == "ellipsoid":
            r = np.array([a0, a1, a2])
            o2, d2 = o / r, d / r
            qa = (d2 * d2).sum(-1)
            # disc / qa = u^2 - qc with u = qb / sqrt(qa): in place, no (H, W) temporaries
            u = d2 @ o2.T
            u *= (1.0 / np.sqrt(qa))[:, None]
            u *= u
            u -= ((o2 * o2).sum(-1) - 1.0)[None, :]
            # the cancellation is over; the rest in float32: chord = 2 sqrt(disc) / qa
            out = u.astype(f32)
            np.maximum(out, f32(0.0), out=out)
            np.sqrt(out, out=out)
            out *= (2.0 / np.sqrt(qa)).astype(f32)[:, None]
            return out
        if self.kind == "cylinder":
            qa = d[:, 0] ** 2 + d[:, 1] ** 2  # (H,)
            qb = d[:, :2] @ o[:, :2].T
            qc = (o[:, 0] ** 2 + o[:, 1] ** 2 - a0 * a0)[None, :]
            disc = qb * qb
            disc -= qa[:, None] * qc
            # the cancellation is over: distances along the ray (~1 m) are exact to ~0.1 um in float32
            sq = disc.astype(f32)
            np.maximum(sq, f32(0.0), out=sq)
            np.sqrt(sq, out=sq)  # rays that miss get sq = 0, so t0 == t1 and a zero chord below
            inv = (1.0 / np.maximum(qa, 1e-12)).astype(f32)[:, None]
            nqb = np.negative(qb, dtype=f32)
            t0 = nqb - sq
            t0 *= inv
            t1 = np.add(nqb, sq, out=nqb)
            t1 *= inv
            dz = d[:, 2]
            dz = np.where(np.abs(dz) < 1e-9, 1e-9, dz)
            inv_z = (1.0 / dz).astype(f32)[:, None]
            za = inv_z * (-a2 - o[:, 2]).astype(f32)[None, :]
            zb = inv_z * (a2 - o[:, 2]).astype(f32)[None, :]
            np.maximum(t0, np.minimum(za, zb), out=t0)  # enter
            np.minimum(t1, np.maximum(za, zb, out=za), out=t1)  # exit
            t1 -= t0
            np.maximum(t1, f32(0.0), out=t1)
            return t1
        normals, offs = self._planes  # type: ignore[misc]
        nd = (d @ normals.T).astype(np.float32)  # (H, F)
        nd = np.where(np.abs(nd) < 1e-7, np.float32(-1e-7), nd)
        inv = 1.0 / nd
        rem = (offs[None, :] - o @ normals.T).astype(np.float32)  # (W, F)
        h, w = d.shape[0], o.shape[0]
        negs = nd < 0  # (H, F)
        # Faces whose offset is the same for every column (origins move along x only, so e.g. the top
        # and bottom of an upright box) have t = t(row): fold them into 1-D bounds that seed the grids.
        flat = (rem.min(axis=0) == rem.max(axis=0)).tolist()
        enter_row = np.full(h, -np.inf, np.float32)
        exit_row = np.full(h, np.inf, np.float32)
        for f in (f for f in range(len(flat)) if flat[f]):
            t_row = inv[:, f] * rem[0, f]
            neg = negs[:, f]
            enter_row[neg] = np.maximum(enter_row[neg], t_row[neg])
            exit_row[~neg] = np.minimum(exit_row[~neg], t_row[~neg])
        enter = np.empty((h, w), np.float32)
        enter[:] = enter_row[:, None]
        exit_ = np.empty((h, w), np.float32)
        exit_[:] = exit_row[:, None]
        t = np.empty((h, w), np.float32)
        # Directions vary monotonically across a fan, so each face's sign changes at most once: use
        # contiguous row ranges (views, no copies); fall back to masks otherwise.
        changes = negs[1:] != negs[:-1]
        n_flips = changes.sum(axis=0).tolist()
        first_flip = changes.argmax(axis=0).tolist() if h > 1 else [0] * normals.shape[0]
        neg0 = negs[0].tolist()
        for f in range(normals.shape[0]):
            if flat[f]:
                continue
            np.multiply(inv[:, f : f + 1], rem[None, :, f], out=t)
            if n_flips[f] == 0:
                if neg0[f]:
                    np.maximum(enter, t, out=enter)
                else:
                    np.minimum(exit_, t, out=exit_)
            elif n_flips[f] == 1:
                k = first_flip[f] + 1
                a, b = (slice(0, k), slice(k, None)) if neg0[f] else (slice(k, None), slice(0, k))
                np.maximum(enter[a], t[a], out=enter[a])
                np.minimum(exit_[b], t[b], out=exit_[b])
            else:
                neg = negs[:, f]
                enter[neg] = np.maximum(enter[neg], t[neg])
                exit_[~neg] = np.minimum(exit_[~neg], t[~neg])
        exit_ -= enter
        np.maximum(exit_, 0.0, out=exit_)
        return exit_

    def chord(self, origin: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """Length (mm) of each ray's path inside the solid.

        Args:
            origin: ray origins ``(..., 3)``, mm (must lie outside the solid, before it).
            direction: unit directions ``(..., 3)`` broadcastable against ``origin``.

        Returns:
            ``(...)`` float32 chord lengths ≥ 0 (not multiplied by ``scale``).
        """
        o = (origin - self.center) @ self.rot
        d = direction @ self.rot
        o, d = np.broadcast_arrays(o, d)
        a0, a1, a2 = self.size
        if self.kind == "ellipsoid":
            r = np.array([a0, a1, a2])
            o2, d2 = o / r, d / r
            qa = (d2 * d2).sum(-1)
            qb = (o2 * d2).sum(-1)
            qc = (o2 * o2).sum(-1) - 1.0
            disc = qb * qb - qa * qc
            return (2.0 * np.sqrt(np.maximum(disc, 0.0)) / qa).astype(np.float32)
        if self.kind == "cylinder":
            ox, oy, oz = o[..., 0], o[..., 1], o[..., 2]
            dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
            qa = dx * dx + dy * dy
            qb = ox * dx + oy * dy
            qc = ox * ox + oy * oy - a0 * a0
            disc = qb * qb - qa * qc
            safe = np.where(qa > _EPS, qa, 1.0)
            sq = np.sqrt(np.maximum(disc, 0.0))
            t0 = np.where(qa > _EPS, (-qb - sq) / safe, np.where(qc < 0, -np.inf, np.inf))
            t1 = np.where(qa > _EPS, (-qb + sq) / safe, np.where(qc < 0, np.inf, -np.inf))
            t0 = np.where(disc < 0, np.inf, t0)
            dzs = np.where(np.abs(dz) > _EPS, dz, _EPS)
            za, zb = (-a2 - oz) / dzs, (a2 - oz) / dzs
            zlo, zhi = np.minimum(za, zb), np.maximum(za, zb)
            flat = np.abs(dz) <= _EPS
            zlo = np.where(flat, np.where(np.abs(oz) < a2, -np.inf, np.inf), zlo)
            zhi = np.where(flat, np.where(np.abs(oz) < a2, np.inf, -np.inf), zhi)
            return np.maximum(np.minimum(t1, zhi) - np.maximum(t0, zlo), 0.0).astype(np.float32)
        normals, offs = self._planes  # type: ignore[misc]
        nd = d @ normals.T
        no = o @ normals.T
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (offs - no) / nd
        outside_parallel = (np.abs(nd) <= _EPS) & (no > offs)
        t_enter = np.where(nd < -_EPS, t, -np.inf).max(-1)
        t_exit = np.where(nd > _EPS, t, np.inf).min(-1)
        length = np.maximum(t_exit - t_enter, 0.0)
        length = np.where(outside_parallel.any(-1) | ~np.isfinite(length), 0.0, length)
        return length.astype(np.float32)

    def inside_grid(self, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, pad: float = 0.0) -> np.ndarray:
        """Inside mask on the grid ``xs × ys × zs`` (parent frame, mm): ``(len(xs), len(ys), len(zs))`` bool.

        Separable and float32: every linear form of the local coordinates is a sum of three 1-D terms.
        Equivalent to ``inside(meshgrid(xs, ys, zs))``; thin dimensions grown by ``pad`` as there.
        """
        r = self.rot.T  # local = r @ (p - c)
        dx = (np.asarray(xs) - self.center[0]).astype(np.float32)[:, None, None]
        dy = (np.asarray(ys) - self.center[1]).astype(np.float32)[None, :, None]
        dz = (np.asarray(zs) - self.center[2]).astype(np.float32)[None, None, :]

        def form(v: np.ndarray) -> np.ndarray:  # v · (p - c) for a local-frame vector v
            w = r.T @ v
            return np.float32(w[0]) * dx + np.float32(w[1]) * dy + np.float32(w[2]) * dz

        a0, a1, a2 = self.size
        if self.kind == "ellipsoid":
            acc = None
            for k, rad in enumerate((a0, a1, a2)):
                e = np.zeros(3)
                e[k] = 1.0 / max(rad, pad)
                f = form(e)
                f *= f
                acc = f if acc is None else acc + f
            return acc <= 1.0  # type: ignore[operator]
        if self.kind == "cylinder":
            fx, fy, fz = (form(np.eye(3)[k]) for k in range(3))
            rr = max(a0, pad)
            return (fx * fx + fy * fy <= rr * rr) & (np.abs(fz) <= max(a2, pad))
        normals, offs = self._planes  # type: ignore[misc]
        offs = offs.copy()
        offs[-2:] = max(a2, pad)
        mask = None
        for n, off in zip(normals, offs, strict=True):
            m = form(n) <= off
            mask = m if mask is None else (mask & m)
        return mask  # type: ignore[return-value]

    def inside(self, points: np.ndarray, pad: float = 0.0) -> np.ndarray:
        """Boolean mask of points ``(..., 3)`` inside the solid (thin dimensions grown by ``pad`` mm)."""
        p = (points - self.center) @ self.rot
        a0, a1, a2 = self.size
        if self.kind == "ellipsoid":
            r = np.maximum(np.array([a0, a1, a2]), pad)
            return ((p / r) ** 2).sum(-1) <= 1.0
        if self.kind == "cylinder":
            rr = max(a0, pad)
            return (p[..., 0] ** 2 + p[..., 1] ** 2 <= rr * rr) & (np.abs(p[..., 2]) <= max(a2, pad))
        normals, offs = self._planes  # type: ignore[misc]
        offs = offs.copy()
        offs[-2:] = max(a2, pad)
        return (p @ normals.T <= offs).all(-1)


def _prim(kind, center, rot, size, material, scale=1.0, polygon=None) -> Primitive:
    return Primitive(
        kind,
        np.asarray(center, dtype=np.float64),
        np.eye(3) if rot is None else np.asarray(rot, dtype=np.float64),
        tuple(float(s) for s in size),
        material,
        float(scale),
        None if polygon is None else np.asarray(polygon, dtype=np.float64),
    )


def ellipsoid(center, radii, material: str, rot=None, scale: float = 1.0) -> Primitive:
    """Ellipsoid with semi-axes ``radii`` (mm)."""
    return _prim("ellipsoid", center, rot, radii, material, scale)


def cylinder(
    center, radius: float, half_length: float, material: str, rot=None, scale: float = 1.0
) -> Primitive:
    """Solid cylinder along local z."""
    return _prim("cylinder", center, rot, (radius, radius, half_length), material, scale)


def prism(center, polygon, half_thickness: float, material: str, rot=None, scale: float = 1.0) -> Primitive:
    """Convex polygon (local xy, mm, any winding) extruded ±``half_thickness`` along local z."""
    p = np.asarray(polygon, dtype=np.float64)
    nxt = _next(p)
    area2 = np.dot(p[:, 0], nxt[:, 1]) - np.dot(p[:, 1], nxt[:, 0])
    if area2 < 0:
        p = p[::-1]
    return _prim("prism", center, rot, (0.0, 0.0, half_thickness), material, scale, p)


def box(center, half_sizes, material: str, rot=None, scale: float = 1.0) -> Primitive:
    """Rectangular box with half sizes ``(hx, hy, hz)``."""
    hx, hy, hz = half_sizes
    return prism(center, [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)], hz, material, rot, scale)


def transform(p: Primitive, rot: np.ndarray, offset: np.ndarray) -> Primitive:
    """Move a primitive from an object's frame into the parent frame (``x -> rot @ x + offset``)."""
    out = Primitive(
        p.kind, rot @ p.center + offset, rot @ p.rot, p.size, p.material, p.scale, p.polygon, p._planes
    )
    object.__setattr__(out, "_local_box", p.local_box())  # a rigid move keeps the local box
    return out
