"""The physics-rule detector: dense metal in CT and X-ray, impenetrable regions as `shield`."""

from __future__ import annotations

import numpy as np

from screening import Label, Modality, Scan
from screening.detect.physics_rule import PhysicsRuleDetector


def test_ct_dense_metal_block_is_found_in_place() -> None:
    a = np.full((1, 24, 48, 48), 300.0, np.float32)
    a[:, 6:16, 14:34, 10:30] = 15000.0
    dets = PhysicsRuleDetector()(Scan(a, Modality.CT, (2.0, 2.0, 2.0), ("mhu",), "b"))
    assert [d.label for d in dets] == [Label.FIREARM]
    assert dets[0].box == (10, 14, 6, 30, 34, 16)


def test_ct_small_metal_and_organics_are_ignored() -> None:
    a = np.full((1, 24, 48, 48), 300.0, np.float32)
    a[:, 2:4, 2:4, 2:4] = 15000.0  # 64 mm^3 of metal: a key, not a gun
    a[:, 10:20, 10:40, 10:40] = 1200.0  # a large organic block
    assert PhysicsRuleDetector()(Scan(a, Modality.CT, (2.0, 2.0, 2.0), ("mhu",), "b")) == []


def test_xray_impenetrable_region_is_a_shield() -> None:
    high = np.full((100, 120), 0.9, np.float32)
    low = np.full((100, 120), 0.85, np.float32)
    high[20:70, 30:90] = 0.001  # 50 x 60 mm nothing gets through
    low[20:70, 30:90] = 0.0001
    scan = Scan(np.stack([high, low]), Modality.XRAY, (1.0, 1.0), ("high", "low"), "b", view="top")
    dets = PhysicsRuleDetector()(scan)
    shields = [d for d in dets if d.label == Label.SHIELD]
    assert len(shields) == 1
    assert shields[0].box == (30, 20, 90, 70) and shields[0].view == "top"


def test_xray_thin_air_bag_has_nothing() -> None:
    scan = Scan(np.full((2, 64, 64), 0.95, np.float32), Modality.XRAY, (1.0, 1.0), ("high", "low"), "b")
    assert PhysicsRuleDetector()(scan) == []
