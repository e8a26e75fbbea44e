"""Measure the lane: bags/h and verdict latency against the budget, with simulated bags generated beforehand.

The simulator is slower than the belt on a small machine (seconds per bag), so ``screening run`` on the
simulated belt is limited by bag generation. This tool generates the bags first (in parallel processes),
then streams them through the belt model and the real scheduler with the default detectors, in real time:

    python -m screening.lane.measure --bags 30 --belt-speed 0.3      # latency at belt speed
    python -m screening.lane.measure --bags 30 --belt-speed 3        # saturate: capacity in bags/h

It prints and returns the run summary (``bags_per_hour``, ``latency_p50_s``, ``latency_p99_s``...).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["measure"]


def _make(index: int, seed: int, modality: str) -> list[Any]:
    from screening.lane.sources import sim_bag_maker

    return sim_bag_maker(seed, modality)(index, f"m-{index:06d}")


def measure(
    bags: int = 30,
    belt_speed: float = 0.3,
    modality: str = "xray",
    workers: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    gen_procs: int = 2,
) -> dict[str, Any]:
    """Generate ``bags`` simulated bags, then run them through the lane in real time; return the summary."""
    from screening.detect import default_detectors
    from screening.lane.belt import BeltConfig
    from screening.lane.lane import Lane
    from screening.lane.scheduler import SchedulerConfig, default_workers
    from screening.lane.sources import SimSource

    with ProcessPoolExecutor(gen_procs) as pool:
        cached = list(pool.map(functools.partial(_make, seed=seed, modality=modality), range(bags)))
    n = workers or default_workers(device)
    source = SimSource(
        lambda i, bag_id: [s.replace(bag_id=bag_id) for s in cached[i]],
        count=bags,
        belt=BeltConfig(speed_m_s=belt_speed),
        prefetch=4,
    )
    lane = Lane(
        source,
        functools.partial(default_detectors, device),
        SchedulerConfig(workers=n, queue_size=2 * n),
    )
    summary = lane.run().summary
    summary["sim_scanner_late"] = source.scanner_late
    summary["setup"] = {"bags": bags, "belt_speed_m_s": belt_speed, "modality": modality, "workers": n}
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bags", type=int, default=30)
    p.add_argument("--belt-speed", type=float, default=0.3)
    p.add_argument("--modality", choices=("xray", "ct", "both"), default="xray")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = p.parse_args(argv)
    summary = measure(args.bags, args.belt_speed, args.modality, args.workers, args.device)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
