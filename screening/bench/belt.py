"""Belt arithmetic: bags/s to belt-equivalent speed and lanes, and verdict latency under a lane's arrivals."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BeltModel",
    "belt_equivalent_mps",
    "default_belt",
    "lanes_sustained",
    "percentiles",
    "queue_latencies",
]


@dataclass(frozen=True)
class BeltModel:
    """The lane the benchmark measures against.

    Attributes:
        speed_mps: belt speed, metres per second (customs/airport lanes: 0.3).
        pitch_m: distance between the leading edges of consecutive bags on a full belt, metres
            (bag length plus the gap the loader leaves). A full lane delivers ``speed / pitch`` bags/s.
        deadline_s: verdict budget, seconds.
        clock_start: when the budget's clock starts (the streaming lane's definition).
        source: where these numbers came from (``screening.lane`` or the benchmark's fallback).
    """

    speed_mps: float = 0.3
    pitch_m: float = 1.0
    deadline_s: float = 10.0
    clock_start: str = (
        "the bag's tail passes the imaging plane (complete image exists); latency = verdict time - that "
        "moment (screening.decide.deadline)"
    )
    source: str = "screening.bench fallback"

    @property
    def bags_per_s_per_lane(self) -> float:
        """Arrival rate of one full lane, bags per second."""
        return self.speed_mps / self.pitch_m

    @property
    def arrival_interval_s(self) -> float:
        """Seconds between bags on one full lane."""
        return self.pitch_m / self.speed_mps


def default_belt(mean_bag_length_m: float | None = None) -> BeltModel:
    """The lane's belt (``screening.lane.belt.BeltConfig``: speed and gap), with the pitch of these bags.

    Pitch = mean bag length along the belt + the lane's gap between bags. The budget and when its clock
    starts come from ``screening.decide.deadline``. Without ``screening.lane`` (or a bag length) the
    fallback :class:`BeltModel` values are used and ``source`` says so.

    Args:
        mean_bag_length_m: mean length of the measured bags along the belt, metres.
    """
    base = BeltModel(deadline_s=_budget())
    try:
        from screening.lane.belt import BeltConfig
    except ImportError:
        return base
    cfg = BeltConfig()
    if mean_bag_length_m is None:
        return BeltModel(speed_mps=cfg.speed_m_s, deadline_s=base.deadline_s, source="screening.lane speed")
    return BeltModel(
        speed_mps=cfg.speed_m_s,
        pitch_m=float(mean_bag_length_m) + cfg.gap_m,
        deadline_s=base.deadline_s,
        source=f"screening.lane BeltConfig gap {cfg.gap_m} m + mean bag length {mean_bag_length_m:.3f} m",
    )


def _budget() -> float:
    try:
        from screening.decide.deadline import DEFAULT_BUDGET_S
    except ImportError:
        return 10.0
    return float(DEFAULT_BUDGET_S)


def belt_equivalent_mps(bags_per_s: float, pitch_m: float) -> float:
    """Belt speed (m/s) that would deliver ``bags_per_s`` at ``pitch_m`` metres per bag."""
    return float(bags_per_s) * float(pitch_m)


def lanes_sustained(bags_per_s: float, belt: BeltModel) -> float:
    """How many full lanes of ``belt`` a machine screening ``bags_per_s`` keeps up with."""
    return float(bags_per_s) / belt.bags_per_s_per_lane


def queue_latencies(
    service_s: Sequence[float],
    interval_s: float,
    servers: int = 1,
    verdict_s: Sequence[float] | None = None,
) -> np.ndarray:
    """Verdict latency of each bag when bags arrive every ``interval_s`` and ``servers`` workers serve FIFO.

    Latency = wait in queue + the seconds from starting the bag to its committed verdict (clock starts at
    arrival = scan complete). A worker stays busy for the bag's whole ``service_s`` (outputs written after
    the verdict included). With ``interval_s`` longer than every service time there is no wait.

    Args:
        service_s: measured seconds each bag occupied its worker, in arrival order.
        interval_s: seconds between arrivals (``BeltModel.arrival_interval_s / lanes``).
        servers: parallel workers.
        verdict_s: measured seconds from start to committed verdict per bag (default: ``service_s``).

    Returns:
        ``float64[N]`` latencies in seconds.
    """
    if interval_s < 0 or servers < 1:
        raise ValueError(f"need interval_s >= 0 and servers >= 1; got {interval_s}, {servers}")
    verdict = service_s if verdict_s is None else verdict_s
    if len(verdict) != len(service_s):
        raise ValueError(f"verdict_s has {len(verdict)} entries; service_s has {len(service_s)}")
    free = [0.0] * servers
    heapq.heapify(free)
    out = np.empty(len(service_s), dtype=np.float64)
    for i, s in enumerate(service_s):
        arrival = i * interval_s
        start = max(arrival, heapq.heappop(free))
        heapq.heappush(free, start + float(s))
        out[i] = start + float(verdict[i]) - arrival
    return out


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """``{"p50", "p95", "p99", "max", "mean"}`` of ``values`` in seconds (NaN when empty)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {k: float("nan") for k in ("p50", "p95", "p99", "max", "mean")}
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(arr.max()),
        "mean": float(arr.mean()),
    }
