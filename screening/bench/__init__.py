"""Benchmark against the belt: throughput, verdict latency, lanes per machine, baseline in the same run."""

from __future__ import annotations

from screening.bench.belt import BeltModel, belt_equivalent_mps, lanes_sustained, queue_latencies
from screening.bench.config import BenchConfig

__all__ = [
    "BeltModel",
    "BenchConfig",
    "belt_equivalent_mps",
    "lanes_sustained",
    "queue_latencies",
    "run_bench",
]


def run_bench(config: BenchConfig, **kwargs: object) -> dict:
    """Run the whole benchmark; see :func:`screening.bench.runner.run_bench` (imported lazily)."""
    from screening.bench.runner import run_bench as _run

    return _run(config, **kwargs)  # type: ignore[arg-type]
