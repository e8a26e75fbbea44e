"""How separable are simulated drugs and banknotes from benign clutter in CT, by how the bag is segmented?

An upper bound for any candidate-based CT detector on the simulator's bags (synthetic data): every object is
cut out with the simulator's own label volume (no segmentation error), described by physical features a
security CT can measure (CT number statistics, water-equivalent mass, principal extents, fill, and with
dual-energy CT the low/high attenuation ratio), and a gradient-boosted classifier is trained per class on half
of the bags and scored on the other half (then the halves swap). A threat-free bag alarms for a class when
any of its objects scores above the threshold; the threshold lets ``far / 6`` of the threat-free test bags
alarm (the quality bar's bag budget shared by six classes). If this PD stays below the bar, no classifier
of segmented candidates can meet it on these bags, and the work belongs in the simulator or the sensor.
``--segmentation candidates`` replaces the labels with the shipped candidate stage, ``voxel`` with the learned
voxel segmentation of ``voxel_segmentation.py``, ``unet`` with the 3-D U-Net of ``unet_segmentation.py``: the
same features and classifier then measure what each segmentation costs.

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
from typing import Any

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
_WHAT = {
    "labels": "perfect (simulator label) segmentation",
    "candidates": "the shipped candidate stage's segmentation",
    "voxel": "a learned voxel segmentation (voxel_segmentation.py)",
    "unet": "a 3-D U-Net segmentation (unet_segmentation.py)",
}
_JSON = {
    "labels": "separability.json",
    "candidates": "candidates.json",
    "voxel": "voxel.json",
    "unet": "unet.json",
}


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


def _bag_rows(args: tuple[int, float, bool, str, str, bool]) -> tuple[int, bool, list[dict], list[dict]]:
    """One bag's rows (objects or candidates, each with the threat objects it finds) and its threats."""
    from scipy.ndimage import find_objects

    from screening.scan import CONTRABAND
    from screening.sim.config import SimConfig
    from screening.sim.generate import generate_bag

    seed, threat_fraction, dual, segmentation, model_path, streaks = args
    cfg = SimConfig(
        threat_fraction=threat_fraction, classes=CONTRABAND, ct_dual_energy=dual, ct_artifacts=streaks
    )
    bag = generate_bag(seed, cfg, modality="ct")
    assert bag.ct is not None and bag.ct_labels is not None
    vol = np.asarray(bag.ct.array, np.float32)
    boxes = find_objects(bag.ct_labels)
    rows: list[dict] = []
    threats: list[dict] = []
    for obj in bag.objects:
        if obj.index > len(boxes) or boxes[obj.index - 1] is None or str(obj.label) == "shield":
            continue
        sl = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in boxes[obj.index - 1])
        mask = bag.ct_labels[sl] == obj.index
        if mask.sum() < 8:
            continue
        meta = {"seed": seed, "name": obj.name, "concealment": obj.concealment}
        if obj.label is not None:
            threats.append({**meta, "index": obj.index, "label": str(obj.label)})
        if segmentation == "labels":
            rows.append(
                {
                    **meta,
                    "label": None if obj.label is None else str(obj.label),
                    "finds": [] if obj.label is None else [obj.index],
                    "x": _object_features(vol[(slice(None), *sl)], mask, cfg.voxel_mm),
                }
            )
    if segmentation == "candidates":
        rows = _candidate_rows(bag, vol, cfg.voxel_mm, seed)
    elif segmentation == "voxel":
        rows = _voxel_rows(bag, vol, cfg.voxel_mm, seed, model_path)
    elif segmentation == "unet":
        rows = _unet_rows(bag, vol, cfg.voxel_mm, seed, model_path)
    # a bag is threat-free by its ground truth, not by its rows (a threat too small to voxelise has none)
    has_threat = any(o.label is not None and str(o.label) != "shield" for o in bag.objects)
    return seed, has_threat, rows, threats


