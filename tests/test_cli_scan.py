"""End-to-end `screening scan` through the CLI: DICOS CT, DICOM series, pseudo-colour PNG, broken inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screening import Modality, Scan
from screening.cli.main import main
from screening.ingest.write import write_dicom_ct_series, write_dicos_ct


def _ct(bag_id: str, metal: bool) -> Scan:
    a = np.zeros((1, 24, 48, 48), np.float32)
    a[:, :, 6:42, 6:42] = 300.0  # a bag of low-density clutter
    if metal:
        a[:, 6:16, 14:34, 14:34] = 15000.0  # 20 x 40 x 40 mm of steel-like metal
    return Scan(a, Modality.CT, (2.0, 2.0, 2.0), ("mhu",), bag_id)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    dicos = write_dicos_ct(_ct("bag-metal", metal=True), tmp_path / "in" / "ct.dcs")
    series = tmp_path / "in" / "series"
    write_dicom_ct_series(_ct("bag-series", metal=False), series)
    rgb = np.full((64, 96, 3), 250, np.uint8)
    rgb[20:40, 30:60] = (240, 160, 60)  # an orange organic item
    png = tmp_path / "in" / "xray.png"
    Image.fromarray(rgb).save(png)
    broken = tmp_path / "in" / "broken.dcs"
    broken.write_bytes(dicos.read_bytes()[: dicos.stat().st_size // 2])
    garbage = tmp_path / "in" / "garbage.png"  # a name that lies about the content
    garbage.write_bytes(b"\x00\x01not an image at all" * 10)
    return {"dicos": dicos, "series": series, "png": png, "broken": broken, "garbage": garbage}


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_scan_good_inputs(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    rc = main(["scan", str(inputs["dicos"]), str(inputs["series"]), str(inputs["png"]), "--out", str(out)])
    lines = _lines(capsys.readouterr().out)
    assert rc == 0
    assert lines[0]["bag_id"] == "bag-metal"
    assert lines[1]["bag_id"] in {"bag-series", "series"}  # tags, else the folder name
    assert lines[2]["bag_id"] == "xray"
    for line in lines:
        for key in ("report", "tdr", "png"):
            assert Path(line["outputs"][key]).is_file()
        report = json.loads(Path(line["outputs"]["report"]).read_text())
        assert report["schema_version"] == "1.0"
        assert report["verdict"] in {"clear", "alarm", "review"}
    ct_report = json.loads(Path(lines[0]["outputs"]["report"]).read_text())
    assert ct_report["modality"] == "CT"
    assert ct_report["model_versions"]  # which detectors decided is always recorded
    for det in ct_report["detections"]:  # CT boxes are voxel indices inside the 48 x 48 x 24 volume
        x0, y0, z0, x1, y1, z1 = det["box"]
        assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48 and 0 <= z0 < z1 <= 24
    xray_report = json.loads(Path(lines[2]["outputs"]["report"]).read_text())
    assert xray_report["modality"] == "DX"
    assert all(len(d["box"]) == 4 and d["view"] for d in xray_report["detections"])


def test_scan_bad_inputs_go_to_review_and_batch_continues(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        str(inputs["broken"]),
        str(inputs["dicos"]),
        str(inputs["garbage"]),
        str(tmp_path / "missing.dcs"),
    ]
    rc = main(["scan", *args, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    lines = _lines(captured.out)
    assert rc == 1
    assert len(lines) == 4  # no verdict lost
    verdicts = [x["verdict"] for x in lines]
    assert verdicts[0] == "review" and verdicts[2] == "review" and verdicts[3] == "review"
    assert lines[1]["bag_id"] == "bag-metal"
    for i in (0, 2, 3):
        assert args[i] in lines[i]["reasons"][0]  # the reason names the file
    assert "Traceback" not in captured.err


def test_scan_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan"]) == 2
    assert main(["scan", "x", "--deadline", "soon"]) == 2
    assert main([]) == 2


def test_help_has_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--help"]) == 0
    assert "Example" in capsys.readouterr().out


def test_policy_file_and_flag_precedence(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[deadline]\nbudget_s = 7.5\n")
    out = tmp_path / "out"
    assert main(["scan", str(inputs["dicos"]), "--policy", str(policy), "--out", str(out)]) == 0
    line = _lines(capsys.readouterr().out)[0]
    assert json.loads(Path(line["outputs"]["report"]).read_text())["deadline_s"] == 7.5
    assert (
        main(["scan", str(inputs["dicos"]), "--policy", str(policy), "--deadline", "3", "--out", str(out)])
        == 0
    )
    line = _lines(capsys.readouterr().out)[0]
    assert json.loads(Path(line["outputs"]["report"]).read_text())["deadline_s"] == 3.0
    bad = tmp_path / "bad.toml"
    bad.write_text("[deadline\n")
    assert main(["scan", str(inputs["dicos"]), "--policy", str(bad), "--out", str(out)]) == 2
    assert "bad.toml" in capsys.readouterr().err


def test_an_image_from_an_unvalidated_device_is_not_cleared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same empty view clears when it names the device the shipped model was calibrated on, not else."""
    from PIL.PngImagePlugin import PngInfo

    from screening.sim.generate import SIM_DEVICE

    empty = Image.fromarray(np.full((200, 300, 3), 255, np.uint8))  # nothing but air
    named = PngInfo()
    named.add_text("Source", SIM_DEVICE)
    empty.save(tmp_path / "sim.png", pnginfo=named)
    empty.save(tmp_path / "anon.png")
    other = PngInfo()
    other.add_text("Source", "Vendor / DV-1")
    empty.save(tmp_path / "vendor.png", pnginfo=other)
    paths = [str(tmp_path / f) for f in ("sim.png", "anon.png", "vendor.png")]
    rc = main(["scan", *paths, "--out", str(tmp_path / "out"), "--operating-point", "far", "--no-png"])
    sim, anon, vendor = _lines(capsys.readouterr().out)
    assert rc == 0
    assert sim["verdict"] == "clear" and sim["reasons"] == []
    assert anon["verdict"] == vendor["verdict"] == "review"
    assert "names no device" in anon["reasons"][0]
    assert "not on 'Vendor / DV-1'" in vendor["reasons"][0]
