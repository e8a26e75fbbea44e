"""Streaming X-ray training data: fresh simulated bags, augmented in DataLoader workers (for GPU training).

A fixed cached set (``train/xray.py``'s default) suits a 2-core CPU, where the network is the bottleneck.
On a GPU the simulator is the bottleneck, so here every worker simulates its own never-repeating seeds,
keeps a small pool of recent views to mix bags within a batch, and yields augmented, encoded samples.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from screening.detect.centernet import encode_targets
from screening.train import augment
from screening.train.data import CLASS_NAMES, XraySample, sim_bags, xray_samples

__all__ = ["StreamSpec", "XrayStream", "cache_side", "stream_loader", "worker_seeds"]


def cache_side(size: int) -> int:
    """Side of the letterboxed raw views kept for augmentation (a margin above the model input for zoom)."""
    return int(size * 1.125) // 16 * 16


def worker_seeds(first_seed: int, worker: int, workers: int) -> Iterator[int]:
    """Worker ``worker``'s bag seeds: ``first_seed + worker``, then every ``workers``-th seed (disjoint)."""
    return itertools.count(first_seed + worker, workers)


@dataclass(frozen=True)
class StreamSpec:
    """What the stream produces.

    Attributes:
        first_seed: lowest training seed; workers share ``first_seed, first_seed + 1, ...`` between them.
        size: model input side.
        stride: model output stride.
        sim_config: ``SimConfig`` (``None``: simulator defaults).
        aug_strength: 0 disables augmentation.
        pool: views each worker keeps to draw from (mixes bags within a batch).
        draws_per_bag: samples drawn from the pool per new bag (each view is seen ~2x this / 2 times).
        generate: ``generate_bag``-compatible callable (tests); default the simulator.
    """

    first_seed: int
    size: int
    stride: int = 8
    sim_config: Any = None
    aug_strength: float = 1.0
    pool: int = 96
    draws_per_bag: int = 10
    generate: Callable[..., Any] | None = None


class XrayStream(IterableDataset):
    """Endless ``(image, heat, reg, mask, seed)`` training samples from freshly simulated bags."""

    def __init__(self, spec: StreamSpec, seed: int = 0) -> None:
        super().__init__()
        self.spec = spec
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]]:
        spec = self.spec
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        rng = np.random.default_rng([self.seed, wid])
        side = cache_side(spec.size)
        out_hw = (spec.size // spec.stride, spec.size // spec.stride)
        pool: list[tuple[int, XraySample]] = []
        seeds = worker_seeds(spec.first_seed, wid, nw)
        for bag in sim_bags(seeds, "xray", generate=spec.generate, config=spec.sim_config):
            for s in xray_samples(bag, side):
                if len(pool) < spec.pool:
                    pool.append((bag.seed, s))
                else:  # replace a random old view: the pool keeps mixing bags
                    pool[int(rng.integers(len(pool)))] = (bag.seed, s)
            if not pool:
                continue
            for _ in range(spec.draws_per_bag):
                bag_seed, s = pool[int(rng.integers(len(pool)))]
                params = augment.sample_params(rng, spec.aug_strength)
                img, boxes = augment.apply(s.hl, s.boxes, params, spec.size, rng)
                heat, reg, mask = encode_targets(boxes, s.labels, len(CLASS_NAMES), out_hw, spec.stride)
                yield img, heat, reg, mask, bag_seed


def _quiet_worker(_: int) -> None:
    # each worker is one simulator process: extra BLAS/torch threads would only fight over the cores
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def stream_loader(spec: StreamSpec, batch: int, workers: int, seed: int = 0) -> DataLoader:
    """A DataLoader over :class:`XrayStream` with ``workers`` simulator processes (0 = in this process)."""
    return DataLoader(
        XrayStream(spec, seed),
        batch_size=batch,
        num_workers=workers,
        worker_init_fn=_quiet_worker if workers > 0 else None,
        pin_memory=torch.cuda.is_available(),
        prefetch_factor=4 if workers > 0 else None,
        persistent_workers=False,
        multiprocessing_context="spawn" if workers > 0 else None,
    )
