"""Write simulated bags: 16-bit PNG pairs, pseudo-colour PNGs, COCO JSON, DICOS CT, ground truth, card."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from screening.ingest.write import PNG_ZLIB_RLE, png_text, write_png_pair
from screening.scan import CONTRABAND
from screening.sim.generate import GENERATOR_VERSION, SimBag

__all__ = ["COCO_CATEGORIES", "build_coco", "write_bag", "write_dataset_card"]

#: COCO categories: our six contraband labels, ids 1..6 in model class-index order.
COCO_CATEGORIES: list[dict[str, Any]] = [
    {"id": i + 1, "name": str(label), "supercategory": "contraband"} for i, label in enumerate(CONTRABAND)
]
_CAT_ID = {str(label): i + 1 for i, label in enumerate(CONTRABAND)}


def write_bag(bag: SimBag, out: str | Path) -> dict[str, Any]:
    """Write one bag's files under ``out`` and return its index record (COCO parts without ids).

    Layout: ``xray/<bag_id>_<view>_{high,low}.png`` (16-bit transmission), ``xray/<bag_id>_<view>.png``
    (the simulated scanner's pseudo-colour), ``ct/<bag_id>.dcs`` (DICOS CT), ``ct/<bag_id>_labels.npz``
    (int16 object-index mask) and ``truth/<bag_id>.json`` (every object's ground truth + scanner).

    Args:
        bag: the simulated bag.
        out: dataset folder.

    Returns:
        ``{"bag_id", "seed", "images": [...], "annotations": [...], "labels": [...], "ct": path | None}``
        where each annotation refers to its image by ``image_key`` (``<bag_id>_<view>``).
    """
    from screening.ingest.write import write_dicos_ct
    from screening.physics.pseudocolour import render

    out = Path(out)
    record: dict[str, Any] = {
        "bag_id": bag.bag_id,
        "seed": bag.seed,
        "images": [],
        "annotations": [],
        "ct": None,
    }
    palette = bag.scanner.palette if bag.scanner is not None else None
    if bag.xray:
        (out / "xray").mkdir(parents=True, exist_ok=True)
    for scan in bag.xray:
        key = f"{bag.bag_id}_{scan.view}"
        high, low = write_png_pair(scan, out / "xray", names=(f"{key}_high.png", f"{key}_low.png"))
        _save_png(render(scan.array[0], scan.array[1], palette), out / "xray" / f"{key}.png", scan.meta)
        h, w = scan.shape
        record["images"].append({
            "key": key, "file_name": f"xray/{key}.png", "high_file": f"xray/{high.name}",
            "low_file": f"xray/{low.name}", "width": w, "height": h, "bag_id": bag.bag_id, "view": scan.view,
            "spacing_mm": list(scan.spacing_mm), "seed": bag.seed, "synthetic": True,
        })  # fmt: skip
        for gt in bag.objects:
            if gt.label is None or str(gt.label) not in _CAT_ID or scan.view not in gt.boxes_2d:
                continue
            x0, y0, x1, y1 = gt.boxes_2d[scan.view]
            record["annotations"].append({
                "image_key": key, "category_id": _CAT_ID[str(gt.label)], "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": float((x1 - x0) * (y1 - y0)), "iscrowd": 0, "name": gt.name, "material": gt.material,
                "mass_g": round(gt.mass_g, 2), "note_count": gt.note_count, "concealment": gt.concealment,
                "view": scan.view, "bag_id": bag.bag_id,
            })  # fmt: skip
    if bag.ct is not None:
        (out / "ct").mkdir(parents=True, exist_ok=True)
        kvp = bag.scanner.kvp if bag.scanner is not None else None
        write_dicos_ct(bag.ct, out / "ct" / f"{bag.bag_id}.dcs", bag_id=bag.bag_id, kvp=kvp)
        if bag.ct_labels is not None:
            np.savez_compressed(out / "ct" / f"{bag.bag_id}_labels.npz", labels=bag.ct_labels)
        record["ct"] = f"ct/{bag.bag_id}.dcs"
    truth = {
        "bag_id": bag.bag_id,
        "seed": bag.seed,
        "synthetic": True,
        "generator_version": GENERATOR_VERSION,
        "xray_views": [s.view for s in bag.xray],
        "ct_file": record["ct"],
        "ct_labels_file": f"ct/{bag.bag_id}_labels.npz" if bag.ct_labels is not None else None,
        "ct_shape_zyx": list(bag.ct.shape) if bag.ct is not None else None,
        "ct_spacing_mm": list(bag.ct.spacing_mm) if bag.ct is not None else None,
        "objects": [o.to_dict() for o in bag.objects],
        "meta": bag.meta,
    }
    (out / "truth").mkdir(parents=True, exist_ok=True)
    (out / "truth" / f"{bag.bag_id}.json").write_text(json.dumps(truth, indent=1))
    record["labels"] = [str(o.label) for o in bag.objects if o.label is not None]
    record["bag_type"] = bag.meta.get("bag_type")
    record["concealments"] = [o.concealment for o in bag.objects if o.label is not None]
    return record


def _save_png(array: np.ndarray, path: Path, meta: dict[str, Any]) -> None:
    """Write ``(H, W)`` uint16 or ``(H, W, 3)`` uint8 ``array`` as a lossless PNG naming the device."""
    from PIL import Image

    Image.fromarray(array).save(path, format="PNG", compress_type=PNG_ZLIB_RLE, pnginfo=png_text(meta))


def build_coco(records: Iterable[Mapping[str, Any]], info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Assemble a COCO detection dict from :func:`write_bag` records (ids assigned in record order)."""
    images, annotations = [], []
    ids: dict[str, int] = {}
    for rec in records:
        for img in rec["images"]:
            ids[img["key"]] = len(images) + 1
            images.append({k: v for k, v in img.items() if k != "key"} | {"id": ids[img["key"]]})
        for ann in rec["annotations"]:
            a = {k: v for k, v in ann.items() if k != "image_key"}
            annotations.append(a | {"id": len(annotations) + 1, "image_id": ids[ann["image_key"]]})
    return {
        "info": dict(info or {})
        | {"description": "screening.sim synthetic baggage X-ray (simulated, not real)"},
        "categories": COCO_CATEGORIES,
        "images": images,
        "annotations": annotations,
    }


def write_dataset_card(
    out: str | Path, records: list[Mapping[str, Any]], settings: Mapping[str, Any]
) -> Path:
    """Write ``dataset_card.md`` and ``dataset_card.json``: class counts, sizes, seeds, generator version.

    Args:
        out: dataset folder.
        records: :func:`write_bag` records of every bag.
        settings: how it was generated (command-line settings, config).

    Returns:
        Path of the markdown card.
    """
    out = Path(out)
    labels = Counter(label for r in records for label in r["labels"])
    bag_types = Counter(r.get("bag_type") for r in records)
    conceal = Counter(c for r in records for c in r.get("concealments", []))
    n_threat = sum(1 for r in records if any(lbl in _CAT_ID for lbl in r["labels"]))
    seeds = [r["seed"] for r in records]
    summary = {
        "generator": "screening.sim",
        "generator_version": GENERATOR_VERSION,
        "synthetic": True,
        "bags": len(records),
        "bags_with_contraband": n_threat,
        "seeds": [min(seeds), max(seeds)] if seeds else [],
        "label_counts": dict(sorted(labels.items())),
        "bag_types": dict(sorted((str(k), v) for k, v in bag_types.items())),
        "concealment": dict(sorted(conceal.items())),
        "xray_images": sum(len(r["images"]) for r in records),
        "xray_boxes": sum(len(r["annotations"]) for r in records),
        "ct_volumes": sum(1 for r in records if r.get("ct")),
        "settings": dict(settings),
    }
    (out / "dataset_card.json").write_text(json.dumps(summary, indent=1, default=str))
    rows = "\n".join(f"| {k} | {v} |" for k, v in summary["label_counts"].items()) or "| (none) | 0 |"
    text = _CARD.format(
        version=GENERATOR_VERSION, bags=len(records), threat=n_threat, seeds=summary["seeds"], rows=rows,
        bag_types=summary["bag_types"], conceal=summary["concealment"], xray=summary["xray_images"],
        boxes=summary["xray_boxes"], ct=summary["ct_volumes"],
        settings="\n".join(f"- `{k}`: {v}" for k, v in settings.items()),
    )  # fmt: skip
    path = out / "dataset_card.md"
    path.write_text(text)
    return path


_CARD = """# Synthetic baggage dataset (screening.sim {version})

**Simulated data, not real scans.** Generated by the physics-based simulator in `screening.sim`
(xraydb attenuation, spekpy spectra, analytic phantoms). See `datasets/README.md` in the source tree for
how it is made and where it still differs from real images.

## Contents
- bags: {bags} ({threat} with contraband); seeds {seeds} (bag *i* uses seed S+i)
- X-ray images (views): {xray}, boxes: {boxes} (COCO: `xray/annotations.json`)
- CT volumes: {ct} (DICOS CT in `ct/`, masks in `ct/*_labels.npz`)
- bag types: {bag_types}
- concealment of labelled objects: {conceal}

## Labelled objects per class
| label | count |
|---|---|
{rows}

## Settings
{settings}

## Files
- `xray/<bag>_<view>_high.png`, `_low.png`: 16-bit transmission (65535 = air); `xray/<bag>_<view>.png`:
  pseudo-colour as the simulated scanner renders it.
- `xray/annotations.json`: COCO; categories are the six contraband labels; extra fields per box:
  `mass_g`, `note_count`, `concealment`, `view`, `bag_id`, `name`, `material`.
- `ct/<bag>.dcs`: DICOS CT in MHU (air 0, water 1000); `ct/<bag>_labels.npz`: int16 object-index mask.
- `truth/<bag>.json`: every object (benign too): label, material, mass, note count, concealment, 2-D and
  3-D boxes, mask index; scanner parameters used.

## Terms
Generated locally; free to use. Not evidence of how any real scanner renders a real bag.
"""
