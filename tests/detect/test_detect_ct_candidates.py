"""CT candidate passes on tiny generated volumes (MHU, 2 mm voxels): what each pass separates."""

from __future__ import annotations

import numpy as np
import pytest

from screening.detect.ct_candidates import (
    FEATURES,
    PASSES,
    CandidateParams,
    block_reduce,
    find_candidates,
)
from screening.detect.ct_inputs import candidate_inputs

SPACING = (2.0, 2.0, 2.0)


def _boxes(cands, band):
    return [c.box for c in cands if c.band == PASSES[band]]


def _vol(shape=(40, 40, 40), fill=50.0):
    return np.full(shape, fill, np.float32)


@pytest.mark.parametrize("shape", [(5, 6, 7), (4, 4, 4), (3, 1, 2), (9, 8, 11)])
@pytest.mark.parametrize("how", ["mean", "max"])
def test_block_reduce_matches_an_edge_padded_reshape(shape, how):
    a = np.random.default_rng(0).random(shape).astype(np.float32)
    pad = np.pad(a, [(0, (-d) % 2) for d in shape], mode="edge")
    z, y, x = pad.shape
    blocks = pad.reshape(z // 2, 2, y // 2, 2, x // 2, 2)
    ref = blocks.mean(axis=(1, 3, 5)) if how == "mean" else blocks.max(axis=(1, 3, 5))
    np.testing.assert_allclose(block_reduce(a, 2, how), ref, rtol=1e-6)
    assert block_reduce(a, 1, how) is not None and block_reduce(a, 1, how).shape == shape


def test_heavy_pass_separates_a_round_from_the_aluminium_it_touches():
    vol = _vol()
    vol[10:30, 10:30, 10:14] = 3000.0  # aluminium plate (light metal)
    vol[18:22, 18:22, 14:18] = 30000.0  # brass round resting on it (x 14..18)
    cands, _ = find_candidates(vol, SPACING, CandidateParams(min_volume_cm3=0.1))
    metal = _boxes(cands, "metal")
    assert metal == [(10, 10, 10, 18, 30, 30)]  # the window alone sees one joined object
    assert _boxes(cands, "heavy") == [(14, 18, 18, 18, 22, 22)]
    # Without the heavy pass the round is not on its own.
    only = find_candidates(vol, SPACING, CandidateParams(min_volume_cm3=0.1, passes=("organic", "metal")))[0]
    assert (14, 18, 18, 18, 22, 22) not in [c.box for c in only]


def test_cluster_pass_groups_nearby_small_dense_pieces_only():
    vol = _vol((40, 40, 90))
    for x0 in (5, 20, 35):  # three 8 mm rounds, centres 30 mm apart
        vol[18:22, 18:22, x0 : x0 + 4] = 30000.0
    vol[18:22, 18:22, 80:84] = 30000.0  # one 90 mm further on: beyond both linkage distances
    p = CandidateParams(min_volume_cm3=0.1)
    cands, _ = find_candidates(vol, SPACING, p)
    assert _boxes(cands, "cluster") == [(5, 18, 18, 39, 22, 22)]
    # Each round is a candidate of its own too (metal or heavy pass; the same box is kept once).
    rounds = {(x0, 18, 18, x0 + 4, 22, 22) for x0 in (5, 20, 35, 80)}
    assert rounds <= {c.box for c in cands}
    tight = find_candidates(vol, SPACING, CandidateParams(min_volume_cm3=0.1, cluster_mm=(20.0,)))[0]
    assert _boxes(tight, "cluster") == []
    big = find_candidates(vol, SPACING, CandidateParams(min_volume_cm3=0.1, cluster_max_cm3=0.1))[0]
    assert _boxes(big, "cluster") == []  # pieces larger than cluster_max_cm3 do not cluster


def test_dense_pass_separates_a_dense_organic_from_the_water_like_item_it_touches():
    vol = _vol()
    vol[10:30, 10:30, 6:20] = 1000.0  # food / gel
    vol[10:30, 10:30, 20:30] = 1350.0  # drug brick against it
    cands, _ = find_candidates(vol, SPACING)
    assert _boxes(cands, "organic") == [(6, 10, 10, 30, 30, 30)]
    assert _boxes(cands, "dense") == [(20, 10, 10, 30, 30, 30)]
    assert all(c.features[FEATURES.index("metal_band")] == 0.0 for c in cands)  # dense is organic


def test_split_pass_cuts_a_thin_bridge_between_two_objects():
    vol = _vol()
    vol[8:32, 8:32, 4:16] = 1000.0
    vol[8:32, 8:32, 24:36] = 1000.0
    vol[18:22, 18:22, 16:24] = 1000.0  # 8 mm bridge (a roll of cloth): joins them on the 4 mm grid
    cands, _ = find_candidates(vol, SPACING)
    assert _boxes(cands, "organic") == [(4, 8, 8, 36, 32, 32)]
    # Each core grows back by one block, so each keeps the bridge's first 4 mm.
    assert sorted(_boxes(cands, "split")) == [(4, 8, 8, 18, 32, 32), (22, 8, 8, 36, 32, 32)]
    joined = find_candidates(vol, SPACING, CandidateParams(passes=("organic", "metal")))[0]
    assert [c.box for c in joined] == [(4, 8, 8, 36, 32, 32)]


def test_a_deeper_split_parts_objects_joined_by_a_thick_bridge():
    vol = _vol((40, 40, 60))
    vol[4:36, 4:36, 4:24] = 1000.0
    vol[4:36, 4:36, 36:56] = 1000.0
    vol[16:22, 16:22, 24:36] = 1000.0  # 12 mm (3 blocks) thick: one eroded block leaves it joined
    shallow = find_candidates(vol, SPACING, CandidateParams(split_erosion=1))[0]
    assert [c.box for c in shallow] == [(4, 4, 4, 56, 36, 36)]  # the split equals the whole: dropped
    deep = find_candidates(vol, SPACING)[0]  # default: erosions of 1 and 2 blocks
    assert CandidateParams().split_erosion == (1, 2) == CandidateParams(split_erosion=[1, 2]).split_erosion
    # Each core grows back two blocks within the window: the whole object and 8 mm of the bridge.
    assert _boxes(deep, "organic") == [(4, 4, 4, 56, 36, 36)]
    assert sorted(_boxes(deep, "split")) == [(4, 4, 4, 28, 36, 36), (32, 4, 4, 56, 36, 36)]


def test_round_robin_keeps_small_metal_under_a_tight_cap():
    vol = _vol((40, 40, 80))
    for i in range(6):  # six big organic items, far heavier than the blade
        vol[4:36, 4:36, 2 + 12 * i : 10 + 12 * i] = 1000.0
    vol[18:20, 10:30, 74:76] = 9000.0  # a thin blade
    p = CandidateParams(max_candidates=3, passes=("organic", "metal"))
    cands, _ = find_candidates(vol, SPACING, p)
    assert len(cands) == 3
    assert [c.band for c in cands].count(PASSES["metal"]) == 1
    assert cands[1].box == (74, 10, 18, 76, 30, 20)


def test_candidate_fields_and_classifier_inputs_are_consistent():
    vol = _vol()
    vol[10:20, 12:18, 14:30] = 7000.0
    cands, _ = find_candidates(vol, SPACING, CandidateParams(passes=("metal",)))
    (c,) = cands
    assert c.box == (14, 12, 10, 30, 18, 20)
    assert c.mask.shape == (10, 6, 16) and c.mask.all()
    assert c.volume_cm3 == pytest.approx(10 * 6 * 16 * 0.008)
    assert c.mass_g == pytest.approx(10 * 6 * 16 * 0.008 * 7.0, rel=1e-5)
    assert c.features.shape == (len(FEATURES),) and c.features[FEATURES.index("metal_band")] == 1.0
    crops, feats = candidate_inputs(vol, cands, crop=8)
    assert crops.shape == (1, 2, 8, 8, 8) and crops.dtype == np.float32
    assert set(np.unique(crops[0, 1])) <= {0.0, 1.0} and crops[0, 1].mean() > 0.5
    assert crops[0, 0].max() == pytest.approx(7.0) and crops[0, 0].min() >= 0.0
    np.testing.assert_array_equal(feats[0], c.features)
    empty_crops, empty_feats = candidate_inputs(vol, [], crop=8)
    assert empty_crops.shape == (0, 2, 8, 8, 8) and empty_feats.shape == (0, len(FEATURES))


def test_empty_and_all_air_volumes_give_no_candidates():
    assert find_candidates(np.zeros((4, 4, 4), np.float32), SPACING)[0] == []
    assert find_candidates(np.zeros((1, 1, 1), np.float32), SPACING)[0] == []
    assert find_candidates(_vol((9, 7, 5)), SPACING)[0] == []


def test_bad_parameters_are_refused_with_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown candidate pass.*'metal'"):
        CandidateParams(passes=("organic", "shiny"))
    with pytest.raises(ValueError, match="coarse, crop must be >= 1"):
        CandidateParams(coarse=0)
    for bad in (0, (1, 0), ()):
        with pytest.raises(ValueError, match="split_erosion must be one or more depths >= 1"):
            CandidateParams(split_erosion=bad)
    # A card written as JSON holds lists; they become tuples.
    p = CandidateParams(organic_mhu=[700, 2600], cluster_mm=[30], passes=["metal"])
    assert p.organic_mhu == (700.0, 2600.0) and p.cluster_mm == (30.0,) and p.passes == ("metal",)
