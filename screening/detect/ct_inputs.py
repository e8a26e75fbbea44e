"""What the CT classifier reads per candidate: its box resampled to a cube, and context at a fixed scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from screening.detect.ct_candidates import FEATURES, Candidate, block_reduce

__all__ = ["candidate_inputs", "context_inputs"]


def candidate_inputs(
    mhu: np.ndarray, cands: Sequence[Candidate], labels: object = None, crop: int = 24
) -> tuple[np.ndarray, np.ndarray]:
    """Classifier inputs for ``cands``: the box plus one voxel, resampled (nearest voxel) to ``crop^3``.

    Args:
        mhu: ``float32 (Z, Y, X)`` volume in MHU.
        cands: from :func:`screening.detect.ct_candidates.find_candidates`.
        labels: ignored (masks travel with the candidates); kept so older call sites still work.
        crop: crop side in voxels.

    Returns:
        ``crops float32 (N, 2, crop, crop, crop)`` (MHU/1000 clipped to [0, 8]; own mask) and
        ``feats float32 (N, len(FEATURES))``.
    """
    del labels
    n = len(cands)
    crops = np.zeros((n, 2, crop, crop, crop), dtype=np.float32)
    feats = np.zeros((n, len(FEATURES)), dtype=np.float32)
    shape = mhu.shape
    for i, c in enumerate(cands):
        x0, y0, z0, x1, y1, z1 = c.box
        lo = (max(0, z0 - 1), max(0, y0 - 1), max(0, x0 - 1))
        hi = (min(shape[0], z1 + 1), min(shape[1], y1 + 1), min(shape[2], x1 + 1))
        # Voxel centres of the crop grid mapped onto the padded box (nearest voxel).
        idx = [lo[k] + ((np.arange(crop) + 0.5) * (hi[k] - lo[k]) / crop).astype(np.intp) for k in range(3)]
        grid = np.ix_(*idx)
        crops[i, 0] = np.clip(mhu[grid] / 1000.0, 0.0, 8.0)
        own = np.zeros(tuple(h - l_ for h, l_ in zip(hi, lo, strict=True)), dtype=np.float32)
        own[z0 - lo[0] : z1 - lo[0], y0 - lo[1] : y1 - lo[1], x0 - lo[2] : x1 - lo[2]] = c.mask
        crops[i, 1] = own[np.ix_(*(ix - l_ for ix, l_ in zip(idx, lo, strict=True)))]
        feats[i] = c.features
    return crops, feats


def context_inputs(
    mhu: np.ndarray,
    cands: Sequence[Candidate],
    spacing_mm: Sequence[float],
    side: int,
    step_mm: float,
) -> np.ndarray:
    """A ``side^3`` cube of ``step_mm`` cells centred on each candidate's box: what lies around it, at scale.

    The box crop of :func:`candidate_inputs` stretches every candidate to the same cube, so a 250-mm
    umbrella shaft and a 40-mm round, or a book and a bundle of notes, can look alike; this crop keeps
    millimetres, so the classifier sees how big the candidate is and what it is part of or lies against.
    Densities are block means over ``step_mm`` (thin steel still stands out from organics); the own-mask
    channel is the block maximum, so a thin candidate is not lost between sample points.

    Args:
        mhu: ``float32 (Z, Y, X)`` volume in MHU.
        cands: from :func:`screening.detect.ct_candidates.find_candidates`.
        spacing_mm: voxel size ``(z, y, x)`` in mm.
        side: cells per side.
        step_mm: cell size in mm.

    Returns:
        ``float32 (N, 2, side, side, side)``: block-mean MHU/1000 clipped to [0, 8] (0 outside the
        volume), and the candidate's own voxels (1 where a cell holds any).
    """
    if side < 1 or not step_mm > 0:
        raise ValueError(f"context side must be >= 1 and step_mm > 0; got {side}, {step_mm}")
    out = np.zeros((len(cands), 2, side, side, side), dtype=np.float32)
    if not cands:
        return out
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    f = max(1, round(step_mm / float(spacing.mean())))  # fine voxels per reduced cell (one factor)
    dens = np.clip(block_reduce(mhu, f, "mean") / 1000.0, 0.0, 8.0)
    cell_mm = spacing * f  # reduced cell size per axis
    offsets = (np.arange(side) + 0.5 - side / 2.0) * step_mm
    for i, c in enumerate(cands):
        x0, y0, z0, x1, y1, z1 = c.box
        lo, hi = (z0, y0, x0), (z1, y1, x1)
        idx = []
        for k in range(3):
            centre = (lo[k] + hi[k]) / 2.0 * spacing[k]
            idx.append(np.floor((centre + offsets) / cell_mm[k]).astype(np.intp))
        _sample_into(out[i, 0], dens, idx)
        # The own mask on the reduced grid: place it at its box, aligned to whole cells, block maximum.
        rlo = [lo[k] // f for k in range(3)]
        rhi = [-(-hi[k] // f) for k in range(3)]
        fine = np.zeros(tuple((rhi[k] - rlo[k]) * f for k in range(3)), dtype=np.float32)
        s = [lo[k] - rlo[k] * f for k in range(3)]
        fine[s[0] : s[0] + c.mask.shape[0], s[1] : s[1] + c.mask.shape[1], s[2] : s[2] + c.mask.shape[2]] = (
            c.mask
        )
        _sample_into(out[i, 1], block_reduce(fine, f, "max"), [ix - rlo[k] for k, ix in enumerate(idx)])
    return out


def _sample_into(dst: np.ndarray, grid: np.ndarray, idx: Sequence[np.ndarray]) -> None:
    """``dst[a, b, c] = grid[idx[0][a], idx[1][b], idx[2][c]]`` where those indices fall inside ``grid``."""
    ok = [(ix >= 0) & (ix < grid.shape[k]) for k, ix in enumerate(idx)]
    dst[np.ix_(*ok)] = grid[np.ix_(*(ix[o] for ix, o in zip(idx, ok, strict=True)))]
