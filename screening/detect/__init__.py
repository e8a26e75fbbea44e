"""Detection stage: detectors turn a Scan into Detections (physics rules, ONNX models)."""

from __future__ import annotations

from screening.detect.base import Detector

__all__ = ["Detector", "default_detectors"]


def default_detectors(device: str = "cpu") -> list[Detector]:
    """The detectors ``screening scan`` / ``run`` use by default.

    Today: the placeholder physics rule (see ``screening/detect/physics_rule.py``); the trained models replace
    it when they ship in ``models/``.
    """
    from screening.detect.physics_rule import PhysicsRuleDetector

    return [PhysicsRuleDetector()]
