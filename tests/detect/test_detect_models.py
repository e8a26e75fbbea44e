"""Train tiny models for a few steps, export ONNX, check torch/onnxruntime parity and the pipeline wiring."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from screening.detect.card import read_card
from screening.scan import Label, Modality, Scan, Verdict
from screening.train.data import sim_bags

from .conftest import fake_generate_bag


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Tiny X-ray and CT models trained for a few steps on the fake generator (code path, not quality)."""
    import torch

    from screening.train.ct import CtTrainConfig, train_ct
    from screening.train.xray import XrayTrainConfig, train_xray

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("models")

    def bags(seeds):
        return sim_bags(seeds, "both", generate=fake_generate_bag)

    xcfg = XrayTrainConfig(
        out=str(root / "xray_centernet"),
        work_dir=str(root / "wx"),
        size=64,
        steps=3,
        batch=2,
        pretrained=False,
        threads=1,
        ckpt_every=2,
        width=16,
    )
    xray = train_xray(xcfg, bags(range(4)), 4, list(bags(range(4, 8))), {"command": "test"})
    ccfg = CtTrainConfig(
        out=str(root / "ct_candidates"),
        work_dir=str(root / "wc"),
        epochs=2,
        batch=8,
        threads=1,
        candidates={"min_volume_cm3": 0.05, "crop": 8},
        width=4,
    )
    ct = train_ct(ccfg, bags(range(4)), 4, list(bags(range(4, 8))), {"command": "test"})
    return root, xray, ct, xcfg


def test_training_writes_onnx_card_checkpoint_and_log(tiny_models):
    root, xray, ct, _ = tiny_models
    for path, modality in ((xray, "xray"), (ct, "ct")):
        card = read_card(path)  # also verifies the sha256
        assert card.modality == modality and card.opset >= 17
        assert card.classes == ("firearm", "ammunition", "blade", "drugs", "currency", "wildlife")
        assert set(card.thresholds) == set(card.classes)
        assert "validation" in card.training and card.training["command"] == "test"
        assert card.extra["validated_devices"] == []  # the fake validation bags name no device
    assert (root / "wx" / "checkpoint.pt").is_file() and (root / "wx" / "train_cache.npz").is_file()
    log = [json.loads(x) for x in (root / "wc" / "train_log.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in log] == [1, 2]


def test_resume_continues_from_checkpoint(tiny_models):
    import dataclasses

    import torch

    from screening.train.xray import train_xray

    root, _, _, xcfg = tiny_models
    before = torch.load(root / "wx" / "checkpoint.pt", weights_only=False)["step"]
    assert before == 3
    cfg = dataclasses.replace(xcfg, steps=4, out=str(root / "resumed"))
    # no training bags needed: the cache and the checkpoint are reused
    train_xray(cfg, iter(()), 0, list(sim_bags([9], "both", generate=fake_generate_bag)), {})
    assert torch.load(root / "wx" / "checkpoint.pt", weights_only=False)["step"] == 4


def test_init_copies_weights_and_refuses_bad_checkpoints(tiny_models, tmp_path):
    import dataclasses

    import torch

    from screening.errors import ScreeningError
    from screening.train.checkpoint import load_weights
    from screening.train.xray import build_model

    root, _, _, xcfg = tiny_models
    ckpt = root / "wx" / "checkpoint.pt"
    model = build_model(dataclasses.replace(xcfg, size=96))  # another input size: weights still fit
    load_weights(ckpt, model)
    saved = torch.load(ckpt, weights_only=False)["model"]
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    with pytest.raises(ScreeningError, match="no such checkpoint"):
        load_weights(tmp_path / "missing.pt", model)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ScreeningError, match=r"junk\.pt"):
        load_weights(tmp_path / "junk.pt", model)
    wider = build_model(dataclasses.replace(xcfg, width=32))
    with pytest.raises(ScreeningError, match="cannot start from this checkpoint"):
        load_weights(ckpt, wider)


def test_init_from_shipped_onnx_keeps_the_model_in_eval_and_train_mode(tiny_models, tmp_path):
    """An exported X-ray model (batch norms folded) comes back as trainable weights with the same outputs."""
    import dataclasses

    import onnxruntime as ort
    import torch

    from screening.errors import ScreeningError
    from screening.train.checkpoint import load_weights
    from screening.train.xray import build_model

    _, xray, _, xcfg = tiny_models
    torch.manual_seed(1)
    model = build_model(xcfg)
    calib = torch.rand(3, 3, 64, 64)
    load_weights(xray, model, (calib,))
    x = torch.rand(2, 3, 64, 64)
    ref = ort.InferenceSession(str(xray), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[
        0
    ]
    model.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), ref, atol=1e-4, rtol=1e-3)
        on_calib = model(calib).numpy()
        model.train()  # batch statistics on the measured batch are the stored ones: same function
        np.testing.assert_allclose(model(calib).numpy(), on_calib, atol=1e-4, rtol=1e-3)
    with pytest.raises(ScreeningError, match="needs a batch"):
        load_weights(xray, model)
    with pytest.raises(ScreeningError, match="convolution"):
        load_weights(xray, build_model(dataclasses.replace(xcfg, width=32)), (calib,))
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(ScreeningError, match=r"junk\.onnx: cannot read"):
        load_weights(tmp_path / "junk.onnx", model, (calib,))


