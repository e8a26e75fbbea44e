"""screen_scans / screen_path: declarations, detector failures, deadline from `started`, unreadable input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from screening.decide import Declaration, Policy
from screening.pipeline import PipelineConfig, failure_report, screen_path, screen_scans
from screening.scan import Detection, Label, Modality, Scan, Verdict


def scan(bag: str = "bag-1", meta: dict | None = None) -> Scan:
    arr = np.full((2, 8, 8), 0.9, dtype=np.float32)
    return Scan(arr, Modality.XRAY, (1.0, 1.0), ("high", "low"), bag, "top", "mem", meta or {})


class Det:
    name = "d"
    version = "1"
    modalities = (Modality.XRAY,)

    def __init__(self, dets: list[Detection] | None = None, fail: bool = False) -> None:
        self.dets = dets or []
        self.fail = fail

    def __call__(self, s: Scan) -> list[Detection]:
        if self.fail:
            raise RuntimeError("model exploded")
        return self.dets


def test_customs_declaration_from_table_and_meta() -> None:
    notes = Det([Detection(Label.CURRENCY, 0.9, (0, 0, 2, 2), note_count=150)])
    policy = dataclasses.replace(Policy(), customs=dataclasses.replace(Policy().customs, enabled=True))
    cfg = PipelineConfig(policy=policy, declarations={"bag-1": Declaration(10_000, "EUR", "d.csv")})
    rep = screen_scans([scan()], [notes], cfg)  # 150 x 50 = 7,500 <= 10,000 declared
    assert rep.verdict == Verdict.CLEAR
    assert rep.extra["declaration"] == {"amount": 10_000, "currency": "EUR", "source": "d.csv"}
    rep = screen_scans([scan("bag-2", {"declaration": {"amount": 1000, "currency": "EUR"}})], [notes], cfg)
    assert rep.verdict == Verdict.ALARM and "declared 1,000 EUR" in rep.reasons[0]


def test_two_views_of_one_bundle_report_the_smaller_count() -> None:
    # each view's estimate carries its own overlapping clutter; the report keeps the less cluttered one
    top = Detection(Label.CURRENCY, 0.9, (10, 0, 50, 8), view="top", mass_g=240.0, note_count=240)
    side = Detection(Label.CURRENCY, 0.9, (12, 0, 48, 8), view="side", mass_g=90.0, note_count=90)
    views = [scan(), dataclasses.replace(scan(), view="side")]

    class PerView(Det):
        def __call__(self, s: Scan) -> list[Detection]:
            return [top] if s.view == "top" else [side]

    rep = screen_scans(views, [PerView()])
    assert [(d.view, d.note_count) for d in rep.detections] == [("top", 90), ("side", 90)]


def test_failing_detector_gives_review() -> None:
    rep = screen_scans([scan()], [Det(fail=True)])
    assert rep.verdict == Verdict.REVIEW and "model exploded" in rep.reasons[0]


def test_deadline_counted_from_started() -> None:
    t = iter([100.0 + 0.5 * i for i in range(40)])
    rep = screen_scans([scan()], [Det()], PipelineConfig(deadline_s=1.0), started=95.0, clock=lambda: next(t))
    assert rep.verdict == Verdict.REVIEW and rep.reasons[0].startswith("deadline")


def test_unreadable_file_is_review_with_file_name(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.dcs"
    bad.write_bytes(b"\x00" * 64)
    rep, scans = screen_path(bad, [Det()], bag_id="lane-7")
    assert scans == [] and rep.verdict == Verdict.REVIEW
    assert (
        rep.bag_id == "lane-7"
        and rep.reasons[0].startswith("unreadable:")
        and "garbage.dcs" in rep.reasons[0]
    )


def test_failure_report_never_clear() -> None:
    assert failure_report("b", ["x"], "deadline").verdict == Verdict.REVIEW


class Calibrated(Det):
    """A detector whose thresholds were calibrated on one device only."""

    validated_devices = ("Acme / CT*",)


def test_nothing_found_on_an_unvalidated_device_is_review_not_clear() -> None:
    acme = {"Manufacturer": "Acme", "ManufacturerModelName": "CT 9"}
    assert screen_scans([scan(meta=acme)], [Calibrated()]).verdict == Verdict.CLEAR
    for meta, named in (
        ({"Manufacturer": "Other", "ManufacturerModelName": "Z"}, "'Other / Z'"),
        ({}, "no device"),
    ):
        rep = screen_scans([scan(meta=meta)], [Calibrated()])
        assert rep.verdict == Verdict.REVIEW, meta
        assert (
            rep.reasons[0].startswith("unvalidated device: d was calibrated on Acme / CT*")
            and named in rep.reasons[0]
        )
    # a find still alarms (and says where it was found); a detector that records no devices checks none
    gun = Calibrated([Detection(Label.FIREARM, 0.9, (0, 0, 2, 2))])
    rep = screen_scans([scan()], [gun])
    assert rep.verdict == Verdict.ALARM and any(r.startswith("unvalidated device") for r in rep.reasons)
    assert screen_scans([scan()], [Det()]).verdict == Verdict.CLEAR
    # a site that accepts the risk: clear, with the fact kept as a note
    lax = PipelineConfig(policy=dataclasses.replace(Policy(), clear_unvalidated_devices=True))
    rep = screen_scans([scan()], [Calibrated()], lax)
    assert rep.verdict == Verdict.CLEAR and rep.reasons[0].startswith("note: unvalidated device")
