"""YOLO txt loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from screening.datasets import load_yolo
from screening.errors import BackendUnavailableError, InvalidScanError, UnsupportedFormatError
from screening.scan import Label


@pytest.fixture
def yolo(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    root = tmp_path / "yolo"
    make_image(root / "images" / "train" / "a.png", 40, 20)
    make_image(root / "images" / "val" / "b.jpg", 40, 20)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n2 0.1 0.1 0.1 0.1\n")
    (root / "labels" / "val" / "b.txt").write_text("1 0.25 0.5 0.5 0.5 0.5 0.75\n")  # segment polygon
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nnames:\n  0: pistol\n  1: knife\n  2: laptop\n"
    )
    return root


def test_loads_with_yaml_names(yolo: Path) -> None:
    a, b = load_yolo(yolo)
    assert a.image_path == yolo / "images" / "train" / "a.png"
    assert a.labels == (Label.FIREARM,) and a.source_labels == ("pistol", "laptop")
    np.testing.assert_allclose(a.boxes, [[10, 5, 30, 15]])
    assert a.image_size == (40, 20)
    assert b.labels == (Label.BLADE,)
    np.testing.assert_allclose(b.boxes, [[10, 10, 20, 15]])  # bounding box of the polygon
    assert a.meta["names_file"].endswith("data.yaml")


def test_names_list_forms(yolo: Path) -> None:
    (yolo / "data.yaml").write_text("names: [gun, bullet, wrench]\n")
    assert load_yolo(yolo)[0].source_labels == ("gun", "wrench")
    (yolo / "data.yaml").unlink()
    (yolo / "classes.txt").write_text("gun\nbullet\nwrench\n")
    assert load_yolo(yolo)[1].labels == (Label.AMMUNITION,)
    assert load_yolo(yolo, names=["a", "cash", "c"])[1].labels == (Label.CURRENCY,)


def test_darknet_layout_without_labels_folder(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    make_image(tmp_path / "x.jpg", 10, 10)
    (tmp_path / "x.txt").write_text("0 0.5 0.5 1 1\n")
    (tmp_path / "obj.names").write_text("handgun\n")
    (a,) = load_yolo(tmp_path)
    np.testing.assert_allclose(a.boxes, [[0, 0, 10, 10]])


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("0 0.5 0.5 0.5", "5 fields"),
        ("7 0.5 0.5 0.5 0.5", "class index 7 is not one of 0..2"),
        ("0.5 0.5 0.5 0.5 0.5", "class index"),
        ("0 12 8 4 4", "normalised"),
        ("0 0.5 0.5 0 0.5", "non-positive width"),
        ("0 0.5 zz 0.5 0.5", "expected a number"),
    ],
)
def test_bad_lines(yolo: Path, line: str, match: str) -> None:
    path = yolo / "labels" / "train" / "a.txt"
    path.write_text(line)
    with pytest.raises(InvalidScanError, match=match) as info:
        load_yolo(yolo)
    assert info.value.source == str(path)


def test_names_problems(yolo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (yolo / "data.yaml").write_text("names: {0: a, 2: b}\n")
    with pytest.raises(InvalidScanError, match="class indices"):
        load_yolo(yolo)
    (yolo / "data.yaml").write_text("names: [a, b\n")
    with pytest.raises(InvalidScanError, match="malformed YAML"):
        load_yolo(yolo)
    monkeypatch.setitem(__import__("sys").modules, "yaml", None)
    with pytest.raises(BackendUnavailableError, match="pip install pyyaml"):
        load_yolo(yolo)
    (yolo / "data.yaml").unlink()
    with pytest.raises(UnsupportedFormatError, match="class names not found"):
        load_yolo(yolo)


def test_missing_and_corrupt_image(yolo: Path) -> None:
    (yolo / "images" / "val" / "b.jpg").unlink()
    with pytest.raises(InvalidScanError, match="'b' not found"):
        load_yolo(yolo)
    (yolo / "images" / "val" / "b.jpg").write_bytes(b"not an image")
    with pytest.raises(InvalidScanError, match="cannot be read as an image"):
        load_yolo(yolo)


def test_yaml_alias_bomb_is_refused(yolo: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 12):
        bomb += (
            f"{'abcdefghijkl'[i]}: &{'abcdefghijkl'[i]} ["
            + ", ".join([f"*{'abcdefghijkl'[i - 1]}"] * 9)
            + "]\n"
        )
    (yolo / "data.yaml").write_text(bomb + "names: [*l]\n")
    with pytest.raises(InvalidScanError, match="plain names"):
        load_yolo(yolo)
