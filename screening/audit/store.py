"""SQLite audit store (WAL): bags, one verdict per bag, detections, timings, model versions, events."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from screening.errors import ScreeningError
from screening.scan import BagReport

__all__ = ["SCHEMA_VERSION", "AuditStore", "BagRow", "OperatorDecision"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bags (
    bag_id        TEXT PRIMARY KEY,          -- the lane's id (sim id, hot-folder file, SCP object)
    source        TEXT NOT NULL,             -- file / stream it came from
    admitted_utc  TEXT NOT NULL,             -- first time the lane saw it
    attempts      INTEGER NOT NULL DEFAULT 1 -- >1 when the lane was restarted while the bag was in flight
);
CREATE TABLE IF NOT EXISTS verdicts (
    bag_id        TEXT PRIMARY KEY REFERENCES bags(bag_id),  -- PRIMARY KEY: one verdict per bag, ever
    verdict       TEXT NOT NULL CHECK (verdict IN ('clear', 'alarm', 'review')),
    reasons       TEXT NOT NULL,             -- JSON list
    latency_s     REAL,                      -- from budget start (tail past imaging plane) to commit
    deadline_s    REAL NOT NULL,
    decided_utc   TEXT NOT NULL,
    report_json   TEXT NOT NULL              -- the full BagReport (schema in README.md)
);
CREATE TABLE IF NOT EXISTS detections (
    id            INTEGER PRIMARY KEY,
    bag_id        TEXT NOT NULL REFERENCES verdicts(bag_id),
    label         TEXT NOT NULL,
    score         REAL NOT NULL,
    box           TEXT NOT NULL,             -- JSON list
    view          TEXT NOT NULL,
    mass_g        REAL,
    note_count    INTEGER,
    material      TEXT,
    detector      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS detections_bag ON detections(bag_id);
CREATE TABLE IF NOT EXISTS timings (
    bag_id        TEXT NOT NULL REFERENCES verdicts(bag_id),
    stage         TEXT NOT NULL,
    seconds       REAL NOT NULL,
    PRIMARY KEY (bag_id, stage)
);
CREATE TABLE IF NOT EXISTS model_versions (
    bag_id        TEXT NOT NULL REFERENCES verdicts(bag_id),
    detector      TEXT NOT NULL,
    version       TEXT NOT NULL,
    PRIMARY KEY (bag_id, detector)
);
CREATE TABLE IF NOT EXISTS operator_decisions (
    id            INTEGER PRIMARY KEY,
    bag_id        TEXT NOT NULL REFERENCES bags(bag_id),
    operator      TEXT NOT NULL,
    decision      TEXT NOT NULL CHECK (decision IN ('clear', 'alarm', 'search', 'seize', 'escalate')),
    note          TEXT NOT NULL DEFAULT '',
    decided_utc   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operator_bag ON operator_decisions(bag_id);
CREATE TABLE IF NOT EXISTS files (
    path          TEXT PRIMARY KEY,          -- hot-folder / SCP spool file, screened once
    size          INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    bag_id        TEXT NOT NULL,
    seen_utc      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY,
    time_utc      TEXT NOT NULL,
    kind          TEXT NOT NULL,             -- backpressure, worker-recycled, deadline, restart, ...
    bag_id        TEXT,
    message       TEXT NOT NULL
);
"""

#: Operator decisions the console may record.
OPERATOR_DECISIONS = ("clear", "alarm", "search", "seize", "escalate")


def _utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class BagRow:
    """One bag as the store sees it."""

    bag_id: str
    source: str
    attempts: int
    verdict: str | None
    latency_s: float | None


@dataclass(frozen=True)
class OperatorDecision:
    """An operator's decision on a bag (written by the console)."""

    bag_id: str
    operator: str
    decision: str
    note: str
    decided_utc: str


