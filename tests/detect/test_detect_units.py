"""Unit tests: model input conversion, CenterNet encode/decode, quantities, model cards, CT candidates."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from screening.detect.card import ModelCard, read_card, write_card
from screening.detect.centernet import decode_maps, encode_targets
from screening.detect.ct_candidates import CandidateParams, find_candidates
from screening.detect.ct_inputs import candidate_inputs
from screening.detect.onnx_runtime import calibrate
from screening.detect.quantities import (
    ct_mass_g,
    mass_attenuation_cm2_g,
    notes_from_mass,
    reconcile_views,
    xray_mass_g,
)
from screening.detect.xray_input import letterbox, scan_to_rgb, unletterbox_boxes
from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.scan import Detection, Label, Modality, Scan


def _xray(arr, channels):
    return Scan(
        np.asarray(arr, np.float32), Modality.XRAY, (1.0, 1.0), channels, "b", view="top", source="t.png"
    )


def test_scan_to_rgb_handles_raw_grey_and_rgb():
    rng = np.random.default_rng(0)
    hl = rng.uniform(0.2, 1.0, (2, 12, 20))
    raw = scan_to_rgb(_xray(hl, ("high", "low")))
    grey = scan_to_rgb(_xray(hl[:1], ("grey",)))
    rgb = scan_to_rgb(_xray(np.stack([hl[0]] * 3), ("r", "g", "b")))
    for out in (raw, grey, rgb):
        assert out.shape == (3, 12, 20) and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(grey[0], grey[2])


def test_scan_to_rgb_rejects_bad_input():
    with pytest.raises(InvalidScanError, match="channel layout"):
        scan_to_rgb(_xray(np.ones((2, 4, 4)), ("a", "b")))
    bad = np.ones((1, 4, 4))
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidScanError, match=r"t\.png.*NaN"):
        scan_to_rgb(_xray(bad, ("grey",)))
    ct = Scan(np.zeros((1, 2, 2, 2), np.float32), Modality.CT, (1, 1, 1), ("mhu",), "b")
    with pytest.raises(InvalidScanError, match="X-ray view"):
        scan_to_rgb(ct)


def test_letterbox_round_trip_keeps_aspect():
    img = np.zeros((3, 50, 100), np.float32)
    out, lb = letterbox(img, 64)
    assert out.shape == (3, 64, 64)
    assert lb.scale == pytest.approx(0.64) and lb.pad_x == 0 and lb.pad_y == 16
    assert out[0, 0, 0] == 1.0  # padding is air
    boxes = np.array([[10, 5, 40, 30]], np.float32)
    model = boxes * lb.scale + np.array([lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y])
    assert np.allclose(unletterbox_boxes(model, lb, (50, 100)), boxes, atol=1e-4)


def test_centernet_encode_decode_recovers_boxes():
    boxes = np.array([[16, 24, 80, 56], [100, 100, 120, 140]], np.float32)
    labels = np.array([0, 3])
    heat, reg, mask = encode_targets(boxes, labels, 6, (16, 16), 8)
    assert mask.sum() == 2 and heat.max() == 1.0
    maps = np.concatenate([heat, reg]).astype(np.float32)
    out, cls, scores = decode_maps(maps, 6, 8, min_score=0.99)
    order = np.argsort(cls)
    assert cls[order].tolist() == [0, 3]
    assert np.allclose(out[order], boxes, atol=1e-3)
    assert np.all(scores == 1.0)


def test_calibrate_maps_threshold_to_half_monotonically():
    assert calibrate(0.3, 0.3) == pytest.approx(0.5)
    assert calibrate(0.0, 0.3) == 0.0 and calibrate(1.0, 0.3) == pytest.approx(1.0)
    xs = np.linspace(0, 1, 21)
    ys = [calibrate(x, 0.2) for x in xs]
    assert all(b >= a for a, b in itertools.pairwise(ys))
    assert calibrate(0.7, 0.5) == pytest.approx(0.7)  # threshold 0.5 is the identity


def test_xray_mass_recovers_a_slab():
    # 40 x 20 px slab of 1 mm pixels; mass per area 2 g/cm^2 on a uniform background
    mu = mass_attenuation_cm2_g("drugs")
    high = np.full((60, 80), np.exp(-0.2), np.float32)
    high[20:40, 20:60] *= np.exp(-mu * 2.0)
    m = xray_mass_g(high, (20, 20, 60, 40), (1.0, 1.0), "drugs")
    assert m == pytest.approx(2.0 * 40 * 20 / 100, rel=0.02)  # 16 g
    assert xray_mass_g(high, (70, 50, 70, 55), (1.0, 1.0), "drugs") is None


def test_xray_mass_on_a_sloped_background():
    # clutter thickening across the object: a flat (median) background under-subtracts half the slope
    mu = mass_attenuation_cm2_g("currency")
    slope = np.linspace(0.1, 2.5, 120)[None, :].repeat(80, 0)
    att = slope.copy()
    att[30:50, 40:80] += mu * 3.0  # 3 g/cm^2 over 40 x 20 px of 2 mm
    m = xray_mass_g(np.exp(-att).astype(np.float32), (40, 30, 80, 50), (2.0, 2.0), "currency")
    assert m == pytest.approx(3.0 * 40 * 20 * 0.04, rel=0.03)  # 96 g
    # a box filling the whole image has no ring: background 0, every bit of attenuation counts
    flat = np.full((10, 10), np.exp(-mu), np.float32)
    assert xray_mass_g(flat, (0, 0, 10, 10), (1.0, 1.0), "drugs") == pytest.approx(1.0, rel=0.02)


def _qdet(label: Label, view: str, x: tuple[float, float], mass: float | None, notes: int | None = None):
    return Detection(label, 0.8, (x[0], 10.0, x[1], 40.0), view=view, mass_g=mass, note_count=notes)


def test_reconcile_views_takes_the_less_cluttered_view():
    top = _qdet(Label.CURRENCY, "top", (100, 180), 310.0, 310)
    side = _qdet(Label.CURRENCY, "side", (104, 176), 120.0, 120)
    far = _qdet(Label.CURRENCY, "side", (300, 380), 50.0, 50)  # another bundle further along the belt
    drug = _qdet(Label.DRUGS, "side", (100, 180), 10.0)  # other label: never mixed in
    ct = Detection(Label.CURRENCY, 0.9, (0, 0, 0, 5, 5, 5), mass_g=1.0, note_count=1)
    out = reconcile_views([top, side, far, drug, ct])
    assert out[0].mass_g == 120.0 and out[0].note_count == 120  # top takes the side's smaller figure
    assert out[1] is side and out[2] is far and out[3] is drug and out[4] is ct
    # a weak overlap along the belt is not the same object; a missing quantity is left alone
    shifted = _qdet(Label.CURRENCY, "side", (160, 240), 20.0, 20)
    assert reconcile_views([top, shifted])[0] is top
    unknown = _qdet(Label.DRUGS, "top", (100, 180), None)
    assert reconcile_views([unknown, drug])[0] is unknown
    assert reconcile_views([_qdet(Label.DRUGS, "top", (100, 180), 30.0), drug])[0].mass_g == 10.0
    assert reconcile_views([]) == []
    # a faint proposal in the other view is no evidence of the same object: it cannot lower the count
    faint = dataclasses.replace(side, score=0.1)
    assert reconcile_views([top, faint])[0] is top


def test_ct_mass_and_notes():
    mhu = np.full((4, 4, 4), 1000.0, np.float32)  # water: 1 g/cm^3
    mask = np.ones_like(mhu, bool)
    assert ct_mass_g(mhu, mask, (10.0, 10.0, 10.0)) == pytest.approx(64.0)
    assert notes_from_mass(100.4) == 100
    assert notes_from_mass(None) is None


def _card() -> ModelCard:
    return ModelCard("m", "xray", "net", ("firearm",), {"name": "image", "shape": [1, 3, 64, 64]}, "none", 17)


def test_card_round_trip_and_integrity(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"weights")
    write_card(_card().replace(thresholds={"firearm": 0.3}), model)
    card = read_card(model)
    assert card.thresholds == {"firearm": 0.3} and len(card.sha256) == 64 and card.classes == ("firearm",)
    model.write_bytes(b"other weights")
    with pytest.raises(InvalidScanError, match="sha256"):
        read_card(model)
    assert read_card(model, verify=False).name == "m"


def test_card_errors_name_the_file(tmp_path):
    model = tmp_path / "x.onnx"
    model.write_bytes(b"w")
    with pytest.raises(UnsupportedFormatError, match=r"x\.onnx.*no model card"):
        read_card(model)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(UnsupportedFormatError, match="not valid JSON"):
        read_card(model)
    (tmp_path / "x.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(UnsupportedFormatError, match="lacks"):
        read_card(model)


def test_ct_candidates_find_dense_objects_with_mass(fake_generate):
    bag = fake_generate(0)
    params = CandidateParams(min_volume_cm3=0.05, crop=8)
    cands, labelled = find_candidates(bag.ct.array[0], bag.ct.spacing_mm, params)
    metal = [c for c in cands if c.band == 1]
    assert len(metal) == 1
    x0, y0, z0, x1, y1, z1 = metal[0].box
    assert (z0, z1) == (5, 10)
    voxels = (x1 - x0) * (y1 - y0) * (z1 - z0)
    assert metal[0].mass_g == pytest.approx(voxels * 0.008 * 7.0, rel=0.01)
    crops, feats = candidate_inputs(bag.ct.array[0], cands, labelled, 8)
    assert crops.shape == (len(cands), 2, 8, 8, 8) and feats.shape[0] == len(cands)
    assert np.isfinite(crops).all() and np.isfinite(feats).all()
    assert fake_generate(1).ct is not None
    empty, _ = find_candidates(np.zeros((4, 4, 4), np.float32), (2.0, 2.0, 2.0), params)
    assert empty == []


def test_load_bags_reads_the_simulate_layout(tmp_path):
    from PIL import Image

    from screening.train.data import load_bags

    (tmp_path / "xray").mkdir()
    (tmp_path / "truth").mkdir()
    hl = {"high": np.full((8, 10), 0.5), "low": np.full((8, 10), 0.25)}
    for ch, arr in hl.items():
        Image.fromarray((arr * 65535).astype(np.uint16)).save(tmp_path / "xray" / f"sim-1_top_{ch}.png")
    truth = {
        "bag_id": "sim-1",
        "seed": 1,
        "xray_views": ["top"],
        "ct_file": None,
        "meta": {"scanner": {"pixel_mm": 1.5}},
        "objects": [
            {"label": "blade", "name": "knife", "concealment": "in_shoe", "boxes_2d": {"top": [1, 1, 5, 4]}},
            {"label": None, "name": "book", "boxes_2d": {"top": [0, 0, 2, 2]}},
            {"label": "shield", "name": "tin", "boxes_2d": {"top": [0, 0, 2, 2]}},
        ],
    }
    (tmp_path / "truth" / "sim-1.json").write_text(json.dumps(truth))
    (tmp_path / "truth" / "sim-2.json").write_text("{broken")
    with pytest.warns(RuntimeWarning, match="sim-2.json"):
        bags = list(load_bags(tmp_path, "xray"))
    assert len(bags) == 1 and bags[0].seed == 1
    scan = bags[0].xray[0]
    assert scan.spacing_mm == (1.5, 1.5) and np.allclose(scan.array[1], 0.25, atol=1e-4)
    assert [(str(o.label), o.concealment) for o in bags[0].objects] == [("blade", "in_shoe")]
    with pytest.raises(UnsupportedFormatError, match="screening simulate"):
        list(load_bags(tmp_path / "missing", "xray"))
