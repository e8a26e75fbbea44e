"""Annotated PNG and CT projections: sizes, colours, boxes, placeholder and error paths."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screening.decide.policy import Policy
from screening.errors import ScreeningError
from screening.report import annotate, ct_views, project_box
from screening.report.annotate import LABEL_COLOURS, VERDICT_COLOURS, WATER_MU_PER_MM
from screening.scan import BagReport, Detection, Label, Modality, Scan, Verdict


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        return np.asarray(img)


def _count(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(pixels == np.array(colour, np.uint8), axis=-1).sum())


def test_ct_views_geometry_and_physics(ct_scan: Scan) -> None:
    views = ct_views(ct_scan)
    assert set(views) == {"top", "side"}
    assert views["top"].shape == (24, 8, 3) and views["side"].shape == (16, 8, 3)
    assert all(v.dtype == np.uint8 for v in views.values())
    top, side = views["top"][..., 0], views["side"][..., 0]
    assert top[0, 0] == 255 and side[0, 0] == 255  # air transmits fully
    # top view at x=10, z=3 looks through 6 voxels of water (y 4:10), 1 mm each: T = exp(-0.02 * 6).
    expected = round(math.exp(-WATER_MU_PER_MM * 6.0) ** 0.6 * 255)
    assert abs(int(top[10, 3]) - expected) <= 1
    # side view at y=6, z=3 looks through 15 voxels (x 5:20): darker than the top view's 6.
    assert side[6, 3] < top[10, 3] < 255
    assert np.all(views["top"][..., 0] == views["top"][..., 2])  # grey


def test_ct_views_survive_nan_and_reject_xray(ct_scan: Scan, xray_scans: list[Scan]) -> None:
    arr = ct_scan.array.copy()
    arr[0, 0, 0, 0] = np.nan
    arr[0, 1, 0, 0] = -500.0
    views = ct_views(ct_scan.replace(array=arr))
    assert views["top"][0, 0, 0] == 255
    with pytest.raises(ValueError, match="CT"):
        ct_views(xray_scans[0])


def test_project_box() -> None:
    box = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    assert project_box(box, "top") == (3.0, 1.0, 6.0, 4.0)
    assert project_box(box, "side") == (3.0, 2.0, 6.0, 5.0)
    with pytest.raises(ValueError, match="front"):
        project_box(box, "front")
    with pytest.raises(ValueError, match="CT box"):
        project_box((1, 2, 3, 4), "top")


def test_xray_alarm_png(xray_scans: list[Scan], xray_report: BagReport, tmp_path: Path) -> None:
    path = annotate(xray_scans, xray_report, tmp_path / "png" / "bag.png")
    assert sorted(p.name for p in path.parent.iterdir()) == ["bag.png"]
    px = _rgb(path)
    h, w, _ = px.shape
    # two 20x30 views enlarged to >= 256 px high, side by side, under a title bar
    assert w >= 2 * 256 * 30 / 20 and h > 256
    assert tuple(px[2, 2]) == VERDICT_COLOURS[Verdict.ALARM]
    assert _count(px, LABEL_COLOURS[Label.BLADE]) > 500  # box outline + label background
    assert _count(px, LABEL_COLOURS[Label.CURRENCY]) > 100
    assert _count(px, LABEL_COLOURS[Label.FIREARM]) == 0
    # the blade is in the side view (right half), the currency in the top view (left half)
    assert _count(px[:, w // 2 :], LABEL_COLOURS[Label.BLADE]) > 500
    assert _count(px[:, : w // 2], LABEL_COLOURS[Label.BLADE]) == 0
    assert _count(px[:, : w // 2], LABEL_COLOURS[Label.CURRENCY]) > 100


def test_ct_png_draws_boxes_in_both_projections(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    px = _rgb(annotate([ct_scan], ct_report, tmp_path / "ct.png"))
    colour = LABEL_COLOURS[Label.FIREARM]
    mask = np.all(px == np.array(colour, np.uint8), axis=-1)
    cols = np.nonzero(mask.any(axis=0))[0]
    # one box per projection: two separate column ranges
    assert cols.size and np.any(np.diff(cols) > 1)
    assert _count(px, LABEL_COLOURS[Label.DRUGS]) > 0


@pytest.mark.parametrize(
    ("name", "verdict"), [("clear_report", Verdict.CLEAR), ("review_report", Verdict.REVIEW)]
)
def test_title_colour_follows_verdict(
    name: str, verdict: Verdict, request: pytest.FixtureRequest, xray_scans: list[Scan], tmp_path: Path
) -> None:
    report: BagReport = request.getfixturevalue(name)
    px = _rgb(annotate(xray_scans[:1], report, tmp_path / "v.png"))
    assert tuple(px[2, 2]) == VERDICT_COLOURS[verdict]
    assert tuple(px[2, -3]) == VERDICT_COLOURS[verdict]
    if verdict is Verdict.CLEAR:
        assert all(_count(px, c) == 0 for c in LABEL_COLOURS.values())


def test_sub_threshold_boxes_are_thin_with_policy(
    xray_scans: list[Scan], review_report: BagReport, tmp_path: Path
) -> None:
    weak = dataclasses.replace(review_report.detections[0], score=0.3)
    report = dataclasses.replace(review_report, detections=(weak,))
    shield = LABEL_COLOURS[Label.SHIELD]
    thick = _count(_rgb(annotate(xray_scans[:1], report, tmp_path / "a.png")), shield)
    thin = _count(_rgb(annotate(xray_scans[:1], report, tmp_path / "b.png", policy=Policy())), shield)
    assert 0 < thin < thick


def test_unreadable_bag_gets_placeholder(unreadable_report: BagReport, tmp_path: Path) -> None:
    px = _rgb(annotate([], unreadable_report, tmp_path / "u.png"))
    h, w, _ = px.shape
    assert w >= 480 and h >= 200
    assert tuple(px[2, 2]) == VERDICT_COLOURS[Verdict.REVIEW]
    body = px[h // 2 :]
    assert (body.max(axis=-1) > 200).sum() < 0.2 * body.shape[0] * body.shape[1]  # dark panel...
    assert (px[60:].max(axis=-1) > 200).any()  # ... with light text stating the error


def test_large_view_is_reduced(review_report: BagReport, tmp_path: Path) -> None:
    big = Scan(
        array=np.full((1, 1200, 900), 0.5, np.float32),
        modality=Modality.XRAY,
        spacing_mm=(1.0, 1.0),
        channels=("grey",),
        bag_id="big",
        view="top",
    )
    det = Detection(Label.SHIELD, 0.9, (100, 100, 800, 1100), view="top")
    px = _rgb(annotate([big], dataclasses.replace(review_report, detections=(det,)), tmp_path / "big.png"))
    assert px.shape[0] < 768 + 200 and px.shape[1] < 900
    assert _count(px, LABEL_COLOURS[Label.SHIELD]) > 0


def test_unwritable_destination(xray_scans: list[Scan], clear_report: BagReport, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ScreeningError, match=r"f/x\.png"):
        annotate(xray_scans, clear_report, tmp_path / "f" / "x.png")


def _grey_view(h: int, w: int) -> Scan:
    return Scan(
        array=np.full((1, h, w), 0.5, np.float32),
        modality=Modality.XRAY,
        spacing_mm=(1.0, 1.0),
        channels=("grey",),
        bag_id="tags",
        view="top",
    )


def test_label_tag_on_box_corner_and_repeatable(review_report: BagReport, tmp_path: Path) -> None:
    blade = LABEL_COLOURS[Label.BLADE]  # dark enough for white ink
    dets = (
        Detection(Label.BLADE, 0.42, (50.0, 60.0, 120.0, 90.0), view="top"),
        Detection(Label.BLADE, 0.42, (190.0, 30.0, 199.0, 40.0), view="top"),  # tag wider than the room left
    )
    report = dataclasses.replace(review_report, detections=dets)
    first = annotate([_grey_view(100, 200)], report, tmp_path / "a.png", min_panel_px=100)
    again = annotate([_grey_view(100, 200)], report, tmp_path / "b.png", min_panel_px=100)
    assert first.read_bytes() == again.read_bytes()  # cached tags draw exactly as fresh ones
    px = _rgb(first)
    top = int(np.nonzero(np.all(px[:, 8 + 20] == 128, axis=-1))[0][0])  # first row of the (grey) view
    corner_y = top + 60  # box top edge: 1:1 scale, the panel starts at x = 8
    assert tuple(px[corner_y + 1, 8 + 80]) == blade  # the box outline
    tag = px[corner_y - 18 : corner_y, 8 + 50 : 8 + 110]
    assert _count(tag, blade) > 0.4 * tag.shape[0] * tag.shape[1]  # the tag's background...
    assert np.any(np.all(tag > 200, axis=-1))  # ... with white text on it
    assert _count(px[:, : 8 + 50], blade) == 0  # nothing left of the first box
    right = px[top + 10 : top + 30, 8 : 8 + 200]
    assert _count(right[:, 120:190], blade) > 100  # the second tag is shifted left to stay inside the panel
    assert _count(px[:, 8 + 200 :], blade) == 0
