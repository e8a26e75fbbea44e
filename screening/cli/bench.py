"""``screening bench``: throughput, verdict latency and lanes per machine, with a baseline in the same run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
Screens a fixed, seeded set of simulated bags (synthetic data) through the real pipeline (DICOS ingest,
detection, decision, JSON/TDR/PNG report) and measures sustained bags/h, the belt-equivalent speed and the
number of 0.3 m/s lanes this machine keeps up with, verdict latency p50/p95/p99 against the 10 s budget,
per-stage times and peak memory, under several worker/thread settings. A torchvision Faster R-CNN
(MobileNetV3-FPN) baseline, trained here on the same simulator (cached), runs on the same bags.

Outputs in OUT: bench.json, bench.md, throughput.png, latency.png.

Examples:
  screening bench --quick                       # smoke test: a few tiny bags, seconds
  screening bench --modality both --bags 50 --out out/bench
  screening bench --device cuda --batch 8 --out /tmp/gpu
"""


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench",
        help="benchmark throughput and latency against the belt, with a baseline",
        description="Benchmark the pipeline against a 0.3 m/s belt and a Faster R-CNN baseline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--modality", choices=("xray", "ct", "both"), default="xray", help="default: xray")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="default: cpu")
    p.add_argument("--bags", type=int, default=None, help="bags per modality (default: 50; --quick: 3)")
    p.add_argument("--out", type=Path, default=Path("out/bench"), help="output folder (default: out/bench)")
    p.add_argument("--seed", type=int, default=10_000, help="first simulator seed (default: 10000)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default 0: one per core)")
    p.add_argument("--threads", type=int, default=1, help="threads per worker (default: 1)")
    p.add_argument("--batch", type=int, default=1, help="bags per detector call on GPU (default: 1)")
    p.add_argument("--quick", action="store_true", help="smoke test: few tiny bags, untrained baseline")
    p.add_argument("--no-baseline", action="store_true", help="skip the Faster R-CNN baseline")
    p.add_argument(
        "--no-train-baseline", action="store_true", help="run the baseline untrained if no cached weights"
    )
    p.add_argument("--no-sweep", action="store_true", help="measure only the default setting")
    p.add_argument(
        "--no-png", action="store_true", help="report stage without the annotated PNG (the lane's default)"
    )
    p.add_argument(
        "--baseline-train-s", type=float, default=300.0, help="baseline training budget, s (default: 300)"
    )
    p.add_argument(
        "--cache-dir", type=Path, default=Path("out/bench_cache"), help="bags/weights cache (out/bench_cache)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    from screening.bench.config import BenchConfig
    from screening.bench.runner import run_bench
    from screening.errors import ScreeningError

    modalities = ("xray", "ct") if args.modality == "both" else (args.modality,)
    try:
        cfg = BenchConfig(
            modalities=modalities,
            device=args.device,
            bags=args.bags if args.bags is not None else (3 if args.quick else 50),
            out=args.out,
            seed=args.seed,
            workers=args.workers,
            threads=args.threads,
            batch=args.batch,
            quick=args.quick,
            baseline=not args.no_baseline,
            train_baseline=not args.no_train_baseline,
            sweep=not args.no_sweep,
            cache_dir=args.cache_dir,
            baseline_train_s=args.baseline_train_s,
            png=not args.no_png,
        )
    except ValueError as exc:
        print(f"screening bench: {exc}", file=sys.stderr)
        return 2
    try:
        doc = run_bench(cfg, log=lambda line: print(line, file=sys.stderr))
    except ScreeningError as exc:
        print(f"screening bench: {exc}", file=sys.stderr)
        return 1
    print((Path(cfg.out) / "bench.md").read_text())
    failed = any(doc[m].get("errors") for m in modalities)
    return 1 if failed else 0
