"""Decision stage: policy thresholds turn detections into a bag verdict."""

from screening.decide.policy import Policy, decide

__all__ = ["Policy", "decide"]
