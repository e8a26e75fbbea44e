"""GDXray ground-truth loader (note the x1 x2 y1 y2 column order)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from screening.datasets import load_gdxray
from screening.errors import InvalidScanError
from screening.scan import Label


@pytest.fixture
def gdxray(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    series = tmp_path / "Baggages" / "B0046"
    for i in (1, 2, 3):
        make_image(series / f"B0046_000{i}.png")
    (series / "ground_truth.txt").write_text(
        "1.0000000e+00 2 11 3 21\n2 1 5 1 5\n2, 30, 45, 10, 20\n"  # i x1 x2 y1 y2, mixed separators
    )
    return tmp_path / "Baggages"


def test_column_order_and_series_class(gdxray: Path) -> None:
    anns = load_gdxray(gdxray, series_classes={"B0046": "handgun"})
    assert [a.image_path.name for a in anns] == ["B0046_0001.png", "B0046_0002.png"]
    # x1=2, x2=11, y1=3, y2=21 (1-based inclusive) -> (1, 2, 11, 21)
    np.testing.assert_array_equal(anns[0].boxes, [[1, 2, 11, 21]])
    assert anns[0].labels == (Label.FIREARM,)
    np.testing.assert_array_equal(anns[1].boxes, [[0, 0, 5, 5], [29, 9, 40, 20]])
    assert anns[1].meta["series"] == "B0046" and anns[1].meta["image_index"] == 2


def test_class_from_file_name_or_unmapped(gdxray: Path) -> None:
    assert load_gdxray(gdxray)[0].source_labels == ("gdxray:B0046",)
    assert load_gdxray(gdxray)[0].labels == ()
    (gdxray / "B0046" / "ground_truth.txt").rename(gdxray / "B0046" / "ground_truth_razor_blade.txt")
    assert load_gdxray(gdxray)[0].labels == (Label.BLADE,)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1 2 11 3\n", "expected 5 numbers"),
        ("1.5 2 11 3 21\n", "positive integer"),
        ("0 2 11 3 21\n", "positive integer"),
        ("1 11 2 3 21\n", "non-positive width"),
        ("9 2 11 3 21\n", "B0046_0009.png' not found"),
    ],
)
def test_bad_rows(gdxray: Path, text: str, match: str) -> None:
    path = gdxray / "B0046" / "ground_truth.txt"
    path.write_text(text)
    with pytest.raises(InvalidScanError, match=match) as info:
        load_gdxray(gdxray)
    assert info.value.source == str(path)
