"""Belt and scanner model: bags move at belt speed; the scanner emits each scan in order along the belt."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from screening.scan import Modality, Scan

__all__ = ["Assembler", "BeltConfig", "Chunk", "bag_length_m", "belt_axis", "stream_bag"]


@dataclass(frozen=True)
class BeltConfig:
    """The conveyor.

    Attributes:
        speed_m_s: belt speed, metres per second (lane default 0.3).
        gap_m: free belt between one bag's tail and the next bag's head, metres.
        chunk_mm: belt travel per emitted chunk (one chunk = the CT slices or X-ray lines acquired while the
            belt moves this far), millimetres.
    """

    speed_m_s: float = 0.3
    gap_m: float = 0.3
    chunk_mm: float = 50.0

    def __post_init__(self) -> None:
        if not self.speed_m_s > 0 or self.gap_m < 0 or not self.chunk_mm > 0:
            raise ValueError(
                f"belt needs speed_m_s > 0, gap_m >= 0 and chunk_mm > 0; got {self.speed_m_s}, "
                f"{self.gap_m}, {self.chunk_mm}"
            )


@dataclass(frozen=True)
class Chunk:
    """A piece of one scan as the scanner emits it.

    Attributes:
        scan_index: which scan of the bag (views/volumes in the order given).
        start: first index along the belt axis.
        stop: one past the last index along the belt axis.
        t_s: seconds after the bag's head reached the imaging plane at which this chunk is complete.
        data: the chunk's values, the scan's array restricted to ``start:stop`` on the belt axis.
    """

    scan_index: int
    start: int
    stop: int
    t_s: float
    data: np.ndarray


def belt_axis(scan: Scan) -> int:
    """Array axis that runs along the belt: ``Z`` (axis 1) for CT, ``W`` (axis 2, columns) for X-ray.

    X-ray line scanners acquire one detector column per belt step, so image columns follow the belt.
    """
    return 1 if scan.modality == Modality.CT else 2


def bag_length_m(scans: Sequence[Scan]) -> float:
    """Bag length along the belt, metres: the longest scan extent along :func:`belt_axis`."""
    if not scans:
        raise ValueError("a bag needs at least one scan to have a length")
    lengths = []
    for s in scans:
        ax = belt_axis(s)
        lengths.append(s.array.shape[ax] * s.spacing_mm[ax - 1] / 1000.0)
    return max(lengths)


def stream_bag(scans: Sequence[Scan], belt: BeltConfig) -> Iterator[Chunk]:
    """Emit the bag's scans chunk by chunk, in acquisition order.

    All scans (CT volume, X-ray views) are acquired at the same time as the bag passes, so chunks of
    different scans interleave by time. The last chunk's ``t_s`` is ``bag_length_m(scans) / speed``: the
    moment the tail passes the imaging plane and the verdict budget starts.
    """
    events: list[tuple[float, int, int, int]] = []
    total = bag_length_m(scans)
    for i, s in enumerate(scans):
        ax = belt_axis(s)
        n = s.array.shape[ax]
        step_mm = s.spacing_mm[ax - 1]
        per_chunk = max(1, int(belt.chunk_mm // step_mm))
        for start in range(0, n, per_chunk):
            stop = min(n, start + per_chunk)
            t = stop * step_mm / 1000.0 / belt.speed_m_s
            events.append((t, i, start, stop))
    events.sort()
    end_t = total / belt.speed_m_s
    for k, (t, i, start, stop) in enumerate(events):
        s = scans[i]
        ax = belt_axis(s)
        index = [slice(None)] * s.array.ndim
        index[ax] = slice(start, stop)
        t_out = end_t if k == len(events) - 1 else t
        yield Chunk(scan_index=i, start=start, stop=stop, t_s=t_out, data=s.array[tuple(index)])


class Assembler:
    """Builds the bag's scans from streamed chunks while the bag is still in the tunnel.

    Args:
        templates: the scans' geometry and metadata (``array`` shapes are taken from them; values are
            filled from the chunks).
    """

    def __init__(self, templates: Sequence[Scan]) -> None:
        self._templates = list(templates)
        self._buffers = [np.empty_like(s.array) for s in self._templates]
        self._filled = [0] * len(self._templates)

    def add(self, chunk: Chunk) -> None:
        """Copy one chunk into place.

        Raises:
            ValueError: the chunk does not fit its scan.
        """
        s = self._templates[chunk.scan_index]
        ax = belt_axis(s)
        if not 0 <= chunk.start < chunk.stop <= s.array.shape[ax]:
            raise ValueError(f"chunk {chunk.start}:{chunk.stop} outside scan axis of {s.array.shape[ax]}")
        index = [slice(None)] * s.array.ndim
        index[ax] = slice(chunk.start, chunk.stop)
        self._buffers[chunk.scan_index][tuple(index)] = chunk.data
        self._filled[chunk.scan_index] += chunk.stop - chunk.start

    @property
    def complete(self) -> bool:
        return all(
            f >= s.array.shape[belt_axis(s)] for f, s in zip(self._filled, self._templates, strict=True)
        )

    def scans(self) -> list[Scan]:
        """The assembled scans.

        Raises:
            ValueError: called before every chunk arrived.
        """
        if not self.complete:
            raise ValueError(f"bag not complete: filled {self._filled} of the belt axis")
        return [s.replace(array=b) for s, b in zip(self._templates, self._buffers, strict=True)]
