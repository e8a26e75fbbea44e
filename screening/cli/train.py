"""``screening train``: train a detector on simulated bags, export ONNX + model card (resumable, seeded)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]

EPILOG = """examples:
  screening train --modality xray --sim-bags 1500 --seed 0 --out models/xray_centernet
  screening train --modality ct --data data/sim_ct --out models/ct_candidates --epochs 40
  screening train --modality ct --sim-bags 3200 --seed 400000 --workers 2 --epochs 16 \\
      --ct-context 16 --ct-context-mm 6 --ct-min-object-share 0.15 \\
      --out models/ct_candidates  # context cube, fragment labels; full command in the card
  screening train --modality xray --stream --workers 14 --device cuda --max-minutes 8 \\
      --steps 100000 --batch 32 --freeze-blocks 0 --seed 3000000 --out models/xray_centernet
  screening train --modality xray --stream --device cuda --workers 15 --max-minutes 6 --steps 100000 \\
      --batch 32 --size 288 --freeze-blocks 0 --lr 0.0003 --init models/xray_centernet.onnx \\
      --seed 3200000 --sim-pixel-mm 2 --sim-threat-fraction 0.6 --out models/x  # continue the shipped model
Re-running the same command resumes from the checkpoint in --work-dir."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train an X-ray or CT detector on simulated bags and export it to ONNX",
        description="Train a detector on simulated bags; writes OUT.onnx and its model card OUT.json.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--modality", choices=("xray", "ct"), required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="DIR", help="bags written by 'screening simulate'")
    src.add_argument("--sim-bags", type=int, metavar="N", help="generate N training bags on the fly")
    src.add_argument(
        "--stream",
        action="store_true",
        help="x-ray: simulate fresh bags for every batch in --workers processes (no fixed set; for GPUs)",
    )
    p.add_argument("--seed", type=int, default=0, help="first simulator seed and training seed (default 0)")
    p.add_argument("--val-bags", type=int, default=100, help="validation bags for thresholds (default 100)")
    p.add_argument("--out", required=True, help="model path prefix, e.g. models/xray_centernet")
    p.add_argument("--work-dir", help="checkpoints/caches (default out/train/<name>)")
    p.add_argument("--steps", type=int, default=1000, help="x-ray optimiser steps (default 1000)")
    p.add_argument("--epochs", type=int, default=30, help="ct epochs over the candidates (default 30)")
    p.add_argument("--batch", type=int, default=None, help="batch size (x-ray 16, ct 64)")
    p.add_argument("--size", type=int, default=256, help="x-ray input side in pixels (default 256)")
    p.add_argument(
        "--export-size",
        type=int,
        default=0,
        help="x-ray: input side of the exported ONNX model if not --size (e.g. trained at 288, run at 256)",
    )
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    p.add_argument("--target-pd", type=float, default=0.95, help="PD for the operating thresholds")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument(
        "--freeze-blocks", type=int, default=4, help="x-ray: frozen MobileNetV2 blocks (default 4)"
    )
    p.add_argument("--workers", type=int, default=1, help="simulator processes (default 1)")
    p.add_argument(
        "--ct-density-jitter",
        type=float,
        default=0.05,
        help="ct: scale training densities by 1 +- this (scanner MHU calibration; default 0.05, 0 = off)",
    )
    p.add_argument(
        "--ct-context",
        type=int,
        default=0,
        metavar="CELLS",
        help="ct: also read a CELLS^3 cube of --ct-context-mm cells around each candidate (0 = off, default)",
    )
    p.add_argument("--ct-context-mm", type=float, default=6.0, help="ct: context cell size in mm (default 6)")
    p.add_argument(
        "--ct-min-object-share",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="ct: leave out of training a threat candidate holding less than SHARE of its object's voxels "
        "(one pellet, one round, a brick fragment; 0 = off, default)",
    )
    p.add_argument(
        "--ct-label-hits",
        action="store_true",
        help="ct: leave out of training a threat candidate whose box would not count as finding its object "
        "under the evaluation's hit rule",
    )
    p.add_argument(
        "--ct-share-exempt",
        default="",
        metavar="CLASS[,CLASS]",
        help="ct: classes --ct-min-object-share does not apply to, e.g. ammunition (a loose round is a "
        "small share of its box of rounds)",
    )
    p.add_argument(
        "--device", choices=("cpu", "cuda", "auto"), default="cpu", help="training device (default cpu)"
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="x-ray: fix the step count after a timing probe so training ends within this time",
    )
    p.add_argument("--sim-pixel-mm", type=float, default=None, help="SimConfig.pixel_mm (x-ray pixel, mm)")
    p.add_argument("--sim-threat-fraction", type=float, default=None, help="SimConfig.threat_fraction")
    p.add_argument("--no-pretrained", action="store_true", help="x-ray: do not load ImageNet weights")
    p.add_argument(
        "--init",
        metavar="CKPT",
        default="",
        help="x-ray: start from the weights of an earlier checkpoint.pt, or of a shipped .onnx "
        "(models/xray_centernet.onnx; its folded batch norms are re-split on the first batch)",
    )
    return p


