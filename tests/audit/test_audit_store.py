"""Audit store: WAL, exactly one verdict per bag, pending bags, events, files, operator decisions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from screening.audit import AuditStore
from screening.errors import ScreeningError
from screening.scan import BagReport, Detection, Label, Verdict


def report(bag: str, verdict: Verdict = Verdict.CLEAR) -> BagReport:
    return BagReport(
        bag_id=bag,
        sources=(f"in/{bag}.dcs",),
        modality="DX",
        verdict=verdict,
        reasons=("firearm 0.90",) if verdict == Verdict.ALARM else (),
        detections=(Detection(Label.FIREARM, 0.9, (1, 2, 3, 4), view="top", detector="d"),),
        timings_s={"detect": 0.1, "total": 0.2},
        model_versions={"d": "1.0"},
    )


def test_wal_and_one_verdict_per_bag(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    with AuditStore(path) as store:
        assert store.admit("b1", "in/b1.dcs")
        assert store.record("b1", report("b1", Verdict.ALARM), latency_s=0.5)
        assert not store.record("b1", report("b1", Verdict.CLEAR), latency_s=0.6)  # refused, not overwritten
        assert not store.admit("b1", "in/b1.dcs")  # decided bags are not admitted again
        assert store.events("duplicate-verdict")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT verdict, latency_s FROM verdicts").fetchall() == [("alarm", 0.5)]
    assert db.execute("SELECT label, view, detector FROM detections").fetchall() == [("firearm", "top", "d")]
    assert dict(db.execute("SELECT stage, seconds FROM timings").fetchall()) == {"detect": 0.1, "total": 0.2}
    assert db.execute("SELECT detector, version FROM model_versions").fetchall() == [("d", "1.0")]


def test_pending_and_restart_attempts(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    with AuditStore(path) as store:
        store.admit("b1", "s")
        store.admit("b2", "s")
        store.record("b1", report("b1"))
    with AuditStore(path) as store:  # reopened: survives the process
        assert [r.bag_id for r in store.pending()] == ["b2"]
        assert store.admit("b2", "s")
        rows = {r.bag_id: r for r in store.bags()}
        assert rows["b2"].attempts == 2 and rows["b2"].verdict is None
        assert rows["b1"].verdict == "clear"
        assert store.report("b1").detections[0].label == Label.FIREARM
        assert store.report("nope") is None
        assert store.verdict_counts() == {"clear": 1}


def test_files_claimed_once(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "a.sqlite") as store:
        assert store.mark_file("/in/x.dcs", 10, 1, "x.dcs")
        assert not store.mark_file("/in/x.dcs", 10, 1, "x.dcs")
        assert store.file_seen("/in/x.dcs") and not store.file_seen("/in/y.dcs")


def test_operator_decisions(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "a.sqlite") as store:
        store.record("b1", report("b1", Verdict.REVIEW))
        store.add_operator_decision("b1", "op7", "search", "bag opened")
        store.add_operator_decision("b1", "op8", "clear")
        assert [d.decision for d in store.operator_decisions("b1")] == ["search", "clear"]
        with pytest.raises(ScreeningError, match="must be one of"):
            store.add_operator_decision("b1", "op7", "shrug")
        with pytest.raises(ScreeningError, match="no bag 'zz'"):
            store.add_operator_decision("zz", "op7", "clear")


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ScreeningError, match="cannot open audit store") as info:
        AuditStore(bad)
    assert str(bad) in str(info.value)


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(ScreeningError, match="schema version 99"):
        AuditStore(path)