class AuditStore:
    """The lane's durable record. Thread-safe; one connection per store, WAL journal.

    Exactly-once: ``verdicts.bag_id`` is the primary key and :meth:`record` inserts the verdict, its
    detections, timings and model versions in one transaction with ``INSERT OR IGNORE``, so a second
    verdict for a bag (a restarted lane re-screening an in-flight bag that had in fact been committed, or
    a late worker) is refused and reported, never stored. A bag admitted but without a verdict (the lane
    was killed) is listed by :meth:`pending` and screened again on restart.

    Args:
        path: SQLite file; created with its folder if missing. ``":memory:"`` for tests.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
            self._db.execute("PRAGMA foreign_keys=ON")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise ScreeningError(
                    f"audit store schema version {version}, this code knows {SCHEMA_VERSION}; "
                    "use a new --audit file or migrate",
                    source=self.path,
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise ScreeningError(
                f"cannot open audit store ({exc}); expected a SQLite file or a new path", source=self.path
            ) from None

    # -- plumbing -------------------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lane -----------------------------------------------------------------------------------------
    def admit(self, bag_id: str, source: str) -> bool:
        """Record that the lane took the bag on. Returns ``False`` if it already has a verdict.

        A bag admitted before (a restart) gets ``attempts`` incremented.
        """
        with self._tx() as db:
            if db.execute("SELECT 1 FROM verdicts WHERE bag_id=?", (bag_id,)).fetchone():
                return False
            db.execute(
                "INSERT INTO bags(bag_id, source, admitted_utc) VALUES (?, ?, ?) "
                "ON CONFLICT(bag_id) DO UPDATE SET attempts = attempts + 1",
                (bag_id, source, _utc()),
            )
            return True

    def record(self, bag_id: str, report: BagReport, latency_s: float | None = None) -> bool:
        """Commit the bag's one verdict with its detections, timings and model versions.

        Args:
            bag_id: the lane's id (``bags.bag_id``); may differ from ``report.bag_id`` (hot-folder files).
            report: the bag report.
            latency_s: seconds from the budget start to now.

        Returns:
            ``True`` if stored, ``False`` if the bag already had a verdict (the new one is discarded and
            a ``duplicate-verdict`` event is logged).
        """
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO bags(bag_id, source, admitted_utc) VALUES (?, ?, ?)",
                (bag_id, ",".join(report.sources), _utc()),
            )
            cur = db.execute(
                "INSERT OR IGNORE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    bag_id,
                    str(report.verdict),
                    json.dumps(list(report.reasons)),
                    latency_s,
                    report.deadline_s,
                    _utc(),
                    json.dumps(report.to_dict()),
                ),
            )
            if cur.rowcount == 0:
                db.execute(
                    "INSERT INTO events(time_utc, kind, bag_id, message) VALUES (?, ?, ?, ?)",
                    (_utc(), "duplicate-verdict", bag_id, f"second verdict {report.verdict} discarded"),
                )
                return False
            db.executemany(
                "INSERT INTO detections(bag_id, label, score, box, view, mass_g, note_count, material, "
                "detector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        bag_id,
                        str(d.label),
                        float(d.score),
                        json.dumps([float(v) for v in d.box]),
                        d.view,
                        d.mass_g,
                        d.note_count,
                        d.material,
                        d.detector,
                    )
                    for d in report.detections
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO timings VALUES (?, ?, ?)",
                [(bag_id, k, float(v)) for k, v in report.timings_s.items()],
            )
            db.executemany(
                "INSERT OR REPLACE INTO model_versions VALUES (?, ?, ?)",
                [(bag_id, k, str(v)) for k, v in report.model_versions.items()],
            )
            return True

    def has_verdict(self, bag_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM verdicts WHERE bag_id=?", (bag_id,)))

    def pending(self) -> list[BagRow]:
        """Bags admitted but without a verdict (in flight when the lane stopped), oldest first."""
        rows = self._query(
            "SELECT b.bag_id, b.source, b.attempts FROM bags b LEFT JOIN verdicts v USING(bag_id) "
            "WHERE v.bag_id IS NULL ORDER BY b.admitted_utc, b.rowid"
        )
        return [BagRow(r[0], r[1], r[2], None, None) for r in rows]

    def bags(self) -> list[BagRow]:
        """Every bag with its verdict (``None`` while pending), in admission order."""
        rows = self._query(
            "SELECT b.bag_id, b.source, b.attempts, v.verdict, v.latency_s FROM bags b "
            "LEFT JOIN verdicts v USING(bag_id) ORDER BY b.rowid"
        )
        return [BagRow(*r) for r in rows]

    def report(self, bag_id: str) -> BagReport | None:
        """The stored report of a decided bag."""
        rows = self._query("SELECT report_json FROM verdicts WHERE bag_id=?", (bag_id,))
        return BagReport.from_dict(json.loads(rows[0][0])) if rows else None

    def verdict_counts(self) -> dict[str, int]:
        return dict(self._query("SELECT verdict, COUNT(*) FROM verdicts GROUP BY verdict"))  # type: ignore[arg-type]

    # -- events ---------------------------------------------------------------------------------------
    def event(self, kind: str, message: str, bag_id: str | None = None) -> None:
        """Log a lane event (back-pressure, worker recycled, restart...)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO events(time_utc, kind, bag_id, message) VALUES (?, ?, ?, ?)",
                (_utc(), kind, bag_id, message),
            )

    def events(self, kind: str | None = None) -> list[tuple[str, str, str | None, str]]:
        """``(time_utc, kind, bag_id, message)`` rows, oldest first."""
        sql = "SELECT time_utc, kind, bag_id, message FROM events"
        return self._query(
            sql + (" WHERE kind=? ORDER BY id" if kind else " ORDER BY id"), (kind,) if kind else ()
        )  # type: ignore[return-value]

    # -- hot folder -----------------------------------------------------------------------------------
    def file_seen(self, path: str) -> bool:
        return bool(self._query("SELECT 1 FROM files WHERE path=?", (path,)))

    def mark_file(self, path: str, size: int, mtime_ns: int, bag_id: str) -> bool:
        """Claim a hot-folder file for screening; ``False`` if it was claimed before (screened once)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?)", (path, size, mtime_ns, bag_id, _utc())
            )
            return cur.rowcount == 1

    # -- console --------------------------------------------------------------------------------------
    def add_operator_decision(self, bag_id: str, operator: str, decision: str, note: str = "") -> None:
        """Record an operator's decision (many per bag allowed; the latest is current).

        Raises:
            ScreeningError: unknown decision or a bag the store has never seen.
        """
        if decision not in OPERATOR_DECISIONS:
            raise ScreeningError(
                f"operator decision must be one of {OPERATOR_DECISIONS}; got {decision!r}", source=self.path
            )
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM bags WHERE bag_id=?", (bag_id,)).fetchone():
                raise ScreeningError(f"no bag {bag_id!r} in the audit store", source=self.path)
            db.execute(
                "INSERT INTO operator_decisions(bag_id, operator, decision, note, decided_utc) "
                "VALUES (?, ?, ?, ?, ?)",
                (bag_id, operator, decision, note, _utc()),
            )

    def operator_decisions(self, bag_id: str) -> list[OperatorDecision]:
        rows = self._query(
            "SELECT bag_id, operator, decision, note, decided_utc FROM operator_decisions "
            "WHERE bag_id=? ORDER BY id",
            (bag_id,),
        )
        return [OperatorDecision(*r) for r in rows]
