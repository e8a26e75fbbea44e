"""Benchmark the simulator: X-ray and CT bags/s (1 and N worker processes) against a naive baseline.

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--bags 12] [--ct-bags 4] [--workers 2]``.
Records the numbers with the machine (CPU model, cores, load) in ``benchmarks/results/bench_simulate.json``.
X-ray is also timed with each bag written as ``screening simulate`` writes it (16-bit PNG pairs,
pseudo-colour PNGs, truth JSON; ``xray.with_write``), since the command pays for both.

Baseline (same process, same bags): the straightforward renderer — full per-ray chord evaluation
(every pixel gets its own origin/direction, float64) and a monochromatic Beer–Lambert at the mean
energy of each channel — against our separable float32 chords + polychromatic 10-bin sum.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _one(job: tuple[int, str, str | None]) -> tuple[float, float]:
    from screening.sim import generate_bag
    from screening.sim.export import write_bag

    seed, modality, out = job
    t0, c0 = time.perf_counter(), time.process_time()
    bag = generate_bag(seed, modality=modality)
    if out is not None:
        write_bag(bag, out)
    return time.perf_counter() - t0, time.process_time() - c0


def _rate(
    seeds: list[int], modality: str, workers: int, out: str | None = None
) -> tuple[float, float, float]:
    """(bags/s, median wall s per bag, median CPU s per bag) for ``seeds`` after warm-up bags.

    With ``out`` each bag is also written there (:func:`screening.sim.export.write_bag`).
    """
    jobs = [(s, modality, out) for s in seeds]
    if workers == 1:
        _one((10**9, modality, out))  # warm caches (spekpy, xraydb, torch import)
        t0 = time.perf_counter()
        per = [_one(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_one, [(10**9 + i, modality, out) for i in range(workers)]))  # warm every worker
            t0 = time.perf_counter()
            per = list(pool.map(_one, jobs))
    wall = time.perf_counter() - t0
    return len(jobs) / wall, float(np.median([p[0] for p in per])), float(np.median([p[1] for p in per]))


def _naive_view(objs, geom, scanner) -> np.ndarray:
    """Baseline: per-pixel rays, general chord, monochromatic at each channel's mean energy."""
    from screening.physics.materials import linear_attenuation
    from screening.physics.spectra import dual_energy_response

    resp = dual_energy_response(*scanner.detector_key())
    h, w = geom.shape
    o1, d1 = geom.rays(0, h, 0, w)
    origin = np.broadcast_to(o1[None, :, :], (h, w, 3))
    direction = np.broadcast_to(d1[:, None, :], (h, w, 3))
    mu_line = {"high": np.zeros((h, w)), "low": np.zeros((h, w))}
    for obj in objs:
        for prim in obj.parts:
            chord = prim.chord(origin, direction) * prim.scale
            for ch, e in (("high", resp.mean_high_kev), ("low", resp.mean_low_kev)):
                mu_line[ch] += chord * linear_attenuation(prim.material, [e])[0]
    return np.stack([np.exp(-np.maximum(mu_line["high"], 0)), np.exp(-np.maximum(mu_line["low"], 0))])


