"""Train the X-ray CenterNet on simulated views (random palettes), export ONNX, thresholds on validation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screening.detect.card import ModelCard
from screening.detect.centernet import encode_targets
from screening.train import augment
from screening.train.checkpoint import load_checkpoint, load_weights, save_checkpoint
from screening.train.data import CLASS_NAMES, SimBag, XraySample, xray_samples
from screening.train.progress import progress_bar

__all__ = ["XrayTrainConfig", "build_model", "centernet_loss", "train_xray"]


@dataclass(frozen=True)
class XrayTrainConfig:
    """X-ray training settings (all recorded in the model card).

    Attributes:
        out: model path prefix: writes ``<out>.onnx`` and ``<out>.json``.
        work_dir: checkpoints and caches (resumable).
        size: square model input side in pixels (multiple of 16).
        steps: optimiser steps.
        batch: images per step.
        lr: AdamW peak learning rate (cosine decay, 100-step warm-up).
        width: head width.
        pretrained: start from ImageNet MobileNetV2 weights when installed.
        freeze_blocks: keep the first MobileNetV2 blocks frozen (4 = to stride 4, 7 = to stride 8): faster
            on CPU.
        seed: torch/numpy seed for initialisation and augmentation.
        target_pd: PD the validation thresholds are chosen for.
        threads: torch threads.
        ckpt_every: steps between checkpoints.
        aug_strength: 0 disables augmentation (tests).
        init: checkpoint of an earlier run whose model weights start this one (fine-tuning at another
            size or with fewer frozen blocks); ignored when ``work_dir`` already holds a checkpoint.
    """

    out: str
    work_dir: str
    size: int = 256
    steps: int = 1000
    batch: int = 16
    lr: float = 2e-3
    width: int = 64
    pretrained: bool = True
    freeze_blocks: int = 4
    seed: int = 0
    target_pd: float = 0.95
    threads: int = 2
    ckpt_every: int = 50
    aug_strength: float = 1.0
    init: str = ""


def build_model(cfg: XrayTrainConfig) -> Any:
    """The torch CenterNet for ``cfg`` (stem frozen if asked)."""
    from screening.detect.nets import XrayCenterNet

    model = XrayCenterNet(num_classes=len(CLASS_NAMES), width=cfg.width, pretrained=cfg.pretrained)
    for p in model.s8[: cfg.freeze_blocks].parameters():
        p.requires_grad = False
    return model


def centernet_loss(
    pred: Any, heat: Any, reg: Any, mask: Any, num_classes: int
) -> tuple[Any, dict[str, float]]:
    """CenterNet focal loss on heatmaps + L1 on log-size/offset at object centres."""
    import torch

    hm = pred[:, :num_classes].clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1).float()
    neg_w = torch.pow(1 - heat, 4)
    pos_loss = (torch.log(hm) * torch.pow(1 - hm, 2) * pos).sum()
    neg_loss = (torch.log(1 - hm) * torch.pow(hm, 2) * neg_w * (1 - pos)).sum()
    n_pos = pos.sum().clamp(min=1.0)
    focal = -(pos_loss + neg_loss) / n_pos
    m = mask.unsqueeze(1)
    l1 = (torch.abs(pred[:, num_classes:] - reg) * m).sum() / (m.sum() * 4).clamp(min=1.0)
    return focal + l1, {"focal": float(focal.detach()), "l1": float(l1.detach())}


def _batch(
    samples: Sequence[XraySample], rng: np.random.Generator, cfg: XrayTrainConfig, stride: int
) -> tuple[np.ndarray, ...]:
    out_hw = (cfg.size // stride, cfg.size // stride)
    imgs, heats, regs, masks = [], [], [], []
    for i in rng.integers(0, len(samples), size=cfg.batch):
        s = samples[int(i)]
        params = augment.sample_params(rng, cfg.aug_strength)
        img, boxes = augment.apply(s.hl, s.boxes, params, cfg.size, rng)
        h, r, m = encode_targets(boxes, s.labels, len(CLASS_NAMES), out_hw, stride)
        imgs.append(img)
        heats.append(h)
        regs.append(r)
        masks.append(m)
    return np.stack(imgs), np.stack(heats), np.stack(regs), np.stack(masks)


def _cache(bags: Iterable[SimBag], size: int, path: Path, n: int) -> list[XraySample]:
    """Letterboxed raw views for training, cached in ``path`` (npz) so a resumed run skips the simulator."""
    if path.is_file():
        z = np.load(path)
        hl, px = z["hl"], z["px_mm"]
        return [XraySample(hl[i], z[f"boxes_{i}"], z[f"labels_{i}"], float(px[i])) for i in range(len(px))]
    samples: list[XraySample] = []
    with progress_bar("simulating training bags", n) as advance:
        for bag in bags:
            samples.extend(xray_samples(bag, size))
            advance()
    arrays: dict[str, np.ndarray] = {
        "hl": np.stack([s.hl for s in samples]),
        "px_mm": np.array([s.px_mm for s in samples]),
    }
    for i, s in enumerate(samples):
        arrays[f"boxes_{i}"] = s.boxes
        arrays[f"labels_{i}"] = s.labels
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return samples


def train_xray(
    cfg: XrayTrainConfig,
    train_bags: Iterable[SimBag],
    n_train: int,
    val_bags: Sequence[SimBag],
    provenance: dict[str, Any],
) -> Path:
    """Train, export ``<out>.onnx`` + card, choose thresholds on ``val_bags``.

    Args:
        cfg: settings.
        train_bags: training bags (consumed once, then cached in ``work_dir``).
        n_train: how many ``train_bags`` yields (for the progress bar).
        val_bags: validation bags (never trained on) for the operating thresholds.
        provenance: seeds, generator version and the reproduce command, stored in the card.

    Returns:
        The ``.onnx`` path.
    """
    import torch

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    work = Path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    samples = _cache(train_bags, int(cfg.size * 1.125) // 16 * 16, work / "train_cache.npz", n_train)
    model = build_model(cfg)
    stride = model.stride
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    warm = min(100, max(1, cfg.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / max(1, cfg.steps)))),
    )
    rng = np.random.default_rng(cfg.seed)
    ckpt = work / "checkpoint.pt"
    step = load_checkpoint(ckpt, model, opt, sched, rng, "step")
    if step == 0 and cfg.init:
        load_weights(Path(cfg.init), model)
    log = (work / "train_log.jsonl").open("a")
    model.train()
    t0 = time.time()
    with progress_bar("training x-ray", cfg.steps, completed=step) as advance:
        while step < cfg.steps:
            img, heat, reg, mask = (torch.from_numpy(a) for a in _batch(samples, rng, cfg, stride))
            loss, parts = centernet_loss(model(img), heat, reg, mask, len(CLASS_NAMES))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            sched.step()
            step += 1
            advance()
            if step % 10 == 0:
                log.write(
                    json.dumps({"step": step, "loss": float(loss.detach()), **parts, "s": time.time() - t0})
                    + "\n"
                )
                log.flush()
            if step % cfg.ckpt_every == 0 or step == cfg.steps:
                save_checkpoint(ckpt, model, opt, sched, rng, "step", step)
    log.close()
    return finish_xray(model, cfg, val_bags, provenance)


def finish_xray(
    model: Any, cfg: XrayTrainConfig, val_bags: Sequence[SimBag], provenance: dict[str, Any]
) -> Path:
    """Export the model, then set the card's thresholds from its validation scores."""
    from screening.detect.card import read_card, write_card
    from screening.detect.xray_onnx import XrayOnnxDetector
    from screening.train.evaluate import collect, compute_metrics
    from screening.train.export import export_xray
    from screening.train.metrics import choose_thresholds

    out = Path(cfg.out).with_suffix(".onnx")
    name = out.stem
    card = ModelCard(
        name=name,
        modality="xray",
        architecture=f"CenterNet (anchor-free) on MobileNetV2 to stride 16, FPN-lite fused at stride 8, "
        f"head width {cfg.width}; ImageNet-pretrained backbone: {bool(model.pretrained)}",
        classes=CLASS_NAMES,
        input_spec={
            "name": "image",
            "shape": [1, 3, cfg.size, cfg.size],
            "dtype": "float32",
            "range": [0.0, 1.0],
            "layout": "NCHW RGB",
        },
        preprocessing="raw (high, low) views -> pseudo-colour with the default Palette; grey -> replicated "
        "to 3 channels; RGB as is; then letterboxed (aspect kept, padding 1.0 = air) to the input size. "
        "Output 'maps' (N, C+4, S/8, S/8): sigmoid heatmaps, log w/h (cells), centre offset (cells).",
        opset=17,
        thresholds={c: 0.5 for c in CLASS_NAMES},
        target_pd=cfg.target_pd,
        training={**provenance, "config": asdict(cfg)},
        reproduce=str(provenance.get("command", "")),
        extra={
            "stride": int(model.stride),
            "score_calibration": "reported scores are mapped piecewise-linearly "
            "so that each class's raw threshold becomes 0.5",
        },
    )
    export_xray(model, out, cfg.size, card)
    det = XrayOnnxDetector(out, threads=cfg.threads)
    with progress_bar("validating", len(val_bags)) as advance:
        records, _ = collect(val_bags, det, "xray", advance)
    thresholds = choose_thresholds(records, CLASS_NAMES, cfg.target_pd)
    val = compute_metrics(records, "xray", thresholds)
    card = read_card(out).replace(
        thresholds=thresholds,
        training={**provenance, "config": asdict(cfg), "validation": _brief(val)},
    )
    write_card(card, out)
    return out


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "bags": m["bags"],
        "bag_far": m["bag_far"],
        "map50": m["map50"],
        "pd": {c: v["pd"] for c, v in m["per_class"].items()},
    }
