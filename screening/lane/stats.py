"""Running lane statistics: bags/h, belt-equivalent speed, latency percentiles against the budget."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BagLine", "LaneStats"]


@dataclass(frozen=True)
class BagLine:
    """One row of the live view."""

    bag_id: str
    verdict: str
    classes: tuple[str, ...]
    latency_s: float
    budget_s: float
    reason: str
    truth: tuple[str, ...] = ()


class LaneStats:
    """Thread-safe counters of a running lane.

    Args:
        belt_speed_m_s: nominal belt speed (for the belt-equivalent speed).
        gap_m: belt gap between bags.
        window: latencies kept for percentiles (bounded, so an endless lane stays flat in memory).
    """

    def __init__(self, belt_speed_m_s: float = 0.3, gap_m: float = 0.3, window: int = 10_000) -> None:
        self.belt_speed_m_s = belt_speed_m_s
        self.gap_m = gap_m
        self._lock = threading.Lock()
        self.latencies: deque[float] = deque(maxlen=window)
        self.lengths: deque[float] = deque(maxlen=window)
        self.recent: deque[BagLine] = deque(maxlen=12)
        self.verdicts: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.first_start: float | None = None
        self.last_decided: float | None = None
        self.decided = 0
        self.skipped = 0
        self.duplicates = 0

    def arrival(self, budget_start_s: float, bag_length_m: float | None) -> None:
        with self._lock:
            if self.first_start is None:
                self.first_start = budget_start_s
            if bag_length_m:
                self.lengths.append(bag_length_m)

    def decided_bag(self, line: BagLine, kind: str, now: float | None = None) -> None:
        with self._lock:
            self.decided += 1
            self.latencies.append(line.latency_s)
            self.verdicts[line.verdict] += 1
            self.kinds[kind] += 1
            self.recent.append(line)
            self.last_decided = time.monotonic() if now is None else now

    def event(self, kind: str) -> None:
        with self._lock:
            self.events[kind] += 1

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Numbers for the live view and the run summary.

        ``bags_per_hour`` is decided bags over the time from the first bag's budget start to the last
        verdict; ``belt_equivalent_m_s`` is that throughput times the mean bag pitch (length + gap): the
        belt speed this lane is keeping up with.
        """
        with self._lock:
            lat = np.asarray(self.latencies, dtype=np.float64)
            end = self.last_decided if now is None else now
            span = (end - self.first_start) if (self.first_start is not None and end is not None) else 0.0
            rate = self.decided / span if span > 0 else 0.0
            pitch = (float(np.mean(self.lengths)) if self.lengths else 0.0) + self.gap_m
            budget = self.recent[-1].budget_s if self.recent else 10.0
            return {
                "bags": self.decided,
                "skipped_already_decided": self.skipped,
                "verdicts": dict(self.verdicts),
                "outcomes": dict(self.kinds),
                "events": dict(self.events),
                "elapsed_s": round(span, 3),
                "bags_per_hour": round(rate * 3600.0, 1),
                "belt_equivalent_m_s": round(rate * pitch, 3),
                "mean_pitch_m": round(pitch, 3),
                "latency_p50_s": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
                "latency_p99_s": round(float(np.percentile(lat, 99)), 3) if lat.size else None,
                "latency_max_s": round(float(lat.max()), 3) if lat.size else None,
                "budget_s": budget,
                "over_budget": int((lat > budget).sum()),
            }
