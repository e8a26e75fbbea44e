"""CT candidates by physics (density windows, connected components, mass) and the classifier's crops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.detect.quantities import ct_mass_g

__all__ = ["FEATURES", "Candidate", "CandidateParams", "candidate_inputs", "find_candidates"]

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


@dataclass(frozen=True)
class CandidateParams:
    """Windows and limits for candidate extraction (MHU: air 0, water 1000).

    Attributes:
        organic_mhu: lower/upper MHU of the organic window (drugs, banknotes, animals, dense plastics).
        metal_mhu: MHU above which a voxel is metal/mineral (guns, blades, ammunition).
        min_volume_cm3: smallest component kept (a single cartridge is ~0.5-2 cm^3).
        max_candidates: keep at most this many, largest mass first.
        crop: side of the cubic crop the classifier reads, in voxels.
    """

    organic_mhu: tuple[float, float] = (700.0, 2600.0)
    metal_mhu: float = 2600.0
    min_volume_cm3: float = 0.4
    max_candidates: int = 48
    crop: int = 24


@dataclass(frozen=True)
class Candidate:
    """One connected component in a density window.

    Attributes:
        box: voxel box ``(x0, y0, z0, x1, y1, z1)`` (exclusive upper corner).
        band: 0 organic window, 1 metal window.
        volume_cm3: component volume.
        mass_g: component mass (density from MHU).
        features: ``float32 (len(FEATURES),)``.
        label_index: index of the component in the band's label image (for its mask).
    """

    box: tuple[int, int, int, int, int, int]
    band: int
    volume_cm3: float
    mass_g: float
    features: np.ndarray
    label_index: int


def _band_components(
    mhu: np.ndarray, mask: np.ndarray, band: int, spacing: tuple[float, float, float], p: CandidateParams
) -> tuple[list[Candidate], np.ndarray]:
    from scipy import ndimage

    labelled, n = ndimage.label(mask)
    if n == 0:
        return [], labelled
    counts = np.bincount(labelled.ravel(), minlength=n + 1)[1:]
    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    keep = np.nonzero(counts * voxel_cm3 >= p.min_volume_cm3)[0]
    slices = ndimage.find_objects(labelled)
    out: list[Candidate] = []
    for k in keep:
        sl = slices[k]
        sub_mask = labelled[sl] == (k + 1)
        vals = mhu[sl][sub_mask]
        dens = np.clip(vals, 0, None) / 1000.0
        vol = float(counts[k] * voxel_cm3)
        ext = sorted(((s.stop - s.start) * d / 100.0 for s, d in zip(sl, spacing, strict=True)), reverse=True)
        fill = float(counts[k]) / float(sub_mask.size)
        feats = np.array(
            [
                np.log(vol),
                dens.mean(),
                dens.std(),
                np.percentile(dens, 95),
                ext[0],
                ext[1],
                ext[2],
                fill,
                float(band),
            ],
            dtype=np.float32,
        )
        z, y, x = sl
        out.append(
            Candidate(
                box=(x.start, y.start, z.start, x.stop, y.stop, z.stop),
                band=band,
                volume_cm3=vol,
                mass_g=ct_mass_g(mhu[sl], sub_mask, spacing),
                features=feats,
                label_index=k + 1,
            )
        )
    return out, labelled


def find_candidates(
    mhu: np.ndarray, spacing_mm: tuple[float, float, float], params: CandidateParams | None = None
) -> tuple[list[Candidate], dict[int, np.ndarray]]:
    """Connected components in the organic and metal windows.

    Args:
        mhu: ``float32 (Z, Y, X)`` volume in MHU.
        spacing_mm: voxel size ``(z, y, x)`` in mm.
        params: windows and limits.

    Returns:
        ``(candidates, label_images)``: candidates sorted by decreasing mass (at most
        ``params.max_candidates``), and per band the label image their ``label_index`` refers to.
    """
    p = params or CandidateParams()
    spacing = (float(spacing_mm[0]), float(spacing_mm[1]), float(spacing_mm[2]))
    organic = (mhu >= p.organic_mhu[0]) & (mhu < p.organic_mhu[1])
    metal = mhu >= p.metal_mhu
    c0, l0 = _band_components(mhu, organic, 0, spacing, p)
    c1, l1 = _band_components(mhu, metal, 1, spacing, p)
    cands = sorted(c0 + c1, key=lambda c: -c.mass_g)[: p.max_candidates]
    return cands, {0: l0, 1: l1}


def candidate_inputs(
    mhu: np.ndarray, cands: list[Candidate], labels: dict[int, np.ndarray], crop: int = 24
) -> tuple[np.ndarray, np.ndarray]:
    """Classifier inputs for ``cands``.

    Returns:
        ``crops float32 (N, 2, crop, crop, crop)`` (MHU/1000 clipped to [0, 8]; own mask) and
        ``feats float32 (N, len(FEATURES))``.
    """
    from scipy.ndimage import zoom

    n = len(cands)
    crops = np.zeros((n, 2, crop, crop, crop), dtype=np.float32)
    feats = np.zeros((n, len(FEATURES)), dtype=np.float32)
    zmax, ymax, xmax = mhu.shape
    for i, c in enumerate(cands):
        x0, y0, z0, x1, y1, z1 = c.box
        z0, y0, x0 = max(0, z0 - 1), max(0, y0 - 1), max(0, x0 - 1)
        z1, y1, x1 = min(zmax, z1 + 1), min(ymax, y1 + 1), min(xmax, x1 + 1)
        vol = np.clip(mhu[z0:z1, y0:y1, x0:x1] / 1000.0, 0.0, 8.0)
        own = (labels[c.band][z0:z1, y0:y1, x0:x1] == c.label_index).astype(np.float32)
        factors = [crop / s for s in vol.shape]
        crops[i, 0] = _fit(zoom(vol, factors, order=1), crop)
        crops[i, 1] = _fit(zoom(own, factors, order=0), crop)
        feats[i] = c.features
    return crops, feats


def _fit(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, n, n), dtype=np.float32)
    s = tuple(min(n, d) for d in a.shape)
    out[: s[0], : s[1], : s[2]] = a[: s[0], : s[1], : s[2]]
    return out
