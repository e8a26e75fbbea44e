"""Scheduler: a bounded queue feeding worker processes, with a hard per-bag deadline and loud back-pressure.

Every submitted bag gets exactly one :class:`Outcome`:

* the worker's report, when it arrives before the bag's deadline;
* ``review`` with reason ``deadline`` when the deadline passes first, whether the bag is still queued or
  a worker is still busy on it. A worker past its bag's deadline is killed and replaced (``recycled``);
* ``review`` with the error when the worker process dies or its detectors cannot be loaded.

Never ``clear`` on failure or timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from screening.lane.workers import DetectorFactory, Job, OutputSpec, ProcessWorker, ThreadWorker, dir_name
from screening.pipeline import PipelineConfig, failure_report
from screening.scan import BagReport, Verdict

__all__ = ["Job", "Outcome", "OutputSpec", "Scheduler", "SchedulerConfig", "default_workers"]

log = logging.getLogger("screening.lane")


def default_workers(device: str = "cpu") -> int:
    """Worker processes sized to the machine: half the cores (at least 2, so one stuck worker never
    stalls the lane), at most 8."""
    return max(2, min(8, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class Outcome:
    """The one verdict of a submitted bag.

    Attributes:
        job: what was submitted.
        report: the bag report (``review`` with the reason on deadline or failure).
        kind: ``"screened"``, ``"deadline"`` or ``"error"``.
        worker: which worker slot produced it (``"watchdog"`` for bags that timed out in the queue).
    """

    job: Job
    report: BagReport
    kind: str
    worker: str


@dataclass(frozen=True)
class SchedulerConfig:
    """Scheduler settings.

    Attributes:
        workers: worker count (see :func:`default_workers`).
        queue_size: bags that may wait for a worker; when full, :meth:`Scheduler.submit` blocks and says so.
        kind: ``"process"`` (a stuck worker is killed and replaced) or ``"thread"`` (a stuck worker
            thread is abandoned; only for light fakes and tests).
        pipeline: policy, declarations and ingest limits for each bag.
        outputs: what workers write per bag, or ``None``.
        threads_per_worker: BLAS/ONNX/torch threads per worker process.
    """

    workers: int = 2
    queue_size: int = 4
    kind: str = "process"
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    outputs: OutputSpec | None = None
    threads_per_worker: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("process", "thread"):
            raise ValueError(f"kind must be 'process' or 'thread'; got {self.kind!r}")
        if self.workers < 1 or self.queue_size < 1:
            raise ValueError(f"need workers >= 1 and queue_size >= 1; got {self.workers}, {self.queue_size}")


_STOP = object()


class Scheduler:
    """Bounded queue + worker slots + deadline watchdog.

    Args:
        factory: builds the detectors inside each worker (picklable for ``kind="process"``:
            a module-level function or ``functools.partial`` of one).
        config: see :class:`SchedulerConfig`.
        on_outcome: called once per submitted bag, from a scheduler thread. It should commit the verdict
            (audit store) and return quickly.
        on_event: called with ``(kind, message, bag_id)`` for back-pressure, recycled workers and
            failures (after logging them).
        clock: monotonic seconds; must be ``time.monotonic`` for process workers (shared across processes).
    """

    def __init__(
        self,
        factory: DetectorFactory,
        config: SchedulerConfig,
        on_outcome: Callable[[Outcome], BagReport | None],
        on_event: Callable[[str, str, str | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.config = config
        self.on_outcome = on_outcome
        self.on_event = on_event
        self.clock = clock
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=config.queue_size)
        self._lock = threading.Lock()
        self._pending: dict[str, Job] = {}
        self._done_ids: set[str] = set()
        self._idle = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers: dict[str, Any] = {}
        self.model_versions: dict[str, str] = {}
        self.counters = {
            "submitted": 0,
            "decided": 0,
            "deadline": 0,
            "errors": 0,
            "backpressure": 0,
            "recycled": 0,
            "max_queue": 0,
        }

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers (process start-up runs while the first bag is being scanned)."""
        for i in range(self.config.workers):
            name = f"w{i}"
            self._workers[name] = self._new_worker(name)
            t = threading.Thread(target=self._slot, args=(name,), name=f"slot-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        w = threading.Thread(target=self._watchdog, name="deadline-watchdog", daemon=True)
        w.start()
        self._threads.append(w)

    def _new_worker(self, name: str) -> Any:
        cls = ProcessWorker if self.config.kind == "process" else ThreadWorker
        return cls(name, self.factory, self.config)

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Block until every worker has loaded its detectors (or failed to); ``True`` if all are ready.

        The lane calls this before taking the first bag, so start-up is not charged to a bag's budget.
        """
        end = self.clock() + timeout
        while self.clock() < end:
            if all(w.ready or w.init_error for w in self._workers.values()):
                return all(w.ready for w in self._workers.values())
            time.sleep(0.02)
        return False

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted bag has its outcome. ``True`` when none is left."""
        end = None if timeout is None else self.clock() + timeout
        with self._idle:
            while self._pending:
                left = None if end is None else end - self.clock()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(0.05 if left is None else min(0.05, left))
        return True

    def stop(self) -> None:
        """Stop the slots and the workers (call after :meth:`drain`)."""
        self._stopping.set()
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_STOP)
        for t in self._threads:
            t.join(3.0)
        for w in list(self._workers.values()):
            w.stop()

    # -- producer side --------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def submit(self, job: Job) -> None:
        """Hand a bag to the workers. Blocks while the queue is full, saying so (never drops the bag).

        While it waits, the bag's deadline keeps running; if it passes, the bag gets ``review``
        (``deadline``) from the watchdog and is not queued any more.
        """
        with self._lock:
            if job.bag_id in self._pending or job.bag_id in self._done_ids:
                raise ValueError(f"bag {job.bag_id!r} was already submitted")
            self._pending[job.bag_id] = job
            self.counters["submitted"] += 1
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self.counters["backpressure"] += 1
            self._event(
                "backpressure",
                f"queue full ({self.config.queue_size} bags waiting, {self.config.workers} workers busy): "
                f"bag {job.bag_id} waits; the lane is producing faster than it can screen",
                job.bag_id,
                level=logging.WARNING,
            )
            while not self._stopping.is_set():
                try:
                    self._queue.put(job, timeout=0.05)
                    break
                except queue.Full:
                    if self._is_done(job.bag_id):
                        break
        with self._lock:
            self.counters["max_queue"] = max(self.counters["max_queue"], self._queue.qsize())

    # -- internals ------------------------------------------------------------------------------------
    def _event(self, kind: str, message: str, bag_id: str | None = None, level: int = logging.INFO) -> None:
        log.log(level, "%s: %s", kind, message)
        if self.on_event is not None:
            try:
                self.on_event(kind, message, bag_id)
            except Exception:
                log.exception("event handler failed")

    def _is_done(self, bag_id: str) -> bool:
        with self._lock:
            return bag_id in self._done_ids

    def _emit(self, job: Job, report: BagReport, kind: str, worker: str) -> BagReport | None:
        """Deliver the bag's one outcome; later attempts are ignored. Returns the committed report."""
        with self._lock:
            if job.bag_id in self._done_ids or job.bag_id not in self._pending:
                return None
            self._done_ids.add(job.bag_id)
        now = self.clock()
        if kind == "screened" and job.deadline.expired(now):
            report = _late(report, job.deadline.latency(now), job.deadline.budget_s)
            kind = "deadline"
        final: BagReport | None = report
        try:
            final = self.on_outcome(Outcome(job=job, report=report, kind=kind, worker=worker)) or report
        except Exception:
            log.exception("outcome handler failed for bag %s", job.bag_id)
        with self._idle:
            self._pending.pop(job.bag_id, None)
            self.counters["decided"] += 1
            if kind == "deadline":
                self.counters["deadline"] += 1
            elif kind == "error":
                self.counters["errors"] += 1
            if len(self._done_ids) > 100_000:  # bound memory on an endless lane
                self._done_ids = set(list(self._done_ids)[-50_000:])
            self._idle.notify_all()
        return final

    def _deadline_report(self, job: Job, where: str) -> BagReport:
        latency = job.deadline.latency(self.clock())
        return failure_report(
            job.bag_id,
            job.sources or ((job.path,) if job.path else ()),
            f"deadline: no verdict {latency:.1f} s after the bag's tail passed the imaging plane "
            f"(budget {job.deadline.budget_s:g} s; {where})",
            deadline_s=job.deadline.budget_s,
            timings_s={"total": latency},
        )

    def _watchdog(self) -> None:
        """Give ``review`` to every bag whose deadline passes while it is still queued or being screened."""
        while not self._stopping.is_set():
            now = self.clock()
            with self._lock:
                late = [j for j in self._pending.values() if j.deadline.expired(now)]
            for job in late:
                self._emit(job, self._deadline_report(job, "watchdog"), "deadline", "watchdog")
            time.sleep(0.01)

    def _warm(self, name: str) -> Any:
        """Wait (between bags) until the slot's worker has loaded its detectors or failed to."""
        worker = self._workers[name]
        while not (worker.ready or worker.init_error) and not self._stopping.is_set():
            msg = worker.recv(0.1)
            if msg is None:
                continue
            if msg[0] == "ready":
                worker.ready = True
                self.model_versions.update(msg[1])
            elif msg[0] in ("init-error", "died"):
                worker.init_error = msg[1]
                self._event("worker-failed", f"{name}: {msg[1]}", None, level=logging.ERROR)
        return worker

    def _slot(self, name: str) -> None:
        while not self._stopping.is_set():
            worker = self._warm(name)
            try:
                job = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if job is _STOP:
                return
            if self._is_done(job.bag_id):  # timed out while queued
                continue
            if worker.init_error is not None:
                rep = failure_report(
                    job.bag_id, job.sources, f"error: {worker.init_error}", deadline_s=job.deadline.budget_s
                )
                self._emit(job, rep, "error", name)
                continue
            try:
                worker.send(("job", job))
            except Exception as exc:
                self._recycle(name, f"could not send bag {job.bag_id}: {exc!r}", job.bag_id)
                rep = failure_report(job.bag_id, job.sources, f"error: worker {name} unavailable: {exc!r}")
                self._emit(job, rep, "error", name)
                continue
            self._await_result(name, worker, job)

    def _await_result(self, name: str, worker: Any, job: Job) -> None:
        while True:
            msg = worker.recv(job.deadline.remaining(self.clock()))
            if msg is None:  # the deadline passed with the worker still busy: verdict now, recycle it
                self._emit(job, self._deadline_report(job, f"worker {name} still busy"), "deadline", name)
                self._recycle(name, f"still busy on bag {job.bag_id} at its deadline", job.bag_id)
                return
            if msg[0] == "ready":
                worker.ready = True
                self.model_versions.update(msg[1])
                continue
            if msg[0] == "log":
                self._event("output-error", msg[1], job.bag_id, level=logging.WARNING)
                continue
            if msg[0] == "died":
                rep = failure_report(
                    job.bag_id,
                    job.sources,
                    f"error: {msg[1]} while screening this bag",
                    deadline_s=job.deadline.budget_s,
                )
                self._emit(job, rep, "error", name)
                self._recycle(name, msg[1], job.bag_id)
                return
            if msg[0] == "report" and msg[1] == job.bag_id:
                final = self._emit(job, msg[2], "screened", name)
                if final is not None and self.config.outputs is not None:
                    with contextlib.suppress(Exception):
                        worker.send(("outputs", dir_name(job.bag_id), final))
                return

    def _recycle(self, name: str, why: str, bag_id: str | None) -> Any:
        old = self._workers[name]
        old.kill()
        new = self._new_worker(name)
        self._workers[name] = new
        with self._lock:
            self.counters["recycled"] += 1
        self._event("worker-recycled", f"{name}: {why}; replaced", bag_id, level=logging.WARNING)
        return new


def _late(report: BagReport, latency: float, budget: float) -> BagReport:
    """A report that arrived after the deadline: never ``clear``; an alarm stays an alarm."""
    reason = (
        f"deadline: verdict ready {latency:.1f} s after the tail passed the imaging plane "
        f"(budget {budget:g} s)"
    )
    verdict = Verdict.ALARM if report.verdict == Verdict.ALARM else Verdict.REVIEW
    return dataclasses.replace(report, verdict=verdict, reasons=(reason, *report.reasons))