def _provenance(args: argparse.Namespace, train_seeds: list[int], val_seeds: list[int]) -> dict[str, Any]:
    import subprocess

    import screening

    try:
        import screening.sim as sim

        gen = str(getattr(sim, "GENERATOR_VERSION", getattr(sim, "__version__", screening.__version__)))
    except ImportError:
        gen = "unavailable"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    cmd = ["screening train", f"--modality {args.modality}"]
    if args.data:
        cmd.append(f"--data {args.data}")
    else:
        cmd.append("--stream" if getattr(args, "stream", False) else f"--sim-bags {args.sim_bags}")
    cmd += [f"--seed {args.seed}", f"--val-bags {args.val_bags}", f"--out {args.out}"]
    if args.work_dir:  # caches in the work dir are reused: the reproduce command must name it
        cmd.append(f"--work-dir {args.work_dir}")
    if args.modality == "xray":
        cmd += [f"--steps {args.steps}", f"--size {args.size}", f"--freeze-blocks {args.freeze_blocks}"]
        if getattr(args, "export_size", 0):
            cmd.append(f"--export-size {args.export_size}")
    else:
        cmd += [f"--epochs {args.epochs}"]
        if args.ct_context:  # what the classifier reads: a model without it is another model
            cmd.append(f"--ct-context {args.ct_context} --ct-context-mm {args.ct_context_mm:g}")
        if args.ct_min_object_share:  # changes the training labels: part of the recipe
            cmd.append(f"--ct-min-object-share {args.ct_min_object_share:g}")
        if args.ct_label_hits:
            cmd.append("--ct-label-hits")
        if args.ct_share_exempt:
            cmd.append(f"--ct-share-exempt {args.ct_share_exempt}")
        if args.ct_density_jitter != 0.05:
            cmd.append(f"--ct-density-jitter {args.ct_density_jitter:g}")
    if args.batch:
        cmd.append(f"--batch {args.batch}")
    if getattr(args, "stream", False):
        cmd.append(f"--workers {args.workers}")  # the workers share the seeds: part of the data order
    if getattr(args, "max_minutes", 0.0):
        cmd.append(f"--max-minutes {args.max_minutes:g}")
    cmd += [f"--lr {args.lr:g}", f"--target-pd {args.target_pd:g}"]
    if args.no_pretrained:
        cmd.append("--no-pretrained")
    if getattr(args, "init", ""):
        cmd.append(f"--init {args.init}")
    if args.sim_pixel_mm:
        cmd.append(f"--sim-pixel-mm {args.sim_pixel_mm:g}")
    if args.sim_threat_fraction is not None:
        cmd.append(f"--sim-threat-fraction {args.sim_threat_fraction:g}")

    def span(s: list[int]) -> str:
        return f"{s[0]}..{s[-1]}" if s else ""

    return {
        "data": "synthetic (screening.sim simulator)" + (f", folder {args.data}" if args.data else ""),
        "generator_version": gen,
        "git_commit": commit,
        "train_seeds": span(train_seeds),
        "val_seeds": span(val_seeds),
        "sim_config": sim_config_dict(args),
        "n_train_bags": len(train_seeds) if train_seeds else None,
        "n_val_bags": len(val_seeds) if val_seeds else None,
        "version": screening.__version__,
        "command": " ".join(cmd),
    }


def sim_config(args: argparse.Namespace) -> Any:
    """The ``SimConfig`` the ``--sim-*`` flags ask for (simulator defaults otherwise)."""
    from screening.sim.config import SimConfig

    kw: dict[str, Any] = {}
    if getattr(args, "sim_pixel_mm", None):
        kw["pixel_mm"] = args.sim_pixel_mm
    if getattr(args, "sim_threat_fraction", None) is not None:
        kw["threat_fraction"] = args.sim_threat_fraction
    return SimConfig(**kw)


def sim_config_dict(args: argparse.Namespace) -> dict[str, Any]:
    """The non-default ``SimConfig`` fields, for the model card."""
    out: dict[str, Any] = {}
    if getattr(args, "sim_pixel_mm", None):
        out["pixel_mm"] = args.sim_pixel_mm
    if getattr(args, "sim_threat_fraction", None) is not None:
        out["threat_fraction"] = args.sim_threat_fraction
    return out


