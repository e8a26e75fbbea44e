"""Fixtures for the benchmark tests: tiny fake simulated bags (synthetic) with known ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from screening.scan import Label, Modality, Scan


@dataclass
class FakeObject:
    label: Label
    boxes_2d: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    box_3d: tuple[float, ...] | None = None


@dataclass
class FakeBag:
    xray: tuple[Scan, ...]
    ct: Scan | None
    objects: list[FakeObject]


def fake_bag(seed: int, modality: str = "xray") -> FakeBag:
    """A 2-view 48x64 dual-energy X-ray (and/or 12x24x24 CT) bag; odd seeds carry a dense 'firearm' block."""
    rng = np.random.default_rng(seed)
    threat = seed % 2 == 1
    views = []
    objects = []
    for view in ("top", "side"):
        high = np.clip(0.9 + 0.02 * rng.standard_normal((48, 64)), 0, 1).astype(np.float32)
        low = high**1.3
        if threat:
            high[10:40, 10:50] = 0.05  # dense metal: low transmission, high dual-energy ratio
            low[10:40, 10:50] = 0.0005
        views.append(
            Scan(np.stack([high, low]), Modality.XRAY, (1.0, 1.0), ("high", "low"), f"bag{seed}", view=view)
        )
    mhu = np.full((1, 12, 24, 24), 100.0, np.float32)
    if threat:
        mhu[0, 2:10, 4:20, 4:20] = 9000.0
    ct = Scan(mhu, Modality.CT, (2.0, 2.0, 2.0), ("mhu",), f"bag{seed}")
    if threat:
        objects.append(
            FakeObject(
                Label.FIREARM, {"top": (10, 10, 50, 40), "side": (10, 10, 50, 40)}, (4, 4, 2, 20, 20, 10)
            )
        )
    return FakeBag(tuple(views), ct if modality == "ct" else None, objects)


@pytest.fixture
def bag_source() -> Any:
    return fake_bag
