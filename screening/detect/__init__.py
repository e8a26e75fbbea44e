"""Detection stage: detectors turn a Scan into Detections (physics rules, ONNX models)."""

from screening.detect.base import Detector

__all__ = ["Detector"]
