"""CT training labels: which candidates are a threat's, judged by their own voxels (or boxes without them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from screening.train.data import CLASS_NAMES
from screening.train.metrics import is_hit

__all__ = ["DEFAULT_RULE", "IGNORE", "LabelRule", "label_candidates"]


#: Label of a candidate left out of training: it holds part of a threat, but too little to be that threat.
IGNORE = -1


@dataclass(frozen=True)
class LabelRule:
    """How strict training is about a threat's candidates (kept with the candidate cache).

    Attributes:
        min_object_share: a candidate holding less than this share of its object's voxels is
            :data:`IGNORE` (0 = off).
        hits_only: a candidate whose box would not count as finding its object under the evaluation's
            hit rule (:func:`screening.train.metrics.is_hit`) is :data:`IGNORE`.
        share_exempt: classes ``min_object_share`` does not apply to (ammunition: a loose round is a
            small share of its box of rounds, and ignoring them cost ammunition PD).
    """

    min_object_share: float = 0.0
    hits_only: bool = False
    share_exempt: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> LabelRule:
        """A rule from its :func:`dataclasses.asdict` fields read back (JSON gives lists, not tuples)."""
        return cls(**{**fields, "share_exempt": tuple(fields.get("share_exempt", ()))})


#: Labels by voxel purity alone (what every model before session 9 was trained with).
DEFAULT_RULE = LabelRule()


def label_candidates(
    boxes: Sequence[Sequence[float]],
    objects: Sequence[Any],
    min_inside: float = 0.5,
    *,
    masks: Sequence[np.ndarray] | None = None,
    ct_labels: np.ndarray | None = None,
    min_purity: float = 0.5,
    min_coverage: float = 0.5,
    ignore_purity: float = 0.1,
    rule: LabelRule = DEFAULT_RULE,
) -> np.ndarray:
    """Class index + 1 per candidate, 0 for background, :data:`IGNORE` for an ambiguous one.

    With the bag's object-index volume (``ct_labels``) and the candidates' ``masks``, a candidate is judged
    by its own voxels: it is a threat's when at least ``min_purity`` of its voxels are that object's, or
    when it holds at least ``min_coverage`` of the object and ``2 * ignore_purity`` of its voxels are the
    object's (a drug brick merged with the clothes around it). One with at least ``ignore_purity`` of a
    threat's voxels that passes neither test is :data:`IGNORE`; training leaves it out rather than teach
    "background" on part of a threat. Boxes alone mislabel: a tusk's or a tilted bundle's box holds
    buttons, chargers and clothes, and every candidate mostly inside it would be called ivory or currency.
    With ``rule.min_object_share > 0``, a candidate that passes but holds less than that share of its object's
    voxels (one pellet of a batch, a fragment of a split brick) is :data:`IGNORE` too: evaluation
    (:func:`screening.train.metrics.is_hit`) counts a fragment only when its box covers >= 15 % of the
    object's box or shares its centre, and teaching "a small lump of this density is drugs" made chocolate
    and fruit fragments score 0.9+ (0.15 nearly doubled mAP on calibration bags). The voxel share is
    stricter than that box rule for spread-out objects (a bag of scales, loose rounds).
    With ``rule.hits_only``, a candidate that passes but would not count as finding its object under that
    box rule is :data:`IGNORE`: training then teaches exactly what evaluation rewards.

    Without them (bags read from files with no label volume), a candidate is the object's when at
    least ``min_inside`` of its box volume lies in the object's box (a pistol's slide and grip are separate
    components; both are the pistol).
    """
    if ct_labels is not None and masks is not None:
        return _label_by_voxels(
            boxes, masks, objects, ct_labels, min_purity, min_coverage, ignore_purity, rule
        )
    out = np.zeros(len(boxes), dtype=np.int64)
    for i, b in enumerate(boxes):
        vol = np.prod([max(0.0, b[k + 3] - b[k]) for k in range(3)])
        best = 0.0
        for o in objects:
            if o.box_3d is None:
                continue
            g = o.box_3d
            inter = np.prod([max(0.0, min(b[k + 3], g[k + 3]) - max(b[k], g[k])) for k in range(3)])
            frac = inter / vol if vol > 0 else 0.0
            if frac >= min_inside and frac > best:
                best = frac
                out[i] = CLASS_NAMES.index(str(o.label)) + 1
    return out


def _label_by_voxels(
    boxes: Sequence[Sequence[float]],
    masks: Sequence[np.ndarray],
    objects: Sequence[Any],
    ct_labels: np.ndarray,
    min_purity: float,
    min_coverage: float,
    ignore_purity: float,
    rule: LabelRule,
) -> np.ndarray:
    threats = {int(o.index): CLASS_NAMES.index(str(o.label)) + 1 for o in objects if int(o.index) > 0}
    gt_boxes = {int(o.index): o.box_3d for o in objects if int(o.index) > 0}
    exempt = set(rule.share_exempt)
    out = np.zeros(len(boxes), dtype=np.int64)
    if not threats:
        return out
    sizes = np.bincount(ct_labels.ravel().astype(np.intp), minlength=max(threats) + 1)
    for i, (b, mask) in enumerate(zip(boxes, masks, strict=True)):
        x0, y0, z0, x1, y1, z1 = (int(v) for v in b)
        ids = ct_labels[z0:z1, y0:y1, x0:x1][mask]
        if not ids.size:
            continue
        counts = np.bincount(ids.astype(np.intp), minlength=len(sizes))
        best_purity, best_coverage, best_index = 0.0, 0.0, 0
        for index, cls in threats.items():
            own = float(counts[index])
            purity, coverage = own / ids.size, own / max(float(sizes[index]), 1.0)
            if purity >= min_purity or (coverage >= min_coverage and purity >= 2 * ignore_purity):
                if purity > best_purity:
                    best_purity, best_coverage, best_index, out[i] = purity, coverage, index, cls
            elif purity >= ignore_purity and out[i] == 0:
                out[i] = IGNORE
        if out[i] > 0 and best_coverage < rule.min_object_share and CLASS_NAMES[out[i] - 1] not in exempt:
            out[i] = IGNORE
        elif out[i] > 0 and rule.hits_only:
            gt = gt_boxes[best_index]
            if gt is not None and not is_hit(b, gt):
                out[i] = IGNORE
    return out
