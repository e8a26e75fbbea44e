"""Screening metrics (numpy): matching, per-class PD, bag FAR, thresholds for a PD, AP@0.5, confusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BagRecord",
    "DetRecord",
    "ObjRecord",
    "average_precision",
    "bag_far",
    "choose_thresholds",
    "confusion",
    "far_budget_thresholds",
    "froc_points",
    "held_out_far_bound",
    "iou",
    "is_hit",
    "object_scores",
    "proportion_ci95",
]


@dataclass(frozen=True)
class DetRecord:
    """One detection: class name, raw score, box (2-D xyxy or 3-D xyzxyz) and view (``""`` for CT)."""

    label: str
    score: float
    box: tuple[float, ...]
    view: str = ""


@dataclass(frozen=True)
class ObjRecord:
    """One ground-truth object: class, boxes per view (``""`` for CT), concealment, true quantities."""

    label: str
    boxes: Mapping[str, tuple[float, ...]]
    concealment: str = "none"
    mass_g: float | None = None
    note_count: int | None = None


@dataclass(frozen=True)
class BagRecord:
    """Everything scored about one bag."""

    bag_id: str
    objects: tuple[ObjRecord, ...]
    detections: tuple[DetRecord, ...]
    extra: Mapping[str, float] = field(default_factory=dict)


def proportion_ci95(successes: int, trials: int) -> tuple[float, float] | None:
    """Exact (Clopper-Pearson) 95 % interval of a proportion, as detection certifications quote; ``None``
    for no trials.

    With few objects a PD says little: 3 of 3 found is anywhere from 0.29 to 1.0.
    """
    if trials <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two axis-aligned boxes (2-D ``xyxy`` or 3-D ``xyzxyz``)."""
    d = len(a) // 2
    inter, va, vb = 1.0, 1.0, 1.0
    for k in range(d):
        lo, hi = max(a[k], b[k]), min(a[k + d], b[k + d])
        inter *= max(0.0, hi - lo)
        va *= max(0.0, a[k + d] - a[k])
        vb *= max(0.0, b[k + d] - b[k])
    union = va + vb - inter
    return inter / union if union > 0 else 0.0


def _centre_in(box: Sequence[float], other: Sequence[float]) -> bool:
    d = len(box) // 2
    return all(box[k] <= (other[k] + other[k + d]) / 2 <= box[k + d] for k in range(d))


def _volume(b: Sequence[float]) -> float:
    d = len(b) // 2
    return float(np.prod([max(0.0, b[k + d] - b[k]) for k in range(d)]))


def _intersection(a: Sequence[float], b: Sequence[float]) -> float:
    d = len(a) // 2
    return float(np.prod([max(0.0, min(a[k + d], b[k + d]) - max(a[k], b[k])) for k in range(d)]))


def is_hit(det_box: Sequence[float], gt_box: Sequence[float], min_iou: float = 0.3) -> bool:
    """A detection localises an object.

    True when IoU >= ``min_iou``; or each box holds the other's centre; or the detection is a part of the
    object (>= 60 % of it inside the object's box, covering >= 15 % of the object), as when a CT candidate
    is a pistol's slide only.
    """
    if iou(det_box, gt_box) >= min_iou:
        return True
    if _centre_in(gt_box, det_box) and _centre_in(det_box, gt_box):
        return True
    inter, vd, vg = _intersection(det_box, gt_box), _volume(det_box), _volume(gt_box)
    return vd > 0 and vg > 0 and inter >= 0.6 * vd and inter >= 0.15 * vg


def object_scores(bags: Sequence[BagRecord], label: str) -> tuple[np.ndarray, list[str]]:
    """Best same-class score localising each ``label`` object (any view); 0 if none. Also concealments."""
    scores, conc = [], []
    for bag in bags:
        for obj in bag.objects:
            if obj.label != label:
                continue
            best = 0.0
            for det in bag.detections:
                if det.label != label:
                    continue
                gt = obj.boxes.get(det.view)
                if gt is not None and is_hit(det.box, gt):
                    best = max(best, det.score)
            scores.append(best)
            conc.append(obj.concealment)
    return np.asarray(scores, dtype=np.float64), conc


