"""Probability of detection on the measured bags: object-level PD, bag-level PD and false-alarm rate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from screening.bench.bagset import BenchBag, TruthObject
from screening.decide.policy import Policy
from screening.scan import Detection, Verdict

__all__ = ["ScoreConfig", "box_iou", "object_found", "score_bags"]


@dataclass(frozen=True)
class ScoreConfig:
    """How a detection counts as finding a true object.

    The rule is the model evaluation's (``screening.train.metrics.is_hit``: IoU >= ``min_iou``, or each box
    holds the other's centre, or the detection is a large part of the object), so the benchmark's PD and
    ``screening evaluate``'s agree. Without that module, plain IoU >= ``min_iou`` is used.

    Attributes:
        min_iou: IoU that always counts as a hit (2-D boxes in the same view, or 3-D CT boxes).
    """

    min_iou: float = 0.3


def _hit(det_box: Sequence[float], gt_box: Sequence[float], min_iou: float) -> bool:
    try:
        from screening.train.metrics import is_hit
    except ImportError:
        return box_iou(det_box, gt_box) >= min_iou
    return bool(is_hit(det_box, gt_box, min_iou))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two axis-aligned boxes, 2-D ``(x0, y0, x1, y1)`` or 3-D ``(x0, y0, z0, x1, y1, z1)``."""
    if len(a) != len(b) or len(a) not in (4, 6):
        raise ValueError(f"boxes must both have 4 or 6 numbers; got {len(a)} and {len(b)}")
    d = len(a) // 2
    inter = 1.0
    vol_a = vol_b = 1.0
    for k in range(d):
        lo, hi = max(a[k], b[k]), min(a[k + d], b[k + d])
        inter *= max(0.0, hi - lo)
        vol_a *= max(0.0, a[k + d] - a[k])
        vol_b *= max(0.0, b[k + d] - b[k])
    union = vol_a + vol_b - inter
    return inter / union if union > 0 else 0.0


def object_found(
    obj: TruthObject, detections: Sequence[Detection], policy: Policy, cfg: ScoreConfig = ScoreConfig()
) -> bool:
    """Whether a detection of the right label, above the policy's threshold, overlaps ``obj`` enough."""
    for det in detections:
        if str(det.label) != obj.label or det.score < policy.threshold(det.label):
            continue
        if len(det.box) == 6:
            if obj.box_3d is not None and _hit(det.box, obj.box_3d, cfg.min_iou):
                return True
        elif det.view in obj.boxes_2d and _hit(det.box, obj.boxes_2d[det.view], cfg.min_iou):
            return True
    return False


def score_bags(
    bags: Sequence[BenchBag],
    detections: Sequence[Sequence[Detection]],
    verdicts: Sequence[Verdict | str],
    policy: Policy | None = None,
    cfg: ScoreConfig = ScoreConfig(),
) -> dict[str, float | int | dict[str, float]]:
    """PD and false alarms of one detector set on the measured bags.

    Args:
        bags: the measured bags (ground truth).
        detections: every detection per bag, same order.
        verdicts: the bag verdicts, same order.
        policy: thresholds a detection must pass to count (default ``Policy()``).
        cfg: overlap rules.

    Returns:
        ``pd`` (contraband objects found / contraband objects), ``pd_bag`` (threat bags with ``alarm`` /
        threat bags), ``pfa_bag`` (clean bags with ``alarm`` / clean bags), ``review_rate`` (all bags),
        counts, and ``pd_by_label``. Rates are NaN where the denominator is zero.
    """
    if not len(bags) == len(detections) == len(verdicts):
        raise ValueError(
            f"bags, detections and verdicts must align; got {len(bags)}, {len(detections)}, {len(verdicts)}"
        )
    policy = policy or Policy()
    found = total = 0
    by_label: dict[str, list[int]] = {}
    threat_bags = threat_alarm = clean_bags = clean_alarm = reviews = 0
    for bag, dets, verdict in zip(bags, detections, verdicts, strict=True):
        v = Verdict(verdict)
        reviews += v == Verdict.REVIEW
        if bag.is_threat:
            threat_bags += 1
            threat_alarm += v == Verdict.ALARM
        else:
            clean_bags += 1
            clean_alarm += v == Verdict.ALARM
        for obj in bag.truth:
            if obj.label == "shield":
                continue
            hit = object_found(obj, dets, policy, cfg)
            total += 1
            found += hit
            counts = by_label.setdefault(obj.label, [0, 0])
            counts[0] += hit
            counts[1] += 1

    def rate(a: int, b: int) -> float:
        return a / b if b else float("nan")

    return {
        "pd": rate(found, total),
        "pd_bag": rate(threat_alarm, threat_bags),
        "pfa_bag": rate(clean_alarm, clean_bags),
        "review_rate": rate(reviews, len(bags)),
        "threat_objects": total,
        "threat_bags": threat_bags,
        "clean_bags": clean_bags,
        "pd_by_label": {k: rate(*v) for k, v in sorted(by_label.items())},
    }
