"""material_index (cell-table lookup) equals the plain np.interp definition, grid points and ends included."""

from __future__ import annotations

import numpy as np
import pytest

from screening.physics import dual_energy
from screening.physics.dual_energy import A_GRID, material_index
from screening.physics.pseudocolour import DEFAULT_CURVES


def _reference(high, low, curves, floor=1e-4):
    a_h = -np.log(np.clip(high.astype(np.float64), floor, 1.0))
    a_l = -np.log(np.clip(low.astype(np.float64), floor, 1.0))
    r0, r1, r2 = (np.interp(a_h, A_GRID, c) for c in curves)
    ratio = a_l / np.maximum(a_h, 1e-6)
    idx = np.where(
        ratio <= r1,
        (ratio - r0) / np.maximum(r1 - r0, 1e-3),
        1.0 + (ratio - r1) / np.maximum(r2 - r1, 1e-3),
    )
    idx[a_h <= 0.02] = 0.0
    return np.clip(idx, -0.5, 3.0)


def test_matches_np_interp_definition():
    rng = np.random.default_rng(0)
    a = np.concatenate([
        rng.uniform(0.0, 9.5, 20_000),  # beyond both ends of A_GRID
        np.asarray(A_GRID),  # exactly on grid points
        np.asarray(A_GRID) * (1 + 1e-7),
        np.asarray(A_GRID) * (1 - 1e-7),
    ])  # fmt: skip
    high = np.exp(-a).astype(np.float32)
    low = np.exp(-a * rng.uniform(1.0, 3.5, a.shape)).astype(np.float32)
    got = material_index(high, low, DEFAULT_CURVES)
    assert got.dtype == np.float32 and got.shape == high.shape
    np.testing.assert_allclose(got, _reference(high, low, DEFAULT_CURVES), atol=2e-4)
    assert got.min() < 0.5 < 1.5 < got.max()  # organic to metal all present: the comparison bites


def test_grid_that_is_not_on_the_cells_is_refused(monkeypatch):
    monkeypatch.setattr(dual_energy, "A_GRID", (0.05, 0.123, 1.0))
    dual_energy._segment_tables.cache_clear()
    try:
        with pytest.raises(ValueError, match="multiples"):
            material_index(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), ((1, 1, 1),) * 3)
    finally:
        dual_energy._segment_tables.cache_clear()
