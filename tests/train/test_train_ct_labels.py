"""Candidate labels for CT training: by the candidate's own voxels when the label volume is known."""

from __future__ import annotations

import numpy as np

from screening.scan import Label
from screening.train.ct_labels import IGNORE, LabelRule, label_candidates
from screening.train.data import CLASS_NAMES, GtObject

CURRENCY = CLASS_NAMES.index("currency") + 1
WILDLIFE = CLASS_NAMES.index("wildlife") + 1


def _obj(label: str, index: int, box: tuple[float, ...]) -> GtObject:
    return GtObject(Label(label), {}, box, index=index)


def _cand(labels: np.ndarray, box: tuple[int, ...], values: set[int] | None = None):
    """A candidate's box and mask: the voxels of ``box`` whose label is in ``values`` (all if None)."""
    x0, y0, z0, x1, y1, z1 = box
    sub = labels[z0:z1, y0:y1, x0:x1]
    mask = np.ones(sub.shape, bool) if values is None else np.isin(sub, list(values))
    return box, mask


def _scene():
    """A diagonal 'tusk' (index 2) whose box holds a charger (index 1, benign), and a note bundle (3)."""
    labels = np.zeros((20, 40, 40), np.int16)
    for k in range(30):  # the tusk: a thick diagonal line from (2, 2) to (32, 32) in x/y
        labels[8:12, 2 + k : 5 + k, 2 + k : 5 + k] = 2
    labels[8:12, 25:31, 4:10] = 1  # a charger inside the tusk's box but not touching it
    labels[2:5, 2:12, 30:38] = 3  # the bundle
    objects = (_obj("wildlife", 2, (2, 2, 8, 35, 35, 12)), _obj("currency", 3, (30, 2, 2, 38, 12, 5)))
    return labels, objects


def test_a_benign_item_inside_a_threats_box_is_background_by_voxels_not_by_box():
    labels, objects = _scene()
    charger = _cand(labels, (4, 25, 8, 10, 31, 12), {1})
    tusk = _cand(labels, (2, 2, 8, 35, 35, 12), {2})
    boxes, masks = zip(charger, tusk, strict=True)
    by_box = label_candidates(list(boxes), objects)
    assert list(by_box) == [WILDLIFE, WILDLIFE]  # the box rule calls the charger ivory
    by_vox = label_candidates(list(boxes), objects, masks=list(masks), ct_labels=labels)
    assert list(by_vox) == [0, WILDLIFE]


def test_a_bundle_merged_with_clothes_is_still_currency_when_it_holds_most_of_it():
    labels, objects = _scene()
    labels[2:5, 2:12, 12:30] = 0  # clothes (benign, unlabelled) beside the bundle
    merged = ((12, 2, 2, 38, 12, 5), np.ones((3, 10, 26), bool))  # 8/26 of the voxels are the bundle
    out = label_candidates([merged[0]], objects, masks=[merged[1]], ct_labels=labels)
    assert list(out) == [CURRENCY]


def test_a_sliver_of_a_threat_is_ignored_and_none_is_background():
    labels, objects = _scene()
    # 2 bundle columns out of 12: 17 % of the candidate, 25 % of the bundle -> neither threat nor background.
    sliver = ((20, 2, 2, 32, 12, 5), np.ones((3, 10, 12), bool))
    empty = ((0, 0, 15, 10, 10, 20), np.ones((5, 10, 10), bool))
    out = label_candidates([sliver[0], empty[0]], objects, masks=[sliver[1], empty[1]], ct_labels=labels)
    assert list(out) == [IGNORE, 0]


def test_without_a_label_volume_the_box_rule_is_used():
    labels, objects = _scene()
    tusk = _cand(labels, (2, 2, 8, 35, 35, 12), {2})
    assert list(label_candidates([tusk[0]], objects, masks=[tusk[1]])) == [WILDLIFE]
    assert list(label_candidates([], objects, masks=[], ct_labels=labels)) == []


def test_load_bags_brings_the_label_volume_and_object_indices(tmp_path):
    import pytest

    from screening.sim.config import SimConfig
    from screening.sim.export import write_bag
    from screening.sim.generate import generate_bag
    from screening.train.data import load_bags

    bag = generate_bag(31, SimConfig(threat_fraction=1.0, voxel_mm=4.0), modality="ct")
    write_bag(bag, tmp_path)
    (loaded,) = load_bags(tmp_path, "ct")
    assert loaded.ct_labels is not None and np.array_equal(loaded.ct_labels, bag.ct_labels)
    indices = {o.index for o in loaded.objects}
    assert indices and all(i > 0 and (loaded.ct_labels == i).any() for i in indices)

    np.savez_compressed(tmp_path / "ct" / f"{bag.bag_id}_labels.npz", labels=np.zeros((2, 2, 2), np.int16))
    with pytest.warns(RuntimeWarning, match=r"labels\.npz.*does not match"):
        assert list(load_bags(tmp_path, "ct")) == []


