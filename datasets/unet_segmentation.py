"""A 3-D U-Net CT segmentation for the separability study: object mask and core distance, then grown cores.

The separability study (``organic_separability.py``) found that a drug brick or a banknote bundle is
separable from benign clutter when it is cut out as itself, and not when it is cut out together with the
clothes and books it touches; the voxel classifier of ``voxel_segmentation.py`` sees too few voxels around
each voxel to tell one object from two. This network sees whole objects (receptive field ~70 voxels,
~14 cm at 2 mm) and predicts two maps per voxel, the way nucleus-instance methods (StarDist, distance-map
watershed) part touching cells:

- ``object``: the voxel belongs to an object that is not soft clutter (clothes count as background: they
  touch everything in a bag, and an object kept with them would join every item through them);
- ``core``: the voxel's distance, in voxels, to the nearest voxel of another object or of the background,
  clipped at ``CORE_CLIP`` and divided by it: at a contact between two objects it falls to zero.

Cores (``core > 0.5``: at least about two voxels inside one object) are connected components, one object
each, and grow back into the predicted object mask by nearest core.

Synthetic data only (the simulator's label volumes). Train (50 minutes of steps on 2 CPU cores)::

    .venv/bin/python datasets/unet_segmentation.py --bags 160 --seed 6900000 --steps 2400 --out /tmp/useg

then ``organic_separability.py --segmentation unet --unet-model /tmp/useg/unet.pt``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Distance (voxels) at which the core target saturates: 4 voxels of 2 mm.
CORE_CLIP = 4.0
#: Input scaling: MHU / 1000 (water = 1), clipped so that metal does not dominate the activations.
MHU_CLIP = 6000.0


@dataclass(frozen=True)
class UNetSegParams:
    """Thresholds of :func:`segment`.

    Attributes:
        object_p: probability above which a voxel belongs to an object.
        core_p: core map above which a voxel is an object's core (0.5 = about ``CORE_CLIP / 2`` inside).
        min_voxels: smallest segment kept (a cartridge is ~60-250 voxels of 2 mm).
        grow: voxels a core grows back into the object mask (its own outer layer and the blur).
    """

    object_p: float = 0.5
    core_p: float = 0.5
    min_voxels: int = 40
    grow: int = 3


def targets(labels: np.ndarray, background: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """``(object uint8, core float32 in [0, 1])`` of labels ``(Z, Y, X)``; ``background`` labels count as 0.

    ``core`` is the Euclidean distance from an object voxel to the nearest voxel carrying another label
    (background included), clipped at ``CORE_CLIP`` and scaled to ``[0, 1]``: it is ``1 / CORE_CLIP`` on an
    object's outer layer and at every contact with another object.
    """
    from scipy import ndimage as ndi

    lab = np.where(np.isin(labels, background), 0, labels) if background else labels
    cross = ndi.generate_binary_structure(3, 1)
    lo = ndi.grey_erosion(lab, footprint=cross, mode="nearest")
    hi = ndi.grey_dilation(lab, footprint=cross, mode="nearest")
    inside = (lab > 0) & (lo == lab) & (hi == lab)
    obj = lab > 0
    # distance to the nearest non-interior voxel, +1 so that the outer layer of an object is 1 voxel deep
    dist = ndi.distance_transform_edt(inside) + obj
    core = np.minimum(dist, CORE_CLIP).astype(np.float32) / CORE_CLIP
    return obj.astype(np.uint8), core


def build_net(channels: tuple[int, ...] = (8, 16, 32, 48)) -> Any:
    """U-Net: ``(B, 1, Z, Y, X)`` MHU/1000 to ``(B, 2, Z, Y, X)`` logits (object, core); sides % 8 == 0."""
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> nn.Sequential:
        # BatchNorm, not InstanceNorm: at inference the whole bag (mostly air) goes through at once, and
        # per-volume statistics would then differ from the 64^3 training patches
        return nn.Sequential(
            nn.Conv3d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm3d(cout),
            nn.LeakyReLU(0.1),
            nn.Conv3d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm3d(cout),
            nn.LeakyReLU(0.1),
        )

    class UNet3d(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = self.channels = tuple(channels)
            self.enc = nn.ModuleList([block(1 if i == 0 else c[i - 1], c[i]) for i in range(len(c))])
            self.up = nn.ModuleList(
                [nn.ConvTranspose3d(c[i + 1], c[i], 2, stride=2) for i in range(len(c) - 1)]
            )
            self.dec = nn.ModuleList([block(2 * c[i], c[i]) for i in range(len(c) - 1)])
            self.head = nn.Conv3d(c[0], 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            for i, enc in enumerate(self.enc):
                x = enc(x)
                if i < len(self.enc) - 1:
                    skips.append(x)
                    x = nn.functional.max_pool3d(x, 2)
            for i in reversed(range(len(self.up))):
                x = self.dec[i](torch.cat([self.up[i](x), skips[i]], 1))
            return self.head(x)

    return UNet3d()


def net_input(mhu: np.ndarray) -> np.ndarray:
    """``float32`` network input of MHU (air 0, water 1000): MHU/1000, clipped at ``MHU_CLIP``."""
    return np.clip(mhu.astype(np.float32), 0.0, MHU_CLIP) / 1000.0


def predict(mhu: np.ndarray, net: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(object probability, core map)`` of a whole volume ``(Z, Y, X)``, each ``float32 (Z, Y, X)``."""
    import torch

    shape = mhu.shape
    pad = [(0, (-s) % 8) for s in shape]
    x = np.pad(net_input(mhu), pad, mode="constant")
    net.eval()
    with torch.no_grad():
        out = torch.sigmoid(net(torch.from_numpy(x)[None, None]))[0].numpy()
    z, y, xx = shape
    return out[0, :z, :y, :xx], out[1, :z, :y, :xx]


