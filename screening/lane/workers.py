"""Worker side of the lane: the job type, the per-bag screening call and the worker process/thread."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screening.decide.deadline import Deadline
from screening.pipeline import PipelineConfig, failure_report
from screening.scan import BagReport, Scan

if TYPE_CHECKING:
    from screening.lane.scheduler import SchedulerConfig

__all__ = ["Job", "OutputSpec", "ProcessWorker", "ThreadWorker", "dir_name", "write_outputs"]

DetectorFactory = Callable[[], Sequence[Any]]


@dataclass(frozen=True)
class OutputSpec:
    """What a worker writes per bag under ``out_dir/<bag_id>/`` after the verdict is committed.

    Attributes:
        out_dir: folder for the per-bag outputs.
        tdr: write the DICOS Threat Detection Report ``tdr.dcs``.
        png: write the annotated image ``bag.png``.
    """

    out_dir: Path
    tdr: bool = True
    png: bool = False


@dataclass(frozen=True)
class Job:
    """One bag to screen.

    Attributes:
        bag_id: the lane's id for the bag (unique in the audit store).
        deadline: the bag's budget on ``time.monotonic`` (start = tail past the imaging plane).
        scans: the assembled scans (simulated lane, network receiver), or ``None`` when ``path`` is set.
        path: a file/folder to read (hot folder).
        sources: where the bag came from, for reports.
        extra: JSON-serialisable additions to the report (lane data).
    """

    bag_id: str
    deadline: Deadline
    scans: tuple[Scan, ...] | None = None
    path: str | None = None
    sources: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _screen(job: Job, detectors: Sequence[Any], config: PipelineConfig) -> tuple[BagReport, list[Scan]]:
    """Screen one job in the worker; never raises."""
    from screening.pipeline import screen_path, screen_scans

    cfg = dataclasses.replace(config, deadline_s=job.deadline.budget_s)
    try:
        if job.path is not None:
            report, scans = screen_path(
                job.path,
                detectors,
                cfg,
                clock=time.monotonic,
                started=job.deadline.start_s,
                bag_id=job.bag_id,
            )
        else:
            scans = list(job.scans or ())
            report = screen_scans(
                scans,
                detectors,
                cfg,
                sources=job.sources,
                started=job.deadline.start_s,
                clock=time.monotonic,
                extra=dict(job.extra),
            )
        if job.extra and job.path is not None:
            report = dataclasses.replace(report, extra={**job.extra, **report.extra})
        return report, scans
    except Exception as exc:  # pipeline bug: still a verdict, never clear
        return failure_report(job.bag_id, job.sources, f"error: screening failed: {exc!r}"), []


def write_outputs(report: BagReport, scans: Sequence[Scan], spec: OutputSpec, bag_dir_name: str) -> list[str]:
    """Write the TDR (and PNG) for one bag; returns error messages instead of raising."""
    errors = []
    bag_dir = spec.out_dir / bag_dir_name
    try:
        bag_dir.mkdir(parents=True, exist_ok=True)
        from screening.report import annotate, write_tdr

        if spec.tdr:
            write_tdr(report, list(scans), bag_dir / "tdr.dcs")
        if spec.png:
            annotate(list(scans), report, bag_dir / "bag.png")
    except Exception as exc:  # outputs never change the verdict
        errors.append(f"{bag_dir}: could not write outputs: {exc!r}")
    return errors


def _preload(detectors: Sequence[Any] = ()) -> None:
    """Import readers and writers and run each detector once on a tiny synthetic scan (first-call
    costs: lazy imports, ONNX session warm-up), so no bag pays for them in its budget."""
    import numpy as np

    from screening.scan import Modality

    with contextlib.suppress(Exception):
        from screening.ingest import preload

        preload()
    with contextlib.suppress(Exception):
        import screening.report  # noqa: F401
    dummies = [
        Scan(np.ones((2, 64, 64), np.float32), Modality.XRAY, (1.0, 1.0), ("high", "low"), "warm-up", "top"),
        Scan(np.full((1, 16, 16, 16), 1000.0, np.float32), Modality.CT, (1.0, 1.0, 1.0), ("mhu",), "warm-up"),
    ]
    for det in detectors:
        for scan in dummies:
            if scan.modality in getattr(det, "modalities", ()):
                with contextlib.suppress(Exception):
                    det(scan)


def _limit_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)


def _serve(
    conn: Any, factory: DetectorFactory, config: PipelineConfig, outputs: OutputSpec | None, threads: int
) -> None:
    """Worker process main loop: build detectors once, then screen jobs until told to stop."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the lane, which then stops the workers
    _limit_threads(threads)
    try:
        detectors = list(factory())
    except Exception as exc:
        conn.send(("init-error", f"detectors could not be loaded: {exc!r}"))
        return
    _preload(detectors)
    conn.send(("ready", {d.name: d.version for d in detectors}))
    last: tuple[Job, list[Scan]] | None = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # parent gone (killed): exit quietly
            return
        if msg[0] == "stop":
            return
        if msg[0] == "job":
            job: Job = msg[1]
            report, scans = _screen(job, detectors, config)
            last = (job, scans)
            conn.send(("report", job.bag_id, report))
        elif msg[0] == "outputs" and last is not None and outputs is not None:
            job, scans = last
            last = None
            for err in write_outputs(msg[2], scans, outputs, msg[1]):
                conn.send(("log", err))


