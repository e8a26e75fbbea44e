"""``screening calibrate``: re-choose a model's operating thresholds on other validation bags."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

EPILOG = """examples:
  screening calibrate --modality xray --sim-bags 400 --seed 5000000 --sim-pixel-mm 2 --workers 2
  screening calibrate --modality ct --data data/site_val_ct --model models/ct_candidates.onnx
  screening calibrate --modality ct --data data/ct_cal400 --data data/ct_cal_b   # pooled folders
Thresholds are rewritten in the model card (PD target and the 5 %-FAR operating point); the card's test
metrics are cleared, because they were measured at the old thresholds: run 'screening evaluate' again.
Use bags that neither training nor the test set used."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    from screening.cli._args import add_model_bags

    p = subparsers.add_parser(
        "calibrate",
        help="re-choose a model's operating thresholds on validation bags and store them in its card",
        description="Choose the operating thresholds of a trained detector on validation bags: per class for "
        "--target-pd (the 'pd' point) and for a bag false-alarm rate <= --far-max (the 'far' point).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--modality", choices=("xray", "ct"), required=True)
    add_model_bags(p, 5_000_000, "validation", many=True)
    p.add_argument("--target-pd", type=float, default=0.95, help="PD of the 'pd' point (default 0.95)")
    p.add_argument("--far-max", type=float, default=0.05, help="bag FAR of the 'far' point (default 0.05)")
    return p


def run(args: argparse.Namespace) -> int:
    import itertools
    import sys

    from screening.cli.evaluate import _folder_provenance
    from screening.cli.train import sim_config, sim_config_dict
    from screening.detect import DEFAULT_MODELS, models_dir
    from screening.detect.card import read_card, write_card
    from screening.errors import ScreeningError
    from screening.ingest.device import UNKNOWN_DEVICE
    from screening.train.data import CLASS_NAMES, bag_devices, load_bags, named_devices, sim_bags_parallel
    from screening.train.evaluate import collect, compute_metrics
    from screening.train.metrics import choose_thresholds
    from screening.train.progress import progress_bar
    from screening.train.xray import _brief, operating_points

    if not 0.0 < args.target_pd <= 1.0 or not 0.0 <= args.far_max < 1.0:
        print("screening calibrate: --target-pd must be in (0, 1] and --far-max in [0, 1)", file=sys.stderr)
        return 2
    model = Path(args.model) if args.model else models_dir() / DEFAULT_MODELS[args.modality]
    try:
        if args.modality == "xray":
            from screening.detect.xray_onnx import XrayOnnxDetector

            det: Any = XrayOnnxDetector(model, threads=args.threads)
        else:
            from screening.detect.ct_onnx import CtOnnxDetector

            det = CtOnnxDetector(model, threads=args.threads)
        det.thresholds = [0.5] * len(det.card.classes)  # calibrate(raw, 0.5) == raw: collect raw scores
        if args.data:
            folders = [Path(d) for d in args.data]
            bags = itertools.chain.from_iterable(load_bags(d, args.modality) for d in folders)
            n = sum(len(list((d / "truth").glob("*.json"))) for d in folders)
            provenance = [_folder_provenance(d) for d in folders]
            source = provenance[0] if len(provenance) == 1 else {"folders": provenance}
        else:
            seeds = range(args.seed, args.seed + args.sim_bags)
            bags = sim_bags_parallel(seeds, args.modality, sim_config(args), args.workers)
            n = args.sim_bags
            source = {"seeds": f"{seeds[0]}..{seeds[-1]}", "sim_config": sim_config_dict(args)}
        seen: set[str] = set()
        with progress_bar(f"calibrating {model.name}", n) as advance:
            records, _ = collect(bag_devices(bags, seen), det, args.modality, advance)
    except ScreeningError as exc:
        print(f"screening calibrate: {exc}", file=sys.stderr)
        return 1
    if not any(b.objects for b in records) or all(b.objects for b in records):
        print(
            "screening calibrate: the bags need both threat and threat-free ones to set thresholds",
            file=sys.stderr,
        )
        return 1
    thresholds = choose_thresholds(records, CLASS_NAMES, args.target_pd)
    points = operating_points(records, args.modality, args.target_pd, args.far_max)
    at_pd = _brief(compute_metrics(records, args.modality, thresholds))
    card = read_card(model)
    training = {
        **card.training,
        "calibration": {
            "bags": len(records),
            "threat_free_bags": sum(1 for b in records if not b.objects),
            "data": source,
            "target_pd": args.target_pd,
            "far_max": args.far_max,
            "at_pd_point": at_pd,
            "previous_thresholds": dict(card.thresholds),
        },
    }
    devices = named_devices(seen)
    extra = {**card.extra, "operating_points": points, "validated_devices": devices}
    cleared = {"note": "thresholds re-chosen by 'screening calibrate'; run 'screening evaluate' again"}
    card = card.replace(thresholds=thresholds, target_pd=args.target_pd, training=training, extra=extra)
    write_card(card.replace(metrics=cleared), model)
    far = points["far"]["validation"]
    clean = training["calibration"]["threat_free_bags"]
    print(f"{model.name}: {len(records)} validation bags ({clean} threat-free)")
    print(f"  pd point  (PD >= {args.target_pd:g}): bag FAR {at_pd['bag_far']:.3f}, PD " + _pds(at_pd))
    print(f"  far point (FAR <= {args.far_max:g}): bag FAR {far['bag_far']:.3f}, PD " + _pds(far))
    bound = points["far"]["expected_far_bound"]
    print(f"  far point promises bag FAR <= {bound:.3f} on new bags", end="")
    if bound > args.far_max + 1e-9:
        print(f": too few threat-free bags ({clean}) for {args.far_max:g}; calibrate on more", end="")
    print()
    print(f"  validated devices: {', '.join(devices) or 'none'}", end="")
    if UNKNOWN_DEVICE in seen:
        print(" (some scans name no device: bags from such images are never cleared alone)", end="")
    print()
    print(f"updated {model.with_suffix('.json')}; test metrics cleared: run 'screening evaluate' again")
    return 0


def _pds(brief: dict[str, Any]) -> str:
    return " / ".join(f"{c} {v:.2f}" for c, v in brief["pd"].items())
