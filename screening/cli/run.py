"""``screening run``: the live lane (simulated belt, hot folder or DICOM receiver) with a live view."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  screening run                                  # simulated lane, 20 bags, live view, outputs in out/run-*/
  screening run --bags 0                         # run forever (Ctrl-C stops after the bags in flight)
  screening run --source /data/dropbox --bags 0  # hot folder: screen each DICOS file dropped there once
  screening run --source dicom --port 11112 --ae-title SCREENING --allow-caller SCANNER1
  screening run --policy my_policy.toml --customs --declarations decl.csv

The 10-s budget starts when the bag's tail passes the imaging plane (its scan is complete); for files,
when the file is first seen complete. A bag without a verdict by then gets `review` (reason `deadline`).
Restart with the same --out (or --audit) to resume: decided bags are skipped, in-flight bags screened again.
Policy precedence: embedded defaults < --policy FILE < flags.
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    from screening.cli._args import add_operating_point

    p = subparsers.add_parser(
        "run",
        help="run the live screening lane (simulated belt, hot folder or DICOM receiver)",
        description="Run the screening lane: bags arrive on the belt, each gets a verdict within the budget.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--source",
        default="sim",
        help="'sim' (simulated belt, default), a folder to watch (hot folder), or 'dicom' (C-STORE receiver)",
    )
    p.add_argument("--bags", type=int, default=20, help="stop after N bags; 0 = run forever (default 20)")
    p.add_argument("--belt-speed", type=float, default=0.3, help="belt speed in m/s (default 0.3)")
    p.add_argument("--gap", type=float, default=0.3, help="belt gap between bags in m (default 0.3)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="inference device (default cpu)")
    add_operating_point(p)
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: half the cores, >= 2)"
    )
    p.add_argument(
        "--queue-size", type=int, default=None, help="bags that may wait for a worker (default 2x workers)"
    )
    p.add_argument(
        "--policy", type=Path, default=None, help="policy TOML (see screening/decide/default_policy.toml)"
    )
    p.add_argument("--budget-s", type=float, default=None, help="verdict budget in seconds (default 10)")
    p.add_argument(
        "--threshold", action="append", default=[], metavar="LABEL=SCORE", help="per-class threshold"
    )
    p.add_argument(
        "--currency-min-notes", type=int, default=None, help="excess currency from N notes (default 100)"
    )
    p.add_argument("--customs", action=argparse.BooleanOptionalAction, default=None, help="customs mode")
    p.add_argument(
        "--declarations", type=Path, default=None, help="declaration file (.csv/.toml/.json) by bag id"
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/run-<timestamp>)")
    p.add_argument("--audit", type=Path, default=None, help="SQLite audit store (default OUT/audit.sqlite)")
    p.add_argument("--png", action="store_true", help="also write annotated PNGs (OUT/<bag>/bag.png)")
    p.add_argument("--no-tdr", action="store_true", help="do not write DICOS TDRs")
    p.add_argument(
        "--modality", choices=("xray", "ct", "both"), default="xray", help="simulated scanner (sim)"
    )
    p.add_argument("--seed", type=int, default=0, help="simulator seed (sim)")
    p.add_argument("--settle-s", type=float, default=1.0, help="hot folder: quiet time before a file counts")
    p.add_argument("--ae-title", default="SCREENING", help="dicom: our AE title (default SCREENING)")
    p.add_argument("--port", type=int, default=11112, help="dicom: TCP port (default 11112)")
    p.add_argument(
        "--allow-caller", action="append", default=[], help="dicom: accepted calling AE title (repeat)"
    )
    p.add_argument("--no-live", action="store_true", help="print one line per bag instead of the live table")
    p.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    return p


def policy_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The TOML-shaped overrides the flags ask for (applied after the policy file)."""
    over: dict[str, Any] = {}
    if args.budget_s is not None:
        over.setdefault("deadline", {})["budget_s"] = args.budget_s
    if args.currency_min_notes is not None:
        over.setdefault("currency", {})["min_notes"] = args.currency_min_notes
    if args.customs is not None:
        over.setdefault("customs", {})["enabled"] = args.customs
    if args.declarations is not None:
        over.setdefault("customs", {})["declarations"] = str(args.declarations.resolve())
    for item in args.threshold:
        label, sep, score = item.partition("=")
        try:
            value = float(score)
        except ValueError:
            value = None
        if not sep or value is None:
            raise ValueError(f"--threshold wants LABEL=SCORE (e.g. firearm=0.6); got {item!r}")
        over.setdefault("thresholds", {})[label.strip()] = value
    return over


