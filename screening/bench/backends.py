"""Detector network alone: onnxruntime vs torch, threads and batch size (what to pick on this machine)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["backend_sweep", "time_call"]


def time_call(fn: Callable[[], Any], min_s: float = 0.5, min_reps: int = 3, warmup: int = 1) -> float:
    """Median seconds per call of ``fn`` (after ``warmup`` calls; at least ``min_reps`` and ``min_s``)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    t_end = time.perf_counter() + min_s
    while len(times) < min_reps or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 200:
            break
    return float(np.median(times))


def _torch_net(card: Any) -> Any:
    """The card's torch network (architecture only: speed does not depend on the weights' values)."""
    from screening.detect.nets import CtCandidateNet, XrayCenterNet

    conf = dict(card.training.get("config", {}))
    width = conf.get("width")
    if card.modality == "xray":
        kw = {"width": int(width)} if width else {}
        return XrayCenterNet(num_classes=len(card.classes), pretrained=False, **kw).eval()
    from screening.detect.ct_candidates import FEATURES

    kw = {"width": int(width)} if width else {}
    context = bool(card.extra.get("candidates", {}).get("context", 0))
    return CtCandidateNet(len(FEATURES), len(card.classes) + 1, context=context, **kw).eval()


def _session_inputs(model_path: str) -> Any:
    """Input names/shapes of an ONNX file without starting an inference session (no thread pool)."""
    import onnx

    class _Inp:
        def __init__(self, name: str, shape: list[Any]) -> None:
            self.name, self.shape = name, shape

    class _Shapes:
        def __init__(self, model: Any) -> None:
            init = {i.name for i in model.graph.initializer}
            self._inputs = [
                _Inp(i.name, [d.dim_value or 1 for d in i.type.tensor_type.shape.dim])
                for i in model.graph.input
                if i.name not in init
            ]

        def get_inputs(self) -> list[_Inp]:
            return self._inputs

    return _Shapes(onnx.load(model_path, load_external_data=False))


def _inputs(session: Any, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    feeds = {}
    for inp in session.get_inputs():
        shape = [batch if i == 0 else int(d) for i, d in enumerate(inp.shape)]
        feeds[inp.name] = rng.random(shape, dtype=np.float32)
    return feeds


def _rate(seconds: float, batch: int) -> dict[str, float]:
    return {"ms_per_item": 1000.0 * seconds / batch, "items_per_s": batch / seconds}


def _sweep_one(model_path: str, device: str, threads: Sequence[int], batches: Sequence[int]) -> list[dict]:
    import torch

    from screening.detect.card import read_card
    from screening.detect.onnx_runtime import make_session

    rng = np.random.default_rng(0)
    card = read_card(Path(model_path))
    rows: list[dict] = []
    try:
        net = _torch_net(card).to(device)
        torch_err = ""
    except Exception as exc:  # architecture not rebuildable from the card: report it, keep onnxruntime
        net, torch_err = None, f"{exc!r}"
    # torch first, then onnxruntime: idle onnxruntime pool threads spin-wait for a while after each run
    # and would steal the cores from torch measured right after them.
    sessions = {t: None for t in threads}
    for t in threads:
        torch.set_num_threads(t)
        for b in batches:
            row: dict[str, Any] = {"model": card.name, "threads": t, "batch": b, "backend": "torch"}
            if net is None:
                rows.append({**row, "error": torch_err[:200]})
                continue
            feeds = _inputs(_session_inputs(model_path), b, rng)
            tensors = [torch.from_numpy(v).to(device) for v in feeds.values()]

            def fwd(n: Any = net, x: list = tensors) -> None:
                with torch.inference_mode():
                    n(*x)
                if device == "cuda":
                    torch.cuda.synchronize()

            rows.append({**row, **_rate(time_call(fwd), b)})
    for t in threads:
        sessions[t] = make_session(model_path, device, t)
        for b in batches:
            row = {"model": card.name, "threads": t, "batch": b, "backend": "onnxruntime"}
            feeds = _inputs(sessions[t], b, rng)
            try:
                rows.append({**row, **_rate(time_call(lambda s=sessions[t], f=feeds: s.run(None, f)), b)})
            except Exception as exc:  # e.g. an export with a fixed batch of 1
                rows.append({**row, "error": f"{exc!r}"[:200]})
    return rows


def backend_sweep(
    models: Sequence[Path],
    device: str = "cpu",
    threads: Sequence[int] = (1, 2),
    batches: Sequence[int] = (1, 4),
) -> list[dict[str, Any]]:
    """Time each exported model's network with onnxruntime and with torch, per thread count and batch.

    Runs in a fresh process (its own thread pools). Inputs are random tensors of the card's input shape;
    only the network is timed (pre/post-processing is in the pipeline figures).

    Returns:
        One row per (model, backend, threads, batch): ``ms_per_item`` and ``items_per_s``, or ``error``.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        for m in models:
            try:
                rows.extend(pool.submit(_sweep_one, str(m), device, list(threads), list(batches)).result())
            except Exception as exc:
                rows.append({"model": Path(m).stem, "error": f"{exc!r}"[:300]})
    return rows
