"""Resumable training checkpoints (model, optimiser, scheduler, RNG; written atomically) and the device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def save_checkpoint(
    path: Path,
    model: Any,
    opt: Any,
    sched: Any,
    rng: np.random.Generator,
    counter: str,
    value: int,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the training state to ``path`` via a temporary file, so a kill never leaves half a checkpoint.

    Args:
        counter: name of the progress counter (``"step"`` or ``"epoch"``), stored with ``value``.
        extra: small facts about the run that a resume needs (a fixed step total, seeds used).
    """
    import torch

    state = {
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
        "rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        counter: value,
        "extra": dict(extra or {}),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(
    path: Path, model: Any, opt: Any, sched: Any, rng: np.random.Generator, counter: str
) -> int:
    """Restore the state saved by :func:`save_checkpoint` in place; returns the counter (0 if no file)."""
    if not path.is_file():
        return 0
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    rng.bit_generator.state = state["rng"]
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    return int(state[counter])


def load_weights(path: Path, model: Any, calib: tuple[Any, ...] | None = None) -> None:
    """Copy only the model weights of a :func:`save_checkpoint` file into ``model`` (fine-tuning start).

    A ``.onnx`` file (a shipped model) is read by :func:`screening.train.onnx_init.load_onnx_weights`,
    which needs ``calib``, the model's inputs for one training batch.

    Raises:
        ScreeningError: ``path`` is missing, is not such a checkpoint, or its weights do not fit ``model``.
    """
    import pickle

    import torch

    from screening.errors import ScreeningError

    if not path.is_file():
        raise ScreeningError(f"{path}: no such checkpoint; expected one written by 'screening train'")
    if path.suffix.lower() == ".onnx":
        if calib is None:
            raise ScreeningError(f"{path}: starting from an ONNX file needs a batch to measure statistics on")
        from screening.train.onnx_init import load_onnx_weights

        load_onnx_weights(path, model, calib)
        return
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise ScreeningError(f"{path}: cannot start from this checkpoint: {exc}") from exc


def torch_device(name: str) -> Any:
    """The torch device for ``--device``: ``cpu``, ``cuda`` or ``auto`` (CUDA when torch sees one).

    Raises:
        BackendUnavailableError: ``cuda`` asked for where torch sees no CUDA device.
    """
    import torch

    from screening.errors import BackendUnavailableError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailableError(f"--device {name}: torch sees no CUDA device here")
    return torch.device(name)
