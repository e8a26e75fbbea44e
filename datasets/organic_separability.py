"""How separable are simulated drugs and banknotes from benign clutter in CT, given perfect segmentation?

An upper bound for any candidate-based CT detector on the simulator's bags (synthetic data): every object is
cut out with the simulator's own label volume (no segmentation error), described by physical features a
security CT can measure (CT number statistics, water-equivalent mass, principal extents, fill, and with
dual-energy CT the low/high attenuation ratio), and a gradient-boosted classifier is trained per class on half
of the bags and scored on the other half (then the halves swap). A threat-free bag alarms for a class when
any of its objects scores above the threshold; the threshold lets ``far / 6`` of the threat-free test bags
alarm (the quality bar's bag budget shared by six classes). If this PD stays below the bar, no classifier
of segmented candidates can meet it on these bags, and the work belongs in the simulator or the sensor.

Run (about 35 minutes on 2 cores; needs scikit-learn, the ``study`` extra, not a pipeline dependency)::

    .venv/bin/pip install -e '.[study]'
    .venv/bin/python datasets/organic_separability.py --bags 1600 --seed 7000000 --out datasets/separability
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

CLASSES = ("drugs", "currency", "firearm", "ammunition", "blade", "wildlife")
FEATURES = (
    "volume_cm3",
    "mass_wet_g",
    "mhu_mean",
    "mhu_sd",
    "mhu_p10",
    "mhu_p50",
    "mhu_p90",
    "len1_mm",
    "len2_mm",
    "len3_mm",
    "fill",
    "surface_share",
)
DUAL_FEATURES = ("ratio_p50", "ratio_p10", "ratio_p90")


def _object_features(vol: np.ndarray, mask: np.ndarray, voxel_mm: float) -> list[float]:
    """Features of one segmented object; ``vol`` is ``(C, Z, Y, X)`` (C = 1 or 2)."""
    from scipy.ndimage import binary_erosion

    v3 = voxel_mm**3 / 1000.0  # cm3
    idx = np.argwhere(mask)
    hi = vol[0][mask]
    n = len(hi)
    pts = idx * voxel_mm
    if n >= 4:
        ev = np.sort(np.linalg.eigvalsh(np.cov(pts.T)))[::-1]
        # a slab of n voxels has variance v^2 (n^2 - 1) / 12 along its axis: invert that for its length
        lens = np.sqrt(np.maximum(ev, 0) * 12.0 + voxel_mm**2)
    else:
        lens = np.full(3, voxel_mm)
    inner = binary_erosion(mask, iterations=1)
    p10, p50, p90 = np.percentile(hi, [10, 50, 90])
    row = [
        n * v3,
        float(hi.sum() / 1000.0 * v3),  # water-equivalent mass: what MHU x volume gives without Zeff
        float(hi.mean()),
        float(hi.std()),
        float(p10),
        float(p50),
        float(p90),
        float(lens[0]),
        float(lens[1]),
        float(lens[2]),
        float(n * voxel_mm**3 / max(np.prod(lens), 1e-6)),
        float(1.0 - inner.sum() / max(n, 1)),
    ]
    if vol.shape[0] == 2:
        lo = vol[1][mask]
        ratio = lo / np.maximum(hi, 50.0)
        row += [float(x) for x in np.percentile(ratio, [50, 10, 90])]
    return row


def _bag_rows(args: tuple[int, float, bool]) -> tuple[int, bool, list[dict]]:
    from screening.scan import CONTRABAND
    from screening.sim.config import SimConfig
    from screening.sim.generate import generate_bag

    seed, threat_fraction, dual = args
    cfg = SimConfig(threat_fraction=threat_fraction, classes=CONTRABAND, ct_dual_energy=dual)
    bag = generate_bag(seed, cfg, modality="ct")
    assert bag.ct is not None and bag.ct_labels is not None
    from scipy.ndimage import find_objects

    vol = np.asarray(bag.ct.array, np.float32)
    boxes = find_objects(bag.ct_labels)
    rows = []
    for obj in bag.objects:
        if obj.index > len(boxes) or boxes[obj.index - 1] is None or str(obj.label) == "shield":
            continue
        sl = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in boxes[obj.index - 1])
        mask = bag.ct_labels[sl] == obj.index
        if mask.sum() < 8:
            continue
        rows.append(
            {
                "seed": seed,
                "label": None if obj.label is None else str(obj.label),
                "name": obj.name,
                "concealment": obj.concealment,
                "x": _object_features(vol[(slice(None), *sl)], mask, cfg.voxel_mm),
            }
        )
    # a bag is threat-free by its ground truth, not by its rows (a threat too small to voxelise has none)
    has_threat = any(o.label is not None and str(o.label) != "shield" for o in bag.objects)
    return seed, has_threat, rows


def _machine() -> str:
    """CPU model and core count (``platform.processor()`` is empty on Linux)."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.machine()} {model}, {os.cpu_count()} cores"


