"""The CT classifier's fixed-scale context cube, on tiny generated volumes (MHU, 2 mm voxels)."""

from __future__ import annotations

import numpy as np
import pytest

from screening.detect.ct_candidates import CandidateParams, find_candidates
from screening.detect.ct_inputs import candidate_inputs, context_inputs

SPACING = (2.0, 2.0, 2.0)


def _metal(vol: np.ndarray) -> list:
    cands, _ = find_candidates(vol, SPACING, CandidateParams(passes=("metal",)))
    return cands


def test_context_keeps_millimetres_where_the_box_crop_does_not():
    # A 40-mm piece and a 200-mm rod of the same cross-section: the box crop stretches both to the same
    # cube; the context cube (8 cells of 8 mm) shows one 6 cells long (x = 100-140 mm falls in the cells
    # from 96 to 144 mm) and the other running off both ends.
    short = np.zeros((40, 40, 120), np.float32)
    short[18:22, 18:22, 50:70] = 7000.0
    rod = np.zeros((40, 40, 120), np.float32)
    rod[18:22, 18:22, 10:110] = 7000.0
    (a,), (b,) = _metal(short), _metal(rod)
    crop_a, _ = candidate_inputs(short, [a], crop=8)
    crop_b, _ = candidate_inputs(rod, [b], crop=8)
    np.testing.assert_array_equal(crop_a[0, 1], crop_b[0, 1])  # same own-mask cube: size is lost
    ctx_a = context_inputs(short, [a], SPACING, 8, 8.0)
    ctx_b = context_inputs(rod, [b], SPACING, 8, 8.0)
    assert ctx_a.shape == (1, 2, 8, 8, 8) and ctx_a.dtype == np.float32
    along_a = ctx_a[0, 1].max(axis=(0, 1))  # own mask along x
    along_b = ctx_b[0, 1].max(axis=(0, 1))
    assert along_a.tolist() == [0, 1, 1, 1, 1, 1, 1, 0] and along_b.all()
    # Densities are block means (8-mm cells of 2-mm voxels: 4^3 fine voxels); the rod's cross-section
    # (8 mm) fills whole cells where it is aligned with them, and no density is invented off the object.
    assert 0.0 < ctx_b[0, 0].max() <= 7.0 + 1e-6
    assert ctx_b[0, 0][ctx_b[0, 1] == 0].max() == 0.0


def test_context_outside_the_volume_is_air_and_the_mask_stays_on_the_candidate():
    vol = np.full((30, 30, 30), 50.0, np.float32)
    vol[0:6, 0:6, 0:6] = 7000.0  # in a corner: most of the cube falls outside the volume
    (c,) = _metal(vol)
    ctx = context_inputs(vol, [c], SPACING, 10, 4.0)
    own = ctx[0, 1]
    assert set(np.unique(own)) <= {0.0, 1.0}
    # The box spans 0-12 mm on each axis, centred at 6 mm: cells 3-5 of 10 (0-4, 4-8, 8-12 mm) hold it,
    # cells 0-2 lie below 0 mm, outside the volume.
    assert [sorted(set(ix.tolist())) for ix in np.nonzero(own)] == [[3, 4, 5]] * 3
    assert own.sum() == 27
    assert ctx[0, 0, 0, 0, 0] == 0.0  # outside the volume: nothing, not the edge voxel repeated
    assert ctx[0, 0][own > 0].min() > 1.0  # the metal itself


def test_context_handles_no_candidates_and_rejects_bad_sizes():
    vol = np.zeros((8, 8, 8), np.float32)
    assert context_inputs(vol, [], SPACING, 4, 6.0).shape == (0, 2, 4, 4, 4)
    with pytest.raises(ValueError, match="context side"):
        context_inputs(vol, [], SPACING, 0, 6.0)
    with pytest.raises(ValueError, match="context side"):
        context_inputs(vol, [], SPACING, 4, 0.0)
    with pytest.raises(ValueError, match="context"):
        CandidateParams(context=-1)
    with pytest.raises(ValueError, match="context_mm"):
        CandidateParams(context_mm=0.0)
