"""Model cards: the JSON sidecar next to every shipped ``.onnx`` file (what it is, how it was made)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from screening.errors import InvalidScanError, UnsupportedFormatError

__all__ = [
    "CARD_VERSION",
    "OPERATING_POINTS",
    "ModelCard",
    "card_path",
    "operating_thresholds",
    "read_card",
    "sha256_file",
    "validated_devices",
    "write_card",
]

CARD_VERSION = "1"


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to run, trust and reproduce one exported model.

    Attributes:
        name: model name (file stem), e.g. ``"xray_centernet"``.
        modality: ``"xray"`` or ``"ct"``.
        architecture: one-line description of the network.
        classes: output class names in output-channel order (``Label`` values).
        input_spec: input tensor name, shape and meaning.
        preprocessing: how a ``Scan`` becomes the input tensor (free-form but exact).
        opset: ONNX opset the file was exported with.
        sha256: hash of the ``.onnx`` file (checked at load time).
        thresholds: raw-score operating threshold per class (chosen on validation for ``target_pd``).
        target_pd: the PD the thresholds were chosen for.
        training: seeds, generator version, steps, etc.
        metrics: what ``screening evaluate`` printed on the fresh test split.
        reproduce: the exact command that trains this model.
        extra: anything else model-specific (e.g. stride, score calibration notes).
    """

    name: str
    modality: str
    architecture: str
    classes: tuple[str, ...]
    input_spec: Mapping[str, Any]
    preprocessing: str
    opset: int
    sha256: str = ""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    target_pd: float = 0.95
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    reproduce: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    card_version: str = CARD_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "") -> ModelCard:
        """Inverse of :meth:`to_dict`; raises :class:`UnsupportedFormatError` on missing keys."""
        required = ("name", "modality", "architecture", "classes", "input_spec", "preprocessing", "opset")
        missing = [k for k in required if k not in d]
        if missing:
            raise UnsupportedFormatError(
                f"model card lacks {missing}; expected the keys {list(required)}. Re-export the model with "
                "'screening train' to regenerate the card.",
                source=source or None,
            )
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["classes"] = tuple(d["classes"])
        return cls(**kwargs)

    def replace(self, **changes: Any) -> ModelCard:
        """Copy with ``changes`` applied."""
        from dataclasses import replace

        return replace(self, **changes)


def card_path(model_path: str | Path) -> Path:
    """The sidecar path for a model file: ``models/x.onnx`` -> ``models/x.json``."""
    return Path(model_path).with_suffix(".json")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_card(card: ModelCard, model_path: str | Path) -> Path:
    """Write ``card`` next to ``model_path`` (filling in its sha256) and return the card path."""
    card = card.replace(sha256=sha256_file(model_path))
    out = card_path(model_path)
    out.write_text(json.dumps(card.to_dict(), indent=2, sort_keys=False) + "\n")
    return out


def read_card(model_path: str | Path, *, verify: bool = True) -> ModelCard:
    """Read the sidecar of ``model_path``.

    Args:
        model_path: the ``.onnx`` file.
        verify: check that the file's sha256 matches the card.

    Raises:
        UnsupportedFormatError: card missing or not JSON.
        InvalidScanError: the model file does not match the card's sha256 (corrupt or swapped file).
    """
    cpath = card_path(model_path)
    if not cpath.is_file():
        raise UnsupportedFormatError(
            f"no model card {cpath.name} next to the model; expected a JSON sidecar written by "
            "'screening train'. Re-export the model or copy its card alongside.",
            source=str(model_path),
        )
    try:
        data = json.loads(cpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UnsupportedFormatError(f"model card is not valid JSON ({exc})", source=str(cpath)) from exc
    card = ModelCard.from_dict(data, source=str(cpath))
    if verify and card.sha256:
        actual = sha256_file(model_path)
        if actual != card.sha256:
            raise InvalidScanError(
                f"model file sha256 {actual[:12]}... does not match its card ({card.sha256[:12]}...); "
                "the file is corrupt or belongs to another card. Restore the file or re-export.",
                source=str(model_path),
            )
    return card


#: Operating points a card can carry: ``pd`` (thresholds reach the target PD on validation; the default) and
#: ``far`` (thresholds keep the bag false-alarm rate on validation within the quality bar's 5 %).
OPERATING_POINTS = ("pd", "far")


def operating_thresholds(card: ModelCard, point: str = "pd") -> dict[str, float]:
    """Raw-score thresholds per class for one of the card's operating points.

    Raises:
        ValueError: ``point`` is not one of :data:`OPERATING_POINTS`.
        UnsupportedFormatError: the card has no thresholds for ``point`` (made before operating points).
    """
    if point not in OPERATING_POINTS:
        raise ValueError(f"unknown operating point {point!r}; expected one of {', '.join(OPERATING_POINTS)}")
    if point == "pd":
        return {str(k): float(v) for k, v in card.thresholds.items()}
    op = (card.extra.get("operating_points") or {}).get(point) or {}
    if not isinstance(op, dict) or not isinstance(op.get("thresholds"), dict):
        raise UnsupportedFormatError(
            f"model card has no {point!r} operating point; re-run 'screening train' on its work dir "
            "to add it",
            source=card.name,
        )
    return {str(k): float(v) for k, v in op["thresholds"].items()}


def validated_devices(card: ModelCard) -> tuple[str, ...] | None:
    """Devices (``"manufacturer / model"`` patterns) the card's thresholds were calibrated on.

    ``screening calibrate`` and ``screening train`` record the devices of their validation bags in
    ``extra["validated_devices"]``; ``None`` for a card made before that (no device is checked).
    """
    devices = card.extra.get("validated_devices")
    if devices is None:
        return None
    if not isinstance(devices, list | tuple) or not all(isinstance(d, str) for d in devices):
        raise UnsupportedFormatError(
            "model card's extra.validated_devices must be a list of 'manufacturer / model' patterns",
            source=card.name,
        )
    return tuple(devices)
