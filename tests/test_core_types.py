"""Core types: Scan validation, Detection/BagReport JSON round trip, decide() rules."""

from __future__ import annotations

import json

import numpy as np
import pytest

from screening import CONTRABAND, BagReport, Detection, Label, Modality, Scan, Step, Verdict
from screening.decide import Policy, decide


def _ct(c: int = 1) -> Scan:
    return Scan(
        array=np.zeros((c, 4, 8, 8), np.float32),
        modality=Modality.CT,
        spacing_mm=(2.0, 2.0, 2.0),
        channels=("mhu",) if c == 1 else ("high", "low"),
        bag_id="b1",
    )


def test_labels_are_fixed() -> None:
    assert [str(x) for x in CONTRABAND] == ["firearm", "ammunition", "blade", "drugs", "currency", "wildlife"]
    assert Label("shield") is Label.SHIELD


def test_scan_rejects_wrong_dimensions() -> None:
    with pytest.raises(ValueError, match=r"4-D"):
        Scan(np.zeros((4, 8, 8), np.float32), Modality.CT, (2, 2, 2), ("mhu",), "b")
    with pytest.raises(ValueError, match="channels"):
        Scan(np.zeros((2, 8, 8), np.float32), Modality.XRAY, (1, 1), ("grey",), "b")
    with pytest.raises(ValueError, match="spacing"):
        Scan(np.zeros((1, 8, 8), np.float32), Modality.XRAY, (1, 1, 1), ("grey",), "b")


def test_replace_appends_provenance_and_keeps_original() -> None:
    scan = _ct()
    out = scan.replace(Step("clip", {"max": 3000}), array=scan.array + 1)
    assert out.provenance == (Step("clip", {"max": 3000}),)
    assert scan.provenance == ()
    assert float(out.array.max()) == 1.0 and float(scan.array.max()) == 0.0


def test_detection_validates_box_and_score() -> None:
    with pytest.raises(ValueError, match="box"):
        Detection(Label.BLADE, 0.5, (1, 2, 3))
    with pytest.raises(ValueError, match="score"):
        Detection(Label.BLADE, 1.5, (1, 2, 3, 4))


def test_report_json_round_trip() -> None:
    det = Detection(Label.CURRENCY, 0.91, (1, 2, 3, 4, 5, 6), mass_g=120.0, note_count=130)
    report = BagReport(
        bag_id="b1",
        sources=("a.dcs",),
        modality="CT",
        verdict=Verdict.ALARM,
        reasons=("currency 0.91 ~130 notes",),
        detections=(det,),
        timings_s={"total": 0.5},
        model_versions={"m": "1"},
    )
    text = json.dumps(report.to_dict())
    back = BagReport.from_dict(json.loads(text))
    assert back.detections[0] == det
    assert back.verdict is Verdict.ALARM
    assert back.to_dict() == report.to_dict()


@pytest.mark.parametrize(
    ("dets", "errors", "expected"),
    [
        ((), (), Verdict.CLEAR),
        ((Detection(Label.FIREARM, 0.2, (0, 0, 1, 1)),), (), Verdict.CLEAR),
        ((Detection(Label.FIREARM, 0.9, (0, 0, 1, 1)),), (), Verdict.ALARM),
        ((Detection(Label.SHIELD, 0.9, (0, 0, 1, 1)),), (), Verdict.REVIEW),
        ((), ("deadline: 10 s passed",), Verdict.REVIEW),
        ((Detection(Label.CURRENCY, 0.9, (0, 0, 1, 1), note_count=20),), (), Verdict.CLEAR),
        ((Detection(Label.CURRENCY, 0.9, (0, 0, 1, 1), note_count=150),), (), Verdict.ALARM),
        ((Detection(Label.DRUGS, 0.9, (0, 0, 1, 1)),), ("error: detector crashed",), Verdict.ALARM),
    ],
)
def test_decide(dets: tuple[Detection, ...], errors: tuple[str, ...], expected: Verdict) -> None:
    verdict, reasons = decide(dets, Policy(), errors)
    assert verdict is expected
    if expected is not Verdict.CLEAR:
        assert reasons
