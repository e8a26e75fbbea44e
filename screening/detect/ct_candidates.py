"""CT candidates by physics (density windows, connected components, mass) and the classifier's crops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FEATURES",
    "PASSES",
    "Candidate",
    "CandidateParams",
    "block_reduce",
    "candidate_inputs",
    "find_candidates",
]

#: Physical features fed to the classifier beside the crop, in this order.
FEATURES: tuple[str, ...] = (
    "log_volume_cm3",
    "mean_density_g_cm3",
    "std_density_g_cm3",
    "p95_density_g_cm3",
    "extent_max_dm",
    "extent_mid_dm",
    "extent_min_dm",
    "fill_ratio",
    "metal_band",
)

#: Candidate passes, by band code (``Candidate.band``). Codes >= 1 are metal/mineral passes.
PASSES: dict[str, int] = {"organic": 0, "metal": 1}


@dataclass(frozen=True)
class CandidateParams:
    """Windows and limits for candidate extraction (MHU: air 0, water 1000).

    Voxels are grouped on a coarse grid (``coarse`` fine voxels per side): the organic window is applied
    to the block mean, which averages out single noisy voxels (a fold of clothes) that would otherwise
    bridge a drug brick to the clothes around it; the metal window to the block maximum, which keeps thin
    blades and small rounds. Everything measured (box, mass, density, crop) uses the fine voxels.

    Attributes:
        organic_mhu: lower/upper MHU of the organic window (drugs, banknotes, animals, dense plastics).
        metal_mhu: MHU above which a voxel is metal/mineral (guns, blades, ammunition).
        min_volume_cm3: smallest component kept (a single cartridge is ~0.5-2 cm^3).
        max_candidates: keep at most this many (priority order: see :func:`find_candidates`).
        crop: side of the cubic crop the classifier reads, in voxels.
        coarse: grouping grid, fine voxels per block side (1 = group on the fine grid).
        passes: which passes run (keys of :data:`PASSES`).
        duplicate_iou: a candidate whose box overlaps an already kept one this much is dropped.
    """

    organic_mhu: tuple[float, float] = (700.0, 2600.0)
    metal_mhu: float = 2600.0
    min_volume_cm3: float = 0.4
    max_candidates: int = 48
    crop: int = 24
    coarse: int = 2
    passes: tuple[str, ...] = ("organic", "metal")
    duplicate_iou: float = 0.85

    def __post_init__(self) -> None:
        object.__setattr__(self, "organic_mhu", tuple(float(v) for v in self.organic_mhu))
        object.__setattr__(self, "passes", tuple(self.passes))
        bad = [p for p in self.passes if p not in PASSES]
        if bad:
            raise ValueError(f"unknown candidate pass(es) {bad}; expected some of {sorted(PASSES)}")
        if self.coarse < 1 or self.crop < 1 or self.max_candidates < 0:
            raise ValueError(
                f"coarse, crop must be >= 1 and max_candidates >= 0; got {self.coarse}, {self.crop}, "
                f"{self.max_candidates}"
            )


@dataclass(frozen=True)
class Candidate:
    """One candidate object: a group of voxels in a density window.

    Attributes:
        box: voxel box ``(x0, y0, z0, x1, y1, z1)`` (exclusive upper corner), tight around ``mask``.
        band: pass code (:data:`PASSES`): 0 organic window, >= 1 metal/mineral.
        volume_cm3: volume of its voxels.
        mass_g: sum of voxel densities (MHU/1000, water-equivalent g/cm^3) times voxel volume.
        features: ``float32 (len(FEATURES),)``.
        mask: ``bool (z1-z0, y1-y0, x1-x0)``: its voxels inside ``box``.
    """

    box: tuple[int, int, int, int, int, int]
    band: int
    volume_cm3: float
    mass_g: float
    features: np.ndarray
    mask: np.ndarray


def block_reduce(a: np.ndarray, f: int, how: str) -> np.ndarray:
    """Reduce ``a (Z, Y, X)`` over ``f x f x f`` blocks (``"mean"`` or ``"max"``); the remainder is padded.

    Returns:
        ``float32 (ceil(Z/f), ceil(Y/f), ceil(X/f))``. Padding repeats the edge voxels, so a partial
        block at the border reduces over the voxels it has.
    """
    out = a.astype(np.float32, copy=False)
    if f == 1:
        return out
    op = np.maximum if how == "max" else np.add
    for axis in range(3):
        lead = (slice(None),) * axis
        acc = out[(*lead, slice(0, None, f))].copy()  # ceil(n / f) blocks along this axis
        for k in range(1, f):
            part = out[(*lead, slice(k, None, f))]
            m = part.shape[axis]
            head = acc[(*lead, slice(0, m))]
            op(head, part, out=head)
            if m < acc.shape[axis]:  # the last block is partial: repeat the edge voxel
                tail = acc[(*lead, slice(m, None))]
                op(tail, out[(*lead, slice(-1, None))], out=tail)
        out = acc
    if how == "mean":
        out /= float(f**3)
    return out


@dataclass(frozen=True)
class _Group:
    """Fine-grid slice and own mask of one coarse component, before features."""

    sl: tuple[slice, slice, slice]
    mask: np.ndarray


def _fine_groups(
    mhu: np.ndarray, coarse_mask: np.ndarray, fine_lo: float, fine_hi: float, f: int, min_blocks: int
) -> list[_Group]:
    """Components of ``coarse_mask``, each as the fine voxels in ``[fine_lo, fine_hi)`` it covers."""
    from scipy import ndimage

    labelled, n = ndimage.label(coarse_mask)
    if n == 0:
        return []
    counts = np.bincount(labelled.ravel(), minlength=n + 1)
    out: list[_Group] = []
    for k, sl in enumerate(ndimage.find_objects(labelled), start=1):
        if sl is None or counts[k] < min_blocks:
            continue
        own_c = labelled[sl] == k
        fine = tuple(slice(s.start * f, min(s.stop * f, d)) for s, d in zip(sl, mhu.shape, strict=True))
        if f > 1:
            own_c = own_c.repeat(f, 0).repeat(f, 1).repeat(f, 2)
            own_c = own_c[
                : fine[0].stop - fine[0].start, : fine[1].stop - fine[1].start, : fine[2].stop - fine[2].start
            ]
        sub = mhu[fine]
        own = own_c & (sub >= fine_lo) & (sub < fine_hi)
        if own.any():
            out.append(_Group(fine, own))  # type: ignore[arg-type]
    return out


def _tighten(g: _Group) -> _Group:
    """Shrink a group's slice to the bounding box of its mask."""
    idx = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        nz = np.flatnonzero(g.mask.any(axis=other))
        idx.append(slice(int(nz[0]), int(nz[-1]) + 1))
    sl = tuple(slice(s.start + i.start, s.start + i.stop) for s, i in zip(g.sl, idx, strict=True))
    return _Group(sl, g.mask[tuple(idx)])  # type: ignore[arg-type]


