"""Which detections reach the TDR and the PNG: near the operating point, strongest first, capped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screening.decide.policy import Policy
from screening.report import annotate, read_json, read_tdr, write_json, write_tdr
from screening.report.annotate import LABEL_COLOURS
from screening.report.select import MAX_REPORTED, reported_detections
from screening.scan import BagReport, Detection, Label, Scan


def _det(label: Label, score: float, x: float = 10.0) -> Detection:
    return Detection(label, score, (x, 10.0, x + 20.0, 40.0), view="top")


def test_keeps_near_and_counting_ranked_by_score_over_threshold() -> None:
    policy = Policy(thresholds={Label.FIREARM: 0.8, Label.DRUGS: 0.4})
    dets = [
        _det(Label.FIREARM, 0.5),  # 0.62 of its threshold: near
        _det(Label.DRUGS, 0.5),  # 1.25: counts
        _det(Label.FIREARM, 0.3),  # 0.375: dropped
        _det(Label.DRUGS, 0.19),  # 0.475: dropped
        _det(Label.FIREARM, 0.9),  # 1.125: counts
    ]
    shown = reported_detections(dets, policy)
    assert [(d.label, d.score) for d in shown] == [
        (Label.DRUGS, 0.5),
        (Label.FIREARM, 0.9),
        (Label.FIREARM, 0.5),
    ]
    assert len(reported_detections(dets, policy, near=0.0)) == 5
    assert [d.score for d in reported_detections(dets, policy, near=1.0)] == [0.5, 0.9]


def test_cap_drops_the_weakest_and_never_a_counting_one_before_a_near_one() -> None:
    dets = [_det(Label.BLADE, 0.3 + 0.001 * i, x=i) for i in range(40)] + [_det(Label.FIREARM, 0.6)]
    shown = reported_detections(dets, Policy(), limit=5)
    assert shown[0].label == Label.FIREARM
    assert [d.score for d in shown[1:]] == pytest.approx([0.339, 0.338, 0.337, 0.336])
    assert len(reported_detections(dets, Policy())) == MAX_REPORTED


@pytest.mark.parametrize(("near", "limit"), [(-0.1, 3), (1.5, 3), (0.5, 0)])
def test_bad_arguments_are_refused(near: float, limit: int) -> None:
    with pytest.raises(ValueError, match=r"near|limit"):
        reported_detections([], Policy(), near=near, limit=limit)


def test_tdr_and_png_carry_the_shown_ones_and_json_keeps_all(
    xray_scans: list[Scan], clear_report: BagReport, tmp_path: Path
) -> None:
    noise = [_det(Label.BLADE, 0.06, x=5.0 + 3 * i) for i in range(80)]
    report = dataclasses.replace(clear_report, detections=(*noise, _det(Label.BLADE, 0.4, x=30.0)))
    tdr = read_tdr(write_tdr(report, xray_scans[:1], tmp_path / "t.dcs"))
    assert [t["probability"] for t in tdr["threats"]] == pytest.approx([0.4])
    assert len(read_json(write_json(report, tmp_path / "r.json")).detections) == 81

    png = annotate(xray_scans[:1], report, tmp_path / "b.png", policy=Policy())
    with Image.open(png) as img:
        px = np.asarray(img.convert("RGB"))
    blade = np.all(px == np.array(LABEL_COLOURS[Label.BLADE], np.uint8), axis=-1)
    cols = np.nonzero(blade.any(axis=0))[0]
    # One thin box (its two sides and a label tile), not eighty: all blade pixels sit near the shown box.
    assert cols.size and cols.max() - cols.min() < 0.6 * px.shape[1]
    no_note = annotate(
        xray_scans[:1], dataclasses.replace(report, detections=report.detections[-1:]), tmp_path / "c.png"
    )
    with Image.open(no_note) as img:
        assert img.height < px.shape[0]  # the title bar's extra line says 80 were not drawn