def _candidate_rows(bag: Any, vol: np.ndarray, voxel_mm: float, seed: int) -> list[dict]:
    """The shipped candidate stage's candidates, labelled as the shipped model was trained."""
    from screening.detect.ct_candidates import CandidateParams, find_candidates

    card = json.loads((Path(__file__).resolve().parents[1] / "models" / "ct_candidates.json").read_text())
    params = CandidateParams(**card["extra"]["candidates"])
    spacing = tuple(float(v) for v in bag.ct.spacing_mm)
    cands, _ = find_candidates(vol[0], spacing, params)  # type: ignore[arg-type]
    return _segment_rows(bag, vol, voxel_mm, seed, [(c.box, c.mask) for c in cands])


_VOXEL_MODEL: dict[str, Any] = {}


def _datasets_on_path() -> None:
    """Make the sibling study scripts importable (once per worker, not once per bag)."""
    import sys

    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)


def _worker_init(torch_threads: int) -> None:
    """Share the cores among the workers: each torch process would otherwise take them all."""
    try:
        import torch
    except ImportError:  # the labels/candidates studies do not need it
        return
    torch.set_num_threads(torch_threads)


def _unet_rows(bag: Any, vol: np.ndarray, voxel_mm: float, seed: int, model_path: str) -> list[dict]:
    """Segments of the 3-D U-Net (``unet_segmentation.py``), labelled as candidates are."""
    _datasets_on_path()
    import unet_segmentation

    if model_path not in _VOXEL_MODEL:  # once per worker process
        _VOXEL_MODEL[model_path] = unet_segmentation.load_net(model_path)
    net, params = _VOXEL_MODEL[model_path]
    segments = list(unet_segmentation.segment(vol[0], net, params))
    return _segment_rows(bag, vol, voxel_mm, seed, segments)


def _voxel_rows(bag: Any, vol: np.ndarray, voxel_mm: float, seed: int, model_path: str) -> list[dict]:
    """Segments of the learned voxel segmentation (``voxel_segmentation.py``), labelled as candidates are."""
    import pickle

    _datasets_on_path()
    import voxel_segmentation

    if model_path not in _VOXEL_MODEL:  # once per worker process
        with open(model_path, "rb") as fh:
            _VOXEL_MODEL[model_path] = pickle.load(fh)
    saved = _VOXEL_MODEL[model_path]
    params = voxel_segmentation.SegParams(**saved["params"])
    segments = list(voxel_segmentation.segment(vol[0], saved["model"], params))
    return _segment_rows(bag, vol, voxel_mm, seed, segments)


def _segment_rows(
    bag: Any, vol: np.ndarray, voxel_mm: float, seed: int, segments: list[tuple[tuple[int, ...], np.ndarray]]
) -> list[dict]:
    """Rows of segments ``(box (x0, y0, z0, x1, y1, z1), mask)``: a threat's by its voxels, as in training."""
    from screening.train.ct_labels import IGNORE, LabelRule, label_candidates
    from screening.train.data import CLASS_NAMES, bag_objects
    from screening.train.metrics import is_hit

    if not segments:
        return []
    rule = LabelRule(min_object_share=0.15)  # the shipped model's --ct-min-object-share
    threats = [o for o in bag_objects(bag.objects) if o.box_3d is not None]
    labels = label_candidates(
        [b for b, _ in segments], threats, masks=[m for _, m in segments], ct_labels=bag.ct_labels, rule=rule
    )
    rows = []
    for (box, mask), lab in zip(segments, labels, strict=True):
        x0, y0, z0, x1, y1, z1 = box
        rows.append(
            {
                "seed": seed,
                "name": "",
                "concealment": "",
                "label": "ignore" if lab == IGNORE else (CLASS_NAMES[lab - 1] if lab > 0 else None),
                "finds": [int(o.index) for o in threats if is_hit(box, o.box_3d)],
                "x": _object_features(vol[:, z0:z1, y0:y1, x0:x1], mask, voxel_mm),
            }
        )
    return rows


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