def _candidate(mhu: np.ndarray, g: _Group, band: int, spacing: tuple[float, float, float]) -> Candidate:
    g = _tighten(g)
    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    n = int(g.mask.sum())
    dens = np.clip(mhu[g.sl][g.mask], 0.0, None) / 1000.0
    vol = n * voxel_cm3
    ext = sorted(((s.stop - s.start) * d / 100.0 for s, d in zip(g.sl, spacing, strict=True)), reverse=True)
    feats = np.array(
        [
            np.log(vol),
            dens.mean(),
            dens.std(),
            np.percentile(dens, 95),
            ext[0],
            ext[1],
            ext[2],
            n / float(g.mask.size),
            float(band >= 1),
        ],
        dtype=np.float32,
    )
    z, y, x = g.sl
    return Candidate(
        box=(x.start, y.start, z.start, x.stop, y.stop, z.stop),
        band=band,
        volume_cm3=vol,
        mass_g=float(dens.sum() * voxel_cm3),
        features=feats,
        mask=g.mask,
    )


def _box_iou(a: Sequence[int], b: Sequence[int]) -> float:
    inter = 1.0
    va = vb = 1.0
    for k in range(3):
        inter *= max(0, min(a[k + 3], b[k + 3]) - max(a[k], b[k]))
        va *= a[k + 3] - a[k]
        vb *= b[k + 3] - b[k]
    return inter / (va + vb - inter) if va + vb - inter > 0 else 0.0