def test_training_continues_from_an_onnx_file(tiny_models):
    import dataclasses

    import torch

    from screening.train.xray import train_xray

    root, xray, _, xcfg = tiny_models
    cfg = dataclasses.replace(
        xcfg, steps=1, init=str(xray), out=str(root / "from_onnx"), work_dir=str(root / "wo")
    )
    bags = sim_bags(range(2), "both", generate=fake_generate_bag)
    out = train_xray(cfg, bags, 2, list(sim_bags([9], "both", generate=fake_generate_bag)), {})
    assert torch.load(root / "wo" / "checkpoint.pt", weights_only=False)["step"] == 1
    assert read_card(out).training["config"]["init"] == str(xray)


def test_torch_onnx_parity_xray():
    import onnxruntime as ort
    import torch

    from screening.detect.card import ModelCard
    from screening.detect.nets import XrayCenterNet
    from screening.train.export import export_xray

    torch.manual_seed(0)
    model = XrayCenterNet(num_classes=6, width=16, pretrained=False).eval()
    card = ModelCard("p", "xray", "t", ("firearm",), {"shape": [1, 3, 64, 64]}, "", 17)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = export_xray(model, Path(d) / "p.onnx", 64, card)
        x = torch.rand(2, 3, 64, 64)
        with torch.no_grad():
            ref = model(x).numpy()
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            None, {"image": x.numpy()}
        )[0]
    assert got.shape == ref.shape == (2, 10, 8, 8)
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-3)


def test_torch_onnx_parity_ct(tiny_models):
    import onnxruntime as ort
    import torch

    from screening.detect.nets import CtCandidateNet

    torch.manual_seed(0)
    _, _, ct, _ = tiny_models
    model = CtCandidateNet(9, 7, 4).eval()
    state = torch.load(ct.parent / "wc" / "checkpoint.pt", weights_only=False)["model"]
    model.load_state_dict(state)
    crop, feats = torch.rand(3, 2, 8, 8, 8), torch.rand(3, 9)
    with torch.no_grad():
        ref = model(crop, feats).numpy()
    sess = ort.InferenceSession(str(ct), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"crop": crop.numpy(), "feats": feats.numpy()})[0]
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-3)


def test_ct_model_with_context_cube_trains_exports_and_detects(tmp_path):
    """A context-reading CT model: third ONNX input, card says so, parity, the detector feeds it."""
    import onnxruntime as ort
    import torch

    from screening.detect.ct_onnx import CtOnnxDetector
    from screening.detect.nets import CtCandidateNet
    from screening.train.ct import CtTrainConfig, train_ct

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = CtTrainConfig(
        out=str(tmp_path / "ctx"),
        work_dir=str(tmp_path / "w"),
        epochs=1,
        batch=8,
        threads=1,
        candidates={"min_volume_cm3": 0.05, "crop": 8, "context": 4, "context_mm": 8.0},
        width=4,
    )
    bags = list(sim_bags(range(3), "ct", generate=fake_generate_bag))
    path = train_ct(cfg, bags[:2], 2, bags[2:], {"command": "test"})
    card = read_card(path)
    assert card.input_spec["context"] == [None, 2, 4, 4, 4]
    assert "context cube" in card.architecture and card.extra["candidates"]["context"] == 4
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["crop", "feats", "context"]
    model = CtCandidateNet(9, 7, 4, context=True).eval()
    model.load_state_dict(torch.load(tmp_path / "w" / "checkpoint.pt", weights_only=False)["model"])
    crop, feats, ctx = torch.rand(3, 2, 8, 8, 8), torch.rand(3, 9), torch.rand(3, 2, 4, 4, 4)
    with torch.no_grad():
        ref = model(crop, feats, ctx).numpy()
        with pytest.raises(ValueError, match="pass context"):
            model(crop, feats)
    got = sess.run(None, {"crop": crop.numpy(), "feats": feats.numpy(), "context": ctx.numpy()})[0]
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-3)
    dets = CtOnnxDetector(path, threads=1, min_score=0.0)(fake_generate_bag(0).ct)
    assert dets and all(len(d.box) == 6 for d in dets)


def test_xray_detector_accepts_raw_grey_and_rgb(tiny_models):
    from screening.detect.xray_onnx import XrayOnnxDetector

    _, xray, _, _ = tiny_models
    det = XrayOnnxDetector(xray, threads=1, min_score=0.0)
    raw = fake_generate_bag(0).xray[0]
    grey = Scan(raw.array[:1], Modality.XRAY, raw.spacing_mm, ("grey",), "g", view="v0")
    rgb = Scan(np.repeat(raw.array[:1], 3, 0), Modality.XRAY, raw.spacing_mm, ("r", "g", "b"), "c", view="v1")
    for scan in (raw, grey, rgb):
        dets = det(scan)
        assert dets, "min_score=0 must report the top peaks"
        for d in dets:
            assert d.view == scan.view and 0.0 <= d.score <= 1.0 and d.detector == "xray_centernet"
            x0, y0, x1, y1 = d.box
            assert 0 <= x0 < x1 <= scan.shape[1] and 0 <= y0 < y1 <= scan.shape[0]
    assert det.version.endswith("+sha256:" + det.card.sha256[:12])


