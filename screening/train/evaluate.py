"""Evaluation: run a detector on bags; PD, bag FAR, AP@0.5, confusion, quantities; write metrics.json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from screening.detect.quantities import reconcile_views
from screening.scan import Detection
from screening.train.data import CLASS_NAMES, SimBag
from screening.train.metrics import (
    BagRecord,
    DetRecord,
    ObjRecord,
    average_precision,
    bag_far,
    confusion,
    far_budget_thresholds,
    iou,
    is_hit,
    object_scores,
    proportion_ci95,
)

__all__ = ["collect", "compute_metrics", "write_metrics"]

Detect = Callable[[Any], list[Detection]]


def collect(
    bags: Iterable[SimBag], detector: Detect, modality: str, progress: Callable[[], None] | None = None
) -> tuple[list[BagRecord], list[float]]:
    """Run ``detector`` on every bag's scans of ``modality``.

    Returns:
        ``(records, seconds)``: one :class:`BagRecord` per bag (detections of contraband classes only;
        quantities estimated on matched objects go into ``extra``) and detector seconds per scan.
    """
    records, seconds = [], []
    for bag in bags:
        scans = list(bag.xray) if modality == "xray" else ([bag.ct] if bag.ct is not None else [])
        dets: list[Detection] = []
        for scan in scans:
            t0 = time.perf_counter()
            dets.extend(detector(scan))
            seconds.append(time.perf_counter() - t0)
        dets = reconcile_views(dets)  # as the pipeline does before deciding
        objs = tuple(
            ObjRecord(
                label=str(o.label),
                boxes=dict(o.boxes_2d) if modality == "xray" else ({"": o.box_3d} if o.box_3d else {}),
                concealment=o.concealment,
                mass_g=o.mass_g,
                note_count=o.note_count,
            )
            for o in bag.objects
        )
        drecs = tuple(
            DetRecord(str(d.label), float(d.score), tuple(d.box), d.view)
            for d in dets
            if str(d.label) in CLASS_NAMES
        )
        extra = _quantity_errors(objs, dets)
        records.append(BagRecord(bag_id=str(bag.seed), objects=objs, detections=drecs, extra=extra))
        if progress is not None:
            progress()
    return records, seconds


#: IoU from which a matched box counts as outlining the object (its quantity error is reported apart).
LOCALISED_IOU = 0.5


def _quantity_errors(objs: Sequence[ObjRecord], dets: Sequence[Detection]) -> dict[str, float]:
    """Relative error of the best-matching detection's mass / note count, per object index.

    A "hit" may be part of the object or the object merged with its neighbours; such a box's mass is not
    the object's. Errors of matches with IoU >= :data:`LOCALISED_IOU` are also kept under ``*_loc_*`` keys,
    to tell the estimate's own error from the segmentation's.
    """
    out: dict[str, float] = {}
    for i, o in enumerate(objs):
        if o.label not in ("drugs", "currency"):
            continue
        best, box = None, None
        for d in dets:
            if str(d.label) != o.label:
                continue
            g = o.boxes.get(d.view)
            if g is not None and is_hit(tuple(d.box), g) and (best is None or d.score > best.score):
                best, box = d, g
        if best is None or box is None:
            continue
        loc = iou(tuple(best.box), box) >= LOCALISED_IOU
        err = None
        if o.label == "drugs" and o.mass_g and best.mass_g is not None:
            err, key = (best.mass_g - o.mass_g) / o.mass_g, "mass_rel_err"
        if o.label == "currency" and o.note_count and best.note_count is not None:
            err, key = (best.note_count - o.note_count) / o.note_count, "notes_rel_err"
        if err is not None:
            out[f"{key}_{i}"] = err
            if loc:
                out[f"{key}_loc_{i}"] = err
    return out


def compute_metrics(
    records: Sequence[BagRecord],
    modality: str,
    operating: Mapping[str, float],
    raw_thresholds: Mapping[str, float] | None = None,
    seconds: Sequence[float] = (),
    classes: Sequence[str] = CLASS_NAMES,
) -> dict[str, Any]:
    """The ``metrics.json`` content.

    Args:
        records: from :func:`collect`.
        modality: ``"xray"`` or ``"ct"``.
        operating: score threshold per class at which PD/FAR are reported (0.5 for calibrated detectors).
        raw_thresholds: the model card's raw thresholds (reported as ``threshold``).
        seconds: detector time per scan.
        classes: class names.
    """
    raw = raw_thresholds or operating
    budget = far_budget_thresholds(records, classes, 0.05)
    at_budget: dict[str, Any] = {}
    per_class: dict[str, Any] = {}
    by_conc: dict[str, list[bool]] = {}
    aps = []
    for c in classes:
        s, conc = object_scores(records, c)
        hits = s >= operating[c]
        at_budget[c] = {
            "pd": float((s >= budget[c]).mean()) if s.size else float("nan"),
            "pd_ci95": proportion_ci95(int((s >= budget[c]).sum()), int(s.size)),
            "threshold": budget[c],
        }
        ap = average_precision(records, c)
        if not np.isnan(ap):
            aps.append(ap)
        per_conc: dict[str, Any] = {}
        for k in sorted(set(conc)):
            sel = np.array([x == k for x in conc])
            per_conc[k] = {"pd": float(hits[sel].mean()), "n": int(sel.sum())}
            by_conc.setdefault(k, []).extend(hits[sel].tolist())
        per_class[c] = {
            "pd": float(hits.mean()) if s.size else float("nan"),
            "pd_ci95": proportion_ci95(int(hits.sum()), int(s.size)),
            "ap50": ap,
            "threshold": float(raw.get(c, operating[c])),
            "n": int(s.size),
            "far_this_class": bag_far(records, {c: operating[c]}, [c]),
            "by_concealment": per_conc,
        }

    def errors(prefix: str, localised: bool) -> list[float]:
        return [
            v
            for r in records
            for k, v in r.extra.items()
            if k.startswith(prefix) and (k.startswith(prefix + "_loc_") == localised)
        ]

    mass, notes = errors("mass_rel_err", False), errors("notes_rel_err", False)
    mass_loc, notes_loc = errors("mass_rel_err", True), errors("notes_rel_err", True)
    clean = sum(1 for r in records if not r.objects)
    pds = [v["pd"] for v in per_class.values() if v["n"]]
    far = bag_far(records, operating, classes)
    far_ci = proportion_ci95(round(far * clean), clean) if clean else None  # no clean bags: far is NaN
    return {
        "modality": modality,
        "bags": len(records),
        "threat_free_bags": clean,
        "bag_far": far,
        "bag_far_ci95": far_ci,
        "map50": float(np.mean(aps)) if aps else float("nan"),
        "min_pd": float(min(pds)) if pds else float("nan"),
        "quality_bar": {
            "pd_min": 0.95,
            "far_max": 0.05,
            "met": bool(pds and min(pds) >= 0.95 and far <= 0.05),
            "demonstrated_at_95pct_confidence": _demonstrated(per_class, far_ci),
        },
        "per_class": per_class,
        "at_far_budget": {
            "far_max": 0.05,
            "bag_far": bag_far(records, budget, classes),
            "per_class": at_budget,
            "definition": f"each class's threshold set so that it alone alarms on <= 0.05/{len(classes)} of "
            "the threat-free bags (bag FAR <= 0.05); PD is what the model then finds",
        },
        "per_concealment": {k: {"pd": float(np.mean(v)), "n": len(v)} for k, v in sorted(by_conc.items())},
        "confusion": {
            "rows": [*classes, "background"],
            "cols": [*classes, "missed"],
            "counts": confusion(records, classes, operating).tolist(),
        },
        "quantities": {
            "drug_mass_median_abs_rel_err": _median_abs(mass),
            "drug_mass_n": len(mass),
            "note_count_median_abs_rel_err": _median_abs(notes),
            "note_count_n": len(notes),
            "localised_iou": LOCALISED_IOU,
            "drug_mass_median_abs_rel_err_localised": _median_abs(mass_loc),
            "drug_mass_n_localised": len(mass_loc),
            "note_count_median_abs_rel_err_localised": _median_abs(notes_loc),
            "note_count_n_localised": len(notes_loc),
        },
        "seconds_per_scan": {
            "median": float(np.median(seconds)) if seconds else None,
            "p95": float(np.percentile(seconds, 95)) if seconds else None,
        },
        "pd_definition": "object found (IoU>=0.3 or mutual centre containment, any view) by a same-class "
        "detection at the operating threshold",
        "far_definition": "fraction of threat-free bags with any contraband detection at threshold",
    }


def _median_abs(values: Sequence[float]) -> float | None:
    return float(np.median(np.abs(values))) if values else None


def _demonstrated(per_class: Mapping[str, Any], far_ci: tuple[float, float] | None) -> bool:
    """The bar holds with 95 % confidence: every class's PD interval above 0.95 and the FAR's below 0.05."""
    lows = [v["pd_ci95"][0] for v in per_class.values() if v["pd_ci95"]]
    return bool(lows and min(lows) >= 0.95 and far_ci is not None and far_ci[1] <= 0.05)


def write_metrics(metrics: Mapping[str, Any], records: Sequence[BagRecord], out: str | Path) -> list[Path]:
    """Write ``metrics.json`` and the PNG plots into ``out``; returns the files written."""
    from screening.train.plots import plot_all

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2, default=_nan_none) + "\n")
    return [path, *plot_all(metrics, records, folder)]


def _nan_none(x: Any) -> Any:
    return None if isinstance(x, float) and np.isnan(x) else str(x)


def format_summary(metrics: Mapping[str, Any]) -> str:
    """The human-readable table ``screening evaluate`` prints (and model cards quote)."""
    lines = [
        f"{metrics['modality']}: {metrics['bags']} bags ({metrics['threat_free_bags']} threat-free), "
        f"bag FAR {metrics['bag_far']:.3f} {_ci(metrics.get('bag_far_ci95'))}, "
        f"mAP@0.5 {metrics['map50']:.3f}",
        f"{'class':<11}{'n':>5}{'PD':>8}{'95% CI':>14}{'AP50':>8}{'thr':>8}",
    ]
    for c, v in metrics["per_class"].items():
        lines.append(
            f"{c:<11}{v['n']:>5}{v['pd']:>8.3f}{_ci(v.get('pd_ci95')):>14}{v['ap50']:>8.3f}{v['threshold']:>8.3f}"
        )
    lines.append(
        "PD by concealment: "
        + ", ".join(f"{k} {v['pd']:.3f} (n={v['n']})" for k, v in metrics["per_concealment"].items())
    )
    q = metrics["quantities"]
    if q["drug_mass_n"]:
        lines.append(
            f"drug mass median |rel err| {q['drug_mass_median_abs_rel_err']:.2f} (n={q['drug_mass_n']})"
        )
    if q["note_count_n"]:
        lines.append(
            f"note count median |rel err| {q['note_count_median_abs_rel_err']:.2f} (n={q['note_count_n']})"
        )
    for what, key in (("drug mass", "drug_mass"), ("note count", "note_count")):
        if q.get(f"{key}_n_localised"):
            lines.append(
                f"  {what} where the box outlines the object (IoU >= {q['localised_iou']}): "
                f"{q[f'{key}_median_abs_rel_err_localised']:.2f} (n={q[f'{key}_n_localised']})"
            )
    fb = metrics.get("at_far_budget")
    if fb:
        lines.append(
            f"at bag FAR <= {fb['far_max']:.2f} (measured {fb['bag_far']:.3f}): PD "
            + ", ".join(f"{c} {v['pd']:.2f}" for c, v in fb["per_class"].items())
        )
    bar = metrics["quality_bar"]
    lines.append(f"quality bar (PD>=0.95 every class, FAR<=0.05): {'MET' if bar['met'] else 'NOT MET'}")
    if "demonstrated_at_95pct_confidence" in bar:
        shown = "yes" if bar["demonstrated_at_95pct_confidence"] else "no"
        lines.append(f"  ... shown with 95 % confidence (interval bounds, not point values): {shown}")
    return "\n".join(lines)


def _ci(ci: Sequence[float] | None) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "-"
