"""Metrics: IoU/hit rules, thresholds for a target PD, bag FAR, AP (vs pycocotools), confusion."""

from __future__ import annotations

import numpy as np
import pytest

from screening.train.metrics import (
    BagRecord,
    DetRecord,
    ObjRecord,
    average_precision,
    bag_far,
    choose_thresholds,
    confusion,
    far_budget_thresholds,
    iou,
    is_hit,
    object_scores,
)


def test_iou_2d_and_3d():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 0, 2, 2, 2), (1, 1, 1, 3, 3, 3)) == pytest.approx(1 / 15)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_is_hit_accepts_parts_and_rejects_neighbours():
    gt = (0, 0, 100, 40)
    assert is_hit((0, 0, 40, 40), gt)  # a part (slide of a pistol): inside and >= 15 % of it
    assert not is_hit((0, 0, 5, 5), gt)  # a tiny corner piece
    assert not is_hit((120, 0, 160, 40), gt)


def _bags():
    a = ObjRecord("firearm", {"top": (10, 10, 50, 40)}, concealment="in_shoe")
    b = ObjRecord("firearm", {"top": (60, 60, 90, 90)})
    return [
        BagRecord("1", (a,), (DetRecord("firearm", 0.9, (11, 10, 50, 41), "top"),)),
        BagRecord("2", (b,), (DetRecord("firearm", 0.4, (60, 60, 90, 90), "top"),)),
        BagRecord("3", (), (DetRecord("blade", 0.7, (0, 0, 5, 5), "top"),)),
        BagRecord("4", (), ()),
    ]


def test_object_scores_and_thresholds():
    s, conc = object_scores(_bags(), "firearm")
    assert s.tolist() == [0.9, 0.4]
    assert conc == ["in_shoe", "none"]
    t = choose_thresholds(_bags(), ["firearm", "drugs"], target_pd=0.95)
    assert t["firearm"] == pytest.approx(0.4, abs=1e-5)  # both must be found
    assert t["drugs"] == 0.05  # no objects: floor
    t50 = choose_thresholds(_bags(), ["firearm"], target_pd=0.5)
    assert t50["firearm"] == pytest.approx(0.9, abs=1e-5)


def test_bag_far_counts_threat_free_bags_only():
    assert bag_far(_bags(), {"blade": 0.5, "firearm": 0.5}) == pytest.approx(0.5)
    assert bag_far(_bags(), {"blade": 0.8, "firearm": 0.5}) == 0.0
    assert np.isnan(bag_far(_bags()[:2], {"firearm": 0.5}))


def test_far_budget_thresholds_keep_the_false_alarms_within_budget():
    clean = [
        BagRecord(str(i), (), (DetRecord("blade", s, (0, 0, 5, 5), "top"),))
        for i, s in enumerate(np.linspace(0.05, 0.95, 20))
    ]
    clean += [BagRecord("quiet", (), ())]
    bags = _bags() + clean  # 23 threat-free bags
    t = far_budget_thresholds(bags, ["blade"], far_max=0.1)  # one class: 2 of 23 clean bags may alarm
    assert bag_far(bags, t, ["blade"]) <= 0.1
    assert bag_far(bags, {"blade": t["blade"] * 0.999}, ["blade"]) > 0.1  # the lowest such threshold
    six = far_budget_thresholds(bags, ["blade", "firearm", "a", "b", "c", "d"], far_max=0.05)
    assert six["blade"] > 0.95 and bag_far(bags, six) <= 0.05  # budget split over six classes
    assert six["firearm"] == pytest.approx(1e-6)  # no firearm false alarm at any threshold
    assert far_budget_thresholds(_bags()[:2], ["firearm"]) == {"firearm": 1.0}  # no clean bags


def test_confusion_rows_and_missed():
    m = confusion(_bags(), ["firearm", "blade"], {"firearm": 0.5, "blade": 0.5})
    # firearm: one found, one missed (0.4 < 0.5); blade false positive in a clean bag -> background row
    assert m.tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]


def test_average_precision_matches_pycocotools():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(0)
    bags, images, anns, dets = [], [], [], []
    for i in range(12):
        objs, drecs = [], []
        for _ in range(int(rng.integers(1, 3))):
            x, y = rng.uniform(0, 150, 2)
            w, h = rng.uniform(20, 60, 2)
            objs.append(ObjRecord("firearm", {"top": (x, y, x + w, y + h)}))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
            for _ in range(2):
                j = rng.normal(0, 6, 4)
                box = (x + j[0], y + j[1], x + w + j[2], y + h + j[3])
                sc = float(rng.uniform(0.05, 1))
                drecs.append(DetRecord("firearm", sc, box, "top"))
                dets.append(
                    {
                        "image_id": i,
                        "category_id": 1,
                        "score": sc,
                        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    }
                )
        images.append({"id": i, "width": 256, "height": 256})
        bags.append(BagRecord(str(i), tuple(objs), tuple(drecs)))
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "firearm"}]}
    gt.createIndex()
    ev = COCOeval(gt, gt.loadRes(dets), "bbox")
    ev.params.iouThrs = np.array([0.5])
    ev.params.areaRng = [[0, 1e10]]
    ev.params.areaRngLbl = ["all"]
    ev.params.maxDets = [100]
    ev.evaluate()
    ev.accumulate()
    ref = float(ev.eval["precision"][0, :, 0, 0, 0].mean())
    assert average_precision(bags, "firearm") == pytest.approx(ref, abs=0.02)
    assert np.isnan(average_precision(bags, "drugs"))


