"""Label map and Annotation record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from screening.datasets import DEFAULT_LABEL_MAP, Annotation, LabelMap, normalise_name
from screening.scan import Label


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Gun", Label.FIREARM),
        ("HANDGUN", Label.FIREARM),
        ("revolver", Label.FIREARM),
        ("Bullet", Label.AMMUNITION),
        ("cartridge", Label.AMMUNITION),
        ("Straight_Knife", Label.BLADE),
        ("Multi-tool_Knife", Label.BLADE),
        ("folding knife", Label.BLADE),
        ("Utility_Knife", Label.BLADE),
        ("Scissor", Label.BLADE),
        ("razor blade", Label.BLADE),
        ("banknote", Label.CURRENCY),
        ("Cash", Label.CURRENCY),
        ("drugs", Label.DRUGS),
        ("Ivory", Label.WILDLIFE),
        ("horn", Label.WILDLIFE),
        ("Wrench", None),
        ("Pliers", None),
        ("Powerbank", None),
        ("HandCuffs", None),
        ("Mobile_Phone", None),
        ("Portable_Charger_1", None),
        ("something never seen", None),
    ],
)
def test_default_map(name: str, label: Label | None) -> None:
    assert LabelMap()(name) == label


def test_normalise_ignores_case_space_underscore_hyphen() -> None:
    assert normalise_name(" Multi-tool_Knife ") == normalise_name("multi tool knife") == "multitoolknife"
    assert all(key == normalise_name(key) for key in DEFAULT_LABEL_MAP)


def test_overrides_add_and_remove() -> None:
    m = LabelMap({"Sprayer": "drugs", "Scissors": None, "Baton": Label.BLADE})
    assert m("sprayer") is Label.DRUGS
    assert m("SCISSORS") is None
    assert m("baton") is Label.BLADE
    assert m("knife") is Label.BLADE  # defaults still apply


def test_override_to_unknown_label_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        LabelMap({"gun": "weapon"})


def _ann(**changes: object) -> Annotation:
    fields: dict[str, object] = {
        "image_path": Path("x.png"),
        "boxes": np.array([[0, 0, 2, 2]], np.float32),
        "labels": (Label.BLADE,),
        "source_labels": ("knife", "wrench"),
        "source_index": np.array([0]),
    }
    fields.update(changes)
    return Annotation(**fields)  # type: ignore[arg-type]


def test_annotation_checks_its_arrays() -> None:
    ann = _ann()
    assert ann.detections(view="top")[0].box == (0.0, 0.0, 2.0, 2.0)
    assert ann.detections()[0].label is Label.BLADE
    with pytest.raises(ValueError, match="float32"):
        _ann(boxes=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="labels"):
        _ann(labels=())
    with pytest.raises(ValueError, match="out of range"):
        _ann(source_index=np.array([5]))


def test_detections_leave_out_unmapped() -> None:
    ann = _ann(
        boxes=np.array([[0, 0, 2, 2], [1, 1, 3, 3]], np.float32),
        labels=(Label.BLADE, None),
        source_index=np.array([0, 1]),
    )
    assert [d.label for d in ann.detections()] == [Label.BLADE]
