"""Train (and cache) the torchvision Faster R-CNN baseline for ``screening bench`` on simulated bags.

Seeded and CPU-only; the weights (~75 MB, too large to commit) go to ``out/bench_cache/baseline/`` with a
JSON card beside them, where ``screening bench`` finds them. The bench trains them itself when missing;
this script only lets you do it ahead of time or with another budget.

Example:
    .venv/bin/python benchmarks/train_baseline.py --modality xray --bags 60 --budget-s 300
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modality", choices=("xray", "ct"), default="xray")
    p.add_argument("--bags", type=int, default=60, help="simulated training bags (seeds 0..N-1)")
    p.add_argument("--budget-s", type=float, default=300.0, help="training wall-clock budget, seconds")
    p.add_argument("--cache-dir", type=Path, default=Path("out/bench_cache"))
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = p.parse_args(argv)

    from screening.bench.bagset import sim_source
    from screening.bench.baseline import baseline_weights_path, train_baseline

    out = baseline_weights_path(args.cache_dir, args.modality)
    res = train_baseline(
        args.modality,
        out,
        sim_source(args.modality, 2.0, quick=False),
        seed=0,
        train_bags=args.bags,
        budget_s=args.budget_s,
        threads=args.threads,
        log=lambda line: print(line, flush=True),
    )
    print(res.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
