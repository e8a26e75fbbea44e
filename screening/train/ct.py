"""Train the CT candidate classifier on physics candidates from simulated volumes, labelled by overlap."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from screening.detect.card import ModelCard
from screening.detect.ct_candidates import FEATURES, CandidateParams
from screening.train.checkpoint import load_checkpoint, save_checkpoint, torch_device
from screening.train.ct_dataset import (
    CandidateArrays,
    candidate_dataset,
    candidate_dataset_parallel,
    empty_candidates,
)
from screening.train.ct_labels import DEFAULT_RULE, IGNORE, LabelRule, label_candidates
from screening.train.data import CLASS_NAMES, SimBag, bag_devices, named_devices
from screening.train.progress import progress_bar

__all__ = [
    "IGNORE",
    "CtTrainConfig",
    "candidate_dataset",
    "candidate_dataset_parallel",
    "label_candidates",
    "train_ct",
]


@dataclass(frozen=True)
class CtTrainConfig:
    """CT training settings (recorded in the model card).

    Attributes:
        out: model path prefix: writes ``<out>.onnx`` and ``<out>.json``.
        work_dir: checkpoints and the candidate cache.
        epochs: passes over the candidate set.
        batch: candidates per step.
        lr: AdamW learning rate (cosine decay).
        width: first conv width of the 3-D CNN.
        seed: torch/numpy seed.
        target_pd: PD the validation thresholds are chosen for.
        threads: torch threads.
        candidates: candidate extraction parameters (as a dict of :class:`CandidateParams` fields).
        background_fraction: share of the background candidates (most of them) drawn afresh each
            epoch; every contraband candidate is used every epoch. Cuts CPU time per epoch.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        workers: processes that simulate bags and extract their candidates (on-the-fly bags only).
        density_jitter: each batch's densities (crop and density features) are scaled by a factor drawn
            from ``1 +- density_jitter``: scanners differ in their MHU calibration by a few per cent.
        min_object_share: training labels ignore a threat candidate holding less than this share of its
            object (see :func:`label_candidates`); 0 = off. Part of the candidate cache.
        label_hits: training labels ignore a threat candidate that would not count as finding its object
            under the evaluation's hit rule. Part of the candidate cache.
        share_exempt: classes ``min_object_share`` does not apply to. Part of the candidate cache.
    """

    out: str
    work_dir: str
    epochs: int = 30
    batch: int = 64
    lr: float = 2e-3
    width: int = 16
    seed: int = 0
    target_pd: float = 0.95
    threads: int = 2
    candidates: dict[str, Any] = field(default_factory=dict)
    background_fraction: float = 0.35
    device: str = "cpu"
    workers: int = 1
    density_jitter: float = 0.05
    min_object_share: float = 0.0
    label_hits: bool = False
    share_exempt: tuple[str, ...] = ()


#: Columns of :data:`FEATURES` that are densities (scaled together by the density jitter).
DENSITY_FEATURES: tuple[int, ...] = tuple(
    i for i, name in enumerate(FEATURES) if name.endswith("density_g_cm3")
)


def train_ct(
    cfg: CtTrainConfig,
    train_bags: Iterable[SimBag],
    n_train: int,
    val_bags: Sequence[SimBag],
    provenance: dict[str, Any],
    dataset: Callable[[CandidateParams, LabelRule], CandidateArrays] | None = None,
) -> Path:
    """Train the classifier on candidates of ``train_bags``; export; thresholds from ``val_bags``.

    ``dataset(params, rule)``, if given, builds the candidate arrays instead (e.g. with
    :func:`candidate_dataset_parallel`).
    """
    import torch

    from screening.detect.nets import CtCandidateNet

    if not 0.0 < cfg.background_fraction <= 1.0:
        raise ValueError(f"background_fraction must be in (0, 1]; got {cfg.background_fraction}")
    if not 0.0 <= cfg.density_jitter < 0.5:
        raise ValueError(f"density_jitter must be in [0, 0.5); got {cfg.density_jitter}")
    if not 0.0 <= cfg.min_object_share < 1.0:
        raise ValueError(f"min_object_share must be in [0, 1); got {cfg.min_object_share}")
    unknown = sorted(set(cfg.share_exempt) - set(CLASS_NAMES))
    if unknown:
        raise ValueError(f"share_exempt: unknown classes {unknown}; the classes are {list(CLASS_NAMES)}")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    params = CandidateParams(**cfg.candidates)
    rule = LabelRule(cfg.min_object_share, cfg.label_hits, tuple(cfg.share_exempt))
    work = Path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    cache = work / "ct_candidates.npz"
    ckpt = work / "checkpoint.pt"
    done = _finished_counts(ckpt, cfg.epochs, rule)
    if done is not None:  # a finished run (e.g. trained elsewhere) needs no candidates to export
        crops, feats, labels, context = empty_candidates(params)
    elif cache.is_file():
        z = np.load(cache)
        crops, feats, labels = z["crops"], z["feats"], z["labels"]
        context = z["context"] if "context" in z.files else np.zeros((len(labels), 2, 0, 0, 0), np.float16)
        if context.shape[2:] != (params.context,) * 3:
            raise ValueError(
                f"{cache}: cached context cube {context.shape[2:]} is not {params.context}^3; "
                "delete the cache (or use another --work-dir) to extract the candidates again"
            )
        cached_rule = _cached_rule(z.files, z)
        if cached_rule != rule:
            raise ValueError(
                f"{cache}: cached labels were made with {cached_rule}, not {rule}; "
                "delete the cache (or use another --work-dir) to label them again"
            )
    else:
        if dataset is not None:
            crops, feats, labels, context = dataset(params, rule)
        else:
            crops, feats, labels, context = candidate_dataset(train_bags, params, n_train, rule)
        np.savez(
            work / "ct_candidates.tmp.npz",
            crops=crops,
            feats=feats,
            labels=labels,
            context=context,
            label_rule=np.array(json.dumps(asdict(rule))),
        )
        (work / "ct_candidates.tmp.npz").replace(cache)
    ignored = int((labels == IGNORE).sum())
    if ignored:
        crops, feats, labels, context = _keep_rows((crops, feats, labels, context), labels != IGNORE)
    model = CtCandidateNet(len(FEATURES), len(CLASS_NAMES) + 1, cfg.width, context=params.context > 0)
    device = torch_device(cfg.device)
    model.to(device)  # before the optimiser, so a resumed optimiser state lands on the same device
    counts = np.bincount(labels, minlength=len(CLASS_NAMES) + 1).astype(np.float64)
    if done is not None:
        counts = np.asarray(done, dtype=np.float64)
    seen = counts.copy()
    seen[0] *= cfg.background_fraction  # class weights from what one epoch shows the network
    weights = torch.tensor(1.0 / np.sqrt(np.maximum(seen, 1.0)), dtype=torch.float32)
    weights = weights / weights.mean()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    positives, background = np.flatnonzero(labels > 0), np.flatnonzero(labels == 0)
    n_bg = int(np.ceil(len(background) * cfg.background_fraction))
    steps_per_epoch = max(1, int(np.ceil((len(positives) + n_bg) / cfg.batch)))
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total))
    rng = np.random.default_rng(cfg.seed)
    epoch = load_checkpoint(ckpt, model, opt, sched, rng, "epoch")
    weights = weights.to(device)
    log = (work / "train_log.jsonl").open("a")
    t0 = time.time()
    model.train()
    with progress_bar("training ct", cfg.epochs, completed=epoch) as advance:
        while epoch < cfg.epochs and len(labels):
            order = rng.permutation(np.concatenate([positives, rng.choice(background, n_bg, replace=False)]))
            tot = 0.0
            for k in range(steps_per_epoch):
                idx = order[k * cfg.batch : (k + 1) * cfg.batch]
                cubes = [torch.from_numpy(crops[idx].astype(np.float32))]
                if params.context:
                    cubes.append(torch.from_numpy(context[idx].astype(np.float32)))
                # The same flips for the crop and its context: both are axis-aligned with the volume.
                if rng.random() < 0.5:  # candidates have no preferred orientation along the belt
                    cubes = [c.flip(2) for c in cubes]
                if rng.random() < 0.5:
                    cubes = [c.flip(4) for c in cubes]
                if rng.random() < 0.5:  # nor any preferred yaw: belt and cross-belt axes swap
                    cubes = [c.transpose(2, 4) for c in cubes]
                feat = torch.from_numpy(feats[idx])
                if cfg.density_jitter > 0:
                    cubes, feat = _jitter_density(cubes, feat, 1.0 + rng.uniform(-1, 1) * cfg.density_jitter)
                logits = model(cubes[0].to(device), feat.to(device), *(c.to(device) for c in cubes[1:]))
                loss = torch.nn.functional.cross_entropy(
                    logits, torch.from_numpy(labels[idx]).to(device), weight=weights
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                tot += float(loss.detach())
            epoch += 1
            advance()
            log.write(
                json.dumps({"epoch": epoch, "loss": tot / steps_per_epoch, "s": time.time() - t0}) + "\n"
            )
            log.flush()
            extra = {"counts": counts.tolist(), "label_rule": asdict(rule)}
            save_checkpoint(ckpt, model, opt, sched, rng, "epoch", epoch, extra)
    log.close()
    model.cpu()
    provenance = {
        **provenance,
        "train_candidates": {
            "n": int(counts.sum()),
            "per_class": counts.tolist(),
            "ignored": ignored,
        },
    }
    return finish_ct(model, cfg, params, val_bags, provenance)


def _cached_rule(files: Sequence[str], z: Any) -> LabelRule:
    """The label rule a cache was made with (older caches: a share only, or nothing: no rule)."""
    if "label_rule" in files:
        return LabelRule.from_dict(json.loads(str(z["label_rule"])))
    if "min_object_share" in files:
        return LabelRule(min_object_share=float(z["min_object_share"]))
    return LabelRule()


def _keep_rows(arrays: Sequence[np.ndarray], keep: np.ndarray, chunk: int = 4096) -> list[np.ndarray]:
    """The rows of each array where ``keep``, compacted in place chunk by chunk: ``a[keep]`` would hold a
    second copy of a candidate cache that can be most of the machine's memory (10 GB for 3 200 bags)."""
    idx = np.flatnonzero(keep)
    out = []
    for a in arrays:
        for s in range(0, len(idx), chunk):
            sel = idx[s : s + chunk]  # sel[k] >= s + k: a write never lands on a row still to be read
            a[s : s + len(sel)] = a[sel]
        out.append(a[: len(idx)])
    return out


