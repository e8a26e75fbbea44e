"""The issue's reliability bar: slow detector, crash, corrupt hot-folder file, back-pressure, 1,000 bags."""

from __future__ import annotations

import contextlib
import functools
import os
import time
from pathlib import Path

import psutil

from screening.audit import AuditStore
from screening.ingest.write import write_dicos_dx
from screening.lane.fakes import fake_detectors, tiny_bag
from screening.lane.lane import Lane
from screening.lane.scheduler import SchedulerConfig
from screening.lane.sources import HotFolderSource

from .conftest import run_sim_lane


def test_slow_detector_gives_deadline_review_and_lane_continues(tmp_path: Path) -> None:
    hung, crash = "sim-000002", "sim-000004"
    t0 = time.monotonic()
    result, store = run_sim_lane(
        tmp_path,
        8,
        budget_s=2.0,
        workers=3,
        time_scale=20.0,
        hang_bags=(hung,),
        crash_bags=(crash,),
        delay_s=0.01,
    )
    elapsed = time.monotonic() - t0
    rows = {r.bag_id: r for r in store.bags()}
    assert len(rows) == 8 and all(r.verdict for r in rows.values())
    assert rows[hung].verdict == "review"
    assert store.report(hung).reasons[0].startswith("deadline")
    assert 1.9 < rows[hung].latency_s < 3.0  # given at the deadline, not when the (1 h) hang ends
    assert rows[crash].verdict == "review" and "exited with code 70" in store.report(crash).reasons[0]
    others = [r for b, r in rows.items() if b not in (hung, crash)]
    assert all(r.verdict == "clear" for r in others), [(r.bag_id, r.verdict) for r in others]
    assert result.summary["scheduler"]["recycled"] == 2  # the stuck and the dead worker were replaced
    assert {e[1] for e in store.events()} >= {"worker-recycled"}
    assert elapsed < 30


def test_corrupt_file_in_hot_folder_then_next_fine(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a-corrupt.dcs").write_bytes(b"DICM" + os.urandom(300))
    write_dicos_dx(tiny_bag("bag-b"), inbox / "b-good.dcs")
    (inbox / "c-partial.dcs.part").write_bytes(b"half")  # still being written: ignored
    store = AuditStore(tmp_path / "audit.sqlite")
    source = HotFolderSource(inbox, store, settle_s=0.1, poll_s=0.05, idle_exit_s=0.5)
    lane = Lane(
        source,
        functools.partial(fake_detectors),
        SchedulerConfig(workers=1, queue_size=2, kind="thread"),
        budget_s=10.0,
        store=store,
        out_dir=tmp_path / "out",
    )
    lane.run()
    rows = {r.bag_id: r for r in store.bags()}
    assert set(rows) == {"a-corrupt.dcs", "b-good.dcs"}
    bad = store.report("a-corrupt.dcs")
    assert bad.verdict.value == "review" and bad.reasons[0].startswith("unreadable:")
    assert "a-corrupt.dcs" in bad.reasons[0]
    assert rows["b-good.dcs"].verdict == "clear"
    assert (tmp_path / "out" / "a-corrupt.dcs" / "report.json").is_file()
    # Screened once: a second lane over the same folder and store screens nothing.
    again = HotFolderSource(inbox, store, settle_s=0.0, poll_s=0.05, idle_exit_s=0.3)
    assert list(again) == []


def test_backpressure_is_loud_and_loses_nothing(tmp_path: Path) -> None:
    result, store = run_sim_lane(
        tmp_path, 12, workers=1, queue_size=1, time_scale=1000.0, delay_s=0.05, kind="thread"
    )
    assert result.summary["bags"] == 12 and len(store.bags()) == 12
    assert result.summary["scheduler"]["backpressure"] > 0
    assert result.summary["events"]["backpressure"] == result.summary["scheduler"]["backpressure"]
    assert store.events("backpressure")[0][3].startswith("queue full")
    assert store.verdict_counts() == {"clear": 12}


def test_thousand_bags_three_times_belt_speed_memory_flat(tmp_path: Path) -> None:
    """1,000 tiny bags at 0.9 m/s (belt clock 200x real time), fast fake detector, 2 worker processes."""
    proc = psutil.Process()
    rss: dict[int, int] = {}

    def total_rss() -> int:
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def on_verdict(line: object, report: object) -> None:
        n = len(rss_counter)
        rss_counter.append(1)
        if n + 1 in (200, 1000):
            rss[n + 1] = total_rss()

    rss_counter: list[int] = []
    result, store = run_sim_lane(
        tmp_path, 1000, belt_speed=0.9, time_scale=200.0, queue_size=8, on_verdict=on_verdict
    )
    bags = store.bags()
    assert len(bags) == 1000 and all(b.verdict == "clear" for b in bags)
    assert len({b.bag_id for b in bags}) == 1000
    assert result.summary["bags"] == 1000 and result.drained
    growth_mb = (rss[1000] - rss[200]) / 2**20
    print(f"\nRSS lane+workers at bag 200: {rss[200] / 2**20:.0f} MB, at 1000: {rss[1000] / 2**20:.0f} MB")
    assert growth_mb < 50, f"memory grew {growth_mb:.1f} MB between bag 200 and 1000"
