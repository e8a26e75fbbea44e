"""Fake detectors and tiny synthetic bags for exercising the lane (tests, demos); they screen nothing real."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from screening.scan import Detection, Label, Modality, Scan

__all__ = ["FakeDetector", "fake_detectors", "tiny_bag"]


@dataclass
class FakeDetector:
    """A stand-in detector with controllable speed and failures.

    Attributes:
        delay_s: seconds to sleep per scan.
        hang_bags: bag ids on which it sleeps ``hang_s`` (a stuck model).
        fail_bags: bag ids on which it raises ``RuntimeError``.
        crash_bags: bag ids on which it kills its own process (``os._exit``), like a segfaulting backend.
        hang_s: how long a hang lasts.
        alarm_bags: bag ids on which it reports a ``firearm`` at 0.9.
    """

    delay_s: float = 0.0
    hang_bags: frozenset[str] = frozenset()
    fail_bags: frozenset[str] = frozenset()
    crash_bags: frozenset[str] = frozenset()
    hang_s: float = 3600.0
    alarm_bags: frozenset[str] = frozenset()
    name: str = "fake"
    version: str = "0-fake"
    modalities: tuple[Modality, ...] = (Modality.XRAY, Modality.CT)

    def __call__(self, scan: Scan) -> list[Detection]:
        if scan.bag_id in self.crash_bags:
            os._exit(70)
        if scan.bag_id in self.fail_bags:
            raise RuntimeError(f"fake failure on {scan.bag_id}")
        time.sleep(self.hang_s if scan.bag_id in self.hang_bags else self.delay_s)
        if scan.bag_id in self.alarm_bags:
            return [Detection(Label.FIREARM, 0.9, (1.0, 1.0, 4.0, 4.0), view=scan.view, detector=self.name)]
        return []


def fake_detectors(
    delay_s: float = 0.0,
    hang_bags: tuple[str, ...] = (),
    fail_bags: tuple[str, ...] = (),
    crash_bags: tuple[str, ...] = (),
    alarm_bags: tuple[str, ...] = (),
    hang_s: float = 3600.0,
) -> list[FakeDetector]:
    """Detector factory for the scheduler (picklable through ``functools.partial``)."""
    return [
        FakeDetector(
            delay_s=delay_s,
            hang_bags=frozenset(hang_bags),
            fail_bags=frozenset(fail_bags),
            crash_bags=frozenset(crash_bags),
            alarm_bags=frozenset(alarm_bags),
            hang_s=hang_s,
        )
    ]


def tiny_bag(bag_id: str, size: int = 16, seed: int = 0) -> list[Scan]:
    """One synthetic dual-energy X-ray view of ``size x size`` pixels, 10 mm per pixel.

    Returns:
        ``[Scan]`` with ``array float32 (2, size, size)`` transmission in ``[0.5, 1]``.
    """
    rng = np.random.default_rng(seed)
    arr = rng.uniform(0.5, 1.0, size=(2, size, size)).astype(np.float32)
    return [
        Scan(
            array=arr,
            modality=Modality.XRAY,
            spacing_mm=(10.0, 10.0),
            channels=("high", "low"),
            bag_id=bag_id,
            view="top",
            source=f"synthetic:{bag_id}",
        )
    ]
