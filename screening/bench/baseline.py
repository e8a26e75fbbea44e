"""Baseline in the same run: torchvision Faster R-CNN (MobileNetV3-FPN), trained here on the same simulator.

It is "the thing a user would otherwise assemble": a stock detector, randomly initialised (``weights=None``,
``weights_backbone=None``: no network), fed the same images at the same resolution as our X-ray model
(the pseudo-colour rendering letterboxed to our model's input size). For CT it runs on two orthogonal
mean-MHU projections of the volume (top: along Y, side: along X) and pairs same-label boxes by their
overlap along the belt (Z) into 3-D boxes. Scores are the detector's softmax scores, thresholded by the
same policy as ours.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screening.errors import BackendUnavailableError, InvalidScanError
from screening.scan import CONTRABAND, Detection, Label, Modality, Scan

__all__ = [
    "BASELINE_CLASSES",
    "BaselineDetector",
    "TrainResult",
    "baseline_input_size",
    "baseline_weights_path",
    "build_model",
    "ct_projections",
    "train_baseline",
    "xray_image",
]

#: Baseline class order; index 0 is background (torchvision convention), so label ``i`` is class ``i + 1``.
BASELINE_CLASSES: tuple[Label, ...] = (*CONTRABAND, Label.SHIELD)
#: Used until a model card exists: the input side the shipped X-ray model is being trained at (224); CT
#: projections are letterboxed to 256.
_FALLBACK_SIZE = {"xray": 224, "ct": 256}


def _models_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "models"


def baseline_input_size(modality: str) -> int:
    """Our model's square input side for ``modality`` (from its model card), so both see the same pixels.

    Falls back to 224 for X-ray (the shipped model's training size) and 256 for CT projections when no
    card is shipped yet.
    """
    for card in sorted(_models_dir().glob("*.json")):
        try:
            d = json.loads(card.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(d, dict) or not isinstance(d.get("input_spec"), dict):
            continue  # not a model card (e.g. a contact-sheet index)
        shape = d["input_spec"].get("shape")
        if d.get("modality") == modality and isinstance(shape, list) and len(shape) == 4:
            return int(shape[-1])
    return _FALLBACK_SIZE[modality]


def baseline_weights_path(cache_dir: Path, modality: str) -> Path:
    """Where the trained baseline for ``modality`` is cached: keyed by input size and simulator version."""
    from screening.bench.bagset import sim_fingerprint

    size = baseline_input_size(modality)
    return Path(cache_dir) / "baseline" / f"frcnn_mnv3_{modality}_{size}_{sim_fingerprint()}.pt"


def _torch() -> Any:
    try:
        import torch
        import torchvision  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            "the baseline needs torch and torchvision; install them with 'pip install torch torchvision'"
        ) from exc
    return torch


def build_model(size: int) -> Any:
    """Untrained ``fasterrcnn_mobilenet_v3_large_fpn`` for 7 classes at a fixed ``size`` x ``size`` input.

    ``min_size = max_size = size`` so torchvision does not rescale the (already letterboxed) input.
    """
    _torch()
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    return fasterrcnn_mobilenet_v3_large_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=len(BASELINE_CLASSES) + 1,
        min_size=size,
        max_size=size,
        box_score_thresh=0.05,
    )


def xray_image(scan: Scan, size: int) -> tuple[np.ndarray, Any]:
    """The same model input our X-ray detector gets: pseudo-colour RGB, letterboxed to ``size``.

    Returns:
        ``(float32 (3, size, size) in [0, 1], Letterbox)``.
    """
    from screening.detect.xray_input import letterbox, scan_to_rgb

    return letterbox(scan_to_rgb(scan), size)


def ct_projections(scan: Scan) -> dict[str, np.ndarray]:
    """Mean-MHU projections of a CT volume as 3-channel images in ``[0, 1]``.

    Returns:
        ``{"top": (3, Z, X), "side": (3, Z, Y)}`` float32 (MHU/4000 of the mean along Y resp. X, clipped).
    """
    if scan.modality != Modality.CT:
        raise InvalidScanError(f"expected a CT scan; got {scan.modality}", source=scan.source or None)
    vol = scan.array[0]  # (Z, Y, X) MHU
    out = {}
    for name, axis in (("top", 1), ("side", 2)):
        proj = np.clip(vol.mean(axis=axis) / 4000.0, 0.0, 1.0).astype(np.float32)
        out[name] = np.repeat(proj[None], 3, axis=0)
    return out


def _square(img: np.ndarray, size: int) -> tuple[np.ndarray, Any]:
    from screening.detect.xray_input import letterbox

    return letterbox(img, size, fill=0.0)


def _z_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    lo, hi = max(a[1], b[1]), min(a[3], b[3])
    inter = max(0.0, hi - lo)
    union = (a[3] - a[1]) + (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_baseline` did (also written as a JSON card beside the weights)."""

    weights: Path
    modality: str
    size: int
    seed: int
    train_bags: int
    images: int
    steps: int
    seconds: float
    final_loss: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "torchvision fasterrcnn_mobilenet_v3_large_fpn (weights=None, weights_backbone=None)",
            "modality": self.modality,
            "input_size": self.size,
            "seed": self.seed,
            "train_bags": self.train_bags,
            "images": self.images,
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "final_loss": round(self.final_loss, 4),
            "data": "synthetic: screening.sim bags, seeds [seed, seed + train_bags), not the bench seeds",
        }


