"""Command-line options that several subcommands share (same names, same help, one place)."""

from __future__ import annotations

import argparse

__all__ = ["add_model_bags", "add_operating_point"]


def add_operating_point(p: argparse.ArgumentParser) -> None:
    """``--operating-point pd|far``: which of the model cards' threshold sets the detectors use."""
    p.add_argument(
        "--operating-point",
        choices=("pd", "far"),
        default="pd",
        help="model thresholds: pd = reach the target PD on validation (default); far = keep the validation "
        "bag false-alarm rate <= 5%% (fewer alarms, lower PD)",
    )


def add_model_bags(p: argparse.ArgumentParser, default_seed: int, what: str, many: bool = False) -> None:
    """A model and the bags to run it on: ``--data DIR`` or ``--sim-bags N --seed S`` (+ simulator knobs).

    With ``many``, ``--data`` may be given more than once (a list of folders, pooled).
    """
    src = p.add_mutually_exclusive_group(required=True)
    if many:
        src.add_argument(
            "--data",
            metavar="DIR",
            action="append",
            help="bags written by 'screening simulate'; repeat to pool several folders",
        )
    else:
        src.add_argument("--data", metavar="DIR", help="bags written by 'screening simulate'")
    src.add_argument("--sim-bags", type=int, metavar="N", help=f"generate N {what} bags on the fly")
    p.add_argument("--seed", type=int, default=default_seed, help=f"first seed (default {default_seed})")
    p.add_argument("--model", help="the .onnx file (default: the shipped model in models/)")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
    p.add_argument("--workers", type=int, default=1, help="simulator processes (default 1)")
    p.add_argument("--sim-pixel-mm", type=float, default=None, help="SimConfig.pixel_mm (x-ray pixel, mm)")
    p.add_argument("--sim-threat-fraction", type=float, default=None, help="SimConfig.threat_fraction")
