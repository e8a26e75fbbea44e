"""Screening policy: per-class thresholds and the rules that turn detections into a verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from screening.scan import CONTRABAND, Detection, Label, Verdict


def _default_thresholds() -> dict[Label, float]:
    return {label: 0.5 for label in (*CONTRABAND, Label.SHIELD)}


@dataclass(frozen=True)
class Policy:
    """What alarms, what only annotates and at which scores.

    Attributes:
        thresholds: minimum score per label for a detection to count.
        alarm_labels: labels that produce ``alarm`` when they count.
        review_labels: labels that produce ``review`` (an operator must look), e.g. ``shield``.
        currency_min_notes: a currency detection alarms only from this many notes (when the count is
            known); below, it is annotated.
    """

    thresholds: Mapping[Label, float] = field(default_factory=_default_thresholds)
    alarm_labels: frozenset[Label] = frozenset(CONTRABAND)
    review_labels: frozenset[Label] = frozenset({Label.SHIELD})
    currency_min_notes: int = 100

    def threshold(self, label: Label) -> float:
        return float(self.thresholds.get(label, 0.5))


def decide(
    detections: Sequence[Detection], policy: Policy, errors: Sequence[str] = ()
) -> tuple[Verdict, tuple[str, ...]]:
    """Turn detections into a verdict with reasons.

    ``alarm`` beats ``review`` beats ``clear``; any error forces at least ``review`` (never ``clear``).

    Args:
        detections: every detection for the bag, all views/volumes.
        policy: thresholds and rules.
        errors: failures met while screening this bag (unreadable input, detector crash, deadline).

    Returns:
        ``(verdict, reasons)``.
    """
    alarms: list[str] = []
    reviews: list[str] = [f"error: {e}" if not e.startswith(("deadline", "error")) else e for e in errors]
    for det in detections:
        if det.score < policy.threshold(det.label):
            continue
        if det.label in policy.alarm_labels:
            if (
                det.label == Label.CURRENCY
                and det.note_count is not None
                and det.note_count < policy.currency_min_notes
            ):
                continue
            alarms.append(_describe(det))
        elif det.label in policy.review_labels:
            reviews.append(_describe(det))
    if alarms:
        return Verdict.ALARM, tuple(alarms + reviews)
    if reviews:
        return Verdict.REVIEW, tuple(reviews)
    return Verdict.CLEAR, ()


def _describe(det: Detection) -> str:
    text = f"{det.label} {det.score:.2f}"
    if det.view:
        text += f" ({det.view})"
    if det.mass_g is not None:
        text += f" ~{det.mass_g:.0f} g"
    if det.note_count is not None:
        text += f" ~{det.note_count} notes"
    return text
