"""Tiny hand-built scans and bag reports for the report tests (synthetic: zeros plus one dense block)."""

from __future__ import annotations

import numpy as np
import pytest

from screening.scan import BagReport, Detection, Label, Modality, Scan, Verdict

CREATED = "2024-05-01T10:00:00+00:00"


@pytest.fixture
def ct_scan() -> Scan:
    """A 1x8x16x24 MHU volume (z, y, x) with a water-like block at z 2:6, y 4:10, x 5:20."""
    vol = np.zeros((1, 8, 16, 24), np.float32)
    vol[0, 2:6, 4:10, 5:20] = 1000.0
    return Scan(
        array=vol,
        modality=Modality.CT,
        spacing_mm=(2.0, 1.0, 1.0),
        channels=("mhu",),
        bag_id="ct-bag",
        source="ct-bag.dcs",
        meta={
            "SOPClassUID": "1.2.840.10008.5.1.4.1.1.501.1",
            "SOPInstanceUID": "1.2.826.0.1.3680043.10.1.1",
            "SeriesInstanceUID": "1.2.826.0.1.3680043.10.1.2",
            "StudyInstanceUID": "1.2.826.0.1.3680043.10.1.3",
            "FrameOfReferenceUID": "1.2.826.0.1.3680043.10.1.4",
            "StationName": "lane-3",
        },
    )


def _xray(view: str) -> Scan:
    rng = np.random.default_rng(0)
    arr = rng.uniform(0.6, 1.0, size=(2, 20, 30)).astype(np.float32)
    arr[:, 5:12, 8:20] = 0.05  # a dense block
    return Scan(
        array=arr,
        modality=Modality.XRAY,
        spacing_mm=(1.0, 1.0),
        channels=("high", "low"),
        bag_id="dx-bag",
        view=view,
        source=f"dx-bag-{view}.png",
    )


@pytest.fixture
def xray_scans() -> list[Scan]:
    """Two dual-energy views (top, side) of 20x30 pixels without DICOM UIDs (as from PNG files)."""
    return [_xray("top"), _xray("side")]


@pytest.fixture
def ct_report() -> BagReport:
    return BagReport(
        bag_id="ct-bag",
        sources=("ct-bag.dcs",),
        modality="CT",
        verdict=Verdict.ALARM,
        reasons=("firearm 0.93 ~812 g",),
        detections=(
            Detection(Label.FIREARM, 0.93, (5.0, 4.0, 2.0, 20.0, 10.0, 6.0), mass_g=812.0, density_g_cm3=7.8),
            Detection(Label.DRUGS, 0.3, (1.0, 1.0, 1.0, 4.5, 3.0, 2.0)),  # near: shown, not counted
        ),
        timings_s={"ingest": 0.1, "detect": 1.2, "total": 1.5},
        model_versions={"ct-detector": "1.0+sha256:abcd1234"},
        created_utc=CREATED,
    )


@pytest.fixture
def xray_report() -> BagReport:
    return BagReport(
        bag_id="dx-bag",
        sources=("dx-bag-top.png", "dx-bag-side.png"),
        modality="DX",
        verdict=Verdict.ALARM,
        reasons=("blade 0.81 (side)",),
        detections=(
            Detection(Label.BLADE, 0.81, (8.0, 5.0, 20.0, 12.0), view="side"),
            Detection(Label.CURRENCY, 0.7, (2.5, 1.0, 6.0, 4.0), view="top", note_count=20),
        ),
        timings_s={"total": 0.4},
        created_utc=CREATED,
    )


@pytest.fixture
def clear_report() -> BagReport:
    return BagReport(
        bag_id="dx-bag",
        sources=("dx-bag-top.png",),
        modality="DX",
        verdict=Verdict.CLEAR,
        created_utc=CREATED,
    )


@pytest.fixture
def review_report() -> BagReport:
    return BagReport(
        bag_id="dx-bag",
        sources=("dx-bag-top.png",),
        modality="DX",
        verdict=Verdict.REVIEW,
        reasons=("shield 0.88 (top)",),
        detections=(Detection(Label.SHIELD, 0.88, (8.0, 5.0, 20.0, 12.0), view="top"),),
        timings_s={"total": 0.3},
        created_utc=CREATED,
    )


@pytest.fixture
def unreadable_report() -> BagReport:
    return BagReport(
        bag_id="bad-bag",
        sources=("bad.dcs",),
        modality="",
        verdict=Verdict.REVIEW,
        reasons=("unreadable: bad.dcs: truncated pixel data",),
        created_utc=CREATED,
    )