def _evaluate(rows: list[dict], threats: list[dict], threat_bags: set[int], far: float, seed: int) -> dict:
    """Per class PD at the budget, two-fold over bags; a threat is found by any row that finds it."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from screening.train.metrics import proportion_ci95

    X = np.array([r["x"] for r in rows], np.float64)
    seeds = np.array([r["seed"] for r in rows])
    labels = np.array([r["label"] or "" for r in rows])
    bags = np.unique([t["seed"] for t in threats] + list(seeds))
    train_bags = set(bags[::2].tolist())
    out: dict = {}
    for cls in CLASSES:
        y = labels == cls
        if y.sum() < 10:
            continue
        # negatives: benign rows only (other contraband is another class's business)
        use = y | (labels == "")
        found = 0
        total = 0
        reachable = 0  # threats some row finds at all: the segmentation's recall
        by_name: dict[str, list[int]] = {}
        by_conc: dict[str, list[int]] = {}
        fars = []
        for fold in (True, False):
            train = np.array([(s in train_bags) == fold for s in seeds])
            clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=seed)
            clf.fit(X[train & use], y[train & use])
            score = np.full(len(rows), -1.0)
            score[~train] = clf.predict_proba(X[~train])[:, 1]
            best: dict[tuple[int, int], float] = {}
            clean_max: dict[int, float] = {}
            for i in np.flatnonzero(~train):
                r = rows[i]
                for index in r["finds"]:
                    key = (r["seed"], index)
                    best[key] = max(best.get(key, -1.0), score[i])
                if r["seed"] not in threat_bags and not r["label"]:
                    clean_max[r["seed"]] = max(clean_max.get(r["seed"], -1.0), score[i])
            clean = [s for s in bags if s not in threat_bags and (s in train_bags) != fold]
            cm = np.array([clean_max.get(s, -1.0) for s in clean])
            thr = _threshold(cm, far / 6.0)
            fars.append(float((cm > thr).mean()))
            for t in threats:
                if t["label"] != cls or (t["seed"] in train_bags) == fold:
                    continue
                h = int(best.get((t["seed"], t["index"]), -1.0) > thr)
                reachable += int((t["seed"], t["index"]) in best)
                found += h
                total += 1
                by_name.setdefault(t["name"], []).append(h)
                by_conc.setdefault(t["concealment"], []).append(h)
        out[cls] = {
            "pd": found / max(total, 1),
            "pd_ci95": proportion_ci95(found, total),
            "n": total,
            "segmentation_recall": reachable / max(total, 1),
            "class_far_per_half": fars,
            "pd_by_object": {k: [float(np.mean(v)), len(v)] for k, v in sorted(by_name.items())},
            "pd_by_concealment": {k: [float(np.mean(v)), len(v)] for k, v in sorted(by_conc.items())},
        }
    return out


def plot(results: dict, path: Path, shipped: dict | None = None) -> None:
    """PD per class at the budget for each study in ``results`` (by segmentation), and the shipped model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    what = {
        "labels": "perfect segmentation",
        "candidates": "shipped candidates + boosting",
        "voxel": "learned voxel segmentation + boosting",
        "unet": "3-D U-Net segmentation + boosting",
    }
    series = [
        (
            f"{key.split('_')[0]}-energy CT, {what[seg.split('_')[0]]}"
            + (", no metal streaks" if seg.endswith("_nostreaks") else ""),
            result[key]["per_class"],
        )
        for seg, result in results.items()
        for key in ("single_energy", "dual_energy")
        if key in result
    ]
    if shipped is not None:
        series.append(("shipped CT model (--shipped-metrics: its at_far_budget PD)", shipped))
    first = next(iter(results.values()))
    result = {"bags": max(r["bags"] for r in results.values()), "bag_far_budget": first["bag_far_budget"]}
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
    ax.set_title(
        f"CT separability on up to {result['bags']} synthetic bags (threshold from threat-free bags)"
    )
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
        "--segmentation",
        choices=tuple(_JSON),
        default="labels",
        help="labels: the simulator's label volume (the ceiling); candidates: the shipped candidate stage; "
        "voxel: the learned segmentation in --voxel-model; unet: the 3-D U-Net in --unet-model",
    )
    ap.add_argument("--voxel-model", type=Path, help="voxel_model.pkl from datasets/voxel_segmentation.py")
    ap.add_argument("--unet-model", type=Path, help="unet.pt from datasets/unet_segmentation.py")
    ap.add_argument("--energies", default="single,dual", help="comma list of single, dual")
    ap.add_argument(
        "--no-streaks",
        action="store_true",
        help="simulate CT without metal streaks (as after metal artefact reduction); writes *_nostreaks.json",
    )
    ap.add_argument(
        "--plot-only", action="store_true", help="redraw OUT/separability.png from the JSON there"
    )
    ap.add_argument(
        "--shipped-metrics",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "models" / "eval" / "ct_test600_far" / "metrics.json",
        help="the shipped CT model's evaluate metrics, drawn beside the ceilings",
    )
    a = ap.parse_args(argv)
    if a.segmentation == "voxel" and (a.voxel_model is None or not a.voxel_model.is_file()):
        ap.error(f"--segmentation voxel needs --voxel-model FILE; got {a.voxel_model}")
    if a.segmentation == "unet" and (a.unet_model is None or not a.unet_model.is_file()):
        ap.error(f"--segmentation unet needs --unet-model FILE; got {a.unet_model}")
    model_path = str(a.unet_model if a.segmentation == "unet" else a.voxel_model)
    from screening.train.progress import progress_bar

    a.out.mkdir(parents=True, exist_ok=True)
    if a.plot_only:
        _plot_dir(a.out, a.shipped_metrics)
        return 0
    result: dict = {
        "what": f"CT object separability, {_WHAT[a.segmentation]}; synthetic data",
        "bags": a.bags,
        "seeds": [a.seed, a.seed + a.bags - 1],
        "threat_fraction": a.threat_fraction,
        "bag_far_budget": a.far,
        "machine": _machine(),
    }
    from screening.sim.generate import GENERATOR_VERSION

    result["generator_version"] = GENERATOR_VERSION
    result["metal_streaks"] = not a.no_streaks
    if a.segmentation in ("voxel", "unet"):
        result[f"{a.segmentation}_model"] = model_path
    result["segmentation"] = a.segmentation
    for dual in [e == "dual" for e in a.energies.split(",")]:
        jobs = [
            (s, a.threat_fraction, dual, a.segmentation, model_path, not a.no_streaks)
            for s in range(a.seed, a.seed + a.bags)
        ]
        rows: list[dict] = []
        threats: list[dict] = []
        threat_bags: set[int] = set()
        threads = max(1, (os.cpu_count() or 1) // a.workers)
        pool = ProcessPoolExecutor(a.workers, initializer=_worker_init, initargs=(threads,))
        with pool as ex, progress_bar(f"CT dual={dual}", len(jobs)) as advance:
            for seed, has_threat, r, t in ex.map(_bag_rows, jobs, chunksize=4):
                advance()
                rows += r
                threats += t
                if has_threat:
                    threat_bags.add(seed)
        names = FEATURES + (DUAL_FEATURES if dual else ())
        key = "dual_energy" if dual else "single_energy"
        result[key] = {
            "rows": len(rows),
            "threats": len(threats),
            "clean_bags": a.bags - len(threat_bags),
            "features": list(names),
        }
        result[key]["per_class"] = _evaluate(rows, threats, threat_bags, a.far, a.seed)
        print(key, json.dumps({k: round(v["pd"], 3) for k, v in result[key]["per_class"].items()}))
    name = _JSON[a.segmentation].replace(".json", "_nostreaks.json" if a.no_streaks else ".json")
    (a.out / name).write_text(json.dumps(result, indent=2))
    _plot_dir(a.out, a.shipped_metrics)
    return 0


def _plot_dir(out: Path, shipped_metrics: Path) -> None:
    """``separability.png`` from whichever studies ``out`` holds."""
    files = dict(_JSON)
    files.update({f"{seg}_nostreaks": f.replace(".json", "_nostreaks.json") for seg, f in _JSON.items()})
    results = {seg: json.loads((out / f).read_text()) for seg, f in files.items() if (out / f).exists()}
    if not results:
        print(f"no study results in {out}: nothing to plot")
        return
    plot(results, out / "separability.png", _shipped_ct(shipped_metrics))


if __name__ == "__main__":
    raise SystemExit(main())
