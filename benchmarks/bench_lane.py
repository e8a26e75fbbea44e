"""Full run for ``benchmarks/RESULTS.md``: ``screening bench`` plus a copy of bench.json per machine.

Runs the same thing as ``screening bench --modality both --bags 50`` and copies ``bench.json`` and
``bench.md`` to ``benchmarks/results/<cpu>-<cores>c-<date>.{json,md}`` so each machine's figures are kept
beside the table in ``RESULTS.md`` (which is edited by hand from ``bench.md``: one section per machine).

Example:
    .venv/bin/python benchmarks/bench_lane.py --bags 50 --out out/bench
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bags", type=int, default=50)
    p.add_argument("--modality", choices=("xray", "ct", "both"), default="both")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    p.add_argument("--out", type=Path, default=Path("out/bench"))
    p.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args, rest = p.parse_known_args(argv)

    from screening.cli.main import main as cli

    cmd = ["bench", "--modality", args.modality, "--bags", str(args.bags), "--device", args.device]
    rc = cli([*cmd, "--out", str(args.out), *rest])
    bench = args.out / "bench.json"
    if not bench.is_file():
        return rc or 1
    import json

    doc = json.loads(bench.read_text())
    cpu = re.sub(r"[^A-Za-z0-9]+", "-", doc["machine"]["cpu_model"]).strip("-").lower()[:40]
    tag = f"{cpu}-{doc['machine']['cores_usable']}c-{doc['device']}-{time.strftime('%Y%m%d-%H%M')}"
    args.results.mkdir(parents=True, exist_ok=True)
    shutil.copy(bench, args.results / f"{tag}.json")
    shutil.copy(args.out / "bench.md", args.results / f"{tag}.md")
    print(f"kept as {args.results / tag}.{{json,md}}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