class ProcessWorker:
    """One worker process with its own pipe, so it can be killed without touching the others."""

    def __init__(self, name: str, factory: DetectorFactory, cfg: SchedulerConfig) -> None:
        self.name = name
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_serve,
            args=(child, factory, cfg.pipeline, cfg.outputs, cfg.threads_per_worker),
            name=f"screening-{name}",
            daemon=True,
        )
        self.proc.start()
        child.close()
        self.ready = False
        self.init_error: str | None = None

    def send(self, msg: tuple[Any, ...]) -> None:
        self.conn.send(msg)

    def recv(self, timeout: float) -> tuple[Any, ...] | None:
        """Next message, ``None`` on timeout; ``("died", why)`` if the process is gone."""
        try:
            if self.conn.poll(max(0.0, timeout)):
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        else:
            if self.proc.is_alive():
                return None
        self.proc.join(0.5)
        return ("died", f"worker process {self.name} exited with code {self.proc.exitcode}")

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
            self.proc.join(2.0)
        with contextlib.suppress(Exception):
            self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(("stop",))
        self.proc.join(2.0)
        if self.proc.is_alive():
            self.kill()


class ThreadWorker:
    """The same protocol on a thread (cannot be killed: a stuck thread is abandoned)."""

    def __init__(self, name: str, factory: DetectorFactory, cfg: SchedulerConfig) -> None:
        self.name = name
        self._in: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._out: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._cfg = cfg
        self._factory = factory
        self.ready = False
        self.init_error: str | None = None
        threading.Thread(target=self._loop, name=f"screening-{name}", daemon=True).start()

    def _loop(self) -> None:
        try:
            detectors = list(self._factory())
        except Exception as exc:
            self._out.put(("init-error", f"detectors could not be loaded: {exc!r}"))
            return
        _preload(detectors)
        self._out.put(("ready", {d.name: d.version for d in detectors}))
        last = None
        while True:
            msg = self._in.get()
            if msg[0] == "stop":
                return
            if msg[0] == "job":
                report, scans = _screen(msg[1], detectors, self._cfg.pipeline)
                last = scans
                self._out.put(("report", msg[1].bag_id, report))
            elif msg[0] == "outputs" and last is not None and self._cfg.outputs is not None:
                for err in write_outputs(msg[2], last, self._cfg.outputs, msg[1]):
                    self._out.put(("log", err))
                last = None

    def send(self, msg: tuple[Any, ...]) -> None:
        self._in.put(msg)

    def recv(self, timeout: float) -> tuple[Any, ...] | None:
        try:
            return self._out.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def kill(self) -> None:
        self._in.put(("stop",))  # takes effect only if the thread ever comes back

    stop = kill


def dir_name(bag_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in bag_id) or "bag"
