"""Detection stage: detectors turn a Scan into Detections (ONNX models, physics rules)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from screening.detect.base import Detector

__all__ = ["DEFAULT_MODELS", "Detector", "check_operating_point", "default_detectors", "models_dir"]

#: Shipped model files (in :func:`models_dir`), per modality.
DEFAULT_MODELS: dict[str, str] = {"xray": "xray_centernet.onnx", "ct": "ct_candidates.onnx"}


def models_dir() -> Path:
    """Where the shipped models live: ``$SCREENING_MODELS`` or the repository's ``models/`` folder."""
    env = os.environ.get("SCREENING_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def check_operating_point(point: str, models: Path | None = None) -> None:
    """Fail early (before a lane starts its workers) if a shipped model's card lacks ``point``.

    Raises:
        ValueError: unknown operating point.
        UnsupportedFormatError: a model card has no thresholds for it.
    """
    from screening.detect.card import operating_thresholds, read_card

    folder = models or models_dir()
    for name in DEFAULT_MODELS.values():
        if (folder / name).is_file():
            operating_thresholds(read_card(folder / name, verify=False), point)


def default_detectors(
    device: str = "cpu", models: Path | None = None, operating_point: str = "pd"
) -> list[Detector]:
    """The detectors ``screening scan`` / ``run`` use by default.

    The trained ONNX detectors from ``models/`` (X-ray CenterNet, CT candidate classifier), plus the physics
    rule for ``shield`` (impenetrable regions, which the models do not cover). When a model file is missing
    the placeholder rule stands in for that modality, with a warning (it finds no organic contraband).

    Args:
        device: ``"cpu"`` or ``"cuda"`` for onnxruntime.
        models: folder holding the model files; defaults to :func:`models_dir`.
        operating_point: ``"pd"`` (thresholds for the cards' target PD, the default) or ``"far"`` (thresholds
            that kept the validation bag FAR within 5 %: fewer alarms, lower PD; see models/README.md).
    """
    from screening.detect.physics_rule import PhysicsRuleDetector
    from screening.scan import Label, Modality

    folder = models or models_dir()
    dets: list[Detector] = []
    missing: list[str] = []
    xray_path, ct_path = folder / DEFAULT_MODELS["xray"], folder / DEFAULT_MODELS["ct"]
    if xray_path.is_file():
        from screening.detect.xray_onnx import XrayOnnxDetector

        dets.append(XrayOnnxDetector(xray_path, device=device, operating_point=operating_point))
    else:
        missing.append(str(xray_path))
    if ct_path.is_file():
        from screening.detect.ct_onnx import CtOnnxDetector

        dets.append(CtOnnxDetector(ct_path, device=device, operating_point=operating_point))
    else:
        missing.append(str(ct_path))
    if missing:
        warnings.warn(
            f"model file(s) {missing} not found; falling back to the placeholder physics rule for those "
            "modalities (it finds only dense metal and shields, no drugs/currency/wildlife). Train them with "
            "'screening train' or set SCREENING_MODELS.",
            RuntimeWarning,
            stacklevel=2,
        )
    shield_only = frozenset({Label.SHIELD})
    if xray_path.is_file():
        dets.append(PhysicsRuleDetector(labels=shield_only, modalities=(Modality.XRAY,)))
    else:
        dets.append(PhysicsRuleDetector(modalities=(Modality.XRAY,)))
    if not ct_path.is_file():
        dets.append(PhysicsRuleDetector(modalities=(Modality.CT,)))
    return dets
