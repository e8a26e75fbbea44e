"""Format detection and load_dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from screening.datasets import FORMATS, detect_format, load_dataset
from screening.errors import UnsupportedFormatError
from screening.scan import Label


def _voc(root: Path, make_image: Callable[..., Path]) -> None:
    make_image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>gun</name><bndbox><xmin>1</xmin>"
        "<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"
    )


def _coco(root: Path, make_image: Callable[..., Path]) -> None:
    make_image(root / "images" / "a.png")
    (root / "annotations").mkdir(parents=True)
    doc = {
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]}],
        "categories": [{"id": 1, "name": "gun"}],
    }
    (root / "annotations" / "train.json").write_text(json.dumps(doc))


def _yolo(root: Path, make_image: Callable[..., Path]) -> None:
    make_image(root / "images" / "a.png")
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text("names: [gun]\n")


def _gdxray(root: Path, make_image: Callable[..., Path]) -> None:
    make_image(root / "B0001" / "B0001_0001.png")
    (root / "B0001" / "ground_truth_gun.txt").write_text("1 2 5 2 5\n")


def _opixray(root: Path, make_image: Callable[..., Path]) -> None:
    make_image(root / "test_image" / "a.jpg")
    (root / "test_annotation").mkdir(parents=True)
    (root / "test_annotation" / "a.txt").write_text("a.jpg Folding_Knife 1 1 5 5\n")


BUILDERS = {"voc": _voc, "coco": _coco, "yolo": _yolo, "gdxray": _gdxray, "opixray": _opixray}


@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_detects_and_loads(tmp_path: Path, make_image: Callable[..., Path], fmt: str) -> None:
    BUILDERS[fmt](tmp_path, make_image)
    assert detect_format(tmp_path) == fmt
    (ann,) = load_dataset(tmp_path)
    assert ann.labels in ((Label.FIREARM,), (Label.BLADE,))
    assert ann.meta["format"] in (fmt, "xray-txt")


def test_hixray_detected_by_class_names(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    make_image(tmp_path / "train_image" / "a.jpg")
    (tmp_path / "train_annotation").mkdir()
    (tmp_path / "train_annotation" / "a.txt").write_text("a.jpg Laptop 1 1 5 5\n")
    assert detect_format(tmp_path) == "hixray"


def test_single_files(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    _coco(tmp_path, make_image)
    assert detect_format(tmp_path / "annotations" / "train.json") == "coco"
    assert len(load_dataset(tmp_path / "annotations" / "train.json")) == 1
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(UnsupportedFormatError, match="pass format="):
        detect_format(tmp_path / "x.txt")


def test_aliases_and_explicit_format(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    _voc(tmp_path, make_image)
    assert len(load_dataset(tmp_path, format="SIXray")) == 1
    assert len(load_dataset(tmp_path, format="voc", keep_unmapped=True)) == 1
    with pytest.raises(UnsupportedFormatError, match=r"unknown dataset format 'kitti'.*voc, coco"):
        load_dataset(tmp_path, format="kitti")
    assert set(FORMATS) == {"voc", "coco", "yolo", "gdxray", "opixray", "hixray"}


def test_ambiguous_folder_asks_for_format(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    _voc(tmp_path, make_image)
    _coco(tmp_path, make_image)
    with pytest.raises(UnsupportedFormatError, match=r"more than one annotation format.*coco.*voc"):
        detect_format(tmp_path)
    assert load_dataset(tmp_path, format="pidray")[0].meta["format"] == "coco"


def test_unknown_and_missing(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("just some notes\n")
    (tmp_path / "a.json").write_text('{"x": 1}')
    with pytest.raises(UnsupportedFormatError, match="no known annotation format"):
        detect_format(tmp_path)
    with pytest.raises(UnsupportedFormatError, match="not found"):
        load_dataset(tmp_path / "missing")


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, screening.datasets; print('torch' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
