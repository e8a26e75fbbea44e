"""CT candidates by physics: density windows, connected components, mass (crops: ``ct_inputs``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FEATURES",
    "METAL_BANDS",
    "PASSES",
    "Candidate",
    "CandidateParams",
    "block_reduce",
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

#: Candidate passes, by band code (``Candidate.band``). Codes 1-3 are metal passes, 0/4/5 organic.
PASSES: dict[str, int] = {"organic": 0, "metal": 1, "heavy": 2, "cluster": 3, "dense": 4, "split": 5}
#: Band codes of the metal passes (their MHU/1000 is not a density: photoelectric excess).
METAL_BANDS: frozenset[int] = frozenset({PASSES["metal"], PASSES["heavy"], PASSES["cluster"]})


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
        context: side, in cells, of the fixed-scale context cube the classifier also reads
            (:func:`screening.detect.ct_inputs.context_inputs`); 0 = none (models before session 7).
        context_mm: cell size of that cube in mm.
        coarse: grouping grid, fine voxels per block side (1 = group on the fine grid).
        passes: which passes run (keys of :data:`PASSES`): ``organic`` and ``metal`` windows;
            ``heavy`` metals (block mean above ``heavy_mhu``: iron, brass, lead, but not aluminium);
            ``cluster`` of small heavy pieces near each other (loose rounds); ``dense`` organics (block
            mean above ``dense_mhu``: drugs, ivory, dense plastics, apart from water-like food and
            paper); ``split``: organic components eroded by ``split_erosion`` blocks so that objects
            touching through thin bridges or sitting in containers come apart.
        duplicate_iou: a candidate whose box overlaps an already kept one this much is dropped.
        heavy_mhu: heavy-metal threshold (aluminium is ~2700-3500 MHU, steel and brass far above).
        cluster_mm: centre distances linking small heavy pieces into one cluster (single linkage), one
            clustering per distance: a box of rounds, or rounds scattered through a lining.
        cluster_max_cm3: largest piece that can join a cluster (a cartridge is ~0.5-4 cm^3).
        dense_mhu: lower edge of the dense-organic band (water and most food are ~1000 MHU).
        split_erosion: erosions, in blocks, of the split pass (one split per value; an int is one value).
            One block parts a brick from the clothes it lies on; a bundle sewn into a lining, pressed
            against a packed bag's contents, needs two.
    """

    organic_mhu: tuple[float, float] = (700.0, 2600.0)
    metal_mhu: float = 2600.0
    min_volume_cm3: float = 0.4
    max_candidates: int = 48
    crop: int = 24
    context: int = 0
    context_mm: float = 6.0
    coarse: int = 2
    passes: tuple[str, ...] = ("organic", "metal", "heavy", "cluster", "dense", "split")
    duplicate_iou: float = 0.85
    heavy_mhu: float = 8000.0
    cluster_mm: tuple[float, ...] = (30.0, 80.0)
    cluster_max_cm3: float = 4.0
    dense_mhu: float = 1150.0
    split_erosion: tuple[int, ...] = (1, 2)

    def __post_init__(self) -> None:
        object.__setattr__(self, "organic_mhu", tuple(float(v) for v in self.organic_mhu))
        object.__setattr__(self, "passes", tuple(self.passes))
        object.__setattr__(self, "cluster_mm", tuple(float(v) for v in self.cluster_mm))
        erosion = self.split_erosion
        object.__setattr__(
            self,
            "split_erosion",
            (int(erosion),) if isinstance(erosion, int | float) else tuple(int(e) for e in erosion),
        )
        bad = [p for p in self.passes if p not in PASSES]
        if bad:
            raise ValueError(f"unknown candidate pass(es) {bad}; expected some of {sorted(PASSES)}")
        if not self.split_erosion or min(self.split_erosion) < 1:
            # scipy erodes "until nothing changes" for iterations < 1: that would empty the pass.
            raise ValueError(f"split_erosion must be one or more depths >= 1; got {self.split_erosion}")
        if self.coarse < 1 or self.crop < 1 or self.max_candidates < 0 or self.context < 0:
            raise ValueError(
                f"coarse, crop must be >= 1 and max_candidates, context >= 0; got {self.coarse}, "
                f"{self.crop}, {self.max_candidates}, {self.context}"
            )
        if not self.context_mm > 0:
            raise ValueError(f"context_mm must be > 0; got {self.context_mm}")


