"""Helpers for the lane tests: tiny synthetic bags, fake detectors, a lane runner."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from screening.audit import AuditStore
from screening.lane.belt import BeltConfig
from screening.lane.fakes import fake_detectors, tiny_bag
from screening.lane.lane import Lane, LaneResult
from screening.lane.scheduler import SchedulerConfig
from screening.lane.sources import SimSource


def run_sim_lane(
    tmp_path: Path,
    count: int,
    *,
    budget_s: float = 10.0,
    workers: int = 2,
    queue_size: int = 4,
    time_scale: float = 100.0,
    belt_speed: float = 0.3,
    kind: str = "process",
    on_verdict: Callable[..., Any] | None = None,
    **fakes: Any,
) -> tuple[LaneResult, AuditStore]:
    """Run a simulated lane of ``count`` tiny bags through fake detectors; returns result and store."""
    store = AuditStore(tmp_path / "audit.sqlite")
    source = SimSource(
        lambda i, bag_id: tiny_bag(bag_id, seed=i),
        count=count,
        belt=BeltConfig(speed_m_s=belt_speed),
        time_scale=time_scale,
        skip=store.has_verdict,
    )
    lane = Lane(
        source,
        functools.partial(fake_detectors, **fakes),
        SchedulerConfig(workers=workers, queue_size=queue_size, kind=kind),
        budget_s=budget_s,
        store=store,
        on_verdict=on_verdict,
    )
    return lane.run(), store


@pytest.fixture
def sim_lane() -> Callable[..., tuple[LaneResult, AuditStore]]:
    return run_sim_lane
