"""PNG plots for ``screening evaluate``: per-class ROC (PD vs bag FAR), FROC, PD bars, confusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from screening.train.metrics import BagRecord, froc_points

__all__ = ["plot_all"]


def plot_all(metrics: Mapping[str, Any], records: Sequence[BagRecord], folder: Path) -> list[Path]:
    """Write ``roc.png``, ``froc.png``, ``pd_per_class.png`` and ``confusion.png`` into ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(metrics["per_class"])
    grid = np.concatenate([np.linspace(0.0, 0.99, 100), [0.995, 0.999]])
    curves = {c: froc_points(records, c, grid) for c in classes}
    written = []

    fig, ax = plt.subplots(figsize=(6, 5))
    for c in classes:
        pd, far, _ = curves[c]
        ax.plot(far, pd, label=c)
    ax.axvline(0.05, color="grey", ls=":")
    ax.axhline(0.95, color="grey", ls=":")
    ax.set(xlabel="bag false-alarm rate (this class, threat-free bags)", ylabel="PD (objects)", title="ROC")
    ax.legend(fontsize=8)
    written.append(_save(fig, folder / "roc.png"))

    fig, ax = plt.subplots(figsize=(6, 5))
    for c in classes:
        pd, _, fps = curves[c]
        ax.plot(fps, pd, label=c)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set(xlabel="false positives per bag", ylabel="PD (objects)", title="FROC")
    ax.legend(fontsize=8)
    written.append(_save(fig, folder / "froc.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    pds = [metrics["per_class"][c]["pd"] for c in classes]
    ax.bar(classes, pds, color=["tab:green" if p >= 0.95 else "tab:red" for p in pds])
    cis = [metrics["per_class"][c].get("pd_ci95") for c in classes]
    if all(cis):  # exact 95 % intervals: with a handful of objects per class they are wide
        err = np.array([[p - ci[0], ci[1] - p] for p, ci in zip(pds, cis, strict=True)]).T
        ax.errorbar(classes, pds, yerr=np.clip(err, 0.0, None), fmt="none", ecolor="k", capsize=4, lw=1)
        for i, c in enumerate(classes):
            ax.text(i, 0.02, f"n={metrics['per_class'][c]['n']}", ha="center", fontsize=8)
    ax.axhline(0.95, color="k", ls="--", lw=1)
    ax.set(
        ylim=(0, 1.02),
        ylabel="PD at operating threshold",
        title=f"{metrics['modality']}: bag FAR {metrics['bag_far']:.3f} (bars: exact 95 % intervals)",
    )
    written.append(_save(fig, folder / "pd_per_class.png"))

    conf = np.asarray(metrics["confusion"]["counts"])
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(conf, cmap="Blues")
    ax.set_xticks(range(conf.shape[1]), metrics["confusion"]["cols"], rotation=45, ha="right")
    ax.set_yticks(range(conf.shape[0]), metrics["confusion"]["rows"])
    for (i, j), v in np.ndenumerate(conf):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title="confusion at operating thresholds")
    written.append(_save(fig, folder / "confusion.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
