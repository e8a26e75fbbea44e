"""``screening evaluate``: score a detector on fresh simulated bags; writes metrics.json + PNG plots."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

EPILOG = """examples:
  screening evaluate --modality xray --sim-bags 300 --seed 1000000 --out results/eval_xray
  screening evaluate --modality ct --data data/test_ct --model models/ct_candidates.onnx --out results/eval_ct
Use seeds never used in training (the model card lists the training/validation seeds)."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    from screening.cli._args import add_model_bags, add_operating_point

    p = subparsers.add_parser(
        "evaluate",
        help="PD / bag FAR / mAP@0.5 of a detector on simulated bags (metrics.json + plots)",
        description="Evaluate a detector on simulated bags at its operating thresholds.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--modality", choices=("xray", "ct"), required=True)
    add_model_bags(p, 1_000_000, "test")
    p.add_argument("--out", required=True, help="folder for metrics.json and the plots")
    p.add_argument("--update-card", action="store_true", help="store the metrics in the model card")
    add_operating_point(p)
    return p


def run(args: argparse.Namespace) -> int:
    import sys

    from screening.cli.train import sim_config, sim_config_dict
    from screening.detect import DEFAULT_MODELS, models_dir
    from screening.errors import ScreeningError
    from screening.train.data import CLASS_NAMES, load_bags, sim_bags_parallel
    from screening.train.evaluate import collect, compute_metrics, format_summary, write_metrics
    from screening.train.progress import progress_bar

    model = Path(args.model) if args.model else models_dir() / DEFAULT_MODELS[args.modality]
    try:
        if args.modality == "xray":
            from screening.detect.xray_onnx import XrayOnnxDetector

            det: Any = XrayOnnxDetector(model, threads=args.threads, operating_point=args.operating_point)
        else:
            from screening.detect.ct_onnx import CtOnnxDetector

            det = CtOnnxDetector(model, threads=args.threads, operating_point=args.operating_point)
        if args.data:
            bags = load_bags(args.data, args.modality)
            n = len(list((Path(args.data) / "truth").glob("*.json")))  # bags to come (broken ones skipped)
        else:
            seeds = range(args.seed, args.seed + args.sim_bags)
            bags = sim_bags_parallel(seeds, args.modality, sim_config(args), args.workers)
            n = args.sim_bags
        with progress_bar(f"evaluating {model.name}", n) as advance:
            records, seconds = collect(bags, det, args.modality, advance)
    except ScreeningError as exc:
        print(f"screening evaluate: {exc}", file=sys.stderr)
        return 1
    operating = {c: 0.5 for c in CLASS_NAMES}  # detector scores are calibrated: 0.5 = card threshold
    raw_thresholds = dict(zip(det.card.classes, det.thresholds, strict=True))
    metrics = compute_metrics(records, args.modality, operating, raw_thresholds, seconds)
    metrics["operating_point"] = args.operating_point
    metrics["model"] = {"path": str(model), "sha256": det.card.sha256}
    metrics["data"] = (
        _folder_provenance(Path(args.data))
        if args.data
        else {"seeds": f"{args.seed}..{args.seed + args.sim_bags - 1}", "sim_config": sim_config_dict(args)}
    )
    written = write_metrics(metrics, records, args.out)
    summary = format_summary(metrics)
    print(summary)
    print("wrote " + ", ".join(str(p) for p in written))
    if args.update_card:
        from screening.detect.card import read_card, write_card

        card = read_card(model)
        keep = {k: v for k, v in metrics.items() if k not in ("confusion",)}
        keep["summary"] = summary.splitlines()
        if args.operating_point == "pd":
            card = card.replace(metrics=keep)
        else:  # the second operating point's test numbers live with its thresholds
            ops = dict(card.extra.get("operating_points") or {})
            ops[args.operating_point] = {**ops.get(args.operating_point, {}), "metrics": keep}
            card = card.replace(extra={**card.extra, "operating_points": ops})
        write_card(card, model)
        print(f"updated {model.with_suffix('.json')}")
    return 0


def _folder_provenance(folder: Path) -> dict[str, Any]:
    """Where ``--data`` bags came from: the folder, plus seeds and command from its dataset card if any."""
    import json

    out: dict[str, Any] = {"folder": str(folder)}
    try:
        card = json.loads((folder / "dataset_card.json").read_text())
    except (OSError, ValueError):
        return out
    if isinstance(card, dict):
        seeds = card.get("seeds")
        if isinstance(seeds, list) and len(seeds) == 2:
            out["seeds"] = f"{seeds[0]}..{seeds[1]}"
        settings = card.get("settings")
        if isinstance(settings, dict) and settings.get("command"):
            out["simulate_command"] = settings["command"]
        out["synthetic"] = bool(card.get("synthetic", False))
    return out