def test_simulated_training_bags_carry_the_label_volume_into_candidate_labels():
    from screening.detect.ct_candidates import CandidateParams
    from screening.sim.config import SimConfig
    from screening.train.ct_dataset import _bag_candidates
    from screening.train.data import sim_bags

    config = SimConfig(threat_fraction=1.0, voxel_mm=4.0)
    (bag,) = sim_bags([31], "ct", config=config)
    assert bag.ct is not None and bag.ct_labels is not None
    assert bag.ct_labels.shape == bag.ct.shape[-3:]
    assert all(o.index > 0 and (bag.ct_labels == o.index).any() for o in bag.objects)
    (xray_only,) = sim_bags([31], "xray", config=config)
    assert xray_only.ct_labels is None

    out = _bag_candidates((31, config, CandidateParams(min_volume_cm3=1.0), LabelRule()))
    assert out is not None and not isinstance(out, str)
    crops, feats, labels, context = out
    assert len(crops) == len(feats) == len(labels) == len(context)
    assert context.shape[2:] == (0, 0, 0)  # no context cube asked for
    assert labels.min() >= IGNORE and labels.max() <= len(CLASS_NAMES)
    assert (labels > 0).any()  # the bag's threats are found and labelled by their voxels


def test_keep_rows_compacts_in_place_like_boolean_indexing():
    from screening.train.ct import _keep_rows

    rng = np.random.default_rng(3)
    keep = rng.random(1000) > 0.3
    crops = rng.random((1000, 2, 3, 3, 3)).astype(np.float16)
    labels = rng.integers(0, 7, 1000)
    want = crops[keep].copy(), labels[keep].copy()
    got = _keep_rows((crops, labels), keep, chunk=64)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert np.shares_memory(got[0], crops)  # no second copy of the cache
    assert [len(a) for a in _keep_rows((labels[:0],), keep[:0])] == [0]


def test_a_pure_fragment_of_a_threat_is_ignored_when_an_object_share_is_asked_for():
    labels, objects = _scene()
    # The bundle's first two columns alone: all bundle voxels (a pure candidate), but 2/8 of the bundle.
    piece = _cand(labels, (30, 2, 2, 32, 12, 5), {3})
    whole = _cand(labels, (30, 2, 2, 38, 12, 5), {3})
    boxes, masks = [piece[0], whole[0]], [piece[1], whole[1]]
    assert list(label_candidates(boxes, objects, masks=masks, ct_labels=labels)) == [CURRENCY, CURRENCY]
    shared = label_candidates(
        boxes, objects, masks=masks, ct_labels=labels, rule=LabelRule(min_object_share=0.3)
    )
    assert list(shared) == [IGNORE, CURRENCY]  # 25 % of the bundle < 30 %; the whole bundle stays currency


def test_the_object_share_reaches_the_labels_of_simulated_candidates():
    from screening.detect.ct_candidates import CandidateParams
    from screening.sim.config import SimConfig
    from screening.train.ct_dataset import _bag_candidates

    config, params = SimConfig(threat_fraction=1.0, voxel_mm=4.0), CandidateParams(min_volume_cm3=1.0)
    plain = _bag_candidates((31, config, params, LabelRule()))
    strict = _bag_candidates((31, config, params, LabelRule(0.99)))  # no candidate holds 99 % of its object
    assert isinstance(plain, tuple) and isinstance(strict, tuple)
    assert (plain[2] > 0).any() and not (strict[2] > 0).any()
    assert np.array_equal(strict[2] == IGNORE, (plain[2] == IGNORE) | (plain[2] > 0))


def test_hits_only_ignores_the_parts_evaluation_would_not_count_as_finding_the_object():
    labels, objects = _scene()
    quarter = _cand(labels, (30, 2, 2, 32, 12, 5), {3})  # 25 % of the bundle's box: a hit by coverage
    eighth = _cand(labels, (30, 2, 2, 31, 12, 5), {3})  # 12.5 %, away from its centre: not a hit
    whole = _cand(labels, (30, 2, 2, 38, 12, 5), {3})
    boxes, masks = [quarter[0], eighth[0], whole[0]], [quarter[1], eighth[1], whole[1]]
    plain = label_candidates(boxes, objects, masks=masks, ct_labels=labels)
    assert list(plain) == [CURRENCY, CURRENCY, CURRENCY]
    hits = label_candidates(boxes, objects, masks=masks, ct_labels=labels, rule=LabelRule(hits_only=True))
    assert list(hits) == [CURRENCY, IGNORE, CURRENCY]
    charger = _cand(labels, (4, 25, 8, 10, 31, 12), {1})  # background stays background
    assert list(
        label_candidates(
            [charger[0]], objects, masks=[charger[1]], ct_labels=labels, rule=LabelRule(hits_only=True)
        )
    ) == [0]


def test_an_exempt_class_keeps_its_fragments_under_an_object_share():
    labels, objects = _scene()
    piece = _cand(labels, (30, 2, 2, 32, 12, 5), {3})  # 25 % of the bundle
    vox = {"masks": [piece[1]], "ct_labels": labels}
    assert list(label_candidates([piece[0]], objects, **vox, rule=LabelRule(0.3))) == [IGNORE]
    assert list(
        label_candidates([piece[0]], objects, **vox, rule=LabelRule(0.3, share_exempt=("currency",)))
    ) == [CURRENCY]
    assert list(
        label_candidates([piece[0]], objects, **vox, rule=LabelRule(0.3, share_exempt=("ammunition",)))
    ) == [IGNORE]
