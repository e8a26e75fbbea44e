"""Benchmark outputs: bench.json, the markdown summary with targets met/missed, and the PNG plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "evaluate_targets", "markdown_summary", "plot_results", "write_outputs"]

#: Issue 6 targets (2-core machine): (modality, key path, comparison, value, text).
TARGETS: tuple[tuple[str, str, str, float, str], ...] = (
    ("xray", "lanes", ">=", 20.0, "X-ray >= 20 lanes"),
    ("xray", "belt_equivalent_mps", ">=", 6.0, "X-ray >= 6 m/s belt-equivalent"),
    ("xray", "latency_s.p99", "<=", 1.0, "X-ray p99 <= 1 s"),
    ("ct", "lanes", ">=", 3.0, "CT >= 3 lanes"),
    ("ct", "latency_s.p99", "<=", 3.0, "CT p99 <= 3 s"),
    ("xray", "speedup_vs_baseline", ">=", 3.0, "X-ray >= 3x baseline bags/s"),
    ("ct", "speedup_vs_baseline", ">=", 3.0, "CT >= 3x baseline bags/s"),
    ("xray", "peak_rss_mb", "<=", 2048.0, "X-ray peak RSS <= 2 GB"),
    ("ct", "peak_rss_mb", "<=", 2048.0, "CT peak RSS <= 2 GB"),
)


#: Lane targets drawn on the throughput plot.
_TARGET_LANES = {"xray": 20.0, "ct": 3.0}


def _get(d: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(float(x)) else None


def evaluate_targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue target for the modalities in ``doc``: ``{"target", "value", "met"}`` (None = n/a)."""
    out = []
    for modality, path, op, limit, text in TARGETS:
        if modality not in doc:
            continue
        value = _num(_get(doc[modality], path))
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        out.append({"target": text, "value": value, "met": met})
    for modality, path, op, limit, text in TARGETS[:5]:
        lane = doc.get(modality, {}).get("without_png")
        if lane:
            value = _num(_get(lane, path))
            met = None if value is None else (value >= limit if op == ">=" else value <= limit)
            out.append({"target": f"{text} (JSON+TDR, no PNG)", "value": value, "met": met})
    for modality in ("xray", "ct"):
        if modality not in doc or "baseline" not in doc[modality]:
            continue
        ours, base = _num(doc[modality].get("pd")), _num(doc[modality]["baseline"].get("pd"))
        met = None if ours is None or base is None else ours >= base
        out.append(
            {
                "target": f"{'X-ray' if modality == 'xray' else 'CT'} PD >= baseline PD",
                "value": ours,
                "baseline": base,
                "met": met,
            }
        )
    return out


