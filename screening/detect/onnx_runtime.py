"""onnxruntime sessions (CPU, or CUDA when present) and the score calibration shared by the ONNX detectors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from screening.errors import BackendUnavailableError, UnsupportedFormatError

__all__ = ["calibrate", "make_session"]


def make_session(model_path: str | Path, device: str = "cpu", threads: int = 0) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``model_path``.

    Args:
        model_path: ``.onnx`` file.
        device: ``"cpu"`` or ``"cuda"`` (falls back to CPU when the CUDA provider is not available).
        threads: intra-op threads; 0 lets onnxruntime decide.

    Raises:
        BackendUnavailableError: onnxruntime is not installed.
        UnsupportedFormatError: the file is missing or not a loadable ONNX model.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise BackendUnavailableError(
            "onnxruntime is not installed; install it with 'pip install onnxruntime'", source=str(model_path)
        ) from exc
    path = Path(model_path)
    if not path.is_file():
        raise UnsupportedFormatError(
            "model file not found; expected an .onnx file exported by 'screening train'",
            source=str(path),
        )
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise UnsupportedFormatError(
            f"onnxruntime could not load the model ({exc}); re-export it with 'screening train'",
            source=str(path),
        ) from exc


def calibrate(raw: float, threshold: float) -> float:
    """Map a raw model score so that the class's operating threshold lands on 0.5.

    Piecewise linear and monotonic: ``[0, t] -> [0, 0.5]``, ``[t, 1] -> [0.5, 1]``. The policy's default
    0.5 threshold then is the operating point chosen on validation (saved in the model card).
    """
    t = min(max(float(threshold), 1e-6), 1 - 1e-6)
    raw = min(max(float(raw), 0.0), 1.0)
    return 0.5 * raw / t if raw < t else 0.5 + 0.5 * (raw - t) / (1 - t)


def thresholds_for(classes: tuple[str, ...], thresholds: Mapping[str, float]) -> list[float]:
    """Per-class thresholds in class order (0.5 where the card has none)."""
    return [float(thresholds.get(c, 0.5)) for c in classes]
