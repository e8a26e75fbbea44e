"""Which detectors a benchmark run screens with, as a picklable spec built inside each worker process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DetectorSpec", "limit_threads"]


def limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP/torch intra-op threads of this process (call before the first heavy import)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["SCREENING_THREADS"] = str(threads)
    import sys

    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


@dataclass(frozen=True)
class DetectorSpec:
    """A detector set to benchmark.

    Attributes:
        kind: ``"ours"`` (``screening.detect.default_detectors``) or ``"baseline"`` (the torchvision
            Faster R-CNN of :mod:`screening.bench.baseline`).
        device: ``"cpu"`` or ``"cuda"``.
        threads: intra-op threads per process.
        modality: ``"xray"`` or ``"ct"`` (the baseline loads the weights for it).
        weights: baseline weights file; ``None`` runs it untrained (flagged in the results).
        backend: for ``"ours"``: ``"onnxruntime"`` (default) or ``"torch"`` where the detectors offer it.
        size: baseline input side override (quick mode only; default: our model's input size).
    """

    kind: str = "ours"
    device: str = "cpu"
    threads: int = 1
    modality: str = "xray"
    weights: str | None = None
    backend: str = "onnxruntime"
    size: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("ours", "baseline"):
            raise ValueError(f"kind must be 'ours' or 'baseline'; got {self.kind!r}")

    def build(self) -> list[Any]:
        """The detector objects (imports torch/onnxruntime; call inside the worker)."""
        limit_threads(self.threads)
        if self.kind == "baseline":
            from screening.bench.baseline import BaselineDetector

            weights = Path(self.weights) if self.weights else None
            return [BaselineDetector.load(self.modality, weights, self.device, self.threads, size=self.size)]
        from screening.detect import default_detectors

        try:
            return list(default_detectors(self.device, threads=self.threads))
        except TypeError:  # default_detectors(device, models) has no thread setting yet
            dets = list(default_detectors(self.device))
        return [_with_threads(d, self.device, self.threads) for d in dets]


def _with_threads(det: Any, device: str, threads: int) -> Any:
    """Re-open an ONNX detector's onnxruntime session with ``threads`` intra-op threads.

    onnxruntime otherwise starts one thread per core in every worker process, and N workers on N cores
    then fight over the cores. Detectors without a ``session``/``path`` are returned unchanged.
    """
    if getattr(det, "session", None) is None or getattr(det, "path", None) is None:
        return det
    from screening.detect.onnx_runtime import make_session

    det.session = make_session(det.path, device, threads)
    return det
