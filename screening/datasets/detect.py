"""Recognise a dataset's annotation format from its folder content, and load it: ``load_dataset``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from screening.datasets.annotation import Annotation
from screening.datasets.coco import is_coco_json, load_coco
from screening.datasets.gdxray import GROUND_TRUTH_GLOB, load_gdxray
from screening.datasets.voc import load_voc
from screening.datasets.xray_txt import is_xray_txt_line, load_hixray, load_opixray
from screening.datasets.yolo import NAMES_FILES, YAML_FILES, load_yolo
from screening.errors import UnsupportedFormatError

__all__ = ["FORMATS", "detect_format", "load_dataset"]

#: Format name -> loader. ``load_dataset(format=...)`` also takes the aliases in ``_ALIASES``.
FORMATS: dict[str, Callable[..., list[Annotation]]] = {
    "voc": load_voc,
    "coco": load_coco,
    "yolo": load_yolo,
    "gdxray": load_gdxray,
    "opixray": load_opixray,
    "hixray": load_hixray,
}
_ALIASES = {"sixray": "voc", "pascal-voc": "voc", "pascal_voc": "voc", "pidray": "coco"}
_HIXRAY_CLASSES = {
    "portablecharger1",
    "portablecharger2",
    "mobilephone",
    "laptop",
    "tablet",
    "cosmetic",
    "water",
}
_HIXRAY_CLASSES |= {"nonmetalliclighter"}
#: How many files of each kind are opened to recognise a format.
_SAMPLE = 20


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            for raw in f.read(4096).decode("utf-8-sig", errors="replace").splitlines():
                if raw.strip():
                    return raw
    except OSError:
        pass
    return ""


def _is_yolo_line(line: str) -> bool:
    tokens = line.split()
    if len(tokens) < 5 or len(tokens) % 2 == 0:
        return False
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        return False
    return values[0] == int(values[0]) and all(-0.01 <= v <= 1.01 for v in values[1:])


def _voc_head(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return b"<annotation" in f.read(2048)
    except OSError:
        return False


def detect_format(root: str | Path) -> str:
    """Name of the annotation format of the dataset in ``root`` (a key of :data:`FORMATS`).

    Signals: COCO ``*.json`` with ``"images"``/``"annotations"``; VOC ``*.xml`` with an
    ``<annotation>`` root; YOLO ``data.yaml``/``classes.txt`` or ``labels/*.txt`` with
    ``class cx cy w h`` lines; GDXray ``ground_truth*.txt``; OPIXray/HiXray ``*.txt`` with
    ``image_name category x1 y1 x2 y2`` lines (``hixray`` when its class names are seen).

    Raises:
        UnsupportedFormatError: no format recognised, or more than one (pass ``format=``).
    """
    root = Path(root)
    if root.is_file():
        if root.suffix.lower() == ".json" and is_coco_json(root):
            return "coco"
        if root.suffix.lower() == ".xml" and _voc_head(root):
            return "voc"
        raise UnsupportedFormatError(
            "expected a dataset folder, a COCO .json or a VOC .xml file; pass format= for other single files",
            source=str(root),
        )
    if not root.is_dir():
        raise UnsupportedFormatError("dataset folder not found; check the path", source=str(root))
    by_suffix: dict[str, list[Path]] = {".json": [], ".xml": [], ".txt": []}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in by_suffix and p.is_file():
            by_suffix[p.suffix.lower()].append(p)
    found: dict[str, Path] = {}
    coco = next((p for p in by_suffix[".json"][:_SAMPLE] if is_coco_json(p)), None)
    voc = next((p for p in by_suffix[".xml"][:_SAMPLE] if _voc_head(p)), None)
    gdx = [p for p in by_suffix[".txt"] if p.match(GROUND_TRUTH_GLOB)]
    names = next((root / n for n in (*YAML_FILES, *NAMES_FILES) if (root / n).is_file()), None)
    skip = {*gdx, names}
    others = [p for p in by_suffix[".txt"] if p not in skip]
    lines = [(p, _first_line(p)) for p in others[:_SAMPLE]]
    yolo = names or next((p for p, line in lines if "labels" in p.parts and _is_yolo_line(line)), None)
    xray = [(p, line) for p, line in lines if is_xray_txt_line(line)]
    for fmt, hit in (("coco", coco), ("voc", voc), ("yolo", yolo), ("gdxray", gdx[0] if gdx else None)):
        if hit is not None:
            found[fmt] = hit
    if xray:
        from screening.datasets.labels import normalise_name

        classes = {normalise_name(" ".join(line.split()[1:-4])) for _, line in xray}
        found["hixray" if classes & _HIXRAY_CLASSES else "opixray"] = xray[0][0]
    if len(found) == 1:
        return next(iter(found))
    if not found:
        raise UnsupportedFormatError(
            "no known annotation format found: expected COCO *.json, VOC *.xml, YOLO data.yaml/classes.txt "
            "with labels/*.txt, GDXray ground_truth*.txt, or OPIXray/HiXray *.txt annotation files",
            source=str(root),
        )
    listing = "; ".join(f"{fmt} ({path})" for fmt, path in found.items())
    raise UnsupportedFormatError(
        f"more than one annotation format found: {listing}; pass format= one of {', '.join(found)}",
        source=str(root),
    )


def load_dataset(root: str | Path, format: str | None = None, **kwargs: Any) -> list[Annotation]:
    """Load a public X-ray dataset's annotations, mapped onto our labels.

    Args:
        root: dataset folder (or one COCO JSON / VOC XML file).
        format: one of :data:`FORMATS` (``voc``, ``coco``, ``yolo``, ``gdxray``, ``opixray``,
            ``hixray``) or an alias (``sixray`` = voc, ``pidray`` = coco); None to detect it.
        **kwargs: passed to the format's loader: ``label_map``, ``keep_unmapped``, ``on_error``,
            ``check_images`` (not YOLO), and ``names`` (YOLO), ``image_root`` (COCO),
            ``series_classes`` (GDXray).

    Returns:
        One :class:`Annotation` per image.

    Raises:
        UnsupportedFormatError: unknown ``format`` name, or the format cannot be recognised.
        InvalidScanError: bad input with ``on_error="raise"`` (the default).

    Example:
        >>> anns = load_dataset("OPIXray/train", on_error="skip")  # doctest: +SKIP
        >>> anns[0].labels, anns[0].boxes
    """
    if format is None:
        name = detect_format(root)
    else:
        name = _ALIASES.get(format.lower(), format.lower())
        if name not in FORMATS:
            valid = ", ".join([*FORMATS, *_ALIASES])
            raise UnsupportedFormatError(f"unknown dataset format {format!r}; expected one of {valid}")
    return FORMATS[name](root, **kwargs)
