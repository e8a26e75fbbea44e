"""The separability study's learned voxel segmentation (datasets/voxel_segmentation.py) on known shapes."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def vs(datasets_script):
    return datasets_script("voxel_segmentation")


def _two_touching_blocks(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A 'drug brick' (1400 MHU) pressed against 'clothes' (700 MHU): one component in any density window."""
    labels = np.zeros((24, 20, 36), np.int32)
    labels[4:20, 4:16, 4:18] = 1
    labels[4:20, 4:16, 18:32] = 2
    mhu = np.choose(labels, [0.0, 1400.0, 700.0]).astype(np.float32)
    return mhu + rng.normal(0, 40, mhu.shape).astype(np.float32), labels


def test_interior_leaves_out_contacts_and_surfaces(vs) -> None:
    _, labels = _two_touching_blocks(np.random.default_rng(0))
    inside = vs.interior(labels)
    assert inside[12, 10, 10] and inside[12, 10, 25]
    assert not inside[12, 10, 17] and not inside[12, 10, 18]  # the contact belongs to neither
    assert not inside[4, 10, 10]  # the surface against air
    assert not inside[labels == 0].any()


def test_background_labels_give_no_interior_targets(vs) -> None:
    rng = np.random.default_rng(3)
    mhu, labels = _two_touching_blocks(rng)
    params = vs.SegParams(foreground_mhu=300.0)
    X, y = vs.training_voxels(mhu, labels, params, rng, per_object=50, background=(2,))
    assert len(X) == len(y) and y.sum() == 50  # block 1's interior only; block 2 ('clothes') is background
    _, y_both = vs.training_voxels(mhu, labels, params, rng, per_object=50)
    assert y_both.sum() == 100


def test_filters_of_a_uniform_volume_are_its_density_and_no_edges(vs) -> None:
    mhu = np.full((16, 16, 16), 1200.0, np.float32)
    fg = np.zeros(mhu.shape, bool)
    fg[6:10, 6:10, 6:10] = True
    X = vs.voxel_features(mhu, fg)
    x = dict(zip(vs.FILTERS, X[0], strict=True))
    assert X.shape == (64, len(vs.FILTERS))
    assert x["mhu"] == pytest.approx(1.2) and x["smooth_s4"] == pytest.approx(1.2, rel=1e-4)
    for name in ("gradient_s1", "laplace_s2", "local_sd_s2", "hessian1_s2", "hessian3_s2"):
        assert abs(x[name]) < 1e-4, name


def test_features_of_a_sample_are_those_of_the_whole_foreground(vs) -> None:
    mhu, _ = _two_touching_blocks(np.random.default_rng(4))
    fg = vs.foreground(mhu, vs.SegParams())
    where = fg & (np.random.default_rng(5).random(fg.shape) < 0.05)  # a sparse training sample
    full = np.zeros((*fg.shape, len(vs.FILTERS)), np.float32)
    full[fg] = vs.voxel_features(mhu, fg)
    np.testing.assert_allclose(vs.voxel_features(mhu, fg, where=where), full[where], rtol=1e-5, atol=1e-6)


def test_learned_segmentation_parts_touching_objects_a_window_merges(vs) -> None:
    pytest.importorskip("sklearn")
    from scipy import ndimage as ndi
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    params = vs.SegParams(foreground_mhu=300.0, grow=2, min_voxels=20)
    mhu, labels = _two_touching_blocks(rng)
    assert ndi.label(vs.foreground(mhu, params))[1] == 1  # a density window sees one object
    X, y = vs.training_voxels(mhu, labels, params, rng, per_object=600)
    model = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(X, y)
    test_mhu, test_labels = _two_touching_blocks(np.random.default_rng(2))
    segments = list(vs.segment(test_mhu, model, params))
    assert len(segments) == 2
    owners = []
    for box, mask in segments:
        x0, y0, z0, x1, y1, z1 = box
        own = test_labels[z0:z1, y0:y1, x0:x1][mask]
        owner = int(np.bincount(own[own > 0]).argmax())
        owners.append(owner)
        assert (own[own > 0] == owner).mean() > 0.9  # one object each, not the two joined
        assert (own == owner).sum() >= 0.8 * (test_labels == owner).sum()  # and most of it
    assert sorted(owners) == [1, 2]


def test_segment_of_an_empty_volume_is_nothing(vs) -> None:
    class Never:
        def predict_proba(self, X: np.ndarray) -> np.ndarray:
            raise AssertionError("no foreground: the model is not asked")

    assert list(vs.segment(np.zeros((8, 8, 8), np.float32), Never())) == []