def test_ct_detector_boxes_and_quantities(tiny_models):
    from screening.detect.ct_onnx import CtOnnxDetector

    _, _, ct, _ = tiny_models
    det = CtOnnxDetector(ct, threads=1, min_score=0.0)
    dets = det(fake_generate_bag(0).ct)
    assert dets and all(len(d.box) == 6 for d in dets)
    assert all(d.mass_g is not None for d in dets if d.label in (Label.DRUGS, Label.CURRENCY))
    assert all(d.note_count is not None for d in dets if d.label == Label.CURRENCY)
    with pytest.raises(Exception, match="CT volume"):
        det(fake_generate_bag(0).xray[0])


def test_wrong_modality_card_is_refused(tiny_models):
    from screening.detect.ct_onnx import CtOnnxDetector
    from screening.errors import UnsupportedFormatError

    _, xray, _, _ = tiny_models
    with pytest.raises(UnsupportedFormatError, match="expected 'ct'"):
        CtOnnxDetector(xray)


def test_default_detectors_use_models_and_fall_back_with_warning(tiny_models, tmp_path):
    from screening.detect import default_detectors
    from screening.pipeline import screen_scans

    root, _, _, _ = tiny_models
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dets = default_detectors(models=root)
    names = [d.name for d in dets]
    assert names[:2] == ["xray_centernet", "ct_candidates"] and names[2] == "physics-rule"
    assert dets[2].labels == frozenset({Label.SHIELD})
    bag = fake_generate_bag(0)
    report = screen_scans([*bag.xray], dets)
    assert report.verdict in tuple(Verdict) and "xray_centernet" in report.model_versions

    with pytest.warns(RuntimeWarning, match="placeholder physics rule"):
        fallback = default_detectors(models=tmp_path)
    assert [d.name for d in fallback] == ["physics-rule", "physics-rule"]
    assert {m for d in fallback for m in d.modalities} == {Modality.XRAY, Modality.CT}


def test_cli_train_and_evaluate(tmp_path, monkeypatch, capsys):
    import screening.train.data as data
    from screening.cli.main import main

    def fake_parallel(seeds, modality, config=None, workers=1):
        return sim_bags(seeds, modality, generate=fake_generate_bag)

    monkeypatch.setattr(data, "sim_bags_parallel", fake_parallel)
    out = tmp_path / "models" / "ct_tiny"
    rc = main(
        [
            "train",
            "--modality",
            "ct",
            "--sim-bags",
            "4",
            "--val-bags",
            "2",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--work-dir",
            str(tmp_path / "w"),
            "--ct-context",
            "4",
            "--ct-context-mm",
            "8",
            "--ct-min-object-share",
            "0.1",
            "--ct-label-hits",
            "--ct-share-exempt",
            "ammunition",
        ]
    )
    assert rc == 0
    card = read_card(out.with_suffix(".onnx"))
    # the labels are part of the recipe
    assert "--ct-min-object-share 0.1 --ct-label-hits --ct-share-exempt ammunition" in card.reproduce
    assert "--modality ct --sim-bags 4 --seed 0" in card.training["command"]
    assert "--ct-context 4 --ct-context-mm 8" in card.reproduce  # the reproduce command builds the same net
    assert card.extra["candidates"]["context"] == 4 and card.input_spec["context"] == [None, 2, 4, 4, 4]
    assert card.training["train_seeds"] == "0..3" and card.training["val_seeds"] == "4..5"
    rc = main(
        [
            "evaluate",
            "--modality",
            "ct",
            "--sim-bags",
            "4",
            "--seed",
            "100",
            "--model",
            str(out.with_suffix(".onnx")),
            "--out",
            str(tmp_path / "eval"),
            "--update-card",
        ]
    )
    assert rc == 0
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert m["modality"] == "ct" and m["bags"] == 4 and m["threat_free_bags"] == 2
    assert set(m["per_class"]["firearm"]) >= {"pd", "ap50", "threshold", "n"}
    assert m["per_class"]["firearm"]["n"] == 2
    for png in ("roc.png", "froc.png", "pd_per_class.png", "confusion.png"):
        assert (tmp_path / "eval" / png).stat().st_size > 1000
    assert read_card(out.with_suffix(".onnx")).metrics["bags"] == 4
    assert "quality bar" in capsys.readouterr().out


def test_cli_evaluate_missing_model_fails_cleanly(tmp_path, capsys):
    from screening.cli.main import main

    rc = main(
        [
            "evaluate",
            "--modality",
            "xray",
            "--sim-bags",
            "1",
            "--model",
            str(tmp_path / "none.onnx"),
            "--out",
            str(tmp_path / "e"),
        ]
    )
    assert rc == 1
    assert "none.onnx" in capsys.readouterr().err
