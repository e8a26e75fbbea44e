"""Slow checks of the shipped models on the real simulator (run with ``pytest -m slow tests/detect``)."""

from __future__ import annotations

import pytest

from screening.scan import Label, Verdict
from screening.train.metrics import is_hit

pytestmark = pytest.mark.slow


def _pistol_bag(modality: str):
    from screening.sim import SimConfig, generate_bag

    cfg = SimConfig(threat_fraction=1.0, max_threats=1, classes=(Label.FIREARM,))
    for seed in range(7_000_000, 7_000_040):  # seeds no training, validation or test set used
        bag = generate_bag(seed, cfg, modality=modality)
        guns = [o for o in bag.objects if o.label == Label.FIREARM and o.name == "pistol"]
        if guns:
            return bag, guns[0]
    pytest.skip("no pistol bag in 40 seeds")


def test_shipped_xray_model_alarms_on_a_pistol_with_a_box_in_the_right_place():
    from screening.detect import DEFAULT_MODELS, default_detectors, models_dir
    from screening.pipeline import screen_scans

    if not (models_dir() / DEFAULT_MODELS["xray"]).is_file():
        pytest.skip("shipped X-ray model not present")
    bag, gun = _pistol_bag("xray")
    report = screen_scans(list(bag.xray), default_detectors())
    assert report.verdict == Verdict.ALARM, report.reasons
    hits = [
        d
        for d in report.detections
        if d.label == Label.FIREARM
        and d.score >= 0.5
        and d.view in gun.boxes_2d
        and is_hit(d.box, gun.boxes_2d[d.view])
    ]
    assert hits, [d.to_dict() for d in report.detections if d.label == Label.FIREARM]


def test_shipped_ct_model_alarms_on_a_pistol():
    from screening.detect import DEFAULT_MODELS, default_detectors, models_dir
    from screening.pipeline import screen_scans

    if not (models_dir() / DEFAULT_MODELS["ct"]).is_file():
        pytest.skip("shipped CT model not present")
    bag, gun = _pistol_bag("ct")
    report = screen_scans([bag.ct], default_detectors())
    hits = [
        d
        for d in report.detections
        if d.label == Label.FIREARM and d.score >= 0.5 and is_hit(d.box, gun.box_3d)
    ]
    assert report.verdict == Verdict.ALARM and hits, report.reasons
