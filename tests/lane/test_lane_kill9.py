"""kill -9 mid-lane, restart: every bag has exactly one verdict, in-flight bags are screened again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import functools, sys
    from screening.audit import AuditStore
    from screening.lane.belt import BeltConfig
    from screening.lane.fakes import fake_detectors, tiny_bag
    from screening.lane.lane import Lane
    from screening.lane.scheduler import SchedulerConfig
    from screening.lane.sources import SimSource

    if __name__ == "__main__":
        store = AuditStore(sys.argv[1])
        source = SimSource(lambda i, b: tiny_bag(b, seed=i), count=int(sys.argv[2]),
                           belt=BeltConfig(), time_scale=1000.0, skip=store.has_verdict)
        lane = Lane(source, functools.partial(fake_detectors, delay_s=float(sys.argv[3])),
                    SchedulerConfig(workers=2, queue_size=2), budget_s=30.0, store=store)
        print(lane.run().summary["bags"], flush=True)
    """
)


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=5)
    try:
        return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        con.close()


def test_kill9_then_restart_gives_exactly_one_verdict_per_bag(tmp_path: Path) -> None:
    script = tmp_path / "lane_job.py"
    script.write_text(SCRIPT, encoding="utf-8")
    db = tmp_path / "audit.sqlite"
    n = 24
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cmd = [sys.executable, str(script), str(db), str(n), "0.15"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while _count(db, "SELECT COUNT(*) FROM verdicts") < 4:
            assert time.monotonic() < end and proc.poll() is None, "lane never produced verdicts"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    decided_before = _count(db, "SELECT COUNT(*) FROM verdicts")
    in_flight = _count(
        db, "SELECT COUNT(*) FROM bags b LEFT JOIN verdicts v USING(bag_id) WHERE v.bag_id IS NULL"
    )
    assert decided_before < n and in_flight >= 1  # killed mid-lane with bags admitted but not decided

    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) == n - decided_before  # only the undecided ones

    con = sqlite3.connect(db)
    per_bag = dict(con.execute("SELECT bag_id, COUNT(*) FROM verdicts GROUP BY bag_id").fetchall())
    assert per_bag == {f"sim-{i:06d}": 1 for i in range(n)}
    retried = con.execute("SELECT COUNT(*) FROM bags WHERE attempts > 1").fetchone()[0]
    assert retried == in_flight  # the in-flight bags were screened again, once
    assert con.execute("SELECT COUNT(*) FROM events WHERE kind='restart'").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM events WHERE kind='duplicate-verdict'").fetchone()[0] == 0
