"""YOLO txt loader: ``class cx cy w h`` normalised per line, class names from data.yaml or classes.txt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from screening.datasets._common import (
    Collector,
    OnError,
    Options,
    annotation_files,
    find_image,
    make_annotation,
    make_options,
    missing_image,
    parse_float,
    read_image_size,
    read_text,
)
from screening.datasets.annotation import Annotation
from screening.datasets.labels import LabelMap
from screening.errors import BackendUnavailableError, InvalidScanError, UnsupportedFormatError

__all__ = ["NAMES_FILES", "YAML_FILES", "load_yolo", "parse_yolo_txt", "read_class_names"]

#: Dataset description files holding ``names:`` (Ultralytics), looked for in the dataset root.
YAML_FILES: tuple[str, ...] = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
#: Plain class lists, one name per line (Darknet / labelImg), looked for in the dataset root.
NAMES_FILES: tuple[str, ...] = ("classes.txt", "obj.names", "classes.names")
#: Tolerance on normalised coordinates slightly outside [0, 1] (rounding in exporters).
_TOL = 1e-3


def _names_from_yaml(path: Path) -> list[str]:
    source = str(path)
    try:
        import yaml
    except ImportError as err:
        raise BackendUnavailableError(
            "reading data.yaml needs PyYAML; pip install pyyaml, or pass names=[...]", source=source
        ) from err
    try:
        doc = yaml.safe_load(read_text(path))
    except yaml.YAMLError as err:
        raise InvalidScanError(f"malformed YAML: {err}", source=source) from err
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise InvalidScanError(
                f"'names' keys must be the class indices 0..{len(names) - 1}; got {sorted(names)!r}",
                source=source,
            )
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str | int | float) for n in names):
        raise InvalidScanError(
            "expected a non-empty 'names' list or {index: name} mapping of plain names", source=source
        )
    return [str(n) for n in names]


def read_class_names(root: Path) -> tuple[list[str], Path]:
    """Class names of a YOLO dataset and the file they came from.

    Looks in ``root`` for :data:`YAML_FILES` (``names:`` as a list or ``{index: name}``), then
    :data:`NAMES_FILES` (one name per line).

    Raises:
        UnsupportedFormatError: none of those files exists.
        InvalidScanError: the file exists but has no usable names.
        BackendUnavailableError: a YAML file must be read and PyYAML is not installed.
    """
    for name in YAML_FILES:
        if (root / name).is_file():
            return _names_from_yaml(root / name), root / name
    for name in NAMES_FILES:
        path = root / name
        if path.is_file():
            names = [line.strip() for line in read_text(path).splitlines() if line.strip()]
            if not names:
                raise InvalidScanError(
                    "class list is empty; expected one class name per line", source=str(path)
                )
            return names, path
    raise UnsupportedFormatError(
        f"YOLO class names not found: expected one of {', '.join(YAML_FILES + NAMES_FILES)} in the dataset "
        "root, or pass names=[...]",
        source=str(root),
    )


def _image_for(label_path: Path) -> tuple[Path | None, list[Path]]:
    parts = list(label_path.parent.parts)
    dirs = []
    if "labels" in parts:
        i = len(parts) - 1 - parts[::-1].index("labels")
        dirs.append(Path(*parts[:i], "images", *parts[i + 1 :]))
    dirs.append(label_path.parent)
    return find_image(label_path.stem, dirs), dirs


def parse_yolo_txt(path: Path, names: Sequence[str], options: Options, names_file: str = "") -> Annotation:
    """Parse one YOLO label file.

    Each line is ``class cx cy w h`` with centre and size normalised to ``[0, 1]`` by the image
    width/height (read from the image header, so the image must exist), or an Ultralytics
    segmentation line ``class x1 y1 x2 y2 ... xn yn`` (its bounding box is used). The image is
    ``<stem>.<image suffix>`` in the matching ``images/`` folder (``labels`` -> ``images``) or beside
    the label file. An empty file is an image with no objects.

    Raises:
        InvalidScanError: wrong field count, non-normalised values, class index out of range, bad boxes,
            missing image.
    """
    source = str(path)
    image_path, dirs = _image_for(path)
    if image_path is None:
        raise missing_image(
            path.stem, dirs, source
        )  # YOLO needs the image size, even with check_images=False
    width, height = read_image_size(image_path, source)
    boxes, classes = [], []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 5 or len(tokens) % 2 == 0:
            raise InvalidScanError(
                f"line {lineno}: expected 'class cx cy w h' (5 fields) or 'class x1 y1 ... xn yn'; "
                f"got {len(tokens)} fields",
                source=source,
            )
        cls = parse_float(tokens[0], f"line {lineno} class index", source)
        if cls != int(cls) or not 0 <= cls < len(names):
            raise InvalidScanError(
                f"line {lineno}: class index {tokens[0]} is not one of 0..{len(names) - 1} "
                f"({len(names)} class names); check the class list matches the labels",
                source=source,
            )
        values = [parse_float(t, f"line {lineno} coordinate", source) for t in tokens[1:]]
        if any(not -_TOL <= v <= 1 + _TOL for v in values):
            raise InvalidScanError(
                f"line {lineno}: coordinates must be normalised to [0, 1]; got {tokens[1:]}", source=source
            )
        if len(values) == 4:
            cx, cy, w, h = values
            x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        else:
            xs, ys = values[0::2], values[1::2]
            x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        boxes.append((x0 * width, y0 * height, x1 * width, y1 * height))
        classes.append(names[int(cls)])
    meta = {"format": "yolo", "dataset": "yolo", "names_file": names_file}
    return make_annotation(image_path, boxes, classes, (width, height), source, options, meta)


def load_yolo(
    root: str | Path,
    *,
    names: Sequence[str] | None = None,
    label_map: LabelMap | None = None,
    keep_unmapped: bool = False,
    on_error: OnError = "raise",
) -> list[Annotation]:
    """Load a YOLO dataset: ``images/<split>/x.jpg`` with ``labels/<split>/x.txt``.

    Label files are the ``*.txt`` under a ``labels`` folder or, without one, every ``*.txt`` that
    has an image of the same stem beside it. Images without a label file are not listed.

    Args:
        root: dataset folder (holding ``data.yaml``/``classes.txt`` unless ``names`` is given).
        names: class names by index; default: read with :func:`read_class_names`.
        label_map: source class name -> our label (default :class:`LabelMap`).
        keep_unmapped: keep objects that are not our contraband (their label is None).
        on_error: ``"raise"`` the first error, or ``"skip"`` bad files with one :class:`DatasetSkipWarning`.

    Returns:
        One :class:`Annotation` per label file; ``meta["names_file"]`` says where the names came from.

    Raises:
        UnsupportedFormatError: ``root`` does not exist or has no class names.
        InvalidScanError: a bad file, with ``on_error="raise"``.
    """
    options = make_options(label_map, keep_unmapped, on_error, True)
    root = Path(root)
    files = annotation_files(root, ".txt")
    names_file = "names="
    if names is None:
        names, path = read_class_names(root)
        names_file = str(path)
    skip = {root / n for n in NAMES_FILES}
    files = [p for p in files if p not in skip]
    in_labels = [p for p in files if "labels" in p.relative_to(root).parts[:-1]]
    files = in_labels or [p for p in files if find_image(p.stem, [p.parent]) is not None]
    collector = Collector(options, "yolo")
    out = []
    for path in files:
        ann = collector.attempt(parse_yolo_txt, path, list(names), options, names_file)
        if ann is not None:
            out.append(ann)
    return collector.finish(out)
