"""Fixtures for the detection-model tests: a tiny fake simulator honouring the screening.sim contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from screening.scan import Label, Modality, Scan


@dataclass
class FakeTruth:
    label: Label | None
    boxes_2d: dict[str, tuple[float, float, float, float]]
    box_3d: tuple[float, ...] | None
    mass_g: float = 0.0
    note_count: int | None = None
    concealment: str = "none"
    name: str = ""
    material: str = ""


@dataclass
class FakeBag:
    xray: tuple[Scan, ...]
    ct: Scan | None
    objects: tuple[FakeTruth, ...] = field(default_factory=tuple)


def fake_generate_bag(seed: int, config: Any = None, modality: str = "both", size: int = 64) -> FakeBag:
    """A synthetic bag: grey clutter plus at most one 'firearm' (a dense metal block) in both views and CT.

    Even seeds hold a firearm; odd seeds are threat-free. Metal attenuates the low channel more (higher
    dual-energy ratio), as in real scanners.
    """
    rng = np.random.default_rng(seed)
    h = w = size
    high = np.full((h, w), 0.9, np.float32) - rng.uniform(0, 0.1, (h, w)).astype(np.float32)
    low = high**1.15
    objects: list[FakeTruth] = []
    vol = np.zeros((16, h // 2, w // 2), np.float32) + 50.0
    vol[2:14, 4:-4, 4:-4] = 300.0  # clothes
    if seed % 2 == 0:
        x0, y0 = int(rng.integers(4, w - 28)), int(rng.integers(4, h - 20))
        x1, y1 = x0 + 22, y0 + 14
        t = 0.2
        high[y0:y1, x0:x1] = t
        low[y0:y1, x0:x1] = t**1.9
        vol[5:10, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = 7000.0
        box3 = (x0 // 2, y0 // 2, 5, x1 // 2, y1 // 2, 10)
        objects.append(
            FakeTruth(
                Label.FIREARM,
                {"top": (x0, y0, x1, y1), "side": (x0, y0, x1, y1)},
                box3,
                700.0,
                name="pistol",
                material="steel",
            )
        )
    # a benign organic block with a 3-D box (not contraband)
    vol[3:6, 2:6, 2:8] = 1100.0
    objects.append(FakeTruth(None, {"top": (2, 2, 8, 6)}, (2, 2, 3, 8, 6, 6), name="book"))
    views = tuple(
        Scan(
            array=np.stack([high, low]).astype(np.float32),
            modality=Modality.XRAY,
            spacing_mm=(1.5, 1.5),
            channels=("high", "low"),
            bag_id=f"fake{seed}",
            view=v,
        )
        for v in ("top", "side")
    )
    ct = Scan(vol[None], Modality.CT, (2.0, 2.0, 2.0), ("mhu",), f"fake{seed}")
    return FakeBag(
        xray=views if modality in ("xray", "both") else (),
        ct=ct if modality in ("ct", "both") else None,
        objects=tuple(objects),
    )


@pytest.fixture
def fake_generate():
    return fake_generate_bag


@pytest.fixture(autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(1)
    yield
