"""The live loop: arrivals -> audit -> scheduler -> one committed verdict per bag -> reports and view."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screening.decide.deadline import Deadline
from screening.lane.scheduler import Job, Outcome, Scheduler, SchedulerConfig
from screening.lane.stats import BagLine, LaneStats
from screening.lane.workers import DetectorFactory, dir_name
from screening.scan import BagReport, Verdict

if TYPE_CHECKING:
    from screening.audit.store import AuditStore
    from screening.lane.sources import Arrival

__all__ = ["Lane", "LaneResult"]

log = logging.getLogger("screening.lane")


@dataclass(frozen=True)
class LaneResult:
    """What a finished (or stopped) lane run did.

    Attributes:
        summary: the numbers of :meth:`LaneStats.snapshot` plus scheduler counters.
        drained: every submitted bag got its verdict.
    """

    summary: dict[str, Any]
    drained: bool


class Lane:
    """Runs a source of arrivals through the scheduler and commits each verdict once.

    Args:
        source: arrivals (:class:`~screening.lane.sources.SimSource`, hot folder, DICOM receiver spool).
        factory: builds the detectors in each worker.
        config: scheduler settings (workers, queue, pipeline policy, outputs).
        budget_s: verdict budget per bag, seconds.
        store: audit store; bags already decided there are skipped, in-flight ones screened again.
        out_dir: where ``<bag>/report.json`` (and the workers' TDR/PNG) and ``summary.json`` go.
        stats: running statistics (shared with the live view).
        on_verdict: called with ``(line, report)`` after each commit (the live view).
        stop: set to stop taking new bags; bags already taken still get their verdict.
    """

    def __init__(
        self,
        source: Iterable[Arrival],
        factory: DetectorFactory,
        config: SchedulerConfig,
        *,
        budget_s: float = 10.0,
        store: AuditStore | None = None,
        out_dir: Path | None = None,
        stats: LaneStats | None = None,
        on_verdict: Callable[[BagLine, BagReport], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.source = source
        self.budget_s = budget_s
        self.store = store
        self.out_dir = out_dir
        self.stats = stats or LaneStats()
        self.on_verdict = on_verdict
        self.stop = stop or threading.Event()
        self.scheduler = Scheduler(factory, config, self._commit, self._event)
        self._lengths: dict[str, float | None] = {}

    # -- callbacks (scheduler threads) ----------------------------------------------------------------
    def _event(self, kind: str, message: str, bag_id: str | None) -> None:
        self.stats.event(kind)
        if self.store is not None:
            try:
                self.store.event(kind, message, bag_id)
            except Exception:
                log.exception("could not log event %s", kind)

    def _commit(self, outcome: Outcome) -> BagReport:
        job = outcome.job
        report = outcome.report
        if report.verdict == Verdict.CLEAR and outcome.kind != "screened":  # belt and braces: never
            report = dataclasses.replace(report, verdict=Verdict.REVIEW)
        latency = job.deadline.latency(time.monotonic())
        lane = {**report.extra.get("lane", {}), "latency_s": round(latency, 4), "worker": outcome.worker}
        report = dataclasses.replace(
            report,
            extra={**report.extra, "lane": lane},
            model_versions=report.model_versions or dict(self.scheduler.model_versions),
        )
        stored = True
        if self.store is not None:
            stored = self.store.record(job.bag_id, report, latency)
            if not stored:
                self.stats.duplicates += 1
                log.error("bag %s already had a verdict; second one discarded", job.bag_id)
        if stored and self.out_dir is not None:
            self._write_json(job.bag_id, report)
        truth = tuple(next((s.meta.get("truth", ()) for s in job.scans or () if "truth" in s.meta), ()))
        line = BagLine(
            bag_id=job.bag_id,
            verdict=str(report.verdict),
            classes=tuple(
                dict.fromkeys(r.split(" ")[0] for r in report.reasons if not r.startswith(("note:", "error")))
            ),
            latency_s=latency,
            budget_s=job.deadline.budget_s,
            reason="; ".join(report.reasons)[:120],
            truth=truth,
        )
        self.stats.decided_bag(line, outcome.kind)
        if self.on_verdict is not None:
            try:
                self.on_verdict(line, report)
            except Exception:
                log.exception("live view failed")
        return report

    def _write_json(self, bag_id: str, report: BagReport) -> None:
        assert self.out_dir is not None
        path = self.out_dir / dir_name(bag_id) / "report.json"
        try:
            from screening.report import write_json

            write_json(report, path)
        except Exception as exc:  # outputs never change the verdict; the store has it
            self._event("output-error", f"{path}: {exc!r}", bag_id)

    # -- main loop ------------------------------------------------------------------------------------
    def run(self) -> LaneResult:
        """Screen until the source ends or ``stop`` is set, then wait for the bags in flight.

        Returns:
            the run summary (also written to ``out_dir/summary.json``).
        """
        if self.store is not None:
            pending = self.store.pending()
            if pending:
                self._event(
                    "restart",
                    f"{len(pending)} bag(s) were admitted without a verdict (lane stopped); screening again",
                    None,
                )
        self.scheduler.start()
        if not self.scheduler.wait_ready():
            self._event("worker-failed", "not every worker loaded its detectors; see the log", None)
        submitted = 0
        try:
            for arrival in self.source:
                if self.stop.is_set():
                    break
                if self.store is not None and not self.store.admit(arrival.bag_id, ",".join(arrival.sources)):
                    self.stats.skipped += 1
                    continue
                self.stats.arrival(arrival.budget_start_s, arrival.bag_length_m)
                self.scheduler.submit(
                    Job(
                        bag_id=arrival.bag_id,
                        deadline=Deadline(arrival.budget_start_s, self.budget_s),
                        scans=arrival.scans,
                        path=arrival.path,
                        sources=arrival.sources,
                        extra=arrival.extra,
                    )
                )
                submitted += 1
        finally:
            drained = self.scheduler.drain(timeout=self.budget_s + 30.0)
            self.scheduler.stop()
        summary = {**self.stats.snapshot(), "scheduler": dict(self.scheduler.counters)}
        summary["model_versions"] = dict(self.scheduler.model_versions)
        if hasattr(self.source, "scanner_late"):  # simulated belt held by slow generation or back-pressure
            summary["sim_scanner_late"] = self.source.scanner_late
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return LaneResult(summary=summary, drained=drained)