def _baseline_ratio(seeds: list[int]) -> dict[str, float]:
    from screening.sim import SimConfig
    from screening.sim.config import sample_scanner
    from screening.sim.generate import _choose_threats, _yaw_objects
    from screening.sim.packing import pack_bag
    from screening.sim.xray import path_lengths, render_view, view_geometry

    cfg = SimConfig()
    t_fast = t_naive = 0.0
    for seed in seeds:
        s_content, s_scanner, _, _ = np.random.SeedSequence(seed).spawn(4)
        rng = np.random.default_rng(s_content)
        packed = pack_bag(rng, cfg, _choose_threats(rng, cfg))
        scanner = sample_scanner(np.random.default_rng(s_scanner), cfg)
        objs, size = _yaw_objects(packed.objects, packed.size, 0.0)
        for view in cfg.views:
            geom = view_geometry(view, size, scanner)
            t0 = time.perf_counter()
            render_view(path_lengths(objs, geom, np.random.default_rng(0)), scanner, np.random.default_rng(0))
            t_fast += time.perf_counter() - t0
            t0 = time.perf_counter()
            _naive_view(objs, geom, scanner)
            t_naive += time.perf_counter() - t0
    return {
        "render_s_per_bag": t_fast / len(seeds),
        "baseline_s_per_bag": t_naive / len(seeds),
        "speedup": t_naive / max(t_fast, 1e-9),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bags", type=int, default=12, help="X-ray bags per measurement")
    p.add_argument("--ct-bags", type=int, default=4, help="CT bags per measurement")
    p.add_argument("--baseline-bags", type=int, default=2, help="bags for the naive-baseline comparison")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=5_000_000)
    p.add_argument("--out", default="benchmarks/results/bench_simulate.json")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    seeds = list(range(args.seed, args.seed + args.bags))
    ct_seeds = list(range(args.seed, args.seed + args.ct_bags))
    res: dict = {}
    load0 = os.getloadavg()[0]
    x1, x1_med, x_cpu = _rate(seeds, "xray", 1)
    xn, _, _ = _rate(seeds, "xray", args.workers)
    with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
        xw1, xw1_med, xw_cpu = _rate(seeds, "xray", 1, tmp)
    c1, c1_med, c_cpu = _rate(ct_seeds, "ct", 1)
    cn, _, _ = _rate(ct_seeds, "ct", args.workers)
    cores = os.cpu_count() or 1
    base = _baseline_ratio(seeds[: args.baseline_bags])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    res = {
        "benchmark": "bench_simulate",
        "what": "generate_bag, default SimConfig (~1 mm pixels, 2 views x 2 energies; CT 2 mm voxels)",
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_1m_at_start": round(load0, 2),
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "note": "wall-clock rates include other load on the machine; cpu_s_per_bag (1 worker, process time) "
        "gives idle_machine_estimate = cores / cpu_s_per_bag",
        "commit": commit,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "xray": {
            "bags": len(seeds),
            "bags_per_s_1_worker": round(x1, 3),
            "median_s_per_bag": round(x1_med, 3),
            "cpu_s_per_bag": round(x_cpu, 3),
            "idle_machine_estimate_bags_per_s": round(cores / x_cpu, 2),
            f"bags_per_s_{args.workers}_workers": round(xn, 3),
            "target_bags_per_s": 5.0,
            "with_write": {
                "what": "generate_bag + write_bag (PNG pairs, pseudo-colour PNGs, truth JSON), 1 worker",
                "bags_per_s_1_worker": round(xw1, 3),
                "median_s_per_bag": round(xw1_med, 3),
                "cpu_s_per_bag": round(xw_cpu, 3),
                "idle_machine_estimate_bags_per_s": round(cores / xw_cpu, 2),
            },
        },
        "ct": {
            "bags": len(ct_seeds),
            "bags_per_s_1_worker": round(c1, 3),
            "median_s_per_bag": round(c1_med, 3),
            "cpu_s_per_bag": round(c_cpu, 3),
            "idle_machine_estimate_bags_per_s": round(cores / c_cpu, 2),
            f"bags_per_s_{args.workers}_workers": round(cn, 3),
            "target_bags_per_s": 1.0,
        },
        "baseline_xray_render": {k: round(v, 3) for k, v in base.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    m = res["machine"]
    load1 = m["loadavg_1m_at_end"]
    print(f"machine: {m['cpu']} ({m['cores']} cores, 1-min load {load0:.1f} at start, {load1} at end)")
    print(
        f"xray: {x1:.2f} bags/s (1 worker), {xn:.2f} bags/s ({args.workers} workers); target 5; "
        f"{x_cpu:.3f} CPU s/bag -> ~{cores / x_cpu:.1f} bags/s on {cores} idle cores"
    )
    print(
        f"xray with PNG/JSON writing: {xw1:.2f} bags/s (1 worker); "
        f"{xw_cpu:.3f} CPU s/bag -> ~{cores / xw_cpu:.1f} bags/s on {cores} idle cores"
    )
    print(
        f"ct:   {c1:.2f} bags/s (1 worker), {cn:.2f} bags/s ({args.workers} workers); target 1; "
        f"{c_cpu:.3f} CPU s/bag -> ~{cores / c_cpu:.1f} bags/s on {cores} idle cores"
    )
    print(
        f"xray render vs naive per-ray monochromatic baseline: {base['speedup']:.1f}x faster "
        f"({base['render_s_per_bag']:.3f} s vs {base['baseline_s_per_bag']:.3f} s per bag)"
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
