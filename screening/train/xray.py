"""Train the X-ray CenterNet on simulated views (random palettes), export ONNX, thresholds on validation."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from screening.detect.card import ModelCard
from screening.detect.centernet import encode_targets
from screening.train import augment
from screening.train.checkpoint import load_checkpoint, load_weights, save_checkpoint, torch_device
from screening.train.data import CLASS_NAMES, SimBag, XraySample, bag_devices, named_devices, xray_samples
from screening.train.progress import progress_bar

__all__ = ["XrayTrainConfig", "build_model", "centernet_loss", "train_xray", "train_xray_stream"]


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
        init: checkpoint of an earlier run, or a shipped ``.onnx`` of this architecture, whose model weights
            start this one (fine-tuning at another size or with fewer frozen blocks); ignored when
            ``work_dir`` already holds a checkpoint.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when torch sees one).
        max_minutes: if > 0, fix the step count after a short timing probe so training ends within this
            many minutes (at most ``steps``); the count is recorded in the checkpoint and the card.
        workers: streamed runs: simulator processes feeding the DataLoader.
        export_size: input side of the exported model (0 = ``size``). The network is fully convolutional
            and trained with 0.65-1.3x zoom, so it can run at a smaller side than it was trained at when
            CPU time matters; validate the choice (``screening evaluate``) before shipping it.
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
    device: str = "cpu"
    max_minutes: float = 0.0
    workers: int = 0
    export_size: int = 0


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


def _start(cfg: XrayTrainConfig) -> tuple[Path, Any, np.random.Generator]:
    """Seed torch, record the config in the work dir, build the model: what every run does first."""
    import torch

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    work = Path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return work, build_model(cfg), np.random.default_rng(cfg.seed)


def train_xray(
    cfg: XrayTrainConfig,
    train_bags: Iterable[SimBag],
    n_train: int,
    val_bags: Sequence[SimBag],
    provenance: dict[str, Any],
) -> Path:
    """Train on a fixed set of bags (cached in ``work_dir``), export ``<out>.onnx`` + card.

    Args:
        cfg: settings.
        train_bags: training bags (consumed once, then cached in ``work_dir``).
        n_train: how many ``train_bags`` yields (for the progress bar).
        val_bags: validation bags (never trained on) for the operating thresholds.
        provenance: seeds, generator version and the reproduce command, stored in the card.

    Returns:
        The ``.onnx`` path.
    """
    work, model, rng = _start(cfg)
    state = _Resume.read(work / "checkpoint.pt")
    samples: list[XraySample] = []
    if state.step < state.total(cfg):  # a finished run needs neither the bags nor the cache
        samples = _cache(train_bags, int(cfg.size * 1.125) // 16 * 16, work / "train_cache.npz", n_train)

    def batches() -> Iterator[tuple[np.ndarray, ...]]:
        while True:
            yield _batch(samples, rng, cfg, model.stride)

    _fit(model, cfg, work, batches(), rng)
    return finish_xray(model, cfg, val_bags, provenance)


def train_xray_stream(
    cfg: XrayTrainConfig,
    first_seed: int,
    sim_config: Any,
    val_bags: Sequence[SimBag],
    provenance: dict[str, Any],
    generate: Any = None,
) -> Path:
    """Train on fresh simulated bags from ``cfg.workers`` DataLoader workers (``stream.py``); export + card.

    Training bags have seeds ``first_seed, first_seed + 1, ...`` (each used once); the card records how
    many were used. With ``cfg.max_minutes`` the step count is fixed after a short timing probe so the run
    ends in time; the card and checkpoint record it, and ``--steps`` with that number repeats the run.
    """
    from screening.train.stream import StreamSpec, stream_loader

    work, model, rng = _start(cfg)
    spec = StreamSpec(
        first_seed=first_seed,
        size=cfg.size,
        stride=model.stride,
        sim_config=sim_config,
        aug_strength=cfg.aug_strength,
        generate=generate,
    )
    seen = {"max_seed": first_seed - 1}

    def batches() -> Iterator[tuple[Any, ...]]:
        for img, heat, reg, mask, seeds in stream_loader(spec, cfg.batch, cfg.workers, cfg.seed):
            seen["max_seed"] = max(seen["max_seed"], int(seeds.max()))
            yield img, heat, reg, mask

    state = _fit(model, cfg, work, batches(), rng, seen)
    used = state.extra.get("max_seed", seen["max_seed"])
    command = str(provenance.get("command", ""))
    if cfg.max_minutes > 0:  # the budget's step count, not the budget, is what repeats the run
        command = re.sub(r"--steps \d+", f"--steps {state.step}", command)
        command = re.sub(r" --max-minutes [0-9.]+", "", command)
    provenance = {
        **provenance,
        "command": command,
        "train_seeds": f"{first_seed}..{used} (streamed, each bag once)",
        "n_train_bags": int(used - first_seed + 1),
        "steps_done": state.step,
    }
    return finish_xray(model, cfg, val_bags, provenance)


class _NoOpt:
    """Stands in for the optimiser and scheduler when a finished checkpoint is only read for its weights."""

    def load_state_dict(self, state: Any) -> None:
        pass


@dataclass
class _Resume:
    """What a checkpoint says about the run: steps done, the fixed step total (time-budget runs), extras."""

    step: int = 0
    total_steps: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def total(self, cfg: XrayTrainConfig) -> int:
        return self.total_steps or cfg.steps

    @classmethod
    def read(cls, path: Path) -> _Resume:
        if not path.is_file():
            return cls()
        import torch

        state = torch.load(path, map_location="cpu", weights_only=False)
        extra = dict(state.get("extra", {}))
        return cls(int(state.get("step", 0)), int(extra.get("total_steps", 0)), extra)


def _fit(
    model: Any,
    cfg: XrayTrainConfig,
    work: Path,
    batches: Iterator[tuple[Any, ...]],
    rng: np.random.Generator,
    seen: dict[str, int] | None = None,
) -> _Resume:
    """The optimisation loop shared by the cached and streamed runs (resumable, time-budgeted).

    ``seen["max_seed"]`` (streamed runs) is stored in each checkpoint: how far the training seeds went.
    """
    import torch

    resume = _Resume.read(work / "checkpoint.pt")
    if resume.step >= resume.total(cfg):  # finished (perhaps on another machine): nothing to train
        done = load_checkpoint(work / "checkpoint.pt", model, _NoOpt(), _NoOpt(), rng, "step")
        model.cpu()
        return _Resume(done, resume.total(cfg), dict(resume.extra))
    device = torch_device(cfg.device)
    model.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    plan = {"total": resume.total(cfg)}

    def lr_at(s: int) -> float:
        warm = min(100, max(1, plan["total"] // 10))
        return min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / max(1, plan["total"]))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    ckpt = work / "checkpoint.pt"
    step = load_checkpoint(ckpt, model, opt, sched, rng, "step")
    if step == 0 and cfg.init:
        calib = None
        if Path(cfg.init).suffix.lower() == ".onnx":  # its batch-norm statistics come from a training batch
            first = next(iter(batches), None)
            if first is not None:
                batches = itertools.chain([first], batches)
                calib = (torch.as_tensor(first[0]).to(device),)
        load_weights(Path(cfg.init), model, calib)
        model.to(device)
    extra = dict(resume.extra)
    # Time-budgeted runs: the step total is planned from the measured rate at a few points after start-up
    # (the first estimate is optimistic: prefetched batches) and then kept; a resumed run keeps its plan.
    budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 and not resume.total_steps else 0.0
    replan_after = (60, 300, 1000)
    probe_from: tuple[int, float] | None = None
    t_start = time.time()
    log = (work / "train_log.jsonl").open("a")
    model.train()
    with progress_bar(f"training x-ray on {device.type}", plan["total"], completed=step) as advance:
        for batch in batches:
            if step >= plan["total"]:
                break
            img, heat, reg, mask = (
                (torch.from_numpy(a) if isinstance(a, np.ndarray) else a).to(device, non_blocking=True)
                for a in batch
            )
            loss, parts = centernet_loss(model(img), heat, reg, mask, len(CLASS_NAMES))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            sched.step()
            step += 1
            advance()
            if budget:
                if probe_from is None and step >= 20:
                    probe_from = (step, time.time())
                elif probe_from is not None and step - probe_from[0] in replan_after:
                    rate = (step - probe_from[0]) / max(1e-6, time.time() - probe_from[1])
                    left = budget - (time.time() - t_start)
                    plan["total"] = max(step + 1, min(cfg.steps, step + int(rate * left)))
                    extra["total_steps"] = plan["total"]
                    print(f"time budget {cfg.max_minutes:g} min: {rate:.2f} steps/s -> {plan['total']} steps")
                if time.time() - t_start > budget * 1.1 and step < plan["total"]:
                    print(f"time budget {cfg.max_minutes:g} min exceeded: stopping at step {step}")
                    plan["total"] = extra["total_steps"] = step
            if step % 10 == 0:
                log.write(
                    json.dumps(
                        {"step": step, "loss": float(loss.detach()), **parts, "s": time.time() - t_start}
                    )
                    + "\n"
                )
                log.flush()
            if step % cfg.ckpt_every == 0 or step >= plan["total"]:
                if seen is not None:
                    extra["max_seed"] = seen["max_seed"]
                save_checkpoint(ckpt, model, opt, sched, rng, "step", step, extra)
    log.close()
    model.cpu()
    return _Resume(step, plan["total"], extra)


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
            "shape": [1, 3, cfg.export_size or cfg.size, cfg.export_size or cfg.size],
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
    export_xray(model, out, cfg.export_size or cfg.size, card)
    det = XrayOnnxDetector(out, threads=cfg.threads)
    seen: set[str] = set()
    with progress_bar("validating", len(val_bags)) as advance:
        records, _ = collect(bag_devices(val_bags, seen), det, "xray", advance)
    thresholds = choose_thresholds(records, CLASS_NAMES, cfg.target_pd)
    val = compute_metrics(records, "xray", thresholds)
    card = read_card(out)
    card = card.replace(
        thresholds=thresholds,
        training={**provenance, "config": asdict(cfg), "validation": _brief(val)},
        extra={
            **card.extra,
            "operating_points": operating_points(records, "xray", cfg.target_pd),
            "validated_devices": named_devices(seen),
        },
    )
    write_card(card, out)
    return out


def operating_points(
    records: Sequence[Any], modality: str, target_pd: float, far_max: float = 0.05
) -> dict[str, Any]:
    """The card's second operating point, from the validation records: per class, the thresholds at which the
    bag FAR on *new* bags stays within ``far_max`` (:func:`far_budget_thresholds`, held-out rule), with the
    PD they gave on validation and the FAR they promise (more than ``far_max`` with too few clean bags)."""
    from screening.train.evaluate import compute_metrics
    from screening.train.metrics import far_budget_thresholds, held_out_far_bound

    far = far_budget_thresholds(records, CLASS_NAMES, far_max, held_out=True)
    n_clean = sum(1 for r in records if not r.objects)
    bound = held_out_far_bound(n_clean, len(CLASS_NAMES), far_max)
    return {
        "pd": {"target_pd": target_pd, "thresholds": "the card's 'thresholds'"},
        "far": {
            "far_max": far_max,
            "thresholds": far,
            "expected_far_bound": bound,
            "validation": _brief(compute_metrics(records, modality, far)),
            "note": f"chosen on {n_clean} clean validation bags so that each class alone is expected to "
            f"alarm on <= {far_max:g}/{len(CLASS_NAMES)} of new clean bags (split-conformal); promised bag "
            f"FAR <= {bound:.3f}"
            + ("" if bound <= far_max + 1e-9 else " (too few clean bags for the target)"),
        },
    }


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "bags": m["bags"],
        "bag_far": m["bag_far"],
        "map50": m["map50"],
        "pd": {c: v["pd"] for c, v in m["per_class"].items()},
    }
