"""Belt arithmetic: lanes, belt-equivalent speed, queueing latency and percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from screening.bench.belt import (
    BeltModel,
    belt_equivalent_mps,
    default_belt,
    lanes_sustained,
    percentiles,
    queue_latencies,
)


def test_lanes_and_belt_equivalent() -> None:
    belt = BeltModel(speed_mps=0.3, pitch_m=1.2)
    assert belt.bags_per_s_per_lane == pytest.approx(0.25)
    assert belt.arrival_interval_s == pytest.approx(4.0)
    # 5 bags/s at 1.2 m per bag = 6 m/s of belt = 20 lanes of 0.3 m/s
    assert belt_equivalent_mps(5.0, 1.2) == pytest.approx(6.0)
    assert lanes_sustained(5.0, belt) == pytest.approx(20.0)


def test_default_belt_reads_lane_gap() -> None:
    from screening.lane.belt import BeltConfig

    belt = default_belt(0.7)
    assert belt.speed_mps == BeltConfig().speed_m_s
    assert belt.pitch_m == pytest.approx(0.7 + BeltConfig().gap_m)
    assert belt.deadline_s == 10.0
    assert "lane" in belt.source


def test_queue_latency_without_queueing_is_service_time() -> None:
    service = [0.1, 0.2, 0.3]
    np.testing.assert_allclose(queue_latencies(service, interval_s=1.0), service)


def test_queue_latency_builds_up_when_overloaded() -> None:
    # arrivals every 0.5 s, 1 s each on one server: bag i waits 0.5 * i
    lat = queue_latencies([1.0] * 4, interval_s=0.5, servers=1)
    np.testing.assert_allclose(lat, [1.0, 1.5, 2.0, 2.5])
    # two servers keep up exactly
    np.testing.assert_allclose(queue_latencies([1.0] * 4, interval_s=0.5, servers=2), [1.0] * 4)


def test_queue_latency_counts_until_verdict_but_occupies_worker_until_done() -> None:
    # verdict after 0.2 s, worker busy 1 s (outputs), arrivals every 0.5 s, one worker
    lat = queue_latencies([1.0] * 3, interval_s=0.5, servers=1, verdict_s=[0.2] * 3)
    np.testing.assert_allclose(lat, [0.2, 0.7, 1.2])
    with pytest.raises(ValueError, match="verdict_s"):
        queue_latencies([1.0], interval_s=1.0, verdict_s=[0.1, 0.2])


def test_queue_latency_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="servers"):
        queue_latencies([1.0], interval_s=1.0, servers=0)
    with pytest.raises(ValueError, match="interval_s"):
        queue_latencies([1.0], interval_s=-1.0)


def test_percentiles() -> None:
    p = percentiles(np.arange(1, 101, dtype=float))
    assert p["p50"] == pytest.approx(50.5)
    assert p["p99"] == pytest.approx(99.01)
    assert p["max"] == 100.0
    assert all(math.isnan(v) for v in percentiles([]).values())
