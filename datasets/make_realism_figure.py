"""Compose datasets/realism_comparison.png: real reference X-rays (top) beside simulated bags (bottom).

Run: ``.venv/bin/python datasets/make_realism_figure.py [--reference ../shared/reference] [--out ...]``.
The real images are read at run time from the shared reference folder (third-party, research use only)
and are never copied into the repository; only this composed figure is committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REAL = ("sixray/P00037.jpg", "sixray/P00829.jpg", "pidray_style/gun.png", "pidray_style/knife.png")
TILE_H = 300


def _tile(rgb: np.ndarray, caption: str):
    from PIL import Image, ImageDraw

    im = Image.fromarray(rgb)
    im = im.resize((max(1, round(im.width * TILE_H / im.height)), TILE_H), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (im.width, TILE_H + 22), "white")
    canvas.paste(im, (0, 22))
    ImageDraw.Draw(canvas).text((4, 4), caption, fill=(0, 0, 0))
    return canvas


def _row(tiles, width: int):
    from PIL import Image

    scale = min(1.0, (width - 8 * (len(tiles) - 1)) / sum(t.width for t in tiles))
    tiles = [t.resize((max(1, int(t.width * scale)), max(1, int(t.height * scale)))) for t in tiles]
    row = Image.new("RGB", (width, max(t.height for t in tiles)), "white")
    x = 0
    for t in tiles:
        row.paste(t, (x, 0))
        x += t.width + 8
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).resolve().parent
    p.add_argument("--reference", type=Path, default=here.parent.parent / "shared" / "reference")
    p.add_argument("--out", type=Path, default=here / "realism_comparison.png")
    p.add_argument("--seeds", default="40,41,42,43", help="simulated bags (seed list)")
    p.add_argument("--width", type=int, default=1600)
    args = p.parse_args()

    from PIL import Image

    from screening.physics.pseudocolour import render
    from screening.scan import Label
    from screening.sim import SimConfig, generate_bag

    real = []
    for rel in REAL:
        path = args.reference / rel
        if path.is_file():
            real.append(_tile(np.asarray(Image.open(path).convert("RGB")), f"REAL: {rel}"))
    sim = []
    for i, seed in enumerate(int(s) for s in args.seeds.split(",")):
        cfg = SimConfig(
            threat_fraction=1.0, max_threats=2, classes=(Label.FIREARM, Label.BLADE, Label.AMMUNITION),
            bag_types=("suitcase",) if i % 2 == 0 else ("backpack", "softbag"),
        )  # fmt: skip
        bag = generate_bag(seed, cfg, "xray")
        view = bag.xray[0]
        rgb = render(view.array[0], view.array[1], bag.scanner.palette if bag.scanner else None)
        names = ", ".join(o.name for o in bag.threats)
        sim.append(_tile(rgb, f"SIMULATED: {bag.bag_id} {bag.meta['bag_type']} ({names})"))
    rows = [_row(real, args.width)] if real else []
    rows.append(_row(sim, args.width))
    fig = Image.new("RGB", (args.width, sum(r.height for r in rows) + 10 * len(rows)), "white")
    y = 0
    for r in rows:
        fig.paste(r, (0, y))
        y += r.height + 10
    fig = fig.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    fig.save(args.out, optimize=True)
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB; {len(real)} real, {len(sim)} simulated)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
