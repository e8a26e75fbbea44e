"""Benchmark the shipped detectors with onnxruntime on CPU: X-ray ms per view, CT s per bag (2 mm voxels).

Run: ``.venv/bin/python benchmarks/bench_detect.py [--bags 5] [--threads 2] [--out out/bench_detect.json]``.
Views/volumes come from the simulator (synthetic data); timings exclude the simulator.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bags", type=int, default=5)
    p.add_argument("--seed", type=int, default=2_000_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="out/bench_detect.json")
    args = p.parse_args()

    from screening.detect import DEFAULT_MODELS, models_dir
    from screening.detect.ct_onnx import CtOnnxDetector
    from screening.detect.xray_onnx import XrayOnnxDetector
    from screening.sim import SimConfig, generate_bag

    xdet = XrayOnnxDetector(models_dir() / DEFAULT_MODELS["xray"], threads=args.threads)
    cdet = CtOnnxDetector(models_dir() / DEFAULT_MODELS["ct"], threads=args.threads)
    xt, ct, shapes = [], [], []
    for seed in range(args.seed, args.seed + args.bags):
        bag = generate_bag(seed, SimConfig(voxel_mm=2.0), modality="both")
        for scan in bag.xray:
            xdet(scan)  # warm-up
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                xdet(scan)
                xt.append(time.perf_counter() - t0)
        if bag.ct is not None:
            shapes.append(list(bag.ct.shape))
            cdet(bag.ct)
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                cdet(bag.ct)
                ct.append(time.perf_counter() - t0)
    res = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "threads": args.threads,
        "xray_ms_per_view": {
            "median": 1000 * float(np.median(xt)),
            "p95": 1000 * float(np.percentile(xt, 95)),
            "n": len(xt),
            "budget": 100,
        },
        "ct_s_per_bag": {
            "median": float(np.median(ct)),
            "p95": float(np.percentile(ct, 95)),
            "n": len(ct),
            "budget": 1.5,
            "volume_shapes": shapes,
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
