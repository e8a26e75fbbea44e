"""COCO / PIDray JSON loader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from screening.datasets import DatasetSkipWarning, load_coco
from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.scan import Label


def coco_doc() -> dict[str, Any]:
    return {
        "images": [
            {"id": 1, "file_name": "xray_00001.png", "width": 40, "height": 30},
            {"id": 2, "file_name": "xray_00002.png", "width": 40, "height": 30},
            {"id": 3, "file_name": "xray_00003.png", "width": 40, "height": 30},
        ],
        "categories": [{"id": 1, "name": "Gun"}, {"id": 2, "name": "Bullet"}, {"id": 3, "name": "Hammer"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 5], "iscrowd": 0},
            {"id": 11, "image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 4]},
            {"id": 12, "image_id": 2, "category_id": 2, "bbox": [30.5, 20, 15, 5]},
        ],
    }


@pytest.fixture
def pidray(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    root = tmp_path / "pidray"
    for i in (1, 2, 3):
        make_image(root / "train" / f"xray_0000{i}.png")
    (root / "annotations").mkdir()
    (root / "annotations" / "xray_train.json").write_text(json.dumps(coco_doc()))
    return root


def _write(root: Path, doc: Any) -> Path:
    path = root / "annotations" / "xray_train.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_loads_pidray_layout(pidray: Path) -> None:
    anns = load_coco(pidray)
    assert [a.image_path.name for a in anns] == ["xray_00001.png", "xray_00002.png", "xray_00003.png"]
    assert anns[0].labels == (Label.FIREARM,)
    assert anns[0].source_labels == ("Gun", "Hammer")
    np.testing.assert_array_equal(anns[0].boxes, [[2, 3, 12, 8]])
    assert anns[0].meta["image_id"] == 1 and anns[0].meta["annotation_ids"] == (10,)
    np.testing.assert_array_equal(anns[1].boxes, [[30.5, 20, 40, 25]])  # clipped to width 40
    assert anns[1].meta["clipped_boxes"] == 1
    assert anns[2].boxes.shape == (0, 4) and anns[2].labels == ()  # listed negative image


def test_image_root_and_single_file(pidray: Path, tmp_path: Path, make_image: Callable[..., Path]) -> None:
    other = tmp_path / "elsewhere"
    for i in (1, 2, 3):
        make_image(other / f"xray_0000{i}.png")
    anns = load_coco(pidray / "annotations" / "xray_train.json", image_root=other)
    assert anns[0].image_path.parent == other


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ("{not json", "malformed JSON"),
        ("[" * 100000 + "]" * 100000, "nested too deeply|expected a COCO"),
        ({"images": []}, "'images' and 'annotations'"),
        ([1, 2], "expected a COCO object"),
    ],
)
def test_bad_json_files(pidray: Path, doc: Any, match: str) -> None:
    path = _write(pidray, doc)
    with pytest.raises(InvalidScanError, match=match) as info:
        load_coco(pidray / "annotations" / "xray_train.json")
    assert info.value.source == str(path)


def _mutated(**change: Any) -> dict[str, Any]:
    doc = coco_doc()
    doc["annotations"][0].update(change)
    return doc


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (_mutated(category_id=99), "category_id 99, not in 'categories'"),
        (_mutated(bbox=[1, 2, 3]), r"bbox must be \[x, y, width, height\]"),
        (_mutated(bbox=[1, 2, -3, 4]), "non-positive width"),
        (_mutated(bbox=[100, 100, 3, 4]), "entirely outside"),
        (_mutated(image_id=42), "image_id 42, which is not in 'images'"),
    ],
)
def test_bad_entries_raise(pidray: Path, doc: dict[str, Any], match: str) -> None:
    _write(pidray, doc)
    with pytest.raises(InvalidScanError, match=match):
        load_coco(pidray)


def test_skip_drops_only_the_bad_image(pidray: Path) -> None:
    _write(pidray, _mutated(category_id=99))
    with pytest.warns(DatasetSkipWarning, match="skipped 1") as record:
        anns = load_coco(pidray, on_error="skip")
    assert [a.meta["image_id"] for a in anns] == [2, 3]
    assert "image id 1" in str(record[0].message.errors[0])


def test_missing_image(pidray: Path) -> None:
    (pidray / "train" / "xray_00002.png").unlink()
    with pytest.raises(InvalidScanError, match=r"'xray_00002\.png' not found"):
        load_coco(pidray)
    assert len(load_coco(pidray, check_images=False)) == 3


def test_no_coco_json(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(UnsupportedFormatError, match="no COCO JSON"):
        load_coco(tmp_path)