def _threshold(clean_max: np.ndarray, allowed: float) -> float:
    """Lowest threshold that lets at most ``allowed`` of the clean bags score above it."""
    k = int(np.floor(allowed * len(clean_max)))
    s = np.sort(clean_max)[::-1]
    return float(s[k]) if k < len(s) else float("-inf")


def _evaluate(rows: list[dict], threat_bags: set[int], far: float, seed: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from screening.train.metrics import proportion_ci95

    X = np.array([r["x"] for r in rows], np.float64)
    seeds = np.array([r["seed"] for r in rows])
    labels = np.array([r["label"] or "" for r in rows])
    bags = np.unique(seeds)
    half = np.isin(seeds, bags[::2])
    out: dict = {}
    for cls in CLASSES:
        y = labels == cls
        if y.sum() < 10:
            continue
        # negatives: benign objects only (other contraband is another class's business)
        use = y | (labels == "")
        found = 0
        total = 0
        by_name: dict[str, list[int]] = {}
        by_conc: dict[str, list[int]] = {}
        fars = []
        for train in (half, ~half):
            test = ~train
            clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=seed)
            clf.fit(X[train & use], y[train & use])
            score = clf.predict_proba(X[test])[:, 1]
            test_seeds = seeds[test]
            test_labels = labels[test]
            clean = [s for s in np.unique(test_seeds) if s not in threat_bags]
            clean_max = np.array(
                [score[(test_seeds == s) & (test_labels == "")].max(initial=-1.0) for s in clean]
            )
            thr = _threshold(clean_max, far / 6.0)
            fars.append(float((clean_max > thr).mean()))
            hit = score[test_labels == cls] > thr
            found += int(hit.sum())
            total += int(hit.size)
            pos_rows = [r for r, t in zip(rows, test, strict=True) if t and r["label"] == cls]
            for r, h in zip(pos_rows, hit, strict=True):
                by_name.setdefault(r["name"], []).append(int(h))
                by_conc.setdefault(r["concealment"], []).append(int(h))
        out[cls] = {
            "pd": found / max(total, 1),
            "pd_ci95": proportion_ci95(found, total),
            "n": total,
            "class_far_per_half": fars,
            "pd_by_object": {k: [float(np.mean(v)), len(v)] for k, v in sorted(by_name.items())},
            "pd_by_concealment": {k: [float(np.mean(v)), len(v)] for k, v in sorted(by_conc.items())},
        }
    return out


