"""CT training set: physics candidates of simulated bags, cropped, measured and labelled."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from screening.detect.ct_candidates import FEATURES, CandidateParams, find_candidates
from screening.detect.ct_inputs import candidate_inputs, context_inputs
from screening.train.ct_labels import DEFAULT_RULE, LabelRule, label_candidates
from screening.train.data import SimBag
from screening.train.progress import progress_bar

__all__ = ["CandidateArrays", "candidate_dataset", "candidate_dataset_parallel", "empty_candidates"]


def _labels(cands: Sequence[Any], bag: SimBag, rule: LabelRule) -> np.ndarray:
    return label_candidates(
        [x.box for x in cands],
        bag.objects,
        masks=[x.mask for x in cands],
        ct_labels=bag.ct_labels,
        rule=rule,
    )


#: One candidate set: ``(crops, feats, labels, context)``; ``context`` has zero cells when not used.
CandidateArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _bag_arrays(
    bag: SimBag, params: CandidateParams, rule: LabelRule = DEFAULT_RULE
) -> tuple[np.ndarray, ...] | None:
    """One bag's candidate arrays (crops and context stored as float16), ``None`` if it has none."""
    assert bag.ct is not None
    mhu = bag.ct.array[0]
    spacing = tuple(float(v) for v in bag.ct.spacing_mm)
    cands, _ = find_candidates(mhu, spacing, params)  # type: ignore[arg-type]
    if not cands:
        return None
    c, f = candidate_inputs(mhu, cands, crop=params.crop)
    ctx = (
        context_inputs(mhu, cands, spacing, params.context, params.context_mm)
        if params.context
        else np.zeros((len(cands), 2, 0, 0, 0), np.float32)
    )
    return c.astype(np.float16), f, _labels(cands, bag, rule), ctx.astype(np.float16)


def candidate_dataset(
    bags: Iterable[SimBag], params: CandidateParams, n: int | None = None, rule: LabelRule = DEFAULT_RULE
) -> CandidateArrays:
    """Crops, features, labels and context crops of every candidate in ``bags``."""
    rows = _Rows(params)
    with progress_bar("simulating CT bags", n or 0) as advance:
        for bag in bags:
            if bag.ct is None:
                continue
            arrays = _bag_arrays(bag, params, rule)
            if arrays is not None:
                rows.add(arrays)
            advance()
    return rows.join()


def empty_candidates(params: CandidateParams) -> CandidateArrays:
    crop, ctx = params.crop, params.context
    return (
        np.zeros((0, 2, crop, crop, crop), np.float16),
        np.zeros((0, len(FEATURES)), np.float32),
        np.zeros(0, np.int64),
        np.zeros((0, 2, ctx, ctx, ctx), np.float16),
    )


class _Rows:
    """Per-bag candidate arrays gathered into blocks of ``block`` rows as they arrive, then joined.

    Thousands of small per-bag arrays, freed only at the end, stay in the C allocator's heap: joining a
    3 200-bag set (~11 GB) that way held ~24 GB. A block is one large allocation that goes back to the
    system as soon as it is copied out, so the join peaks at the set's size plus one block.
    """

    def __init__(self, params: CandidateParams, block: int = 4096) -> None:
        self.params, self.block = params, block
        self.blocks: list[list[np.ndarray]] = []
        self.fill = 0

    def add(self, part: Sequence[np.ndarray]) -> None:
        n, i = len(part[2]), 0
        while i < n:
            if not self.blocks or self.fill == self.block:
                self.blocks.append([np.empty((self.block, *a.shape[1:]), a.dtype) for a in part])
                self.fill = 0
            k = min(n - i, self.block - self.fill)
            for dst, a in zip(self.blocks[-1], part, strict=True):
                dst[self.fill : self.fill + k] = a[i : i + k]
            self.fill, i = self.fill + k, i + k

    def join(self) -> CandidateArrays:
        """All rows in arrival order; the blocks are released as they are copied."""
        if not self.blocks:
            return empty_candidates(self.params)
        n = (len(self.blocks) - 1) * self.block + self.fill
        out = [np.empty((n, *b.shape[1:]), b.dtype) for b in self.blocks[0]]
        start = 0
        while self.blocks:
            blk = self.blocks.pop(0)
            k = self.block if self.blocks else self.fill
            for dst, b in zip(out, blk, strict=True):
                dst[start : start + k] = b[:k]
            start += k
            del blk
        crops, feats, labels, context = out
        return crops, feats, labels, context


def _bag_candidates(
    job: tuple[int, Any, CandidateParams, LabelRule],
) -> tuple[np.ndarray, ...] | str | None:
    """One bag's candidate arrays; ``None`` if it has no candidates; an error text if the simulator failed."""
    from screening.train.data import sim_bags

    seed, config, params, rule = job
    bags = list(sim_bags([seed], "ct", config=config))
    if not bags or bags[0].ct is None:
        return f"seed {seed}: no CT volume (see the warning above)"
    return _bag_arrays(bags[0], params, rule)


def candidate_dataset_parallel(
    seeds: Sequence[int], config: Any, params: CandidateParams, workers: int, rule: LabelRule = DEFAULT_RULE
) -> CandidateArrays:
    """:func:`candidate_dataset` of simulated bags, with simulation and extraction in ``workers`` processes.

    Only the crops travel back, not the volumes.
    """
    import multiprocessing as mp

    from screening.train.data import FailureGuard

    guard = FailureGuard()
    rows = _Rows(params)
    with (
        mp.get_context("spawn").Pool(max(1, workers)) as pool,
        progress_bar("simulating CT bags", len(seeds)) as advance,
    ):
        for r in pool.imap(_bag_candidates, [(int(s), config, params, rule) for s in seeds], chunksize=1):
            if isinstance(r, str):
                guard.failure(r)
            else:
                guard.success()
                if r is not None:
                    rows.add(r)
            advance()
    return rows.join()