def _jitter_density(cubes: list[Any], feat: Any, scale: float) -> tuple[list[Any], Any]:
    """Scale a batch's densities (each cube's channel 0, density features) as another calibration would."""
    cubes, feat = [c.clone() for c in cubes], feat.clone()
    for c in cubes:
        c[:, 0] = (c[:, 0] * scale).clamp(0.0, 8.0)
    feat[:, list(DENSITY_FEATURES)] *= scale
    return cubes, feat


def _finished_counts(ckpt: Path, epochs: int, rule: LabelRule = DEFAULT_RULE) -> list[float] | None:
    """The candidate class counts stored by a run that already did all ``epochs``; ``None`` otherwise.

    A checkpoint trained on labels made by another rule is refused: exporting it would put the wrong
    recipe on the card (checkpoints from before session 9 do not say, and are taken as they are).
    """
    if not ckpt.is_file():
        return None
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    stored = state.get("extra", {}).get("label_rule")
    if stored is not None:
        trained = LabelRule.from_dict(stored)
        if trained != rule:
            raise ValueError(
                f"{ckpt}: trained on labels made with {trained}, not {rule}; "
                "use another --work-dir (or the recorded command) to train with these labels"
            )
    counts = state.get("extra", {}).get("counts")
    return counts if int(state.get("epoch", 0)) >= epochs and counts else None


