"""Screen a bag set through the real pipeline in worker processes and time every bag (the measuring loop)."""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screening.bench.bagset import BenchBag
from screening.bench.detectors import DetectorSpec, limit_threads

__all__ = ["BagRecord", "RunResult", "measure", "report_stage"]

#: Seconds the parent waits for a silent worker before declaring the run failed.
_WORKER_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class BagRecord:
    """One screened bag.

    Attributes:
        index: bag index in the set.
        worker: worker that screened it.
        t_start: ``time.monotonic()`` when the worker took the bag (its scan is complete: the clock starts).
        t_end: ``time.monotonic()`` when all report files were written (the worker is free again).
        t_verdict: ``time.monotonic()`` when the verdict was committed (JSON report written).
        timings_s: per-stage seconds (``ingest``, ``detect``, ``decide``, ``report``, ``total``).
        verdict: ``clear``/``alarm``/``review``.
        reasons: the verdict's reasons.
        detections: ``Detection.to_dict()`` of every detection.
    """

    index: int
    worker: int
    t_start: float
    t_end: float
    t_verdict: float
    timings_s: dict[str, float]
    verdict: str
    reasons: tuple[str, ...]
    detections: tuple[dict[str, Any], ...]

    @property
    def service_s(self) -> float:
        """Seconds the worker was busy with the bag (taking it to its last report file)."""
        return self.t_end - self.t_start

    @property
    def verdict_s(self) -> float:
        """Seconds from taking the bag to its committed verdict."""
        return self.t_verdict - self.t_start


@dataclass
class RunResult:
    """One measured run of a detector set over a bag set.

    Attributes:
        spec: the detector set.
        workers: worker processes (``0``: screened in this process).
        batch: bags per detector call.
        records: one per bag, in bag order.
        wall_s: from the start signal to the last verdict.
        peak_rss_mb: sum over workers of each one's peak resident memory (what the box must hold).
        peak_rss_mb_worker: the largest single worker's peak.
        gpu_mem_mb: peak GPU memory per worker (torch allocator or nvidia-smi), when on CUDA.
        load_average: 1-minute load before and after the run (other users of the machine).
        model_versions: detector name -> version.
        errors: worker failures (a failed run has no records).
    """

    spec: DetectorSpec
    workers: int
    batch: int
    records: list[BagRecord] = field(default_factory=list)
    wall_s: float = float("nan")
    peak_rss_mb: float = float("nan")
    peak_rss_mb_worker: float = float("nan")
    gpu_mem_mb: float | None = None
    load_average: tuple[float, float] = (float("nan"), float("nan"))
    model_versions: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def bags_per_s(self) -> float:
        """Sustained throughput of the run."""
        return len(self.records) / self.wall_s if self.records and self.wall_s > 0 else 0.0


def report_stage(report: Any, scans: Sequence[Any], out_dir: Path, png: bool = True) -> dict[str, float]:
    """The report stage as ``screening scan`` runs it: JSON report, DICOS TDR and (``png``) the annotated PNG.

    The verdict counts as committed once the JSON report is written (the lane commits it to the audit
    store and writes the JSON, then the worker writes the TDR and PNG); ``"_commit"`` is that moment on
    ``time.monotonic``.

    Returns:
        Seconds spent per output (``report_json``, ``report_tdr``, ``report_png``) and ``_commit``.
    """
    from screening.report import annotate, write_json, write_tdr

    folder = Path(out_dir) / report.bag_id
    t0 = time.monotonic()
    write_json(report, folder / "report.json")
    t1 = time.monotonic()
    write_tdr(report, scans, folder / "tdr.dcs")
    t2 = time.monotonic()
    if png:
        annotate(scans, report, folder / "bag.png")
    t3 = time.monotonic()
    return {"report_json": t1 - t0, "report_tdr": t2 - t1, "report_png": t3 - t2, "_commit": t1}


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _gpu_mem_mb(device: str) -> float | None:
    if device != "cuda":
        return None
    best: float | None = None
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            best = torch.cuda.max_memory_allocated() / 2**20
    try:
        res = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        for line in res.stdout.splitlines():
            pid, mem = (p.strip() for p in line.split(","))
            if int(pid) == os.getpid():
                best = max(best or 0.0, float(mem))
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return best


class _Precomputed:
    """Stands in for a detector whose batched results are already known (batching across lanes)."""

    def __init__(self, det: Any, results: dict[int, list[Any]]) -> None:
        self.name, self.version, self.modalities = det.name, det.version, det.modalities
        self._results = results

    def __call__(self, scan: Any) -> list[Any]:
        return self._results.get(id(scan), [])