def choose_thresholds(
    bags: Sequence[BagRecord], classes: Sequence[str], target_pd: float, floor: float = 0.05
) -> dict[str, float]:
    """Per class, the highest score threshold whose PD on ``bags`` is at least ``target_pd``.

    Objects no detection reaches (score below ``floor``, the lowest reported score) cannot be found at
    any threshold; when they make the target unreachable, the threshold is the one reaching the highest
    achievable PD (not ``floor``, which would alarm on nearly every bag). No objects: ``floor``.
    """
    out = {}
    for c in classes:
        s, _ = object_scores(bags, c)
        reachable = np.sort(s[s >= floor])[::-1]
        if reachable.size == 0:
            out[c] = floor
            continue
        k = int(np.ceil(target_pd * s.size))
        t = float(reachable[min(k, reachable.size) - 1])
        out[c] = max(floor, t - 1e-6)
    return out


def bag_far(
    bags: Sequence[BagRecord], thresholds: Mapping[str, float], classes: Sequence[str] | None = None
) -> float:
    """Fraction of threat-free bags with any detection (of ``classes``) at or above its class threshold."""
    clean = [b for b in bags if not b.objects]
    if not clean:
        return float("nan")
    cls = set(classes) if classes is not None else set(thresholds)
    alarms = sum(
        any(d.label in cls and d.score >= thresholds.get(d.label, 1.1) for d in b.detections) for b in clean
    )
    return alarms / len(clean)


def far_budget_thresholds(
    bags: Sequence[BagRecord], classes: Sequence[str], far_max: float = 0.05, *, held_out: bool = False
) -> dict[str, float]:
    """Per class, the lowest threshold at which that class alone alarms on at most ``far_max / len(classes)``
    of the threat-free bags, so that the bag FAR over all classes is at most ``far_max`` (union bound).

    The counterpart of :func:`choose_thresholds`: it fixes the false-alarm budget the quality bar allows and
    lets the PD fall where it falls, so a report can state the PD a lane would get at that FAR.

    ``held_out=False`` is the in-sample statement about *these* bags (a test report). ``held_out=True`` is for
    thresholds that will be used on *other* bags: with ``N`` clean validation bags, a threshold just above the
    ``(k+1)``-th highest clean score is exceeded by a new clean bag with probability at most ``(k+1)/(N+1)``
    (the split-conformal bound), so ``k`` is the largest count with ``(k+1)/(N+1) <= budget``. Letting
    ``floor(budget * N)`` clean bags alarm instead (the in-sample rule) let 9-13 % of clean test bags alarm
    where validation promised 5 %. With too few clean bags for even ``k = 0``, the threshold sits just above
    the highest clean score; see :func:`held_out_far_bound` for what that then promises.
    No threat-free bags: every threshold is 1.0 (nothing can be said about false alarms).
    """
    budget = far_max / max(1, len(classes))
    clean = [b for b in bags if not b.objects]
    in_sample = int(np.floor(budget * len(clean) + 1e-9))
    k = _held_out_rank(budget, len(clean)) if held_out else in_sample
    out: dict[str, float] = {}
    for c in classes:
        if not clean:
            out[c] = 1.0
            continue
        # the highest same-class score per clean bag, descending: a threshold just above the (k+1)-th
        # highest lets at most k clean bags alarm
        top = -np.sort([-max((d.score for d in b.detections if d.label == c), default=0.0) for b in clean])
        t = float(np.nextafter(top[k], np.inf)) if k < len(top) else 0.0
        out[c] = min(1.0, max(t, 1e-6))
    return out


def held_out_far_bound(n_clean: int, n_classes: int, far_max: float = 0.05) -> float:
    """The bag FAR that held-out :func:`far_budget_thresholds` promise on new bags (union over classes).

    At most ``far_max`` once there are enough clean validation bags (``n_classes / far_max - 1``: 119 for six
    classes at 5 %); with fewer, ``n_classes / (n_clean + 1)``.
    """
    k = _held_out_rank(far_max / max(1, n_classes), n_clean)
    return min(1.0, n_classes * (k + 1) / (n_clean + 1))