def segment(
    mhu: np.ndarray, net: Any, params: UNetSegParams = UNetSegParams()
) -> Iterator[tuple[tuple[int, int, int, int, int, int], np.ndarray]]:
    """Segments of one volume ``(Z, Y, X)``: ``(box (x0, y0, z0, x1, y1, z1), mask (z, y, x))`` each."""
    obj_p, core = predict(mhu, net)
    yield from grow_cores(obj_p > params.object_p, core > params.core_p, params.min_voxels, params.grow)


def grow_cores(
    obj: np.ndarray, core: np.ndarray, min_voxels: int, grow: int = 3
) -> Iterator[tuple[tuple[int, int, int, int, int, int], np.ndarray]]:
    """Segments ``(box, mask)`` of ``min_voxels``+ from connected cores grown into ``obj`` by nearest core.

    A core claims the object voxels within ``grow`` voxels of it; object voxels no core reaches (a blade
    or a sheet too thin to have a core) are their own connected segments.
    """
    from scipy import ndimage as ndi

    cores, n = ndi.label(core & obj)
    grown = np.zeros(obj.shape, np.int32)
    if n:
        dist, nearest = ndi.distance_transform_edt(cores == 0, return_indices=True)
        grown = cores[tuple(nearest)]
        grown[~obj | (dist > grow)] = 0
    left = obj & (grown == 0)
    rest, _ = ndi.label(left)
    grown[left] = rest[left] + n
    for i, sl in enumerate(ndi.find_objects(grown)):
        if sl is None:
            continue
        mask = grown[sl] == i + 1
        if mask.sum() < min_voxels:
            continue
        z, y, x = sl
        yield (x.start, y.start, z.start, x.stop, y.stop, z.stop), mask


def training_bag(
    mhu: np.ndarray, labels: np.ndarray, threat_ids: tuple[int, ...] = (), background: tuple[int, ...] = ()
) -> dict[str, np.ndarray]:
    """One training volume as :func:`fit` samples it: input, targets (core as ``uint8`` x255), voxel pools."""
    return _with_pools(_arrays(mhu, labels, threat_ids, background))


