"""COCO JSON loader (PIDray and other COCO-style X-ray datasets)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from screening.datasets._common import (
    MAX_JSON_BYTES,
    Collector,
    OnError,
    Options,
    annotation_files,
    make_annotation,
    make_options,
    read_bytes,
    resolve_image,
)
from screening.datasets.annotation import Annotation
from screening.datasets.labels import LabelMap
from screening.errors import InvalidScanError, UnsupportedFormatError

__all__ = ["is_coco_json", "load_coco"]


def is_coco_json(path: Path) -> bool:
    """Cheap check: a ``.json`` file whose first 64 kB name COCO's top-level keys."""
    try:
        with path.open("rb") as f:
            head = f.read(65536)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{" and any(
        k in head for k in (b'"images"', b'"annotations"', b'"categories"')
    )


def _load_json(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        doc = json.loads(read_bytes(path, MAX_JSON_BYTES))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidScanError(f"malformed JSON: {err}", source=source) from err
    except RecursionError as err:
        raise InvalidScanError("JSON nested too deeply to be a COCO annotation file", source=source) from err
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "annotations")):
        raise InvalidScanError(
            "expected a COCO object with 'images' and 'annotations' lists (and 'categories')", source=source
        )
    return doc


def _image_dirs(json_path: Path, image_root: Path | None) -> list[Path]:
    if image_root is not None:
        return [image_root]
    parent = json_path.parent.parent
    subdirs = sorted(d for d in parent.iterdir() if d.is_dir() and d != json_path.parent)
    return [json_path.parent, parent, *subdirs]


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, source: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidScanError(f"{where}: expected '{key}' of type {kind}; got {value!r}", source=source)
    return value


def _load_one(
    path: Path, options: Options, image_root: Path | None, collector: Collector
) -> list[Annotation]:
    source = str(path)
    doc = _load_json(path)
    categories = {}
    for i, cat in enumerate(doc.get("categories") or []):
        categories[_field(cat, "id", int, f"categories[{i}]", source)] = str(
            _field(cat, "name", str, f"categories[{i}]", source)
        )
    images: dict[int, dict[str, Any]] = {}
    for i, im in enumerate(doc["images"]):
        images[_field(im, "id", int, f"images[{i}]", source)] = im
    per_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i, ann in enumerate(doc["annotations"]):
        image_id = ann.get("image_id") if isinstance(ann, dict) else None
        if image_id not in images:
            collector.record(
                InvalidScanError(
                    f"annotations[{i}] refers to image_id {image_id!r}, which is not in 'images'",
                    source=source,
                )
            )
            continue
        per_image[image_id].append(ann)
    dirs = _image_dirs(path, image_root)
    out = []
    for image_id, im in images.items():
        ann = collector.attempt(
            _image_annotation, image_id, im, per_image[image_id], categories, dirs, path, options
        )
        if ann is not None:
            out.append(ann)
            if ann.image_path.parent != dirs[0] and ann.image_path.parent in dirs:
                dirs.remove(ann.image_path.parent)  # try the folder that worked first next time
                dirs.insert(0, ann.image_path.parent)
    return out


def _image_annotation(
    image_id: int,
    im: dict[str, Any],
    anns: list[dict[str, Any]],
    categories: dict[int, str],
    dirs: list[Path],
    path: Path,
    options: Options,
) -> Annotation:
    source = str(path)
    where = f"image id {image_id}"
    file_name = _field(im, "file_name", str, where, source)
    width, height = im.get("width"), im.get("height")
    size = (
        (int(width), int(height))
        if isinstance(width, int | float) and isinstance(height, int | float)
        else None
    )
    size = size if size and size[0] > 0 and size[1] > 0 else None
    boxes, names, iscrowd, ids = [], [], [], []
    for ann in anns:
        cat = ann.get("category_id")
        if cat not in categories:
            known = ", ".join(f"{k}={v}" for k, v in sorted(categories.items()))
            raise InvalidScanError(
                f"{where} ({file_name}): annotation {ann.get('id')!r} has category_id {cat!r}, not in "
                f"'categories' ({known or 'none'})",
                source=source,
            )
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox)):
            raise InvalidScanError(
                f"{where} ({file_name}): annotation {ann.get('id')!r} bbox must be [x, y, width, height]; "
                f"got {bbox!r}",
                source=source,
            )
        x, y, w, h = (float(v) for v in bbox)
        boxes.append((x, y, x + w, y + h))
        names.append(categories[cat])
        iscrowd.append(bool(ann.get("iscrowd", 0)))
        ids.append(ann.get("id"))
    image_path = resolve_image(file_name, dirs, source, options)
    meta = {"format": "coco", "dataset": "coco", "image_id": image_id}
    return make_annotation(
        image_path, boxes, names, size, source, options, meta, {"iscrowd": iscrowd, "annotation_ids": ids}
    )


def load_coco(
    root: str | Path,
    *,
    image_root: str | Path | None = None,
    label_map: LabelMap | None = None,
    keep_unmapped: bool = False,
    on_error: OnError = "raise",
    check_images: bool = True,
) -> list[Annotation]:
    """Load a COCO-style dataset (PIDray ships COCO JSON).

    Reads ``root/annotations/*.json`` (or every COCO-looking ``*.json`` under ``root``; ``root`` may
    be one JSON file). COCO boxes ``[x, y, w, h]`` (0-based pixels) become ``(x, y, x + w, y + h)``.
    Images are looked up as ``file_name`` under ``image_root`` or, by default, next to the JSON
    file, in its parent folder and in the parent's subfolders (PIDray's ``train/``, ``easy/``...).
    Images listed without annotations are returned with no boxes (they are negatives).

    Args:
        root: dataset folder or one JSON file.
        image_root: folder holding the images (``file_name`` is relative to it).
        label_map: source class name -> our label (default :class:`LabelMap`).
        keep_unmapped: keep objects that are not our contraband (their label is None).
        on_error: ``"raise"`` the first error, or ``"skip"`` bad files/images with one
            :class:`DatasetSkipWarning`.
        check_images: require each image to exist.

    Returns:
        One :class:`Annotation` per image entry.

    Raises:
        UnsupportedFormatError: ``root`` does not exist or holds no COCO JSON.
        InvalidScanError: a bad file or image entry, with ``on_error="raise"``.
    """
    options = make_options(label_map, keep_unmapped, on_error, check_images)
    root = Path(root)
    files = [p for p in annotation_files(root, ".json", "annotations") if p == root or is_coco_json(p)]
    if not files:
        raise UnsupportedFormatError(
            "no COCO JSON file (with 'images' and 'annotations') found", source=str(root)
        )
    collector = Collector(options, "coco")
    out: list[Annotation] = []
    ir = Path(image_root) if image_root is not None else None
    for path in files:
        anns = collector.attempt(_load_one, path, options, ir, collector)
        out.extend(anns or [])
    return collector.finish(out)