def test_unreachable_objects_do_not_drag_the_threshold_to_the_floor():
    miss = ObjRecord("firearm", {"top": (200, 200, 220, 220)})  # nothing points at it
    bags = [*_bags(), BagRecord("5", (miss,), ())]
    t = choose_thresholds(bags, ["firearm"], target_pd=0.95)
    assert t["firearm"] == pytest.approx(0.4, abs=1e-5)  # best achievable PD (2/3), not 0.05


def test_exact_intervals_match_known_values_and_widen_with_few_objects():
    from screening.train.metrics import proportion_ci95

    assert proportion_ci95(0, 0) is None
    lo, hi = proportion_ci95(3, 3)
    assert lo == pytest.approx(0.2924, abs=1e-4) and hi == 1.0  # (0.025)^(1/3)
    lo, hi = proportion_ci95(0, 72)
    assert lo == 0.0 and hi == pytest.approx(0.0499, abs=1e-4)  # 72 clean bags without alarm: FAR < 5 %
    lo, hi = proportion_ci95(95, 100)
    assert lo < 0.95 < hi


def test_metrics_carry_intervals_and_the_bar_is_only_demonstrated_with_enough_bags():
    from screening.train.evaluate import compute_metrics, format_summary

    def bags(n_threat: int, n_clean: int) -> list[BagRecord]:
        found = [
            BagRecord(
                f"t{i}",
                (ObjRecord("firearm", {"top": (0, 0, 10, 10)}),),
                (DetRecord("firearm", 0.9, (0, 0, 10, 10), "top"),),
            )
            for i in range(n_threat)
        ]
        return found + [BagRecord(f"c{i}", (), ()) for i in range(n_clean)]

    ops = {"firearm": 0.5}
    small = compute_metrics(bags(3, 3), "xray", ops, classes=["firearm"])
    assert small["quality_bar"]["met"] is True  # every point value passes...
    assert small["quality_bar"]["demonstrated_at_95pct_confidence"] is False  # ...but 3 + 3 bags show little
    assert small["per_class"]["firearm"]["pd_ci95"][0] == pytest.approx(0.2924, abs=1e-4)
    assert small["bag_far_ci95"][1] > 0.5
    big = compute_metrics(bags(80, 80), "xray", ops, classes=["firearm"])
    assert big["quality_bar"]["demonstrated_at_95pct_confidence"] is True
    assert "95% CI" in format_summary(big) and "[0.95, 1.00]" in format_summary(big)
    # A set with no threat-free bag (a small validation split) has no FAR, not a crash.
    only_threats = compute_metrics(bags(3, 0), "xray", ops, classes=["firearm"])
    assert np.isnan(only_threats["bag_far"]) and only_threats["bag_far_ci95"] is None
    assert only_threats["quality_bar"]["met"] is False
    assert "nan" in format_summary(only_threats).lower()


def test_quantity_errors_are_also_kept_apart_for_boxes_that_outline_the_object():
    from screening.scan import Detection, Label
    from screening.train.evaluate import _quantity_errors

    notes = ObjRecord("currency", {"": (0, 0, 0, 10, 10, 10)}, note_count=100)
    drugs = ObjRecord("drugs", {"": (50, 50, 50, 60, 60, 60)}, mass_g=1000.0)
    dets = [
        Detection(Label.CURRENCY, 0.9, (0, 0, 0, 10, 10, 11), note_count=110),  # outlines it: IoU 0.91
        Detection(Label.DRUGS, 0.8, (50, 50, 50, 53, 60, 60), mass_g=250.0),  # a part of it: IoU 0.3
    ]
    err = _quantity_errors([notes, drugs], dets)
    assert err == pytest.approx({"notes_rel_err_0": 0.1, "notes_rel_err_loc_0": 0.1, "mass_rel_err_1": -0.75})


def test_held_out_thresholds_use_the_conformal_rank_and_say_what_they_promise():
    from screening.train.metrics import held_out_far_bound

    def clean_bags(n: int) -> list[BagRecord]:
        return [
            BagRecord(str(i), (), (DetRecord("blade", (i + 1) / (n + 1), (0, 0, 5, 5), "top"),))
            for i in range(n)
        ]

    bags = clean_bags(50)  # scores 1/51 .. 50/51
    # In sample, 5 % of 50 clean bags lets floor(2.5) = 2 alarm: the threshold sits just above 48/51.
    assert far_budget_thresholds(bags, ["blade"], 0.05)["blade"] == pytest.approx(48 / 51)
    # Held out, a new clean bag beats the (k+1)-th highest with probability (k+1)/51 <= 0.05: k = 1.
    assert far_budget_thresholds(bags, ["blade"], 0.05, held_out=True)["blade"] == pytest.approx(49 / 51)
    few = clean_bags(10)  # 1 / 11 > 5 %: no rank is safe; the threshold sits above every clean score
    assert far_budget_thresholds(few, ["blade"], 0.05, held_out=True)["blade"] > 10 / 11
    assert held_out_far_bound(10, 1, 0.05) == pytest.approx(1 / 11)
    assert held_out_far_bound(119, 6, 0.05) == pytest.approx(0.05)  # enough clean bags for six classes
    assert held_out_far_bound(83, 6, 0.05) == pytest.approx(6 / 84)  # the CT calibration of session 4
    assert held_out_far_bound(169, 6, 0.05) == pytest.approx(6 / 170)  # k = 0: one clean bag may not alarm