def _clean(x: Any) -> Any:
    """NaN/inf -> None so the JSON is standard."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def _f(x: Any, fmt: str = ".2f") -> str:
    v = _num(x)
    return "n/a" if v is None else format(v, fmt)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _perf_cells(s: dict[str, Any], belt_mps: float | None = None) -> list[str]:
    lat = s.get("latency_s") or {}
    mps = s.get("belt_equivalent_mps", belt_mps)
    return [
        _f(s.get("bags_per_hour"), ".0f"),
        _f(mps),
        _f(s.get("lanes"), ".1f"),
        *(_f(lat.get(p), ".3f") for p in ("p50", "p95", "p99")),
        _f(s.get("peak_rss_mb"), ".0f"),
    ]


_HEADER = [
    "modality",
    "detector",
    "workers x threads, batch, outputs",
    "bags/h",
    "belt m/s",
    "lanes",
    "p50 s",
    "p95 s",
    "p99 s",
    "peak RSS MB",
    "PD",
    "PD bag",
    "PFA bag",
]


def markdown_summary(doc: dict[str, Any]) -> str:
    """Human summary: machine, belt, one table row per modality and setting, and the targets."""
    m = doc["machine"]
    gpus = ", ".join(g["name"] for g in m["gpus"]) or "none"
    quick = "; QUICK smoke-test mode (numbers are not meaningful)" if doc["quick"] else ""
    lines = [
        "# screening bench",
        "",
        f"- machine: {m['cpu_model']}, {m['cores_usable']} usable cores, {m['ram_gb']} GB RAM, GPU: {gpus}; "
        f"device `{doc['device']}` ({doc['device_note']})",
        f"- load average at start {m['load_average']}, at end {m.get('load_average_end')}",
        f"- data: {doc['data']}, simulator {doc.get('simulator', '?')}{quick}",
        f"- report stage: JSON + DICOS TDR{' + annotated PNG' if doc.get('report_png', True) else ''}; "
        "latency ends when the verdict is committed (JSON written), throughput counts every output",
    ]
    for modality in ("xray", "ct"):
        if modality in doc:
            belt = doc[modality]["belt"]
            lines.append(
                f"- {modality} belt {belt['speed_mps']} m/s, pitch {belt['pitch_m']:.3f} m -> "
                f"{belt['bags_per_s_per_lane']:.3f} bags/s per lane; budget {belt['deadline_s']} s from: "
                f"{belt['clock_start']} (source: {belt['source']})"
            )
    lines += [
        "",
        _row(_HEADER),
        _row(["---"] * len(_HEADER)),
    ]
    for modality in ("xray", "ct"):
        if modality not in doc:
            continue
        r = doc[modality]
        for s in r.get("settings", []):
            best = "**" if s["bags_per_s"] == r.get("bags_per_s") else ""
            pd = [_f(r.get(k)) for k in ("pd", "pd_bag", "pfa_bag")] if best else ["", "", ""]
            name = f"{best}ours ({s['backend']}){best}"
            setting = f"{s['workers']}x{s['threads']}, {s['batch']}{'' if s.get('png', True) else ', no PNG'}"
            lines.append(_row([modality, name, setting, *_perf_cells(s), *pd]))
        b = r.get("baseline")
        if b:
            name = f"baseline Faster R-CNN ({'trained' if b.get('trained') else 'UNTRAINED'})"
            mps = (b.get("bags_per_s") or 0.0) * r["belt"]["pitch_m"]
            pd = [_f(b.get(k)) for k in ("pd", "pd_bag", "pfa_bag")]
            lines.append(
                _row([modality, name, f"{b.get('workers')}x{b.get('threads')}, 1", *_perf_cells(b, mps), *pd])
            )
    lines += [
        "",
        "Latency is measured at the load of the claimed lane count (arrivals from floor(lanes) lanes).",
        "",
    ]
    for modality in ("xray", "ct"):
        if modality in doc:
            r = doc[modality]
            stages = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in r.get("stage_mean_s", {}).items())
            lines.append(f"- {modality} mean per-stage time (best setting): {stages}")
            if "speedup_vs_baseline" in r:
                lines.append(f"- {modality} speed-up vs baseline: {_f(r['speedup_vs_baseline'])}x")
            if r.get("errors"):
                lines.append(f"- {modality} errors: {r['errors']}")
    for modality in ("xray", "ct"):
        rows = doc.get(modality, {}).get("backends") or []
        if rows:
            lines += [
                "",
                f"### {modality}: detector network alone, onnxruntime vs torch (random input, card's shape)",
                "",
                "| backend | threads | batch | ms/item | items/s |",
                "|---|---|---|---|---|",
            ]
            for r in rows:
                head = [str(r.get("backend")), str(r.get("threads")), str(r.get("batch"))]
                if "error" in r:
                    lines.append(_row([*head, "error", str(r["error"])[:80]]))
                else:
                    lines.append(_row([*head, _f(r["ms_per_item"], ".1f"), _f(r["items_per_s"], ".1f")]))
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in doc.get("targets", []):
        extra = f" (baseline {_f(t['baseline'], '.3f')})" if "baseline" in t else ""
        met = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        lines.append(f"| {t['target']} | {_f(t['value'], '.3f')}{extra} | {met} |")
    return "\n".join(lines) + "\n"


def plot_results(doc: dict[str, Any], out: Path) -> list[Path]:
    """``throughput.png`` (lanes per setting vs the 1-lane line) and ``latency.png`` (vs the budget)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    mods = [m for m in ("xray", "ct") if m in doc]
    paths = []
    fig, axes = plt.subplots(1, len(mods), figsize=(5.5 * len(mods), 4), squeeze=False)
    for ax, m in zip(axes[0], mods, strict=True):
        r = doc[m]
        names, vals, colours = [], [], []
        for s in r.get("settings", []):
            names.append(f"ours {s['workers']}x{s['threads']} b{s['batch']}")
            vals.append(s["belt_equivalent_mps"] or 0.0)
            colours.append("tab:blue")
        if "baseline" in r:
            names.append("baseline FRCNN")
            vals.append((r["baseline"].get("bags_per_s") or 0.0) * r["belt"]["pitch_m"])
            colours.append("tab:grey")
        ax.bar(range(len(vals)), vals, color=colours)
        ax.axhline(r["belt"]["speed_mps"], color="tab:red", ls="--", label="1 lane (belt speed)")
        target = _TARGET_LANES.get(m)
        if target:
            ax.axhline(
                target * r["belt"]["speed_mps"], color="tab:green", ls=":", label=f"target {target:g} lanes"
            )
        ax.set_xticks(range(len(vals)), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("belt-equivalent speed (m/s)")
        ax.set_yscale("log")
        ax.set_title(f"{m}: throughput vs the belt")
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "throughput.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(mods), figsize=(5.5 * len(mods), 4), squeeze=False)
    for ax, m in zip(axes[0], mods, strict=True):
        r = doc[m]
        at = r.get("latency_at_lanes", 1)
        series = [(f"ours at {at} lanes", r.get("latency_samples_s") or [], "tab:blue")]
        if "baseline" in r:
            b_at = max(1, math.floor(r["baseline"].get("lanes") or 0))
            series.append(
                (f"baseline at {b_at} lanes", r["baseline"].get("latency_samples_s") or [], "tab:grey")
            )
        budget = r["belt"]["deadline_s"]
        every = [v for _, vals, _ in series for v in vals if v > 0]
        lo = min([*every, budget]) * 0.8
        hi = max([*every, budget]) * 1.25
        bins = np.geomspace(lo, hi, 40)
        for name, vals, colour in series:
            if vals:
                p99 = float(np.percentile(vals, 99))
                ax.hist(vals, bins=bins, alpha=0.6, color=colour, label=f"{name} (p99 {p99:.2f} s)")
                ax.axvline(p99, color=colour, ls=":")
        ax.axvline(budget, color="tab:red", ls="--", label="verdict budget")
        ax.set_xlabel("verdict latency (s), clock from scan complete")
        ax.set_ylabel("bags")
        ax.set_xscale("log")
        ax.set_title(f"{m}: latency vs the {budget:g} s budget")
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "latency.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write_outputs(doc: dict[str, Any], out: Path) -> dict[str, Path]:
    """Add the target verdicts to ``doc``; write ``bench.json``, ``bench.md`` and the plots into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc["targets"] = evaluate_targets(doc)
    files = {"json": out / "bench.json", "md": out / "bench.md"}
    files["json"].write_text(json.dumps(_clean(doc), indent=1, allow_nan=False))
    files["md"].write_text(markdown_summary(doc))
    for p in plot_results(doc, out):
        files[p.stem] = p
    return files