def run(args: argparse.Namespace) -> int:
    import functools
    import logging
    import os
    import signal
    import sys
    import threading
    import time

    from screening.audit import AuditStore
    from screening.decide import load_config
    from screening.detect import check_operating_point, default_detectors
    from screening.errors import ScreeningError
    from screening.lane.belt import BeltConfig
    from screening.lane.lane import Lane
    from screening.lane.live import LiveView, PlainView
    from screening.lane.scheduler import SchedulerConfig, default_workers
    from screening.lane.sources import HotFolderSource, SimSource, sim_bag_maker
    from screening.lane.stats import LaneStats
    from screening.lane.workers import OutputSpec
    from screening.pipeline import PipelineConfig

    try:
        cfg = load_config(args.policy, policy_overrides(args))
        belt = BeltConfig(speed_m_s=args.belt_speed, gap_m=args.gap)
        check_operating_point(args.operating_point)  # before the workers: they would only send bags to review
    except (ScreeningError, ValueError) as exc:
        print(f"screening run: {exc}", file=sys.stderr)
        return 2
    if args.source not in ("sim", "dicom") and not Path(args.source).is_dir():
        print(
            f"screening run: --source must be 'sim', 'dicom' or an existing folder; got {args.source!r}",
            file=sys.stderr,
        )
        return 2
    out = args.out or Path("out") / time.strftime("run-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    store = AuditStore(args.audit or out / "audit.sqlite")
    workers = args.workers or default_workers(args.device)
    config = SchedulerConfig(
        workers=workers,
        queue_size=args.queue_size or 2 * workers,
        pipeline=PipelineConfig(policy=cfg.policy, deadline_s=cfg.deadline_s, declarations=cfg.declarations),
        outputs=OutputSpec(out, tdr=not args.no_tdr, png=args.png),
        threads_per_worker=max(1, (os.cpu_count() or 2) // workers),
    )
    stop = threading.Event()
    max_bags = args.bags if args.bags > 0 else None
    receiver = None
    if args.source == "sim":
        source: Any = SimSource(
            sim_bag_maker(args.seed, args.modality),
            count=max_bags,
            belt=belt,
            time_scale=args.time_scale,
            prefix=f"sim-{args.seed}-",
            skip=store.has_verdict,
            stop=stop,
        )
        label = f"simulated belt {args.belt_speed:g} m/s ({args.modality})"
    elif args.source == "dicom":
        from screening.lane.dicom_scp import DicomReceiver, ReceiverConfig

        spool = out / "spool"
        try:
            receiver = DicomReceiver(
                ReceiverConfig(
                    ae_title=args.ae_title, port=args.port, allowed_callers=tuple(args.allow_caller)
                ),
                spool,
            )
            receiver.start()
        except (ScreeningError, ValueError, OSError) as exc:
            print(f"screening run: cannot start the DICOM receiver: {exc}", file=sys.stderr)
            return 2
        source = HotFolderSource(spool, store, settle_s=0.0, max_bags=max_bags, stop=stop)
        label = f"DICOM receiver {args.ae_title}@{receiver.port} -> {spool}"
    else:
        folder = Path(args.source)
        source = HotFolderSource(folder, store, settle_s=args.settle_s, max_bags=max_bags, stop=stop)
        label = f"hot folder {folder}"

    stats = LaneStats(belt_speed_m_s=args.belt_speed, gap_m=args.gap)
    live = not args.no_live and sys.stdout.isatty()
    title = (
        f"screening run: {label}, {workers} workers on {args.device}, budget {cfg.deadline_s:g} s -> {out}"
    )
    view: Any = LiveView(stats, title) if live else PlainView(stats, lambda s: print(s, flush=True))
    if live:
        from rich.logging import RichHandler

        logging.basicConfig(level=logging.WARNING, handlers=[RichHandler(console=view.console)], force=True)
    else:
        print(title, flush=True)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)

    def _stop(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        logging.getLogger("screening.lane").warning("stopping: finishing the bags in flight (again to abort)")

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    lane = Lane(
        source,
        functools.partial(default_detectors, args.device, operating_point=args.operating_point),
        config,
        budget_s=cfg.deadline_s,
        store=store,
        out_dir=out,
        stats=stats,
        on_verdict=view.update,
        stop=stop,
    )
    try:
        with view:
            result = lane.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if receiver is not None:
            receiver.stop()
        store.close()
    s = result.summary
    print(
        f"{s['bags']} bags ({', '.join(f'{k} {v}' for k, v in sorted(s['verdicts'].items())) or 'none'}), "
        f"skipped {s['skipped_already_decided']} already decided; {s['bags_per_hour']:.0f} bags/h, "
        f"belt-equivalent {s['belt_equivalent_m_s']:.2f} m/s; latency p50 {s['latency_p50_s']} s, "
        f"p99 {s['latency_p99_s']} s, over budget {s['over_budget']}; "
        f"back-pressure {s['scheduler']['backpressure']}, workers recycled {s['scheduler']['recycled']}. "
        f"Outputs and summary.json in {out}",
        flush=True,
    )
    return 0 if result.drained else 1
