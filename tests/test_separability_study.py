"""The separability study's measurements (datasets/organic_separability.py) on shapes with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def study(datasets_script):
    return datasets_script("organic_separability")


def test_box_features_are_its_size_mass_and_ct_number(study) -> None:
    mask = np.zeros((40, 20, 10), bool)
    mask[5:35, 5:15, 2:8] = True  # 30 x 10 x 6 voxels of 2 mm: 60 x 20 x 12 mm
    vol = np.where(mask, 1200.0, 0.0)[None].astype(np.float32)
    x = dict(zip(study.FEATURES, study._object_features(vol, mask, 2.0), strict=True))
    assert x["volume_cm3"] == pytest.approx(60 * 20 * 12 / 1000)
    assert x["mass_wet_g"] == pytest.approx(1.2 * 14.4)
    assert x["mhu_p50"] == pytest.approx(1200.0)
    assert (x["len1_mm"], x["len2_mm"], x["len3_mm"]) == pytest.approx((60, 20, 12), rel=0.02)
    assert x["fill"] == pytest.approx(1.0, rel=0.05)


def test_dual_energy_ratio_follows_the_low_channel(study) -> None:
    mask = np.ones((6, 6, 6), bool)
    vol = np.stack([np.full(mask.shape, 1000.0), np.full(mask.shape, 1300.0)]).astype(np.float32)
    x = study._object_features(vol, mask, 2.0)
    assert len(x) == len(study.FEATURES) + len(study.DUAL_FEATURES)
    assert x[len(study.FEATURES)] == pytest.approx(1.3)


def test_threshold_lets_the_allowed_share_of_clean_bags_alarm(study) -> None:
    clean_max = np.arange(100, dtype=float)
    thr = study._threshold(clean_max, 0.05)
    assert (clean_max > thr).sum() == 5
    assert (clean_max > study._threshold(clean_max, 0.0)).sum() == 0


def test_plot_writes_a_png_with_and_without_the_shipped_model(study, tmp_path: Path) -> None:
    per_class = {c: {"pd": 0.5, "pd_ci95": [0.4, 0.6], "n": 10} for c in study.CLASSES}
    result = {"bags": 8, "bag_far_budget": 0.05, "single_energy": {"per_class": per_class}}
    study.plot({"labels": result}, tmp_path / "a.png")
    study.plot({"labels": result}, tmp_path / "b.png", shipped={"drugs": {"pd": 0.1, "pd_ci95": None}})
    for name in ("a.png", "b.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shipped_metrics_read_from_evaluate_output_or_none(study, tmp_path: Path) -> None:
    good = tmp_path / "metrics.json"
    good.write_text('{"at_far_budget": {"per_class": {"drugs": {"pd": 0.13}}}}')
    assert study._shipped_ct(good) == {"drugs": {"pd": 0.13}}
    (tmp_path / "bad.json").write_text("{not json")
    assert study._shipped_ct(tmp_path / "bad.json") is None
    assert study._shipped_ct(tmp_path / "missing.json") is None


def _rows(rng: np.random.Generator, shift: float) -> tuple[list[dict], list[dict], set[int]]:
    """120 bags of 5 benign rows each; half of them also hold one drugs object ``shift`` away."""
    rows, threats, threat_bags = [], [], set()
    for seed in range(120):
        rows += [{"seed": seed, "label": None, "finds": [], "x": list(rng.normal(size=3))} for _ in range(5)]
        if seed % 4 < 2:  # threat and clean bags in both halves (the halves are even and odd seeds)
            threat_bags.add(seed)
            threats.append(
                {"seed": seed, "index": 1, "label": "drugs", "name": "brick", "concealment": "none"}
            )
            rows.append({"seed": seed, "label": "drugs", "finds": [1], "x": list(rng.normal(size=3) + shift)})
    return rows, threats, threat_bags


def test_evaluate_finds_separable_threats_and_not_inseparable_ones(study) -> None:
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    easy = study._evaluate(*_rows(rng, 8.0), far=0.3, seed=0)["drugs"]
    assert easy["n"] == 60 and easy["pd"] == 1.0 and easy["segmentation_recall"] == 1.0
    assert all(f <= 0.3 / 6 + 1e-9 for f in easy["class_far_per_half"])
    hard = study._evaluate(*_rows(rng, 0.0), far=0.3, seed=0)["drugs"]
    assert hard["pd"] < 0.4


def test_bag_rows_name_the_threats_each_row_finds(study) -> None:
    seed, has_threat, rows, threats = study._bag_rows((11, 1.0, False, "labels", "", True))
    assert seed == 11 and has_threat and threats
    found = sorted(i for r in rows for i in r["finds"])
    assert found == sorted(t["index"] for t in threats)  # each object is its own row
    assert all(len(r["x"]) == len(study.FEATURES) for r in rows)
    _, _, cand_rows, cand_threats = study._bag_rows((11, 1.0, False, "candidates", "", True))
    assert cand_threats == threats
    indices = {t["index"] for t in threats}
    assert cand_rows and all(set(r["finds"]) <= indices for r in cand_rows)
    assert {r["label"] for r in cand_rows} <= {None, "ignore", *study.CLASSES}


def test_plot_dir_draws_every_study_present_and_skips_an_empty_folder(study, tmp_path: Path) -> None:
    per_class = {c: {"pd": 0.5, "pd_ci95": [0.4, 0.6], "n": 10} for c in study.CLASSES}
    result = {"bags": 8, "bag_far_budget": 0.05, "single_energy": {"per_class": per_class}}
    study._plot_dir(tmp_path, tmp_path / "missing.json")
    assert not (tmp_path / "separability.png").exists()  # nothing to plot is not an error
    (tmp_path / "candidates_nostreaks.json").write_text(json.dumps(result))
    study._plot_dir(tmp_path, tmp_path / "missing.json")
    assert (tmp_path / "separability.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("segmentation", ["voxel", "unet"])
def test_a_learned_segmentation_without_its_model_file_is_a_usage_error(
    study, segmentation: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        study.main(["--segmentation", segmentation, "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert f"--{segmentation}-model FILE" in capsys.readouterr().err


def test_bag_rows_of_the_unet_segmentation_come_from_its_saved_net(
    study, datasets_script, tmp_path: Path
) -> None:
    import torch

    us = datasets_script("unet_segmentation")
    torch.manual_seed(0)
    path = tmp_path / "unet.pt"
    us.save_net(path, us.build_net((2, 2, 2, 2)), us.UNetSegParams(object_p=0.0, core_p=2.0), {})
    # object everywhere and no core: the whole volume is one coreless segment, too big a box to find a threat
    _, has_threat, rows, threats = study._bag_rows((11, 1.0, False, "unet", str(path), True))
    assert has_threat and threats and len(rows) == 1
    assert rows[0]["finds"] == [] and rows[0]["x"][0] > 1000  # cm3: the whole bag
    assert len(rows[0]["x"]) == len(study.FEATURES)
