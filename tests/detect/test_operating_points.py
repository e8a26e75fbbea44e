"""Operating points: the card's PD thresholds (default) and the validation-FAR thresholds, end to end."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from screening.detect.card import operating_thresholds, read_card, write_card
from screening.errors import UnsupportedFormatError
from screening.train.data import sim_bags

from .conftest import fake_generate_bag


@pytest.fixture(scope="module")
def tiny_xray(tmp_path_factory):
    from screening.train.xray import XrayTrainConfig, train_xray_stream

    root = tmp_path_factory.mktemp("op")
    cfg = XrayTrainConfig(
        out=str(root / "xray_centernet"),
        work_dir=str(root / "w"),
        size=64,
        steps=2,
        batch=2,
        pretrained=False,
        threads=1,
        width=16,
    )
    val = list(sim_bags(range(900, 906), "xray", generate=fake_generate_bag))
    return train_xray_stream(cfg, 0, None, val, {}, generate=fake_generate_bag)


def test_training_stores_a_far_operating_point_chosen_on_validation(tiny_xray):
    card = read_card(tiny_xray)
    far = card.extra["operating_points"]["far"]
    assert set(far["thresholds"]) == set(card.classes)
    assert far["far_max"] == 0.05
    assert far["validation"]["bag_far"] <= 0.05  # by construction, on the bags it was chosen on
    assert operating_thresholds(card, "far") == far["thresholds"]
    assert operating_thresholds(card, "pd") == dict(card.thresholds)


def test_detector_calibrates_to_the_chosen_operating_point(tiny_xray):
    from screening.detect.xray_onnx import XrayOnnxDetector

    card = read_card(tiny_xray)
    far = XrayOnnxDetector(tiny_xray, operating_point="far")
    pd = XrayOnnxDetector(tiny_xray)
    assert far.thresholds == [card.extra["operating_points"]["far"]["thresholds"][c] for c in card.classes]
    assert pd.thresholds == [card.thresholds[c] for c in card.classes]


def test_unknown_or_missing_operating_points_are_clear_errors(tiny_xray, tmp_path):
    card = read_card(tiny_xray)
    with pytest.raises(ValueError, match="unknown operating point 'fast'"):
        operating_thresholds(card, "fast")
    old = card.replace(extra={k: v for k, v in card.extra.items() if k != "operating_points"})
    with pytest.raises(UnsupportedFormatError, match="no 'far' operating point"):
        operating_thresholds(old, "far")


def test_scan_and_run_refuse_far_when_a_card_lacks_it(tiny_xray, tmp_path, monkeypatch, capsys):
    from screening.cli.main import main

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_xray, models / "xray_centernet.onnx")
    card = read_card(tiny_xray)
    write_card(
        card.replace(extra={k: v for k, v in card.extra.items() if k != "operating_points"}),
        models / "xray_centernet.onnx",
    )
    monkeypatch.setenv("SCREENING_MODELS", str(models))
    rc = main(["scan", str(tmp_path / "none.png"), "--operating-point", "far", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "no 'far' operating point" in capsys.readouterr().err
    rc = main(["run", "--bags", "1", "--operating-point", "far", "--out", str(tmp_path / "r"), "--no-live"])
    assert rc == 2
    assert "no 'far' operating point" in capsys.readouterr().err


def _fake_parallel(seeds, modality, config=None, workers=1):
    return sim_bags(seeds, modality, generate=fake_generate_bag)


def test_calibrate_rewrites_both_operating_points_and_clears_test_metrics(
    tiny_xray, tmp_path, monkeypatch, capsys
):
    import screening.train.data as data
    from screening.cli.main import main

    monkeypatch.setattr(data, "sim_bags_parallel", _fake_parallel)
    model = tmp_path / "m.onnx"
    shutil.copy(tiny_xray, model)
    shutil.copy(tiny_xray.with_suffix(".json"), model.with_suffix(".json"))
    rc = main(["calibrate", "--modality", "xray", "--model", str(model), "--sim-bags", "8", "--seed", "40"])
    assert rc == 0
    card = read_card(model)  # the sha256 still matches: only the card changed
    cal = card.training["calibration"]
    assert cal["bags"] == 8 and cal["threat_free_bags"] == 4 and cal["data"]["seeds"] == "40..47"
    assert set(card.thresholds) == set(card.classes)
    assert card.extra["operating_points"]["far"]["validation"]["bags"] == 8
    assert "run 'screening evaluate' again" in card.metrics["note"]
    # 4 clean bags cannot promise a 5 % bag FAR for six classes: the card and the output say what they can.
    far = card.extra["operating_points"]["far"]
    assert far["expected_far_bound"] == pytest.approx(1.0) and "too few clean bags" in far["note"]
    out = capsys.readouterr().out
    assert "too few threat-free bags (4) for 0.05; calibrate on more" in out
    # the fake bags name no device: nothing is validated, and calibrate says why
    assert card.extra["validated_devices"] == [] and "validated devices: none (some scans name no" in out


def test_calibrate_pools_several_data_folders(tiny_xray, tmp_path, monkeypatch, capsys):
    import json

    import screening.train.data as data
    from screening.cli.main import main

    folders = {tmp_path / "a": range(40, 44), tmp_path / "b": range(44, 50)}
    for folder, seeds in folders.items():
        (folder / "truth").mkdir(parents=True)
        for s in seeds:  # calibrate counts truth files for its progress bar
            (folder / "truth" / f"sim-{s:08d}.json").write_text("{}")
        (folder / "dataset_card.json").write_text(json.dumps({"seeds": [seeds[0], seeds[-1]]}))
    read: list[str] = []

    def fake_load(folder, modality):  # each folder's bags come from their own scanner
        read.append(str(folder))
        meta = {"Manufacturer": "Acme", "ManufacturerModelName": Path(folder).name}
        for bag in sim_bags(folders[folder], modality, generate=fake_generate_bag):
            yield dataclasses.replace(bag, xray=tuple(dataclasses.replace(s, meta=meta) for s in bag.xray))

    monkeypatch.setattr(data, "load_bags", fake_load)
    model = tmp_path / "m.onnx"
    shutil.copy(tiny_xray, model)
    shutil.copy(tiny_xray.with_suffix(".json"), model.with_suffix(".json"))
    args = ["calibrate", "--modality", "xray", "--model", str(model)]
    rc = main([*args, "--data", str(tmp_path / "a"), "--data", str(tmp_path / "b")])
    assert rc == 0 and read == [str(f) for f in folders]
    cal = read_card(model).training["calibration"]
    assert cal["bags"] == 10  # every bag of both folders, once
    assert [f["seeds"] for f in cal["data"]["folders"]] == ["40..43", "44..49"]
    assert "10 validation bags" in capsys.readouterr().out
    assert read_card(model).extra["validated_devices"] == ["Acme / a", "Acme / b"]


def test_calibrate_needs_clean_and_threat_bags_and_sane_targets(tiny_xray, tmp_path, monkeypatch, capsys):
    import screening.train.data as data
    from screening.cli.main import main

    monkeypatch.setattr(data, "sim_bags_parallel", _fake_parallel)
    model = tmp_path / "m.onnx"
    shutil.copy(tiny_xray, model)
    shutil.copy(tiny_xray.with_suffix(".json"), model.with_suffix(".json"))
    before = model.with_suffix(".json").read_text()
    base = ["calibrate", "--modality", "xray", "--model", str(model)]
    rc = main([*base, "--sim-bags", "1", "--seed", "0"])
    assert rc == 1 and "both threat and threat-free" in capsys.readouterr().err
    rc = main([*base, "--sim-bags", "4", "--target-pd", "1.5"])
    assert rc == 2 and "--target-pd" in capsys.readouterr().err
    assert model.with_suffix(".json").read_text() == before  # refused runs leave the card alone


@pytest.mark.parametrize("name", ["xray_centernet.onnx", "ct_candidates.onnx"])
def test_shipped_cards_carry_both_operating_points(name):
    from screening.detect import models_dir

    card = read_card(models_dir() / name)
    assert set(operating_thresholds(card, "pd")) == set(card.classes)
    assert set(operating_thresholds(card, "far")) == set(card.classes)
    assert card.training["calibration"]["bags"] >= 200  # chosen on fresh validation bags, not the test set
