"""``screening simulate``: files, COCO, DICOS CT round trip, card, determinism across worker counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from screening.cli.main import main

_FAST = ["--pixel-mm", "4", "--voxel-mm", "8", "--no-progress", "--no-ct-artifacts", "--threat-fraction", "1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    assert main(["simulate", "--bags", "2", "--seed", "7", "--out", str(out), "--workers", "1", *_FAST]) == 0
    return out


def test_simulate_writes_coco_pngs_ct_truth_and_card(dataset):
    from pycocotools.coco import COCO

    coco = COCO(str(dataset / "xray" / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [
        "firearm", "ammunition", "blade", "drugs", "currency", "wildlife",
    ]  # fmt: skip
    assert len(coco.getImgIds()) == 4  # 2 bags x 2 views
    for img in coco.loadImgs(coco.getImgIds()):
        for key in ("file_name", "high_file", "low_file"):
            assert (dataset / img[key]).is_file()
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
            x, y, w, h = ann["bbox"]
            assert w > 0 and h > 0 and x + w <= img["width"] and y + h <= img["height"]
            assert {"mass_g", "note_count", "concealment", "view", "bag_id"} <= set(ann)
    truth = json.loads((dataset / "truth" / "sim-00000007.json").read_text())
    assert truth["synthetic"] is True and truth["objects"]
    card = (dataset / "dataset_card.md").read_text()
    assert "Simulated data" in card and "sim" in card
    summary = json.loads((dataset / "dataset_card.json").read_text())
    assert summary["bags"] == 2 and summary["seeds"] == [7, 8]


def test_ct_reads_back_through_ingest_with_matching_mask(dataset):
    from screening.ingest import read

    scans = read(dataset / "ct" / "sim-00000007.dcs")
    assert len(scans) == 1
    labels = np.load(dataset / "ct" / "sim-00000007_labels.npz")["labels"]
    assert scans[0].shape == labels.shape
    assert abs(float(np.median(scans[0].array[0][labels == 0])) - 0.0) < 200  # mostly air outside objects


def test_same_output_with_more_workers(dataset, tmp_path):
    out = tmp_path / "w2"
    assert main(["simulate", "--bags", "2", "--seed", "7", "--out", str(out), "--workers", "2", *_FAST]) == 0
    a = json.loads((dataset / "xray" / "annotations.json").read_text())
    b = json.loads((out / "xray" / "annotations.json").read_text())
    assert a["annotations"] == b["annotations"] and a["images"] == b["images"]
    assert (dataset / "xray" / "sim-00000008_top_high.png").read_bytes() == (
        out / "xray" / "sim-00000008_top_high.png"
    ).read_bytes()


@pytest.mark.parametrize(
    "argv",
    [
        ["--bags", "0"],
        ["--seed", "-3"],
        ["--classes", "firearm,teddy"],
    ],
)
def test_bad_arguments_exit_2(tmp_path, argv, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--no-progress", *argv]) == 2
    assert "simulate" in capsys.readouterr().err


def test_help_has_an_example(capsys):
    assert main(["simulate", "--help"]) == 0
    assert "Example:" in capsys.readouterr().out
