"""Pascal VOC / SIXray XML loader, including malformed and hostile XML."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from screening.datasets import DatasetSkipWarning, LabelMap, load_voc
from screening.errors import BackendUnavailableError, InvalidScanError, UnsupportedFormatError
from screening.scan import Label


def voc_xml(
    filename: str, objects: list[tuple[str, tuple[float, float, float, float]]], size=(40, 30)
) -> str:
    objs = "".join(
        f"<object><name>{n}</name><difficult>{int(i == 1)}</difficult><bndbox><xmin>{b[0]}</xmin>"
        f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for i, (n, b) in enumerate(objects)
    )
    return (
        f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height><depth>3</depth></size>{objs}</annotation>"
    )


@pytest.fixture
def sixray(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    root = tmp_path / "SIXray"
    (root / "Annotations").mkdir(parents=True)
    make_image(root / "JPEGImages" / "P00001.jpg")
    make_image(root / "JPEGImages" / "P00002.jpg")
    (root / "Annotations" / "P00001.xml").write_text(
        voc_xml(
            "P00001.jpg", [("Gun", (1, 2, 11, 12)), ("Wrench", (5, 5, 20, 20)), ("Knife", (21, 1, 41, 30))]
        )
    )
    (root / "Annotations" / "P00002.xml").write_text(voc_xml("P00002.jpg", [("Scissors", (3, 3, 9, 9))]))
    return root


def test_loads_and_maps(sixray: Path) -> None:
    anns = load_voc(sixray)
    assert [a.image_path.name for a in anns] == ["P00001.jpg", "P00002.jpg"]
    a = anns[0]
    assert a.labels == (Label.FIREARM, Label.BLADE)
    assert a.source_labels == ("Gun", "Wrench", "Knife")
    assert a.source_index.tolist() == [0, 2]
    assert a.boxes.dtype == np.float32
    # 1-based inclusive VOC -> 0-based exclusive; the knife's xmax 41 is clipped to the 40-px width
    np.testing.assert_array_equal(a.boxes, [[0, 1, 11, 12], [20, 0, 40, 30]])
    assert a.image_size == (40, 30)
    assert a.meta["clipped_boxes"] == 1
    assert a.meta["difficult"] == (False, False)
    assert a.meta["format"] == "voc"


def test_keep_unmapped(sixray: Path) -> None:
    a = load_voc(sixray, keep_unmapped=True)[0]
    assert a.labels == (Label.FIREARM, None, Label.BLADE)
    assert a.boxes.shape == (3, 4)
    assert a.meta["difficult"] == (False, True, False)


def test_label_map_override(sixray: Path) -> None:
    a = load_voc(sixray, label_map=LabelMap({"wrench": "blade", "gun": None}))[0]
    assert a.labels == (Label.BLADE, Label.BLADE)
    assert a.source_index.tolist() == [1, 2]


def test_single_file_and_missing_root(sixray: Path, tmp_path: Path) -> None:
    assert len(load_voc(sixray / "Annotations" / "P00002.xml")) == 1
    with pytest.raises(UnsupportedFormatError, match="not found"):
        load_voc(tmp_path / "nope")


def _bad(sixray: Path, text: str) -> Path:
    path = sixray / "Annotations" / "P00003.xml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("<annotation><object>", "malformed XML"),
        ("<html></html>", "expected a VOC <annotation>"),
        (voc_xml("P00001.jpg", [("Gun", (10, 2, 5, 12))]), "non-positive width"),
        (voc_xml("P00001.jpg", [("Gun", (100, 100, 120, 120))]), "entirely outside"),
        (voc_xml("P00001.jpg", [("Gun", ("a", 2, 5, 12))]), "expected a number"),
        (voc_xml("P00001.jpg", [("Gun", ("nan", 2, 5, 12))]), "finite"),
        (voc_xml("missing.jpg", [("Gun", (1, 2, 5, 12))]), "not found"),
        (voc_xml("P00001.jpg", [("", (1, 2, 5, 12))]), "no <name>"),
        ("<annotation><object><name>gun</name><bndbox><xmin>1</xmin></bndbox></object></annotation>", "ymin"),
    ],
)
def test_bad_files_raise_naming_the_file(sixray: Path, text: str, match: str) -> None:
    path = _bad(sixray, text)
    with pytest.raises(InvalidScanError, match=match) as info:
        load_voc(sixray)
    assert info.value.source == str(path)


def test_skip_counts_bad_files(sixray: Path) -> None:
    path = _bad(sixray, "not xml at all")
    with pytest.warns(DatasetSkipWarning, match="skipped 1 of 3") as record:
        anns = load_voc(sixray, on_error="skip")
    assert len(anns) == 2
    (warning,) = record
    assert [e.source for e in warning.message.errors] == [str(path)]


def test_check_images_false_keeps_annotation_without_image(sixray: Path) -> None:
    _bad(sixray, voc_xml("missing.jpg", [("Gun", (1, 2, 5, 12))]))
    anns = load_voc(sixray, check_images=False)
    assert anns[2].image_path.name == "missing.jpg"
    assert anns[2].labels == (Label.FIREARM,)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<annotation><filename>&lol9;</filename></annotation>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_hostile_xml_is_refused(sixray: Path, text: str) -> None:
    _bad(sixray, text)
    with pytest.raises(InvalidScanError, match="DTD or entity"):
        load_voc(sixray)


def test_oversized_file_is_refused_before_reading(sixray: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screening.datasets import _common
    from screening.errors import ResourceLimitError

    monkeypatch.setattr(_common, "MAX_TEXT_BYTES", 100)
    monkeypatch.setattr(_common.read_bytes, "__defaults__", (100,))
    with pytest.raises(ResourceLimitError, match="limit is 100"):
        load_voc(sixray)


def test_missing_defusedxml_says_what_to_install(sixray: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "defusedxml", None)
    monkeypatch.setitem(sys.modules, "defusedxml.ElementTree", None)
    with pytest.raises(BackendUnavailableError, match="pip install defusedxml"):
        load_voc(sixray)
