"""OPIXray and HiXray text-annotation loaders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from screening.datasets import DatasetSkipWarning, load_hixray, load_opixray
from screening.errors import InvalidScanError
from screening.scan import Label


@pytest.fixture
def opixray(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    root = tmp_path / "OPIXray"
    ann, img = root / "train" / "train_annotation", root / "train" / "train_image"
    ann.mkdir(parents=True)
    make_image(img / "009000.jpg")
    make_image(img / "009001.jpg")
    (ann / "009000.txt").write_text("009000.jpg Straight_Knife 3 4 20 25\n\n")
    (ann / "009001.txt").write_text("009001.jpg Multi-tool_Knife 0 0 10 10\n009001.jpg Scissor 30 5 45 29\n")
    (root / "readme.txt").write_text("not an annotation file")
    return root


def test_opixray(opixray: Path) -> None:
    anns = load_opixray(opixray)
    assert [a.image_path.name for a in anns] == ["009000.jpg", "009001.jpg"]
    assert anns[0].labels == (Label.BLADE,)
    np.testing.assert_array_equal(anns[0].boxes, [[3, 4, 20, 25]])
    assert anns[0].image_size == (40, 30)  # from the image header
    assert anns[1].source_labels == ("Multi-tool_Knife", "Scissor")
    np.testing.assert_array_equal(anns[1].boxes[1], [30, 5, 40, 29])
    assert anns[1].meta["dataset"] == "opixray"


def test_hixray_classes_are_not_contraband(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    ann = tmp_path / "HiXray" / "train" / "train_annotation"
    ann.mkdir(parents=True)
    make_image(tmp_path / "HiXray" / "train" / "train_image" / "a.jpg")
    (ann / "a.txt").write_text("a.jpg Portable_Charger_1 1 1 9 9\na.jpg Mobile_Phone 10 10 20 20\n")
    (a,) = load_hixray(tmp_path / "HiXray")
    assert a.labels == () and a.source_labels == ("Portable_Charger_1", "Mobile_Phone")
    (k,) = load_hixray(tmp_path / "HiXray", keep_unmapped=True)
    assert k.labels == (None, None) and k.meta["dataset"] == "hixray"


def test_empty_file_is_a_negative_image(opixray: Path) -> None:
    (opixray / "train" / "train_annotation" / "009001.txt").write_text("")
    anns = load_opixray(opixray)
    assert anns[1].image_path.name == "009001.jpg" and anns[1].boxes.shape == (0, 4)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("009000.jpg Knife 3 4 20", "6 fields"),
        ("009000.jpg Knife 3 4 x 25", "expected a number"),
        ("009000.jpg Knife 20 4 3 25", "non-positive width"),
        ("009000.jpg Knife -30 -30 -5 -5", "entirely outside"),
        ("nothere.jpg Knife 3 4 20 25", "not found"),
    ],
)
def test_bad_lines(opixray: Path, line: str, match: str) -> None:
    path = opixray / "train" / "train_annotation" / "009000.txt"
    path.write_text(line + "\n")
    with pytest.raises(InvalidScanError, match=match) as info:
        load_opixray(opixray)
    assert info.value.source == str(path)


def test_binary_file_and_skip(opixray: Path) -> None:
    (opixray / "train" / "train_annotation" / "009000.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidScanError, match="UTF-8"):
        load_opixray(opixray)
    with pytest.warns(DatasetSkipWarning, match="skipped 1 of 2"):
        anns = load_opixray(opixray, on_error="skip")
    assert [a.image_path.name for a in anns] == ["009001.jpg"]


def test_decompression_bomb_image_is_refused(opixray: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from screening.errors import ResourceLimitError

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 40x30 test image is > 2x this
    with pytest.raises(ResourceLimitError, match="too large"):
        load_opixray(opixray)