def plot(result: dict, path: Path, shipped: dict | None = None) -> None:
    """PD per class at the budget: single- and dual-energy ceilings, and the shipped model where given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [
        (key.replace("_", "-") + " CT, perfect segmentation", result[key]["per_class"])
        for key in ("single_energy", "dual_energy")
        if key in result
    ]
    if shipped is not None:
        series.append(("shipped CT model (600 test bags, far point)", shipped))
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    width = 0.8 / max(len(series), 1)
    for i, (name, per_class) in enumerate(series):
        pds = [per_class.get(c, {}).get("pd", np.nan) for c in CLASSES]
        lo = [
            p - (per_class.get(c, {}).get("pd_ci95") or (p, p))[0] for c, p in zip(CLASSES, pds, strict=True)
        ]
        hi = [
            (per_class.get(c, {}).get("pd_ci95") or (p, p))[1] - p for c, p in zip(CLASSES, pds, strict=True)
        ]
        xs = np.arange(len(CLASSES)) + (i - (len(series) - 1) / 2) * width
        ax.bar(xs, pds, width, yerr=[lo, hi], capsize=2, label=name)
    ax.axhline(0.95, color="k", ls="--", lw=1, label="quality bar (PD 0.95)")
    ax.set_xticks(np.arange(len(CLASSES)), CLASSES)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"PD at bag FAR {result['bag_far_budget']:.0%} (shared by 6 classes)")
    ax.set_title(f"CT separability on {result['bags']} synthetic bags (simulator labels as segmentation)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _shipped_ct(path: Path) -> dict | None:
    """The shipped CT model's per-class PD at the FAR budget, from its ``screening evaluate`` metrics."""
    try:
        return json.loads(path.read_text())["at_far_budget"]["per_class"]
    except (OSError, KeyError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python datasets/organic_separability.py --bags 1600 --seed 7000000 "
        "--out datasets/separability",
    )
    ap.add_argument("--bags", type=int, default=1600)
    ap.add_argument("--seed", type=int, default=7000000)
    ap.add_argument("--threat-fraction", type=float, default=0.5)
    ap.add_argument("--far", type=float, default=0.05, help="bag FAR budget shared by the six classes")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--plot-only", action="store_true", help="redraw separability.png from OUT/separability.json"
    )
    ap.add_argument(
        "--shipped-metrics",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "models" / "eval" / "ct_test600_far" / "metrics.json",
        help="the shipped CT model's evaluate metrics, drawn beside the ceilings",
    )
    a = ap.parse_args(argv)
    from screening.train.progress import progress_bar

    a.out.mkdir(parents=True, exist_ok=True)
    if a.plot_only:
        plot(
            json.loads((a.out / "separability.json").read_text()),
            a.out / "separability.png",
            _shipped_ct(a.shipped_metrics),
        )
        return 0
    result: dict = {
        "what": "CT object separability with perfect (simulator label) segmentation; synthetic data",
        "bags": a.bags,
        "seeds": [a.seed, a.seed + a.bags - 1],
        "threat_fraction": a.threat_fraction,
        "bag_far_budget": a.far,
        "machine": _machine(),
    }
    for dual in (False, True):
        jobs = [(s, a.threat_fraction, dual) for s in range(a.seed, a.seed + a.bags)]
        rows: list[dict] = []
        threat_bags: set[int] = set()
        with ProcessPoolExecutor(a.workers) as ex, progress_bar(f"CT dual={dual}", len(jobs)) as advance:
            for seed, has_threat, r in ex.map(_bag_rows, jobs, chunksize=4):
                advance()
                rows += r
                if has_threat:
                    threat_bags.add(seed)
        names = FEATURES + (DUAL_FEATURES if dual else ())
        key = "dual_energy" if dual else "single_energy"
        result[key] = {"objects": len(rows), "clean_bags": a.bags - len(threat_bags), "features": list(names)}
        result[key]["per_class"] = _evaluate(rows, threat_bags, a.far, a.seed)
        print(key, json.dumps({k: round(v["pd"], 3) for k, v in result[key]["per_class"].items()}))
    (a.out / "separability.json").write_text(json.dumps(result, indent=2))
    plot(result, a.out / "separability.png", _shipped_ct(a.shipped_metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
