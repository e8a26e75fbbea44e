"""``screening simulate``: generate a synthetic dataset (X-ray PNG + COCO, DICOS CT + JSON truth, card)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

EPILOG = """\
Generates N simulated bags (synthetic data) with the physics-based simulator. Bag i uses seed S+i, so
the output is the same whatever --workers is. Outputs in OUT/:
  xray/<bag>_<view>_high.png, _low.png   16-bit transmission pairs; xray/<bag>_<view>.png pseudo-colour
  xray/annotations.json                  COCO (6 contraband categories; mass_g, note_count, concealment...)
  ct/<bag>.dcs, ct/<bag>_labels.npz      DICOS CT (MHU) and the int16 object mask
  truth/<bag>.json                       ground truth of every object + scanner parameters
  dataset_card.md, dataset_card.json     class counts, sizes, seeds, generator version

Example:
  screening simulate --modality both --bags 200 --seed 1000 --out data/sim --workers 2
"""


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate",
        help="generate synthetic X-ray/CT bags with ground truth",
        description="Generate simulated bags (synthetic data) with ground truth.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--modality", choices=("xray", "ct", "both"), default="both", help="what to render (default: both)"
    )
    p.add_argument("--bags", type=int, default=10, help="number of bags (default: 10)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the first bag; bag i uses seed+i (default: 0)"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: CPU count)")
    p.add_argument(
        "--threat-fraction", type=float, default=None, help="fraction of bags with contraband (0.35)"
    )
    p.add_argument(
        "--pixel-mm", type=float, default=None, help="X-ray pixel size at the bag centre, mm (1.0)"
    )
    p.add_argument("--voxel-mm", type=float, default=None, help="CT voxel size, mm (2.0)")
    p.add_argument("--kvp", type=float, default=None, help="nominal tube voltage, kV (140)")
    p.add_argument("--fixed-scanner", action="store_true", help="do not randomise vendor-specific parameters")
    p.add_argument("--dual-energy-ct", action="store_true", help="two CT volumes (high, low) instead of one")
    p.add_argument("--no-ct-artifacts", action="store_true", help="skip metal streaks in CT")
    p.add_argument(
        "--classes", default=None, help="comma-separated contraband classes to draw from (default: all six)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _config(args: argparse.Namespace):
    from screening.scan import CONTRABAND, Label
    from screening.sim import SimConfig

    kw: dict[str, Any] = {}
    for key in ("threat_fraction", "pixel_mm", "voxel_mm", "kvp"):
        if getattr(args, key) is not None:
            kw[key] = getattr(args, key)
    if args.classes:
        names = [c.strip() for c in args.classes.split(",") if c.strip()]
        valid = [str(c) for c in CONTRABAND]
        bad = [n for n in names if n not in valid]
        if bad:
            raise ValueError(f"unknown class(es) {bad}; valid: {', '.join(valid)}")
        kw["classes"] = tuple(Label(n) for n in names)
    kw["randomise_scanner"] = not args.fixed_scanner
    kw["ct_dual_energy"] = bool(args.dual_energy_ct)
    kw["ct_artifacts"] = not args.no_ct_artifacts
    return SimConfig(**kw)


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


def _one(job: tuple[int, Any, str, str]) -> dict[str, Any]:
    from screening.sim import generate_bag
    from screening.sim.export import write_bag

    seed, config, modality, out = job
    bag = generate_bag(seed, config, modality)
    return write_bag(bag, out)


def run(args: argparse.Namespace) -> int:
    from concurrent.futures import ProcessPoolExecutor

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from screening.sim.export import build_coco, write_dataset_card

    if args.bags < 1:
        print("screening simulate: --bags must be >= 1", file=sys.stderr)
        return 2
    if args.seed < 0:
        print("screening simulate: --seed must be >= 0", file=sys.stderr)
        return 2
    try:
        config = _config(args)
    except ValueError as err:
        print(f"screening simulate: {err}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    workers = args.workers or os.cpu_count() or 1
    jobs = [(args.seed + i, config, args.modality, str(out)) for i in range(args.bags)]
    records: list[dict[str, Any]] = [None] * len(jobs)  # type: ignore[list-item]
    t0 = time.perf_counter()
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=args.no_progress, transient=False) as progress:
        task = progress.add_task("bags", total=len(jobs))
        if workers == 1:
            _init_worker()
            for i, job in enumerate(jobs):
                records[i] = _one(job)
                progress.advance(task)
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
                for i, rec in enumerate(pool.map(_one, jobs, chunksize=1)):
                    records[i] = rec
                    progress.advance(task)
    elapsed = time.perf_counter() - t0
    if args.modality in ("xray", "both"):
        coco = build_coco(records, {"seed": args.seed, "bags": args.bags})
        (out / "xray").mkdir(parents=True, exist_ok=True)
        (out / "xray" / "annotations.json").write_text(json.dumps(coco))
    settings = {
        "command": "screening simulate " + " ".join(sys.argv[2:])
        if len(sys.argv) > 2
        else "screening simulate",
        "modality": args.modality,
        "bags": args.bags,
        "seed": args.seed,
        "workers": workers,
        "elapsed_s": round(elapsed, 2),
        "config": {k: ([str(x) for x in v] if k == "classes" else v) for k, v in vars(config).items()},
    }
    card = write_dataset_card(out, records, settings)
    print(json.dumps({"out": str(out), "bags": args.bags, "seconds": round(elapsed, 2), "card": str(card)}))
    return 0