def _screen_batch(
    paths: list[Path], detectors: list[Any], report_dir: Path, png: bool = True
) -> list[tuple[dict[str, float], Any]]:
    """Ingest ``paths``, run batch-capable detectors once over all their scans, then decide and report."""
    from screening.errors import ScreeningError
    from screening.ingest import read
    from screening.pipeline import PipelineConfig, failure_report, screen_scans

    config = PipelineConfig()
    loaded: list[tuple[Path, float, list[Any] | None, str]] = []
    for p in paths:
        t0 = time.perf_counter()
        try:
            loaded.append((p, time.perf_counter() - t0, list(read(p, config.limits)), ""))
        except ScreeningError as exc:
            loaded.append((p, time.perf_counter() - t0, None, str(exc)))
    t_det = time.perf_counter()
    stand_ins = []
    for det in detectors:
        batch_fn = getattr(det, "detect_batch", None)
        if batch_fn is None:
            stand_ins.append(det)
            continue
        scans = [s for _, _, ss, _ in loaded if ss for s in ss if s.modality in det.modalities]
        results = dict(zip((id(s) for s in scans), batch_fn(scans), strict=True))
        stand_ins.append(_Precomputed(det, results))
    share = (time.perf_counter() - t_det) / max(1, len(paths))
    out = []
    for p, t_ingest, scans, err in loaded:
        if scans is None:
            report = failure_report(p.stem, [str(p)], f"unreadable: {err}", timings_s={"ingest": t_ingest})
        else:
            report = screen_scans(scans, stand_ins, config, sources=[str(p)], timings_s={"ingest": t_ingest})
            report = _with_timing(report, "detect", report.timings_s.get("detect", 0.0) + share)
        out.append((report_stage(report, scans or [], report_dir, png), report))
    return out


def _with_timing(report: Any, key: str, value: float) -> Any:
    import dataclasses

    timings = dict(report.timings_s)
    timings[key] = value
    return dataclasses.replace(report, timings_s=timings)


def _screen_one(
    path: Path, detectors: list[Any], report_dir: Path, png: bool = True
) -> tuple[dict[str, float], Any]:
    from screening.pipeline import PipelineConfig, screen_path

    report, scans = screen_path(path, detectors, PipelineConfig())
    return report_stage(report, scans, report_dir, png), report


def _record(index: int, worker: int, t0: float, t1: float, rep: dict[str, float], report: Any) -> BagRecord:
    timings = {k: float(v) for k, v in report.timings_s.items()}
    parts = {k: v for k, v in rep.items() if not k.startswith("_")}
    timings.update(parts)
    timings["report"] = sum(parts.values())
    timings["total"] = t1 - t0
    return BagRecord(
        index=index,
        worker=worker,
        t_start=t0,
        t_end=t1,
        t_verdict=rep["_commit"],
        timings_s=timings,
        verdict=str(report.verdict),
        reasons=tuple(report.reasons),
        detections=tuple(d.to_dict() for d in report.detections),
    )


def _worker_loop(
    wid: int,
    spec: DetectorSpec,
    paths: list[str],
    batch: int,
    tasks: Any,
    results: Any,
    barrier: Any,
    report_dir: str,
    png: bool = True,
) -> None:
    """Body of one worker: build detectors, warm up on bag 0, wait for the start signal, screen bags."""
    limit_threads(spec.threads)
    records: list[BagRecord] = []
    versions: dict[str, str] = {}
    try:
        detectors = spec.build()
        versions = {d.name: d.version for d in detectors}
        with tempfile.TemporaryDirectory() as warm_dir:  # warm-up: first-call costs are not throughput
            _screen_one(Path(paths[0]), detectors, Path(warm_dir), png)
    except BaseException as exc:
        if barrier is not None:
            barrier.abort()
        results.put({"worker": wid, "error": f"worker {wid} failed to start: {exc!r}"})
        return
    if barrier is not None:
        barrier.wait()
    try:
        while True:
            taken = []
            for _ in range(batch):
                try:
                    idx = tasks.get_nowait() if taken else tasks.get(timeout=_WORKER_TIMEOUT_S)
                except queue.Empty:
                    break
                if idx is None:
                    tasks.put(None)  # let the other workers see the end too
                    break
                taken.append((idx, time.monotonic()))
            if not taken:
                break
            if batch == 1:
                outs = [_screen_one(Path(paths[taken[0][0]]), detectors, Path(report_dir), png)]
            else:
                outs = _screen_batch([Path(paths[i]) for i, _ in taken], detectors, Path(report_dir), png)
            t1 = time.monotonic()
            for (idx, t0), (rep, report) in zip(taken, outs, strict=True):
                records.append(_record(idx, wid, t0, t1, rep, report))
            if len(taken) < batch:
                break
    except BaseException as exc:
        results.put({"worker": wid, "error": f"worker {wid} failed: {exc!r}"})
        return
    results.put(
        {
            "worker": wid,
            "records": records,
            "peak_rss_mb": _peak_rss_mb(),
            "gpu_mem_mb": _gpu_mem_mb(spec.device),
            "versions": versions,
        }
    )


