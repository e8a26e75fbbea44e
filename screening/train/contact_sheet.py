"""Contact sheet: run the X-ray detector on real pseudo-colour images and draw what it finds (one PNG).

A first, honest look at simulation-to-real transfer. The images are read at run time and never copied.
Run: ``python -m screening.train.contact_sheet --images ../shared/reference/sixray
../shared/reference/pidray_style --out models/xray_reference_sheet.png``
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["contact_sheet", "main"]

_COLOURS = {
    "firearm": "red",
    "ammunition": "orange",
    "blade": "magenta",
    "drugs": "lime",
    "currency": "cyan",
    "wildlife": "yellow",
}


def _load_rgb(path: Path):  # -> Scan
    from PIL import Image

    from screening.scan import Modality, Scan

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return Scan(
        np.moveaxis(arr, -1, 0).copy(),
        Modality.XRAY,
        (1.0, 1.0),
        ("r", "g", "b"),
        path.stem,
        view="view0",
        source=str(path),
    )


def contact_sheet(
    model: str | Path, images: Sequence[Path], out: str | Path, min_score: float = 0.3, cols: int = 6
) -> tuple[Path, list[dict]]:
    """Detect on each image and draw boxes with calibrated score >= ``min_score`` (0.5 = operating point).

    Returns:
        ``(png path, per-image findings)``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from screening.detect.xray_onnx import XrayOnnxDetector

    det = XrayOnnxDetector(model, threads=2)
    rows = math.ceil(len(images) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows))
    axes = np.atleast_1d(axes).ravel()
    findings = []
    for ax, path in zip(axes, images, strict=False):
        scan = _load_rgb(path)
        dets = sorted((d for d in det(scan) if d.score >= min_score), key=lambda d: -d.score)[:6]
        ax.imshow(np.moveaxis(scan.array, 0, -1))
        for d in dets:
            x0, y0, x1, y1 = d.box
            c = _COLOURS.get(str(d.label), "white")
            ls = "-" if d.score >= 0.5 else "--"
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=c, lw=1.5, ls=ls))
            ax.text(
                x0,
                y0,
                f"{d.label} {d.score:.2f}",
                color=c,
                fontsize=6,
                va="bottom",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 0.5, "lw": 0},
            )
        ax.set_title(f"{path.parent.name}/{path.name}", fontsize=7)
        ax.axis("off")
        findings.append(
            {
                "image": f"{path.parent.name}/{path.name}",
                "detections": [{"label": str(d.label), "score": round(d.score, 3)} for d in dets],
            }
        )
    for ax in axes[len(images) :]:
        ax.axis("off")
    fig.suptitle(
        f"{Path(model).name} on real images (solid: score >= 0.5 operating point; dashed: "
        f"{min_score}-0.5). Trained on synthetic data only.",
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out, findings


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry (see the module docstring)."""
    import json

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=None, help="X-ray .onnx (default: the shipped model)")
    p.add_argument("--images", nargs="+", required=True, help="folders or files (png/jpg)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--min-score", type=float, default=0.3)
    args = p.parse_args(argv)
    from screening.detect import DEFAULT_MODELS, models_dir

    model = args.model or models_dir() / DEFAULT_MODELS["xray"]
    files: list[Path] = []
    for item in args.images:
        path = Path(item)
        files += (
            sorted(f for f in path.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
            if path.is_dir()
            else [path]
        )
    out, findings = contact_sheet(model, files, args.out, args.min_score)
    Path(out).with_suffix(".json").write_text(json.dumps(findings, indent=1) + "\n")
    print(f"wrote {out} ({len(files)} images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
