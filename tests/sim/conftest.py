"""Fixtures for the simulator tests: a small, fast configuration."""

from __future__ import annotations

import pytest

from screening.sim import SimConfig


@pytest.fixture(scope="session")
def small_config() -> SimConfig:
    """Coarse pixels/voxels and little clutter so a bag takes well under a second."""
    return SimConfig(
        threat_fraction=1.0,
        pixel_mm=3.0,
        voxel_mm=6.0,
        clutter=(3, 5),
        bag_types=("backpack", "suitcase"),
        ct_artifacts=False,
    )