def finish_ct(
    model: Any,
    cfg: CtTrainConfig,
    params: CandidateParams,
    val_bags: Sequence[SimBag],
    provenance: dict[str, Any],
) -> Path:
    """Export the classifier, then set the card's thresholds from validation scores."""
    from screening.detect.card import read_card, write_card
    from screening.detect.ct_onnx import CtOnnxDetector
    from screening.train.evaluate import collect, compute_metrics
    from screening.train.export import export_ct
    from screening.train.metrics import choose_thresholds
    from screening.train.xray import _brief, operating_points

    out = Path(cfg.out).with_suffix(".onnx")
    card = ModelCard(
        name=out.stem,
        modality="ct",
        architecture=f"candidates (passes {', '.join(params.passes)}: MHU windows {params.organic_mhu} "
        f"organic, >= {params.metal_mhu} metal, >= {params.heavy_mhu} heavy metal, >= {params.dense_mhu} "
        "dense organic; "
        f"connected on a {params.coarse}-voxel block grid, >= {params.min_volume_cm3} cm^3, at most "
        f"{params.max_candidates} taken round robin) classified by a 3-conv 3-D CNN "
        f"(width {cfg.width}) on {params.crop}^3 crops + {len(FEATURES)} physical features"
        + (
            f" + a second 3-conv branch on a {params.context}^3 context cube "
            f"of {params.context_mm:g}-mm cells"
            if params.context
            else ""
        ),
        classes=CLASS_NAMES,
        input_spec={
            "crop": [None, 2, params.crop, params.crop, params.crop],
            "feats": [None, len(FEATURES)],
            **(
                {"context": [None, 2, params.context, params.context, params.context]}
                if params.context
                else {}
            ),
            "features": list(FEATURES),
            "output": "logits (N, 1 + classes), column 0 background",
        },
        preprocessing="volume channel 0 in MHU; candidates by ct_candidates.find_candidates; "
        "crop = candidate box + 1 voxel, MHU/1000 clipped to [0, 8] and own mask, nearest-voxel "
        "resampled to crop^3"
        + (
            f"; context = {params.context}^3 cells of {params.context_mm:g} mm centred on the box, "
            "block-mean MHU/1000 clipped to [0, 8] and own mask (block max), ct_inputs.context_inputs"
            if params.context
            else ""
        ),
        opset=17,
        thresholds={c: 0.5 for c in CLASS_NAMES},
        target_pd=cfg.target_pd,
        training={**provenance, "config": asdict(cfg)},
        reproduce=str(provenance.get("command", "")),
        extra={
            "candidates": asdict(params),
            "score_calibration": "reported scores are mapped piecewise-"
            "linearly so that each class's raw threshold becomes 0.5",
        },
    )
    export_ct(model, out, params.crop, len(FEATURES), card, context=params.context)
    det = CtOnnxDetector(out, threads=cfg.threads)
    seen: set[str] = set()
    with progress_bar("validating", len(val_bags)) as advance:
        records, _ = collect(bag_devices(val_bags, seen), det, "ct", advance)
    thresholds = choose_thresholds(records, CLASS_NAMES, cfg.target_pd)
    val = compute_metrics(records, "ct", thresholds)
    card = read_card(out)
    card = card.replace(
        thresholds=thresholds,
        training={**provenance, "config": asdict(cfg), "validation": _brief(val)},
        extra={
            **card.extra,
            "operating_points": operating_points(records, "ct", cfg.target_pd),
            "validated_devices": named_devices(seen),
        },
    )
    write_card(card, out)
    return out
