"""Which detections the TDR and the annotated PNG carry: those near or above the operating point, capped."""

from __future__ import annotations

from collections.abc import Sequence

from screening.decide.policy import Policy
from screening.scan import Detection

__all__ = ["MAX_REPORTED", "NEAR_FRACTION", "reported_detections"]

#: A detection is shown when its score is at least this fraction of its label's threshold: the ones that
#: count, plus the "almost" ones an operator may want to glance at (drawn thin). Below that a box is noise
#: that hides the alarms on the console and costs report time (one TDR PTO each).
NEAR_FRACTION = 0.5
#: At most this many detections per bag in the TDR and the PNG, the strongest (relative to their
#: thresholds) first. Bounds the report stage on a bag where a model fires everywhere (clutter, a hostile
#: file); report.json keeps every detection.
MAX_REPORTED = 32


def reported_detections(
    detections: Sequence[Detection],
    policy: Policy,
    *,
    near: float = NEAR_FRACTION,
    limit: int = MAX_REPORTED,
) -> tuple[Detection, ...]:
    """The detections worth a box: ``score >= near * threshold``, strongest first, at most ``limit``.

    Every detection that counts towards the verdict (``score >= threshold``) is ranked above every one
    that does not, so the cap drops sub-threshold boxes first. Order among equals follows the input.

    Args:
        detections: the bag's detections (all views/volumes).
        policy: gives each label's threshold.
        near: fraction of the threshold from which a detection is shown (``0`` shows all, ``1`` only the
            counting ones).
        limit: most detections returned (``>= 1``).

    Raises:
        ValueError: ``near`` outside ``[0, 1]`` or ``limit < 1``.
    """
    if not 0.0 <= near <= 1.0:
        raise ValueError(f"near must be within [0, 1]; got {near}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1; got {limit}")

    def relative(det: Detection) -> float:
        return det.score / max(policy.threshold(det.label), 1e-9)

    shown = [d for d in detections if relative(d) >= near]
    shown.sort(key=relative, reverse=True)  # stable: equals keep their order
    return tuple(shown[:limit])