def _arrays(
    mhu: np.ndarray, labels: np.ndarray, threat_ids: tuple[int, ...], background: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """What the volume cache stores: ``mhu`` (float16), ``obj``, ``core`` (uint8 x255), ``threat`` (mask)."""
    obj, core = targets(labels, background)
    return {
        "mhu": mhu.astype(np.float16),
        "obj": obj,
        "core": np.round(core * 255).astype(np.uint8),
        "threat": np.isin(labels, threat_ids),
    }


def _with_pools(bag: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Swap the threat mask for the flat indices patches centre on: threat voxels, every 7th object voxel."""
    bag["threat_idx"] = np.flatnonzero(bag.pop("threat").ravel())
    bag["obj_idx"] = np.flatnonzero(bag["obj"].ravel())[::7]
    return bag


def _bag_volumes(args: tuple[int, float, str]) -> str:
    """Simulate one bag; cache ``mhu``, targets and threat voxels as ``WORK/<seed>.npz``; return the path."""
    from screening.scan import CONTRABAND
    from screening.sim.config import SimConfig
    from screening.sim.generate import generate_bag

    seed, threat_fraction, work = args
    path = Path(work) / f"{seed}.npz"
    if path.exists():
        return str(path)
    bag = generate_bag(seed, SimConfig(threat_fraction=threat_fraction, classes=CONTRABAND), modality="ct")
    assert bag.ct is not None and bag.ct_labels is not None
    mhu = np.asarray(bag.ct.array, np.float32)[0]
    soft = tuple(o.index for o in bag.objects if o.name == "clothes")
    threat_ids = tuple(o.index for o in bag.objects if o.label is not None and str(o.label) != "shield")
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **_arrays(mhu, bag.ct_labels, threat_ids, soft))
    tmp.replace(path)
    return str(path)


def _patch(bag: dict[str, np.ndarray], size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A random ``size``^3 patch: centred on a threat voxel half the time, an object voxel a quarter."""
    shape = bag["mhu"].shape
    u = rng.random()
    pool = bag["threat_idx"] if u < 0.5 and len(bag["threat_idx"]) else None
    if pool is None and u < 0.75 and len(bag["obj_idx"]):
        pool = bag["obj_idx"]
    if pool is not None:
        centre = np.unravel_index(pool[rng.integers(len(pool))], shape)
    else:
        centre = tuple(rng.integers(s) for s in shape)
    sl = []
    for c, s in zip(centre, shape, strict=True):
        lo = int(np.clip(c - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, max(s - size, 0)))
        sl.append(slice(lo, lo + size))
    out = []
    for key in ("mhu", "obj", "core"):
        a = bag[key][tuple(sl)].astype(np.float32)
        a = np.pad(a, [(0, size - n) for n in a.shape])  # volumes thinner than the patch: pad with air
        out.append(a)
    out[2] /= 255.0
    # objects lie in any orientation: flips and axis swaps are free augmentation
    perm = tuple(rng.permutation(3))
    flips = tuple(i for i in range(3) if rng.random() < 0.5)
    out = [np.flip(np.transpose(a, perm), flips) if flips else np.transpose(a, perm) for a in out]
    # another scanner's CT-number calibration and noise: scale by +-8 %, add 0-40 MHU of noise
    mhu = out[0] * rng.uniform(0.92, 1.08) + rng.normal(0, rng.uniform(0, 40), out[0].shape)
    return net_input(mhu), out[1], out[2]


def _load(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return _with_pools({k: z[k] for k in ("mhu", "obj", "core", "threat")})


def fit(
    net: Any,
    bags: list[dict[str, np.ndarray]],
    steps: int,
    rng: np.random.Generator,
    batch: int = 2,
    patch: int = 64,
    lr: float = 2e-3,
    advance: Any = None,
) -> list[float]:
    """Train ``net`` on random patches of ``bags`` (:func:`training_bag`) for ``steps``; the loss per step.

    Loss: binary cross-entropy of the object map plus twice that of the core map (soft targets): the core
    map is what parts touching objects.
    """
    import torch

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1)
    bce = torch.nn.BCEWithLogitsLoss()
    losses: list[float] = []
    net.train()
    for _ in range(steps):
        picked = [_patch(bags[rng.integers(len(bags))], patch, rng) for _ in range(batch)]
        x, obj, core = (torch.from_numpy(np.stack(c)[:, None].copy()) for c in zip(*picked, strict=True))
        logits = net(x)
        loss = bce(logits[:, :1], obj) + 2.0 * bce(logits[:, 1:], core)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if advance is not None:
            advance()
    net.eval()
    return losses


def save_net(path: Path, net: Any, params: UNetSegParams, summary: dict[str, Any]) -> None:
    """Weights, thresholds and training summary, readable by :func:`load_net` (``weights_only``)."""
    import torch

    saved = {"state": net.state_dict(), "channels": list(net.channels), "params": asdict(params)}
    torch.save({**saved, "summary": summary}, path)


def _dice(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(2 * (pred & truth).sum() / max(pred.sum() + truth.sum(), 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python datasets/unet_segmentation.py --bags 160 --seed 6900000 --steps 1800 "
        "--out /tmp/useg",
    )
    ap.add_argument("--bags", type=int, default=160)
    ap.add_argument("--seed", type=int, default=6900000, help="first bag seed (keep apart from test seeds)")
    ap.add_argument("--threat-fraction", type=float, default=0.8)
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--work-dir", type=Path, help="cache of simulated volumes (default OUT/volumes)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    import torch

    from screening.train.progress import progress_bar

    torch.manual_seed(0)
    work = a.work_dir or a.out / "volumes"
    work.mkdir(parents=True, exist_ok=True)
    jobs = [(s, a.threat_fraction, str(work)) for s in range(a.seed, a.seed + a.bags)]
    with ProcessPoolExecutor(a.workers) as ex, progress_bar("simulated volumes", len(jobs)) as advance:
        paths = []
        for p in ex.map(_bag_volumes, jobs):
            advance()
            paths.append(p)
    # the last tenth of the bags is held out for the dice scores
    cut = max(1, len(paths) * 9 // 10)
    train = [_load(p) for p in paths[:cut]]
    net = build_net()
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    with progress_bar("U-Net steps", a.steps) as advance:
        losses = fit(net, train, a.steps, rng, a.batch, a.patch, a.lr, advance)
    summary: dict[str, Any] = {
        "bags": a.bags,
        "seeds": [a.seed, a.seed + a.bags - 1],
        "held_out_seeds": [a.seed + cut, a.seed + a.bags - 1],
        "steps": a.steps,
        "batch": a.batch,
        "patch": a.patch,
        "train_s": round(time.time() - t0, 1),
        "final_loss_mean_last100": float(np.mean(losses[-100:])),
        "core_clip_voxels": CORE_CLIP,
    }
    held = paths[cut:]
    dices: dict[str, list[float]] = {"object": [], "core": []}
    for p in held:
        bag = _load(p)
        obj_p, core = predict(bag["mhu"].astype(np.float32), net)
        dices["object"].append(_dice(obj_p > 0.5, bag["obj"] > 0))
        dices["core"].append(_dice(core > 0.5, bag["core"] > 127))
    summary["held_out_dice"] = {k: float(np.mean(v)) if v else None for k, v in dices.items()}
    a.out.mkdir(parents=True, exist_ok=True)
    save_net(a.out / "unet.pt", net, UNetSegParams(), summary)
    (a.out / "unet.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


def load_net(path: str | Path) -> tuple[Any, UNetSegParams]:
    """The network and thresholds saved by :func:`main`."""
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=True)
    net = build_net(tuple(saved.get("channels", (8, 16, 32, 48))))
    net.load_state_dict(saved["state"])
    net.eval()
    return net, UNetSegParams(**saved["params"])


if __name__ == "__main__":
    raise SystemExit(main())
