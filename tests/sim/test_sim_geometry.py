"""Fast paths of the X-ray geometry agree with the plain formulas: separable chords, bounds, banded sums."""

from __future__ import annotations

import numpy as np
import pytest

from screening.sim import SimConfig
from screening.sim import xray as xray_mod
from screening.sim.config import ScannerParams
from screening.sim.geometry import box, cylinder, ellipsoid, prism, rotation, transform
from screening.sim.objects import SimObject
from screening.sim.xray import path_lengths, view_geometry


def _random_parts(rng: np.random.Generator) -> list:
    parts = []
    for _ in range(6):
        c = rng.uniform(40, 160, 3)
        rot = rotation(*rng.uniform(-180, 180, 3))
        parts.append(ellipsoid(c, rng.uniform(2, 40, 3), "water", rot))
        parts.append(cylinder(c, rng.uniform(0.5, 15), rng.uniform(1, 60), "steel", rot))
        parts.append(box(c, rng.uniform(0.5, 30, 3), "aluminium", rot))
        # upright (yaw only): top and bottom faces are the same for every column (the 1-D fast path)
        parts.append(box(c, rng.uniform(0.5, 30, 3), "abs", rotation(rng.uniform(-30, 30))))
        poly = [(np.cos(a) * 20, np.sin(a) * 12) for a in np.sort(rng.uniform(0, 2 * np.pi, 5))]
        parts.append(prism(c, poly, rng.uniform(0.5, 10), "abs", rot))
    return parts


@pytest.mark.parametrize("view", ["top", "side"])
def test_chord_grid_matches_the_per_ray_chord(view):
    """The float32 separable chords equal the float64 per-ray formula to ~1e-3 mm, grazing rays included."""
    rng = np.random.default_rng(4)
    size = np.array([200.0, 200.0, 200.0])
    g = view_geometry(view, size, ScannerParams(pixel_mm=1.3, source_distance_mm=800.0))
    h, w = g.shape
    o, d = g.rays(0, h, 0, w)
    for p in _random_parts(rng):
        fast = p.chord_grid(o, d)
        slow = p.chord(o[None, :, :], d[:, None, :])
        assert fast.dtype == np.float32 and fast.shape == (h, w)
        np.testing.assert_allclose(fast, slow, atol=2e-3, rtol=1e-5, err_msg=f"{p.kind}")
        assert (slow > 0).sum() > 0  # the part is in view, so the test compares something


def test_world_bounds_equal_the_rotated_corner_bounds():
    rng = np.random.default_rng(5)
    for p in _random_parts(rng):
        moved = transform(p, rotation(*rng.uniform(-90, 90, 3)), rng.uniform(-50, 50, 3))
        for q in (p, moved):
            pts = q.local_corners() @ q.rot.T + q.center
            lo, hi = q.world_bounds()
            np.testing.assert_allclose(lo, pts.min(axis=0), atol=1e-9)
            np.testing.assert_allclose(hi, pts.max(axis=0), atol=1e-9)


def test_path_lengths_sum_parts_and_box_every_hit():
    """Per-material maps are the sums of the parts' chords (cavities clamped at 0); boxes frame every hit."""
    rng = np.random.default_rng(6)
    parts = _random_parts(rng)
    objs = [SimObject(f"o{i}", None, p.material, [p]) for i, p in enumerate(parts)]
    objs.append(
        SimObject("cavity", None, "water", [ellipsoid((100, 100, 100), (30, 30, 30), "water", scale=-1)])
    )
    g = view_geometry("top", np.array([200.0, 200.0, 200.0]), ScannerParams(pixel_mm=1.0))
    vr = path_lengths(objs, g, np.random.default_rng(0), boxes_for=set(range(len(parts))))
    h, w = g.shape
    o, d = g.rays(0, h, 0, w)
    expected = {m: np.zeros((h, w)) for m in vr.materials}
    for i, obj in enumerate(objs):
        p = obj.parts[0]
        fat, density = xray_mod._thicken(p, g.pixel_mm)
        chord = fat.chord(o[None, :, :], d[:, None, :]) * density
        expected[p.material] += chord * p.scale
        hit = chord > 0.05
        if i < len(parts) and hit.any():
            rows, cols = np.flatnonzero(hit.any(axis=1)), np.flatnonzero(hit.any(axis=0))
            box = vr.boxes[i]
            assert abs(box[0] - cols[0]) <= 1 and abs(box[2] - cols[-1] - 1) <= 1, i
            assert abs(box[1] - rows[0]) <= 1 and abs(box[3] - rows[-1] - 1) <= 1, i
    assert len(objs) - 1 not in vr.boxes  # the cavity is not boxed (negative part)
    for m, plane in zip(vr.materials, vr.lengths, strict=True):
        np.testing.assert_allclose(plane, np.maximum(expected[m], 0.0), atol=5e-3)
    assert vr.lengths.min() >= 0.0


def test_default_config_is_untouched():
    """The speed work must not have coarsened what is simulated."""
    cfg = SimConfig()
    assert cfg.pixel_mm == 1.0 and tuple(cfg.views) == ("top", "side")