def _pass_groups(
    name: str, mhu: np.ndarray, mean_c: np.ndarray, max_c: np.ndarray, p: CandidateParams, min_blocks: int
) -> list[_Group]:
    lo, hi = p.organic_mhu
    f = p.coarse
    if name == "organic":
        return _fine_groups(mhu, (mean_c >= lo) & (mean_c < hi), lo, hi, f, min_blocks)
    if name == "metal":
        return _fine_groups(mhu, max_c >= p.metal_mhu, p.metal_mhu, np.inf, f, min_blocks)
    raise ValueError(f"unknown candidate pass {name!r}; expected one of {sorted(PASSES)}")


def find_candidates(
    mhu: np.ndarray, spacing_mm: tuple[float, float, float], params: CandidateParams | None = None
) -> tuple[list[Candidate], dict[int, np.ndarray]]:
    """Candidate objects from density windows, grouped on a coarse grid, measured on the fine one.

    Each pass in ``params.passes`` yields connected groups of voxels; groups smaller than
    ``params.min_volume_cm3`` are dropped. Passes are taken in turn (round robin), each in order of
    decreasing mass, so a pass with few small candidates (e.g. metal) is never crowded out by many
    large organic ones; near-duplicate boxes from different passes are kept once.

    Args:
        mhu: ``float32 (Z, Y, X)`` volume in MHU.
        spacing_mm: voxel size ``(z, y, x)`` in mm.
        params: windows and limits.

    Returns:
        ``(candidates, {})``: at most ``params.max_candidates`` candidates (each carries its own voxel
        mask); the empty dict keeps the older ``(candidates, label_images)`` shape.
    """
    p = params or CandidateParams()
    spacing = (float(spacing_mm[0]), float(spacing_mm[1]), float(spacing_mm[2]))
    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    f = p.coarse
    mean_c = block_reduce(mhu, f, "mean")
    max_c = block_reduce(mhu, f, "max") if "metal" in p.passes else mean_c
    # A coarse block holds f^3 fine voxels; a group needs at least min_volume worth of blocks' voxels.
    min_blocks = max(1, int(np.floor(p.min_volume_cm3 / (voxel_cm3 * f**3))))
    per_pass: list[list[Candidate]] = []
    for name in p.passes:
        cands = [
            _candidate(mhu, g, PASSES[name], spacing)
            for g in _pass_groups(name, mhu, mean_c, max_c, p, min_blocks)
        ]
        cands = [c for c in cands if c.volume_cm3 >= p.min_volume_cm3]
        per_pass.append(sorted(cands, key=lambda c: -c.mass_g))
    out: list[Candidate] = []
    depth = 0
    while len(out) < p.max_candidates and any(depth < len(c) for c in per_pass):
        for cands in per_pass:
            if depth < len(cands) and len(out) < p.max_candidates:
                c = cands[depth]
                if all(_box_iou(c.box, o.box) < p.duplicate_iou for o in out):
                    out.append(c)
        depth += 1
    return out, {}


def candidate_inputs(
    mhu: np.ndarray, cands: Sequence[Candidate], labels: object = None, crop: int = 24
) -> tuple[np.ndarray, np.ndarray]:
    """Classifier inputs for ``cands``: the box plus one voxel, resampled (nearest voxel) to ``crop^3``.

    Args:
        mhu: ``float32 (Z, Y, X)`` volume in MHU.
        cands: from :func:`find_candidates`.
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
