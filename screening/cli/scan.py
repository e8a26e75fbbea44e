"""``screening scan``: screen inputs (one bag each); write report.json, tdr.dcs and a PNG per bag."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
Each PATH is one bag: a DICOS CT/DX file, a folder holding a DICOM CT series or a high/low-energy image
pair, or a pseudo-colour/greyscale X-ray image. The format is detected from the content.

Outputs, per bag, in OUT/<bag_id>/: report.json (schema in README.md), tdr.dcs (DICOS Threat Detection
Report) and bag.png (annotated image). One JSON line per bag goes to stdout.

Exit status: 0 every input was read; 1 some input could not be read (its report says 'review' with the
error); 2 usage error.

Example:
  screening scan bag1.dcs series_folder/ xray.png --out results/
"""


def register(sub: Any) -> argparse.ArgumentParser:
    from screening.cli._args import add_operating_point

    p = sub.add_parser(
        "scan",
        help="screen files/folders (one bag each) and write reports",
        description="Screen each input as one bag: ingest, detect, decide, report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="input file or folder (one bag each)")
    p.add_argument("--out", type=Path, default=Path("out/scan"), help="output folder (default: out/scan)")
    p.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="policy TOML (thresholds, currency, customs); default: screening/decide/default_policy.toml",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="verdict budget in seconds (default: the policy's [deadline] budget_s, 10)",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="inference device (default: cpu)")
    add_operating_point(p)
    p.add_argument("--no-png", action="store_true", help="skip the annotated PNG")
    return p


def _unique_dir(out: Path, bag_id: str, used: set[str]) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in bag_id)[:100] or "bag"
    name, i = safe, 1
    while name in used:
        i += 1
        name = f"{safe}-{i}"
    used.add(name)
    return out / name


def run(args: argparse.Namespace) -> int:
    from screening.decide.config import load_config
    from screening.detect import default_detectors
    from screening.errors import ScreeningError
    from screening.pipeline import PipelineConfig, screen_path
    from screening.report import annotate, report_line, write_json, write_tdr

    overrides = {"deadline": {"budget_s": args.deadline}} if args.deadline is not None else None
    try:
        decide_cfg = load_config(args.policy, overrides)
    except ScreeningError as exc:
        print(f"screening scan: {exc}", file=sys.stderr)
        return 2
    policy = decide_cfg.policy
    try:
        detectors = default_detectors(args.device, operating_point=args.operating_point)
    except ScreeningError as exc:
        print(f"screening scan: {exc}", file=sys.stderr)
        return 2
    config = PipelineConfig(
        policy=policy, deadline_s=decide_cfg.deadline_s, declarations=decide_cfg.declarations
    )
    args.out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    failed = 0
    for raw in args.paths:
        report, scans = screen_path(raw, detectors, config)
        if not scans:
            failed += 1
            print(f"screening scan: {report.reasons[0]}", file=sys.stderr)
        bag_dir = _unique_dir(args.out, report.bag_id, used)
        bag_dir.mkdir(parents=True, exist_ok=True)
        outputs: dict[str, str] = {}
        try:
            outputs["report"] = str(write_json(report, bag_dir / "report.json"))
            outputs["tdr"] = str(write_tdr(report, scans, bag_dir / "tdr.dcs", policy=policy))
            if not args.no_png:
                outputs["png"] = str(annotate(scans, report, bag_dir / "bag.png", policy=policy))
        except Exception as exc:  # the verdict stands even if an output could not be written
            failed += 1
            print(f"screening scan: {raw}: could not write outputs to {bag_dir}: {exc}", file=sys.stderr)
        print(report_line(report, outputs), flush=True)
    return 1 if failed else 0
