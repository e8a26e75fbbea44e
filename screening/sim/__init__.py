"""Physics-based bag simulator (synthetic data): packed bags, dual-energy X-ray views, CT, ground truth."""

from __future__ import annotations

from screening.sim.config import ScannerParams, SimConfig, sample_scanner
from screening.sim.generate import GENERATOR_VERSION, GroundTruth, SimBag, generate_bag

__all__ = [
    "GENERATOR_VERSION",
    "GroundTruth",
    "ScannerParams",
    "SimBag",
    "SimConfig",
    "generate_bag",
    "sample_scanner",
]