def _classes(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _cached_val(path: Any, seeds: list[int], args: argparse.Namespace, cfg_sim: Any) -> list[Any]:
    """Validation bags, pickled in the work dir so a resumed run does not simulate them again."""
    import pickle

    from screening.train.data import sim_bags_parallel

    if path.is_file():
        cached = pickle.loads(path.read_bytes())
        if cached["seeds"] == seeds and cached["modality"] == args.modality:
            return cached["bags"]
    bags = list(sim_bags_parallel(seeds, args.modality, cfg_sim, args.workers))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"seeds": seeds, "modality": args.modality, "bags": bags}))
    return bags


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from screening.errors import ScreeningError
    from screening.train.data import load_bags, sim_bags_parallel

    name = Path(args.out).name
    work = args.work_dir or str(Path("out") / "train" / name)
    try:
        for flag, side in (("--size", args.size), ("--export-size", args.export_size or 16)):
            if side <= 0 or side % 16:
                raise ScreeningError(f"{flag} {side}: the X-ray input side must be a positive multiple of 16")
        if args.stream and args.modality != "xray":
            raise ScreeningError("--stream is for --modality xray; CT trains on candidates (use --sim-bags)")
        from screening.train.data import CLASS_NAMES

        unknown = [c for c in _classes(args.ct_share_exempt) if c not in CLASS_NAMES]
        if unknown:  # before any bag is simulated
            raise ScreeningError(
                f"--ct-share-exempt: unknown class {', '.join(unknown)}; one of {', '.join(CLASS_NAMES)}"
            )
        if args.data:
            import itertools

            # lazily: a resumed run reads its training cache and only decodes the validation bags
            n_bags = len(list((Path(args.data) / "truth").glob("*.json")))
            if n_bags == 0:
                next(load_bags(args.data, args.modality))  # raises the error that names the folder
            n_val = min(args.val_bags, n_bags // 5)
            stream = load_bags(args.data, args.modality)
            val = list(itertools.islice(stream, n_val))
            train_iter = stream  # the rest, decoded only if the training cache has to be built
            n_train, train_seeds, val_seeds = n_bags - n_val, [], []
        elif args.stream:  # validation first, training seeds after it without an end
            n_train, train_seeds = 0, []
            val_seeds = list(range(args.seed, args.seed + args.val_bags))
            cfg_sim = sim_config(args)
            val = _cached_val(Path(work) / "val_bags.pkl", val_seeds, args, cfg_sim)
            train_iter = iter(())
        else:
            n_train = args.sim_bags
            train_seeds = list(range(args.seed, args.seed + n_train))
            val_seeds = list(range(args.seed + n_train, args.seed + n_train + args.val_bags))
            cfg_sim = sim_config(args)
            val = _cached_val(Path(work) / "val_bags.pkl", val_seeds, args, cfg_sim)
            train_iter = sim_bags_parallel(train_seeds, args.modality, cfg_sim, args.workers)
        prov = _provenance(args, train_seeds, val_seeds)
        if args.modality == "xray":
            from screening.train.xray import XrayTrainConfig, train_xray, train_xray_stream

            cfg = XrayTrainConfig(
                out=args.out,
                work_dir=work,
                size=args.size,
                steps=args.steps,
                batch=args.batch or 16,
                lr=args.lr,
                pretrained=not args.no_pretrained,
                seed=args.seed,
                target_pd=args.target_pd,
                threads=args.threads,
                freeze_blocks=args.freeze_blocks,
                init=args.init,
                device=args.device,
                max_minutes=args.max_minutes,
                workers=args.workers,
                export_size=args.export_size,
            )
            if args.stream:
                path = train_xray_stream(cfg, args.seed + args.val_bags, cfg_sim, val, prov)
            else:
                path = train_xray(cfg, train_iter, n_train, val, prov)
        else:
            from screening.train.ct import CtTrainConfig, train_ct

            ccfg = CtTrainConfig(
                out=args.out,
                work_dir=work,
                epochs=args.epochs,
                batch=args.batch or 64,
                lr=args.lr,
                seed=args.seed,
                target_pd=args.target_pd,
                threads=args.threads,
                device=args.device,
                workers=args.workers,
                density_jitter=args.ct_density_jitter,
                min_object_share=args.ct_min_object_share,
                label_hits=args.ct_label_hits,
                share_exempt=_classes(args.ct_share_exempt),
                candidates=(
                    {"context": args.ct_context, "context_mm": args.ct_context_mm} if args.ct_context else {}
                ),
            )
            dataset = None
            if args.sim_bags and args.workers > 1:  # simulate and extract candidates in the workers
                from screening.train.ct import candidate_dataset_parallel

                def dataset(params: Any, rule: Any) -> Any:
                    return candidate_dataset_parallel(train_seeds, cfg_sim, params, args.workers, rule)

            try:
                path = train_ct(ccfg, train_iter, n_train, val, prov, dataset=dataset)
            except ValueError as exc:  # settings or a work dir that do not fit this run: say which
                raise ScreeningError(str(exc)) from exc
    except ScreeningError as exc:
        print(f"screening train: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0
