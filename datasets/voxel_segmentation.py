"""A learned CT segmentation for the separability study: voxel "object interior" classifier, then grown cores.

The study (``organic_separability.py``) found that a drug brick or a banknote bundle is separable from benign
clutter when it is cut out as itself, and not when the shipped candidate stage cuts it out together with the
clothes and books it touches. This is the smallest learned segmentation that tests whether that gap can be
closed: the way interactive segmentation tools (ilastik, Weka trainable segmentation) work, each voxel is
described by a bank of local filters (smoothed CT number, gradient, Laplacian, Hessian eigenvalues, local
spread, at three scales) and a gradient-boosted classifier says whether it lies *inside* an object (the
simulator's label volume eroded by one voxel: at contacts between two objects the voxels of neither are
inside). Cores (connected voxels predicted inside) are one object each, and grow back a few voxels into the
foreground to recover the boundary that the erosion removed.

Synthetic data only. Train (about 8 minutes on 2 cores; needs the ``study`` extra)::

    .venv/bin/python datasets/voxel_segmentation.py --bags 60 --seed 6900000 --out /tmp/vseg

then ``organic_separability.py --segmentation voxel --voxel-model /tmp/vseg/voxel_model.pkl``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCALES = (1.0, 2.0, 4.0)
FILTERS = (
    "mhu",
    *(f"{k}_s{s:g}" for s in SCALES for k in ("smooth", "gradient", "laplace")),
    "local_sd_s2",
    "foreground_s2",
    "foreground_s4",
    "hessian1_s2",
    "hessian2_s2",
    "hessian3_s2",
)


@dataclass(frozen=True)
class SegParams:
    """Foreground and growth settings of :func:`segment`.

    Attributes:
        foreground_mhu: voxels whose 1-voxel Gaussian mean is above this MHU can belong to an object (the
            mean, because reconstruction noise and streaks put single air voxels far above it).
        inside: probability above which a voxel is an object's interior.
        core_erosion: erosions of the predicted interior before it is split into cores: one misclassified
            voxel chain joins two objects, a thin chain does not survive an erosion.
        grow: voxels a core grows back into the foreground beyond what ``core_erosion`` took (the target's
            own erosion took one; reconstruction blur more).
        min_voxels: smallest segment kept (a cartridge is ~60-250 voxels of 2 mm).
    """

    foreground_mhu: float = 500.0
    inside: float = 0.5
    core_erosion: int = 1
    grow: int = 3
    min_voxels: int = 40


def voxel_features(mhu: np.ndarray, fg: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """``float32 (N, len(FILTERS))``: the filter bank at the ``N`` true voxels of ``where`` (default ``fg``).

    ``mhu`` is ``(Z, Y, X)``; ``fg`` the foreground (:func:`foreground`), whose local share is a feature, so
    a training sample must pass its voxels as ``where`` and the whole foreground as ``fg``.

    Derivatives are central differences of the smoothed volume, not Gaussian-derivative filters: the same
    quantities to within the smoothing, at a quarter of the cost (four Gaussian passes instead of thirty).
    """
    from scipy import ndimage as ndi

    f = fg.astype(np.float32)
    at = fg if where is None else where
    v = mhu.astype(np.float32) / 1000.0  # water = 1: the filters then see g/cm^3-like numbers
    cols = [v[at]]
    hessian: np.ndarray | None = None
    smooth2: np.ndarray | None = None
    for s in SCALES:
        g = ndi.gaussian_filter(v, s)
        d = np.gradient(g)
        grad = np.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
        second = [[np.gradient(d[i], axis=j)[at] for j in range(3)] for i in range(3)]
        cols += [g[at], grad[at], second[0][0] + second[1][1] + second[2][2]]
        if s == 2.0:
            smooth2 = g
            # Hessian at 2 voxels: sheets (clothes folds, notes), rods (tusks, barrels), blobs (bricks) differ
            h = np.stack([np.stack(row, axis=1) for row in second], axis=1)
            hessian = np.linalg.eigvalsh(0.5 * (h + h.transpose(0, 2, 1)))
    assert smooth2 is not None and hessian is not None
    var = ndi.gaussian_filter(v * v, 2.0) - smooth2 * smooth2
    cols.append(np.sqrt(np.maximum(var, 0.0))[at])
    cols += [ndi.gaussian_filter(f, 2.0)[at], ndi.gaussian_filter(f, 4.0)[at]]
    cols += [hessian[:, 0], hessian[:, 1], hessian[:, 2]]
    return np.stack(cols, axis=1).astype(np.float32)


def foreground(mhu: np.ndarray, params: SegParams) -> np.ndarray:
    """Voxels that can belong to an object: the 1-voxel Gaussian mean above ``params.foreground_mhu``."""
    from scipy import ndimage as ndi

    return ndi.gaussian_filter(mhu.astype(np.float32), 1.0) > params.foreground_mhu


def interior(labels: np.ndarray) -> np.ndarray:
    """Voxels whose six neighbours all carry their own (non-zero) label: an object's inside."""
    from scipy import ndimage as ndi

    cross = ndi.generate_binary_structure(3, 1)
    lo = ndi.grey_erosion(labels, footprint=cross, mode="nearest")
    hi = ndi.grey_dilation(labels, footprint=cross, mode="nearest")
    return (labels > 0) & (lo == labels) & (hi == labels)