class BaselineDetector:
    """The Faster R-CNN baseline behind the ``Detector`` protocol (with ``detect_batch`` for lanes).

    Args:
        model: a model from :func:`build_model` (eval mode is set here).
        modality: ``"xray"`` or ``"ct"``.
        size: square input side.
        device: ``"cpu"`` or ``"cuda"``.
        trained: whether weights were loaded (untrained runs are flagged in ``version``).
        tag: short weights hash for ``version``.
    """

    name = "baseline-frcnn-mnv3"

    def __init__(
        self, model: Any, modality: str, size: int, device: str = "cpu", trained: bool = False, tag: str = ""
    ) -> None:
        import torchvision

        self.model = model.eval().to(device)
        self.modality = modality
        self.modalities = (Modality.XRAY,) if modality == "xray" else (Modality.CT,)
        self.size = size
        self.device = device
        self.version = f"torchvision-{torchvision.__version__}+" + (
            f"sha256:{tag}" if trained else "untrained"
        )

    @classmethod
    def load(
        cls,
        modality: str,
        weights: Path | None = None,
        device: str = "cpu",
        threads: int = 1,
        size: int | None = None,
    ) -> BaselineDetector:
        """Build the model, load ``weights`` if given (``.pt`` state dict from :func:`train_baseline`).

        ``size`` overrides the input side of an untrained model (quick mode); trained weights carry theirs.
        """
        torch = _torch()
        torch.set_num_threads(max(1, threads))
        size = size or baseline_input_size(modality)
        tag = ""
        if weights is not None:
            card = json.loads(Path(weights).with_suffix(".json").read_text())
            size = int(card["input_size"])
        model = build_model(size)
        if weights is not None:
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            tag = hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:12]
        return cls(model, modality, size, device, trained=weights is not None, tag=tag)

    def _images(self, scan: Scan) -> list[tuple[str, np.ndarray, Any]]:
        if self.modality == "xray":
            img, lb = xray_image(scan, self.size)
            return [(scan.view, img, lb)]
        return [(name, *_square(img, self.size)) for name, img in ct_projections(scan).items()]

    def _infer(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        import torch

        with torch.inference_mode():
            batch = [torch.from_numpy(np.ascontiguousarray(im)).to(self.device) for im in images]
            outs = self.model(batch)
        return [{k: v.detach().cpu().numpy() for k, v in o.items()} for o in outs]

    def __call__(self, scan: Scan) -> list[Detection]:
        return self.detect_batch([scan])[0]

    def detect_batch(self, scans: Sequence[Scan]) -> list[list[Detection]]:
        """Detections for several scans (views of several bags across lanes) in one forward pass."""
        items = [(i, *it) for i, s in enumerate(scans) for it in self._images(s)]
        if not items:
            return [[] for _ in scans]
        outs = self._infer([img for _, _, img, _ in items])
        per_scan: list[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = [{} for _ in scans]
        from screening.detect.xray_input import unletterbox_boxes

        for (i, view, img, lb), o in zip(items, outs, strict=True):
            shape = scans[i].shape if self.modality == "xray" else img.shape[1:]
            if self.modality == "ct":
                vol = scans[i].shape  # (Z, Y, X)
                shape = (vol[0], vol[2]) if view == "top" else (vol[0], vol[1])
            boxes = unletterbox_boxes(o["boxes"].reshape(-1, 4), lb, shape)
            per_scan[i][view] = (boxes, o["labels"], o["scores"])
        return [
            self._xray_dets(s, p) if self.modality == "xray" else self._ct_dets(p)
            for s, p in zip(scans, per_scan, strict=True)
        ]

    def _xray_dets(self, scan: Scan, per_view: dict[str, Any]) -> list[Detection]:
        boxes, labels, scores = per_view[scan.view]
        return [
            Detection(
                label=BASELINE_CLASSES[int(c) - 1],
                score=float(np.clip(s, 0.0, 1.0)),
                box=tuple(float(v) for v in b),
                view=scan.view,
                detector=self.name,
            )
            for b, c, s in zip(boxes, labels, scores, strict=True)
            if b[2] - b[0] >= 1 and b[3] - b[1] >= 1
        ]

    def _ct_dets(self, per_view: dict[str, Any]) -> list[Detection]:
        """Pair top (x, z) and side (y, z) boxes of one label by Z overlap into 3-D boxes."""
        tb, tl, ts = per_view["top"]
        sb, sl, ss = per_view["side"]
        out = []
        used: set[int] = set()
        for b1, c1, s1 in sorted(zip(tb, tl, ts, strict=True), key=lambda t: -t[2]):
            best, best_j = 0.3, -1
            for j, (b2, c2) in enumerate(zip(sb, sl, strict=True)):
                if j in used or c2 != c1:
                    continue
                ov = _z_overlap(b1, b2)
                if ov > best:
                    best, best_j = ov, j
            if best_j < 0:
                continue
            used.add(best_j)
            b2, s2 = sb[best_j], ss[best_j]
            z0, z1 = (b1[1] + b2[1]) / 2, (b1[3] + b2[3]) / 2
            out.append(
                Detection(
                    label=BASELINE_CLASSES[int(c1) - 1],
                    score=float(np.sqrt(np.clip(s1 * s2, 0.0, 1.0))),
                    box=(float(b1[0]), float(b2[0]), float(z0), float(b1[2]), float(b2[2]), float(z1)),
                    detector=self.name,
                )
            )
        return out


def _targets_xray(sim_bag: Any, size: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image, boxes xyxy in model pixels, class ids) per X-ray view of a simulated bag."""
    out = []
    for view in getattr(sim_bag, "xray", ()) or ():
        img, lb = xray_image(view, size)
        boxes, labels = [], []
        for obj in sim_bag.objects:
            box = (getattr(obj, "boxes_2d", None) or {}).get(view.view)
            if box is None or obj.label is None or Label(str(obj.label)) not in BASELINE_CLASSES:
                continue
            x0, y0, x1, y1 = (float(v) for v in box)
            boxes.append(
                [
                    x0 * lb.scale + lb.pad_x,
                    y0 * lb.scale + lb.pad_y,
                    x1 * lb.scale + lb.pad_x,
                    y1 * lb.scale + lb.pad_y,
                ]
            )
            labels.append(BASELINE_CLASSES.index(Label(str(obj.label))) + 1)
        out.append((img, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64)))
    return out


def _targets_ct(sim_bag: Any, size: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image, boxes, class ids) for the top and side projections of a simulated CT bag."""
    ct = getattr(sim_bag, "ct", None)
    if ct is None:
        return []
    out = []
    for name, img in ct_projections(ct).items():
        sq, lb = _square(img, size)
        boxes, labels = [], []
        for obj in sim_bag.objects:
            b = getattr(obj, "box_3d", None)
            if b is None or obj.label is None or Label(str(obj.label)) not in BASELINE_CLASSES:
                continue
            x0, y0, z0, x1, y1, z1 = (float(v) for v in b)
            u0, u1 = (x0, x1) if name == "top" else (y0, y1)
            boxes.append(
                [
                    u0 * lb.scale + lb.pad_x,
                    z0 * lb.scale + lb.pad_y,
                    u1 * lb.scale + lb.pad_x,
                    z1 * lb.scale + lb.pad_y,
                ]
            )
            labels.append(BASELINE_CLASSES.index(Label(str(obj.label))) + 1)
        out.append((sq, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64)))
    return out


def _training_images(
    modality: str,
    make_bag: Callable[[int], Any],
    seed: int,
    n: int,
    size: int,
    out_path: Path,
    log: Callable[[str], None] | None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Training images and targets, cached beside the weights (simulating bags is the slow part)."""
    import pickle

    cache = Path(out_path).with_name(f"{Path(out_path).stem}_data_s{seed}_n{n}.pkl")
    if cache.is_file():
        with cache.open("rb") as fh:
            return pickle.load(fh)  # our own cache file, written below
    to_targets = _targets_xray if modality == "xray" else _targets_ct
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    t0 = time.perf_counter()
    for i in range(n):
        data.extend((img.astype(np.float16), b, lab) for img, b, lab in to_targets(make_bag(seed + i), size))
        if log and (i + 1) % 10 == 0:
            log(
                f"baseline {modality}: {i + 1}/{n} training bags simulated ({time.perf_counter() - t0:.0f} s)"
            )
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as fh:
        pickle.dump(data, fh)
    return data


def train_baseline(
    modality: str,
    out_path: Path,
    make_bag: Callable[[int], Any],
    *,
    seed: int = 0,
    train_bags: int = 60,
    budget_s: float = 300.0,
    threads: int = 2,
    batch_size: int = 2,
    lr: float = 0.01,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train the baseline on simulated bags (CPU, seeded, bounded by ``budget_s``) and save it.

    Recipe (documented so it can be reproduced): bags ``make_bag(seed + i)`` for ``i < train_bags``
    (disjoint from the benchmark's seeds), every X-ray view (or both CT projections) as one image at our
    model's input size; SGD momentum 0.9, weight decay 1e-4, ``lr`` with a linear warm-up over 50 steps,
    random horizontal flips, batches of ``batch_size``, epochs until ``budget_s`` of training time has
    passed (data generation not counted). Images without objects are kept (they teach background).

    Args:
        modality: ``"xray"`` or ``"ct"``.
        out_path: ``.pt`` state dict to write; a ``.json`` card is written beside it.
        make_bag: ``seed -> SimBag`` (``screening.sim.generate_bag`` for the modality).
        seed: first training seed; also seeds torch and the shuffling.
        train_bags: number of simulated training bags.
        budget_s: training wall-clock budget, seconds.
        threads: torch intra-op threads.
        batch_size: images per step.
        lr: peak learning rate.
        log: progress callback (one line per epoch).

    Returns:
        What was trained (also in the card).
    """
    from screening.bench.bagset import sim_fingerprint

    sim_fp = sim_fingerprint()  # the simulator the training bags come from
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    size = baseline_input_size(modality)
    data = _training_images(modality, make_bag, seed, train_bags, size, out_path, log)
    if not data:
        raise InvalidScanError(f"no {modality} training images could be made from the simulator")
    model = build_model(size).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    steps, loss_ema, t0 = 0, float("nan"), time.perf_counter()
    epoch = 0
    while time.perf_counter() - t0 < budget_s:
        order = rng.permutation(len(data))
        for k in range(0, len(order), batch_size):
            if time.perf_counter() - t0 >= budget_s:
                break
            imgs, tgts = [], []
            for j in order[k : k + batch_size]:
                img, boxes, labels = data[j]
                img_t = torch.from_numpy(img.astype(np.float32))
                boxes_t = torch.from_numpy(boxes.copy())
                if rng.random() < 0.5:
                    img_t = img_t.flip(-1)
                    if len(boxes_t):
                        boxes_t[:, [0, 2]] = size - boxes_t[:, [2, 0]]
                imgs.append(img_t)
                tgts.append({"boxes": boxes_t, "labels": torch.from_numpy(labels)})
            for g in opt.param_groups:
                g["lr"] = lr * min(1.0, (steps + 1) / 50)
            losses = model(imgs, tgts)
            loss = sum(losses.values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            steps += 1
            value = float(loss.detach())
            loss_ema = value if np.isnan(loss_ema) else 0.9 * loss_ema + 0.1 * value
        epoch += 1
        if log:
            log(f"baseline {modality}: epoch {epoch}, {steps} steps, loss {loss_ema:.3f}")
    seconds = time.perf_counter() - t0
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_path)
    result = TrainResult(out_path, modality, size, seed, train_bags, len(data), steps, seconds, loss_ema)
    card = {**result.to_dict(), "simulator": sim_fp}
    out_path.with_suffix(".json").write_text(json.dumps(card, indent=1))
    return result
