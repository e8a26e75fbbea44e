"""`screening run`: hot-folder run end to end with the default detectors; usage errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screening.audit import AuditStore
from screening.cli.main import build_parser, main
from screening.ingest.write import write_dicos_dx
from screening.lane.fakes import tiny_bag


def test_run_hot_folder_writes_reports_tdrs_and_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_dicos_dx(tiny_bag("bag-1", size=32), inbox / "bag-1")
    (inbox / "bag-2.dcs").write_bytes(b"not dicom at all")
    out = tmp_path / "out"
    argv = ["run", "--source", str(inbox), "--bags", "2", "--no-live", "--out", str(out)]
    # A generous budget: this test is about the wiring; on a loaded machine worker start-up alone can pass
    # 10 s, and the watchdog's (correct) review would then mask the unreadable-file reason checked below.
    rc = main([*argv, "--workers", "1", "--settle-s", "0.1", "--budget-s", "60"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "bag-2.dcs  review" in printed and "2 bags" in printed
    report = json.loads((out / "bag-2.dcs" / "report.json").read_text())
    assert report["verdict"] == "review" and report["reasons"][0].startswith("unreadable:")
    assert (out / "bag-1" / "report.json").is_file() and (out / "bag-1" / "tdr.dcs").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bags"] == 2 and summary["latency_p99_s"] < 60
    with AuditStore(out / "audit.sqlite") as store:
        assert {r.bag_id: r.verdict for r in store.bags()}["bag-2.dcs"] == "review"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--source", "/no/such/folder"], "must be 'sim', 'dicom' or an existing folder"),
        (["run", "--threshold", "bazooka=0.5"], "unknown label 'bazooka'"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_help_has_example_and_deadline_definition() -> None:
    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    assert "screening run --bags 0" in text and "tail passes the imaging plane" in text