@dataclass(frozen=True)
class Candidate:
    """One candidate object: a group of voxels in a density window.

    Attributes:
        box: voxel box ``(x0, y0, z0, x1, y1, z1)`` (exclusive upper corner), tight around ``mask``.
        band: pass code (:data:`PASSES`): 1-3 metal passes, 0/4/5 organic passes.
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


def _bbox(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """Bounding box of the true voxels of a 3-D mask, or ``None`` when there are none."""
    out = []
    for axis in range(3):
        nz = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if nz.size == 0:
            return None
        out.append(slice(int(nz[0]), int(nz[-1]) + 1))
    return tuple(out)  # type: ignore[return-value]


def _fine_groups(
    mhu: np.ndarray,
    coarse_mask: np.ndarray,
    weight_c: np.ndarray,
    window: tuple[float, float] | np.ndarray,
    f: int,
    min_blocks: int,
    grow_within: np.ndarray | None = None,
    grow: int = 1,
) -> Iterator[_Group]:
    """Connected components of ``coarse_mask`` as the fine voxels in ``window`` they cover, heaviest first.

    Components are ordered by their coarse mass (sum of ``weight_c``, the block-mean MHU) and turned
    into fine voxels only when the caller asks for the next one, so a pass with hundreds of fragments
    costs little when only its heaviest few are kept.

    Args:
        mhu: ``(Z, Y, X)`` fine volume in MHU.
        coarse_mask: ``bool`` block-grid mask of the pass.
        weight_c: block-mean MHU (for the mass order).
        window: fine voxels kept: ``window[0] <= mhu < window[1]``, or that test precomputed as a
            ``bool (Z, Y, X)`` mask (shared by passes with the same window).
        f: fine voxels per block side.
        min_blocks: smaller components are skipped.
        grow_within: if given, each component first grows by ``grow`` blocks into this coarse mask
            (undoing an erosion of that depth).
        grow: blocks to grow by.

    Yields:
        Tight groups (slice and mask on the fine grid), non-empty.
    """
    from scipy import ndimage

    # Label only inside the bounding box of the mask (metal masks are sparse), then shift back.
    box = _bbox(coarse_mask)
    if box is None:
        return
    labelled, n = ndimage.label(coarse_mask[box])
    flat = labelled.ravel()
    counts = np.bincount(flat, minlength=n + 1)
    mass = np.bincount(flat, weights=np.clip(weight_c[box], 0.0, None).ravel(), minlength=n + 1)
    slices = ndimage.find_objects(labelled)
    for k in np.argsort(-mass[1:], kind="stable") + 1:
        if counts[k] < min_blocks:
            continue
        sl = slices[k - 1]
        own_sub = labelled[sl] == k
        sl = tuple(slice(s.start + b.start, s.stop + b.start) for s, b in zip(sl, box, strict=True))
        if grow_within is not None:
            grown = tuple(
                slice(max(0, s.start - grow), min(d, s.stop + grow))
                for s, d in zip(sl, coarse_mask.shape, strict=True)
            )
            own_c = np.zeros([g.stop - g.start for g in grown], dtype=bool)
            own_c[
                tuple(slice(s.start - g.start, s.stop - g.start) for s, g in zip(sl, grown, strict=True))
            ] = own_sub
            # Geodesic: each step stays inside the window, so growth never jumps a gap between objects.
            own_c = ndimage.binary_dilation(own_c, iterations=grow, mask=grow_within[grown])
            sl = grown
        else:
            own_c = own_sub
        fine = tuple(slice(s.start * f, min(s.stop * f, d)) for s, d in zip(sl, mhu.shape, strict=True))
        if f > 1:
            own_c = own_c.repeat(f, 0).repeat(f, 1).repeat(f, 2)
            own_c = own_c[
                : fine[0].stop - fine[0].start, : fine[1].stop - fine[1].start, : fine[2].stop - fine[2].start
            ]
        if isinstance(window, np.ndarray):
            own = own_c & window[fine]
        else:
            sub = mhu[fine]
            own = own_c & (sub >= window[0]) & (sub < window[1])
        if own.any():
            yield _tighten(_Group(fine, own))  # type: ignore[arg-type]


def _clusters(
    groups: Sequence[_Group], spacing: tuple[float, float, float], p: CandidateParams
) -> list[_Group]:
    """Groups of small dense objects lying near each other (loose rounds, a handful of coins).

    Small heavy-metal pieces (at most ``p.cluster_max_cm3`` each) whose centres lie within
    one of ``p.cluster_mm`` of one another (single linkage) form one group when there are at least two.
    """
    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    small = [g for g in groups if g.mask.sum() * voxel_cm3 <= p.cluster_max_cm3]
    if len(small) < 2:
        return []
    centres = np.array(
        [
            [
                (
                    np.flatnonzero(g.mask.any(axis=tuple(a for a in range(3) if a != ax))).mean()
                    + g.sl[ax].start
                )
                * spacing[ax]
                for ax in range(3)
            ]
            for g in small
        ]
    )
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    dist = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    sets: dict[tuple[int, ...], list[_Group]] = {}
    for d in p.cluster_mm:
        _, which = connected_components(csr_matrix(dist <= d), directed=False)
        for c in np.unique(which):
            idx = tuple(int(i) for i in np.flatnonzero(which == c))
            if len(idx) >= 2:
                sets[idx] = [small[i] for i in idx]
    out = []
    for gs in sets.values():
        lo = [min(g.sl[a].start for g in gs) for a in range(3)]
        hi = [max(g.sl[a].stop for g in gs) for a in range(3)]
        mask = np.zeros([h - l_ for h, l_ in zip(hi, lo, strict=True)], dtype=bool)
        for g in gs:
            mask[tuple(slice(g.sl[a].start - lo[a], g.sl[a].stop - lo[a]) for a in range(3))] |= g.mask
        out.append(_Group(tuple(slice(l_, h) for l_, h in zip(lo, hi, strict=True)), mask))  # type: ignore[arg-type]
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
    """Features of a tightened group."""
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
            float(band in METAL_BANDS),
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
    mhu: np.ndarray, spacing: tuple[float, float, float], p: CandidateParams
) -> dict[str, Iterator[_Group]]:
    """Per pass in ``p.passes``, its fine-voxel groups, heaviest first (lazily)."""
    from scipy import ndimage

    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    f = p.coarse
    lo, hi = p.organic_mhu
    mean_c = block_reduce(mhu, f, "mean")
    # A coarse block holds f^3 fine voxels; a group needs at least min_volume worth of blocks' voxels.
    min_blocks = max(1, int(np.floor(p.min_volume_cm3 / (voxel_cm3 * f**3))))
    organic_c = (mean_c >= lo) & (mean_c < hi)
    organic: tuple[float, float] | np.ndarray = (lo, hi)
    if {"organic", "dense", "split"} & set(p.passes):
        organic = (mhu >= lo) & (mhu < hi)  # one fine window mask shared by the organic passes
    out: dict[str, Iterator[_Group]] = {}
    if "organic" in p.passes:
        out["organic"] = _fine_groups(mhu, organic_c, mean_c, organic, f, min_blocks)
    if "metal" in p.passes:
        max_c = block_reduce(mhu, f, "max")
        out["metal"] = _fine_groups(mhu, max_c >= p.metal_mhu, mean_c, (p.metal_mhu, np.inf), f, min_blocks)
    if "heavy" in p.passes or "cluster" in p.passes:
        # Heavy metals (iron, copper/brass, lead: several times aluminium's attenuation), grouped on the block
        # mean so that rounds touching light-metal clutter (cans, laptop frames) separate from it.
        heavy = list(_fine_groups(mhu, mean_c >= p.heavy_mhu, mean_c, (p.heavy_mhu, np.inf), f, 1))
        if "heavy" in p.passes:
            out["heavy"] = iter(heavy)
        if "cluster" in p.passes:
            out["cluster"] = iter(_clusters(heavy, spacing, p))
    if "dense" in p.passes:
        # Denser-than-water organics (drugs, dense plastics, ivory) apart from water-like food, gels, paper
        # and textiles they are packed in or against.
        dense_c = (mean_c >= p.dense_mhu) & (mean_c < hi)
        out["dense"] = _fine_groups(mhu, dense_c, mean_c, organic, f, min_blocks)
    if "split" in p.passes:
        # Objects touching through thin bridges (a brick on folded clothes, an item inside a container):
        # erode, label the cores, grow each core back as far inside the organic window.
        out["split"] = _interleave(
            _fine_groups(
                mhu,
                ndimage.binary_erosion(organic_c, iterations=e),
                mean_c,
                organic,
                f,
                min_blocks,
                grow_within=organic_c,
                grow=e,
            )
            for e in p.split_erosion
        )
    return out


def _interleave(iterators: Iterator[Iterator[_Group]]) -> Iterator[_Group]:
    """One item from each iterator in turn (each stays heaviest first), so a deeper split is not starved."""
    live = list(iterators)
    while live:
        still = []
        for it in live:
            for g in it:
                yield g
                still.append(it)
                break
        live = still


def find_candidates(
    mhu: np.ndarray, spacing_mm: tuple[float, float, float], params: CandidateParams | None = None
) -> tuple[list[Candidate], dict[int, np.ndarray]]:
    """Candidate objects from density windows, grouped on a coarse grid, measured on the fine one.

    Each pass in ``params.passes`` yields connected groups of voxels; groups smaller than
    ``params.min_volume_cm3`` are dropped. Passes are taken in turn (round robin), each in order of
    decreasing (block-grid) mass, so a pass with few small candidates (e.g. metal) is never crowded out
    by many large organic ones; near-duplicate boxes from different passes are kept once.

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
    groups = _pass_groups(mhu, spacing, p)
    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    passes = [(PASSES[name], groups[name]) for name in p.passes]
    chosen: list[tuple[int, _Group, tuple[int, ...]]] = []
    while len(chosen) < p.max_candidates and passes:
        alive = []
        for band, it in passes:
            if len(chosen) >= p.max_candidates:
                break
            for g in it:  # this pass's next group that is big enough and not a duplicate
                if g.mask.sum() * voxel_cm3 < p.min_volume_cm3:
                    continue
                z, y, x = g.sl
                box = (x.start, y.start, z.start, x.stop, y.stop, z.stop)
                if all(_box_iou(box, o[2]) < p.duplicate_iou for o in chosen):
                    chosen.append((band, g, box))
                    alive.append((band, it))
                    break
        passes = alive
    out = [_candidate(mhu, g, band, spacing) for band, g, _ in chosen]
    return out, {}
