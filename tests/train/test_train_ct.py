"""CT trainer settings: background subsampling is validated before any work starts."""

from __future__ import annotations

import pytest

from screening.train.ct import CtTrainConfig, train_ct


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_background_fraction_outside_0_1_is_refused(tmp_path, fraction):
    cfg = CtTrainConfig(out=str(tmp_path / "m"), work_dir=str(tmp_path / "w"), background_fraction=fraction)
    with pytest.raises(ValueError, match=r"background_fraction must be in \(0, 1\]"):
        train_ct(cfg, [], 0, [], {})
    assert not (tmp_path / "w").exists()  # refused before touching the work dir


def test_default_background_fraction_is_recorded_in_the_config():
    assert CtTrainConfig(out="m", work_dir="w").background_fraction == pytest.approx(0.35)


@pytest.mark.parametrize("jitter", [-0.01, 0.5, 2.0])
def test_density_jitter_outside_0_half_is_refused(tmp_path, jitter):
    cfg = CtTrainConfig(out=str(tmp_path / "m"), work_dir=str(tmp_path / "w"), density_jitter=jitter)
    with pytest.raises(ValueError, match=r"density_jitter must be in \[0, 0.5\)"):
        train_ct(cfg, [], 0, [], {})


def test_density_jitter_scales_densities_only_and_leaves_the_batch_alone():
    torch = pytest.importorskip("torch")
    from screening.detect.ct_candidates import FEATURES
    from screening.train.ct import DENSITY_FEATURES, _jitter_density

    assert [FEATURES[i] for i in DENSITY_FEATURES] == [
        "mean_density_g_cm3",
        "std_density_g_cm3",
        "p95_density_g_cm3",
    ]
    crop = torch.full((2, 2, 4, 4, 4), 1.0)
    crop[0, 0, 0, 0, 0] = 7.9  # metal near the clip
    crop[:, 1] = 1.0  # the mask channel
    feat = torch.arange(2 * len(FEATURES), dtype=torch.float32).reshape(2, -1)
    ctx = torch.full((2, 2, 3, 3, 3), 0.5)
    (c2, x2), f2 = _jitter_density([crop, ctx], feat, 1.1)
    assert torch.allclose(x2[:, 0], torch.full((2, 3, 3, 3), 0.55)) and torch.equal(x2[:, 1], ctx[:, 1])
    assert torch.allclose(c2[:, 0, 1, 1, 1], torch.tensor([1.1, 1.1]))
    assert float(c2[0, 0, 0, 0, 0]) == pytest.approx(8.0)  # clipped like the crops themselves
    assert torch.equal(c2[:, 1], crop[:, 1])  # the mask is not a density
    others = [i for i in range(len(FEATURES)) if i not in DENSITY_FEATURES]
    assert torch.equal(f2[:, others], feat[:, others])
    assert torch.allclose(f2[:, list(DENSITY_FEATURES)], feat[:, list(DENSITY_FEATURES)] * 1.1)
    assert float(crop[0, 0, 1, 1, 1]) == 1.0 and float(feat[0, 1]) == 1.0  # inputs untouched


@pytest.mark.parametrize("share", [-0.1, 1.0])
def test_object_share_outside_0_1_is_refused(tmp_path, share):
    cfg = CtTrainConfig(out=str(tmp_path / "m"), work_dir=str(tmp_path / "w"), min_object_share=share)
    with pytest.raises(ValueError, match=r"min_object_share must be in \[0, 1\)"):
        train_ct(cfg, [], 0, [], {})


def _cache(path, **extra):
    import numpy as np

    np.savez(
        path,
        crops=np.zeros((2, 2, 4, 4, 4), np.float16),
        feats=np.zeros((2, 9), np.float32),
        labels=np.array([0, 1]),
        context=np.zeros((2, 2, 0, 0, 0), np.float16),
        **extra,
    )


@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        ({}, {"min_object_share": 0.15}),  # caches from before the option: labelled without one
        ({"min_object_share": 0.15}, {}),  # session-9 caches: the share alone
        ({"min_object_share": 0.15}, {"min_object_share": 0.2}),
        ({"label_rule": '{"min_object_share": 0.15, "hits_only": true}'}, {"min_object_share": 0.15}),
        ({"label_rule": '{"min_object_share": 0.0, "hits_only": false}'}, {"label_hits": True}),
        ({"min_object_share": 0.15}, {"min_object_share": 0.15, "share_exempt": ("ammunition",)}),
    ],
)
def test_a_cache_labelled_by_another_rule_is_refused(tmp_path, cached, asked):
    import numpy as np

    (tmp_path / "w").mkdir()
    _cache(tmp_path / "w" / "ct_candidates.npz", **{k: np.array(v) for k, v in cached.items()})
    cfg = CtTrainConfig(out=str(tmp_path / "m"), work_dir=str(tmp_path / "w"), **asked)
    with pytest.raises(ValueError, match=r"ct_candidates.npz: cached labels were made with LabelRule\("):
        train_ct(cfg, [], 0, [], {})


@pytest.mark.parametrize(
    ("cached", "want"),
    [
        ({}, (0.0, False)),
        ({"min_object_share": 0.15}, (0.15, False)),
        ({"label_rule": '{"min_object_share": 0.1, "hits_only": true}'}, (0.1, True)),
        (
            {"label_rule": '{"min_object_share": 0.15, "hits_only": false, "share_exempt": ["ammunition"]}'},
            (0.15, False, ("ammunition",)),
        ),
    ],
)
def test_the_rule_of_a_cache_is_read_back_from_every_format(tmp_path, cached, want):
    import numpy as np

    from screening.train.ct import _cached_rule
    from screening.train.ct_labels import LabelRule

    _cache(tmp_path / "c.npz", **{k: np.array(v) for k, v in cached.items()})
    z = np.load(tmp_path / "c.npz")
    assert _cached_rule(z.files, z) == LabelRule(*want)


def test_rows_join_parts_in_arrival_order_across_blocks():
    import numpy as np

    from screening.detect.ct_candidates import CandidateParams
    from screening.train.ct_dataset import _Rows, empty_candidates

    rng = np.random.default_rng(5)
    parts = [
        (
            rng.random((n, 2, 3, 3, 3)).astype(np.float16),
            rng.random((n, 4)).astype(np.float32),
            rng.integers(-1, 7, n),
            rng.random((n, 2, 2, 2, 2)).astype(np.float16),
        )
        for n in (3, 1, 9, 4)  # blocks of 4 rows: parts split across, one filling a block exactly
    ]
    want = [np.concatenate([p[i] for p in parts]) for i in range(4)]
    rows = _Rows(CandidateParams(), block=4)
    for p in parts:
        rows.add(p)
    got = rows.join()
    assert all(np.array_equal(g, w) and g.dtype == w.dtype for g, w in zip(got, want, strict=True))
    assert rows.blocks == []  # released as they are copied
    none = _Rows(CandidateParams(context=4)).join()
    assert [a.shape for a in none] == [a.shape for a in empty_candidates(CandidateParams(context=4))]
    assert none[3].shape == (0, 2, 4, 4, 4)


def test_an_unknown_exempt_class_is_refused(tmp_path):
    cfg = CtTrainConfig(out=str(tmp_path / "m"), work_dir=str(tmp_path / "w"), share_exempt=("ammo",))
    with pytest.raises(ValueError, match=r"share_exempt: unknown classes \['ammo'\]"):
        train_ct(cfg, [], 0, [], {})