def measure(
    bags: Sequence[BenchBag],
    spec: DetectorSpec,
    *,
    workers: int = 1,
    batch: int = 1,
    report_dir: Path | None = None,
    isolate: bool = True,
    png: bool = True,
) -> RunResult:
    """Screen ``bags`` with ``spec`` and time it.

    Each worker process builds its detectors, warms up on bag 0 (not timed), then all start together and
    pull bags from one queue in arrival order: the sustained throughput of ``workers`` parallel screeners.

    Args:
        bags: the measured set.
        spec: detector set.
        workers: parallel worker processes.
        batch: bags per detector call (detectors with ``detect_batch`` batch across lanes; others loop).
        report_dir: where the report stage writes (default: a temporary folder).
        png: write the annotated PNG in the report stage (``screening scan`` does; the lane's default
            does not).
        isolate: run in spawned processes (clean peak-RSS per worker). ``False`` screens in this process
            with one worker (quick mode; RSS then includes the caller).

    Returns:
        The run's records and totals; a failed worker gives ``errors`` and no records.
    """
    import multiprocessing as mp

    if not bags:
        raise ValueError("measure() needs at least one bag")
    paths = [str(b.path) for b in bags]
    tmp = None
    if report_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-reports-")
        report_dir = Path(tmp.name)
    Path(report_dir).mkdir(parents=True, exist_ok=True)
    result = RunResult(spec=spec, workers=workers if isolate else 0, batch=batch)
    load0 = os.getloadavg()[0]
    try:
        if not isolate:
            tasks: Any = queue.Queue()
            results: Any = queue.Queue()
            for i in range(len(bags)):
                tasks.put(i)
            tasks.put(None)
            t_go = time.monotonic()
            _worker_loop(0, spec, paths, batch, tasks, results, None, str(report_dir), png)
            outputs = [results.get()]
            # the warm-up ran after t_go in-process: measure from the first bag instead
            recs = [r for o in outputs for r in o.get("records", [])]
            if recs:
                t_go = min(r.t_start for r in recs)
        else:
            ctx = mp.get_context("spawn")
            tasks = ctx.Queue()
            results = ctx.Queue()
            barrier = ctx.Barrier(workers + 1)
            for i in range(len(bags)):
                tasks.put(i)
            tasks.put(None)
            procs = [
                ctx.Process(
                    target=_worker_loop,
                    args=(w, spec, paths, batch, tasks, results, barrier, str(report_dir), png),
                    daemon=True,
                )
                for w in range(workers)
            ]
            for p in procs:
                p.start()
            # a worker that fails to start aborts the barrier: its error is collected below
            with contextlib.suppress(Exception):
                barrier.wait(timeout=_WORKER_TIMEOUT_S)
            t_go = time.monotonic()
            outputs = []
            for _ in procs:
                try:
                    outputs.append(results.get(timeout=_WORKER_TIMEOUT_S))
                except queue.Empty:
                    outputs.append({"error": "a worker produced no result (crashed or hung)"})
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.terminate()
    finally:
        if tmp is not None:
            tmp.cleanup()
    result.load_average = (round(load0, 2), round(os.getloadavg()[0], 2))
    result.errors = [o["error"] for o in outputs if "error" in o]
    if result.errors:
        return result
    recs = sorted((r for o in outputs for r in o["records"]), key=lambda r: r.index)
    result.records = recs
    result.wall_s = max(r.t_end for r in recs) - t_go if recs else float("nan")
    rss = [o["peak_rss_mb"] for o in outputs]
    result.peak_rss_mb = float(sum(rss))
    result.peak_rss_mb_worker = float(max(rss))
    gpu = [o["gpu_mem_mb"] for o in outputs if o.get("gpu_mem_mb") is not None]
    result.gpu_mem_mb = float(max(gpu)) if gpu else None
    for o in outputs:
        result.model_versions.update(o.get("versions", {}))
    return result
