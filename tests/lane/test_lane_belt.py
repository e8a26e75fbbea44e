"""Belt and scanner model: chunk order and timing, assembly, bag length."""

from __future__ import annotations

import numpy as np
import pytest

from screening.lane.belt import Assembler, BeltConfig, bag_length_m, stream_bag
from screening.scan import Modality, Scan


def ct(z: int = 10) -> Scan:
    arr = np.arange(z * 3 * 4, dtype=np.float32).reshape(1, z, 3, 4)
    return Scan(arr, Modality.CT, (30.0, 1.0, 1.0), ("mhu",), "b")


def xray(w: int = 12) -> Scan:
    arr = np.random.default_rng(0).random((2, 5, w), dtype=np.float32)
    return Scan(arr, Modality.XRAY, (1.0, 50.0), ("high", "low"), "b", "top")


def test_stream_then_assemble_round_trip() -> None:
    scans = [ct(), xray()]
    belt = BeltConfig(speed_m_s=0.3, chunk_mm=100.0)
    chunks = list(stream_bag(scans, belt))
    times = [c.t_s for c in chunks]
    assert times == sorted(times)
    length = bag_length_m(scans)
    assert length == pytest.approx(0.6)  # 12 columns x 50 mm; CT is 10 x 30 mm = 0.3 m
    assert times[-1] == pytest.approx(length / 0.3)  # budget starts when the tail passes: 2 s
    asm = Assembler(scans)
    for c in chunks[:-1]:
        asm.add(c)
    assert not asm.complete
    with pytest.raises(ValueError, match="not complete"):
        asm.scans()
    asm.add(chunks[-1])
    out = asm.scans()
    for a, b in zip(out, scans, strict=True):
        np.testing.assert_array_equal(a.array, b.array)
        assert a.array is not b.array


def test_belt_validation() -> None:
    with pytest.raises(ValueError, match="speed_m_s > 0"):
        BeltConfig(speed_m_s=0.0)
    with pytest.raises(ValueError, match="at least one scan"):
        bag_length_m([])
