"""PD scoring: box overlap, label and threshold rules, bag-level rates, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from screening.bench.bagset import BenchBag, TruthObject
from screening.bench.scoring import box_iou, object_found, score_bags
from screening.decide.policy import Policy
from screening.scan import Detection, Label, Verdict

GUN = TruthObject("firearm", {"top": (10.0, 10.0, 50.0, 40.0)}, (0.0, 0.0, 0.0, 10.0, 10.0, 10.0))


def _det(label: Label = Label.FIREARM, score: float = 0.9, box=(10, 10, 50, 40), view="top") -> Detection:
    return Detection(label, score, tuple(float(v) for v in box), view=view)


def test_box_iou_2d_and_3d() -> None:
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert box_iou((0, 0, 0, 2, 2, 2), (0, 0, 0, 2, 2, 1)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="4 or 6"):
        box_iou((0, 0, 1, 1), (0, 0, 0, 1, 1, 1))


def test_object_found_needs_label_threshold_view_and_overlap() -> None:
    policy = Policy()
    assert object_found(GUN, [_det()], policy)
    assert not object_found(GUN, [_det(label=Label.BLADE)], policy)
    assert not object_found(GUN, [_det(score=0.2)], policy)
    assert not object_found(GUN, [_det(view="side")], policy)
    assert not object_found(GUN, [_det(box=(60, 60, 80, 80))], policy)
    assert not object_found(GUN, [_det(box=(45, 10, 90, 40))], policy)  # IoU 0.06, centres apart
    assert object_found(GUN, [Detection(Label.FIREARM, 0.9, (0.0, 0.0, 0.0, 10.0, 10.0, 9.0))], policy)


def test_score_bags_rates() -> None:
    bags = [
        BenchBag(0, 0, "xray", Path("a"), (GUN,)),
        BenchBag(1, 1, "xray", Path("b"), (GUN,)),
        BenchBag(2, 2, "xray", Path("c"), ()),
        BenchBag(3, 3, "xray", Path("d"), (TruthObject("shield", {}),)),
    ]
    dets = [[_det()], [], [_det(box=(0, 0, 5, 5))], []]
    verdicts = [Verdict.ALARM, Verdict.CLEAR, Verdict.ALARM, Verdict.REVIEW]
    s = score_bags(bags, dets, verdicts)
    assert s["pd"] == pytest.approx(0.5)
    assert s["pd_bag"] == pytest.approx(0.5)
    assert s["pfa_bag"] == pytest.approx(0.5)  # bag 2 alarms without a threat; the shield bag is clean
    assert s["review_rate"] == pytest.approx(0.25)
    assert s["threat_objects"] == 2
    assert s["pd_by_label"] == {"firearm": 0.5}


def test_score_bags_empty_and_misaligned() -> None:
    s = score_bags([], [], [])
    assert math.isnan(s["pd"]) and math.isnan(s["pfa_bag"])
    with pytest.raises(ValueError, match="align"):
        score_bags([BenchBag(0, 0, "xray", Path("a"), ())], [], [])
