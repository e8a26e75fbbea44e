"""CT metal streaks of generator 0.1.0 (16 projection angles) beside 0.2.0's, on the same synthetic bags.

For each bag, the slice through its first threat: no streaks, the streaks back-projected from 16 angles
(generator 0.1.0: wide spokes across the whole bag), and from the default sampling (``ceil(pi / 2 * bins)``
angles). Prints the artefact's percentiles over the empty voxels, so the figure's claim has its numbers.
Synthetic data only.

Run::

    .venv/bin/python datasets/make_streak_figure.py --seeds 7000001,7000007 --out datasets/ct_streaks.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python datasets/make_streak_figure.py --seeds 7000001,7000007 "
        "--out datasets/ct_streaks.png",
    )
    ap.add_argument("--seeds", default="7000001,7000007")
    ap.add_argument("--out", type=Path, default=Path("datasets/ct_streaks.png"))
    a = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from screening.scan import CONTRABAND
    from screening.sim.config import SimConfig
    from screening.sim.ct import metal_streaks
    from screening.sim.generate import generate_bag

    seeds = [int(s) for s in a.seeds.split(",")]
    fig, axes = plt.subplots(len(seeds), 3, figsize=(12, 3.4 * len(seeds)), dpi=100, squeeze=False)
    for row, seed in zip(axes, seeds, strict=True):
        # without streaks the simulator's volume is the clean attenuation plus noise; add each model to it
        bag = generate_bag(seed, SimConfig(threat_fraction=1.0, classes=CONTRABAND, ct_artifacts=False), "ct")
        assert bag.ct is not None and bag.ct_labels is not None
        clean = np.asarray(bag.ct.array, np.float32)
        threat = next(o.index for o in bag.objects if o.label is not None)
        z = int(np.argmax((bag.ct_labels == threat).sum(axis=(1, 2))))
        empty = bag.ct_labels == 0
        models = (("no streaks", 0), ("16 angles (0.1.0)", 16), ("default (0.2.0)", None))
        for ax, (title, n) in zip(row, models, strict=True):
            vol = clean.copy()
            if n != 0:
                metal_streaks(vol, np.random.default_rng(seed), n_angles=n)
                p = np.percentile(np.abs(vol - clean)[0][empty], [50, 95, 99])
                print(f"bag {seed}, {title}: |artefact| in empty voxels p50 / p95 / p99 = {p.round()} MHU")
            ax.imshow(vol[0, z], cmap="gray", vmin=0, vmax=2000)
            ax.set_title(f"bag {seed}, slice {z}: {title}", fontsize=9)
            ax.axis("off")
    fig.suptitle("Synthetic CT, MHU 0-2000: metal streaks by angular sampling", fontsize=11)
    fig.tight_layout()
    fig.savefig(a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