def _held_out_rank(budget: float, n_clean: int) -> int:
    """Largest ``k >= 0`` with ``(k+1)/(n_clean+1) <= budget`` (0 when even ``k = 0`` exceeds it)."""
    return max(0, int(np.floor(budget * (n_clean + 1) + 1e-9)) - 1)


def froc_points(
    bags: Sequence[BagRecord], label: str, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each threshold in ``grid``: PD, bag FAR (this class alone) and false positives per bag."""
    s, _ = object_scores(bags, label)
    pd = np.array([(s >= t).mean() if s.size else np.nan for t in grid])
    far = np.array([bag_far(bags, {label: t}, [label]) for t in grid])
    fps = np.zeros(len(grid))
    for bag in bags:
        for det in bag.detections:
            if det.label != label:
                continue
            hit = any(
                o.label == label and det.view in o.boxes and is_hit(det.box, o.boxes[det.view])
                for o in bag.objects
            )
            if not hit:
                fps += det.score >= grid
    return pd, far, fps / max(1, len(bags))


def average_precision(bags: Sequence[BagRecord], label: str, min_iou: float = 0.5) -> float:
    """COCO-style (101-point interpolated) AP for one class at IoU ``min_iou``; per view for X-ray.

    Greedy matching by decreasing score, one detection per ground-truth box, as pycocotools does
    (``tests/train`` checks the two agree on 2-D data). ``nan`` when the class has no ground truth.
    """
    dets: list[tuple[float, int, str, tuple[float, ...]]] = []
    gts: dict[tuple[int, str], list[tuple[float, ...]]] = {}
    for i, bag in enumerate(bags):
        for o in bag.objects:
            if o.label == label:
                for view, box in o.boxes.items():
                    gts.setdefault((i, view), []).append(box)
        for d in bag.detections:
            if d.label == label:
                dets.append((d.score, i, d.view, d.box))
    n_gt = sum(len(v) for v in gts.values())
    if n_gt == 0:
        return float("nan")
    dets.sort(key=lambda x: -x[0])
    used = {k: np.zeros(len(v), dtype=bool) for k, v in gts.items()}
    tp = np.zeros(len(dets))
    for j, (_, i, view, box) in enumerate(dets):
        cand = gts.get((i, view), [])
        best, best_k = min_iou, -1
        for k, g in enumerate(cand):
            if used[(i, view)][k]:
                continue
            v = iou(box, g)
            if v >= best:
                best, best_k = v, k
        if best_k >= 0:
            used[(i, view)][best_k] = True
            tp[j] = 1
    if len(dets) == 0:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(dets) + 1)
    for k in range(len(precision) - 2, -1, -1):
        precision[k] = max(precision[k], precision[k + 1])
    rec_grid = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, rec_grid, side="left")
    q = np.array([precision[i] if i < len(precision) else 0.0 for i in idx])
    return float(q.mean())


def confusion(
    bags: Sequence[BagRecord], classes: Sequence[str], thresholds: Mapping[str, float]
) -> np.ndarray:
    """Confusion counts at the operating thresholds.

    Rows: true classes then ``background`` (detections localising no object). Columns: predicted classes
    then ``missed`` (no detection at threshold localises the object). Each object counts once, with the
    label of the highest-scoring localising detection above its class threshold.
    """
    k = len(classes)
    m = np.zeros((k + 1, k + 1), dtype=np.int64)
    idx = {c: i for i, c in enumerate(classes)}
    for bag in bags:
        kept = [d for d in bag.detections if d.label in idx and d.score >= thresholds.get(d.label, 1.1)]
        matched = [False] * len(kept)
        for o in bag.objects:
            if o.label not in idx:
                continue
            best, best_j = -1.0, -1
            for j, d in enumerate(kept):
                g = o.boxes.get(d.view)
                if g is not None and is_hit(d.box, g):
                    matched[j] = True
                    if d.score > best:
                        best, best_j = d.score, j
            m[idx[o.label], idx[kept[best_j].label] if best_j >= 0 else k] += 1
        for j, d in enumerate(kept):
            if not matched[j]:
                m[k, idx[d.label]] += 1
    return m