def training_voxels(
    mhu: np.ndarray,
    labels: np.ndarray,
    params: SegParams,
    rng: np.random.Generator,
    per_object: int = 400,
    background: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Features and interior targets of a sample of one bag's foreground voxels.

    Labels in ``background`` count as no object: soft clutter (folded clothes) touches everything in a bag,
    so a segmentation that kept it as an object would join every item through it.

    Every object gives up to ``per_object`` interior voxels, so a small cartridge weighs as much as the
    clothes; as many non-interior voxels again are drawn from the whole foreground, half of them within two
    voxels of an interior (the contacts the classifier must learn to cut).
    """
    from scipy import ndimage as ndi

    fg = foreground(mhu, params)
    if background:
        labels = np.where(np.isin(labels, background), 0, labels)
    inside = interior(labels) & fg
    picks: list[np.ndarray] = []
    flat_labels = labels.ravel()
    flat_inside = np.flatnonzero(inside.ravel())
    for index in np.unique(flat_labels[flat_inside]):
        own = flat_inside[flat_labels[flat_inside] == index]
        picks.append(rng.choice(own, min(per_object, len(own)), replace=False))
    pos = np.concatenate(picks) if picks else np.zeros(0, np.int64)
    outside = fg & ~inside
    near = outside & ndi.binary_dilation(inside, iterations=2)
    n = max(len(pos), 1)
    neg = []
    for pool in (np.flatnonzero(near.ravel()), np.flatnonzero(outside.ravel())):
        if len(pool):
            neg.append(rng.choice(pool, min(n // 2 + 1, len(pool)), replace=False))
    idx = np.unique(np.concatenate([pos, *neg]))
    sample = np.zeros(fg.size, bool)
    sample[idx] = True
    sample = sample.reshape(fg.shape)
    X = voxel_features(mhu, fg, where=sample)
    y = inside[sample]
    return X, y


def segment(
    mhu: np.ndarray, model: Any, params: SegParams = SegParams()
) -> Iterator[tuple[tuple[int, int, int, int, int, int], np.ndarray]]:
    """Segments of one volume ``(Z, Y, X)``: ``(box (x0, y0, z0, x1, y1, z1), mask (z, y, x))`` each."""
    from scipy import ndimage as ndi

    fg = foreground(mhu, params)
    if not fg.any():
        return
    core = np.zeros(fg.shape, bool)
    core[fg] = model.predict_proba(voxel_features(mhu, fg))[:, 1] > params.inside
    if params.core_erosion > 0:
        core = ndi.binary_erosion(core, iterations=params.core_erosion)
    cores, n = ndi.label(core)
    if n == 0:
        return
    dist, nearest = ndi.distance_transform_edt(cores == 0, return_indices=True)
    grown = cores[tuple(nearest)]
    grown[~fg | (dist > params.grow + params.core_erosion)] = 0
    for i, sl in enumerate(ndi.find_objects(grown)):
        if sl is None:
            continue
        mask = grown[sl] == i + 1
        if mask.sum() < params.min_voxels:
            continue
        z, y, x = sl
        yield (x.start, y.start, z.start, x.stop, y.stop, z.stop), mask


def _bag_sample(args: tuple[int, float, int]) -> tuple[np.ndarray, np.ndarray]:
    """Training voxels of one simulated bag (seeded by the bag)."""
    from screening.scan import CONTRABAND
    from screening.sim.config import SimConfig
    from screening.sim.generate import generate_bag

    seed, threat_fraction, per_object = args
    bag = generate_bag(seed, SimConfig(threat_fraction=threat_fraction, classes=CONTRABAND), modality="ct")
    assert bag.ct is not None and bag.ct_labels is not None
    mhu = np.asarray(bag.ct.array, np.float32)[0]
    soft = tuple(o.index for o in bag.objects if o.name == "clothes")
    rng = np.random.default_rng(seed)
    return training_voxels(mhu, bag.ct_labels, SegParams(), rng, per_object, background=soft)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python datasets/voxel_segmentation.py --bags 60 --seed 6900000 --out /tmp/vseg",
    )
    ap.add_argument("--bags", type=int, default=60)
    ap.add_argument("--seed", type=int, default=6900000, help="first bag seed (keep apart from test seeds)")
    ap.add_argument("--threat-fraction", type=float, default=0.7)
    ap.add_argument("--per-object", type=int, default=400)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from screening.train.progress import progress_bar

    jobs = [(s, a.threat_fraction, a.per_object) for s in range(a.seed, a.seed + a.bags)]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    with ProcessPoolExecutor(a.workers) as ex, progress_bar("voxel samples", len(jobs)) as advance:
        for part in ex.map(_bag_sample, jobs):
            advance()
            parts.append(part)
    # the last fifth of the bags is held out for the voxel AUC, then everything trains the shipped model
    cut = max(1, len(parts) * 4 // 5)
    Xtr, ytr = (np.concatenate(p) for p in zip(*parts[:cut], strict=True))
    clf = HistGradientBoostingClassifier(max_iter=200, max_leaf_nodes=63, learning_rate=0.1, random_state=0)
    summary: dict[str, Any] = {"bags": a.bags, "seeds": [a.seed, a.seed + a.bags - 1], "filters": FILTERS}
    if cut < len(parts):
        Xte, yte = (np.concatenate(p) for p in zip(*parts[cut:], strict=True))
        clf.fit(Xtr, ytr)
        summary["held_out_voxel_auc"] = float(roc_auc_score(yte, clf.predict_proba(Xte)[:, 1]))
        Xtr, ytr = np.concatenate([Xtr, Xte]), np.concatenate([ytr, yte])
    clf.fit(Xtr, ytr)
    summary["voxels"] = len(ytr)
    summary["interior_share"] = float(ytr.mean())
    a.out.mkdir(parents=True, exist_ok=True)
    with open(a.out / "voxel_model.pkl", "wb") as fh:
        # params as a plain dict: a pickled dataclass would name this script's __main__ as its module
        pickle.dump({"model": clf, "params": asdict(SegParams()), "filters": FILTERS}, fh)
    (a.out / "voxel_model.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
