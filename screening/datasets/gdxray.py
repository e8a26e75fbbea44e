"""GDXray ground-truth loader: per-series ``ground_truth*.txt`` rows ``image_index x1 x2 y1 y2``."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from screening.datasets._common import (
    Collector,
    OnError,
    Options,
    annotation_files,
    make_annotation,
    make_options,
    parse_float,
    read_text,
    resolve_image,
)
from screening.datasets.annotation import Annotation
from screening.datasets.labels import LabelMap
from screening.errors import InvalidScanError

__all__ = ["GROUND_TRUTH_GLOB", "load_gdxray", "parse_gdxray_ground_truth"]

#: File name pattern of GDXray ground-truth files (one per series folder, e.g. ``B0046/ground_truth.txt``).
GROUND_TRUTH_GLOB = "ground_truth*.txt"
_SPLIT = re.compile(r"[\s,;]+")


def _class_name(path: Path, series_classes: Mapping[str, str]) -> str:
    series = path.parent.name
    if series in series_classes:
        return series_classes[series]
    suffix = path.stem[len("ground_truth") :].strip("_- ")
    return suffix or f"gdxray:{series}"


def parse_gdxray_ground_truth(
    path: Path, options: Options, series_classes: Mapping[str, str] | None = None
) -> list[Annotation]:
    """Parse one GDXray ground-truth file into one :class:`Annotation` per image it names.

    Assumed layout (as in GDXray's castings/baggage series): the file sits in the series folder
    (``B0046/``) next to the images ``B0046_0001.png``...; each row is ``i x1 x2 y1 y2`` separated by
    whitespace or commas, where ``i`` is the 1-based image number and, **note the column order**,
    both x values come before both y values. Coordinates are MATLAB-style 1-based inclusive pixels
    and are converted to 0-based exclusive boxes ``(x1 - 1, y1 - 1, x2, y2)``.

    GDXray rows carry no class name. The class of every box in the file is
    ``series_classes[series]`` if given, else the file-name suffix (``ground_truth_handgun.txt`` ->
    ``handgun``), else ``"gdxray:<series>"`` (not mapped to any label).

    Raises:
        InvalidScanError: a row without 5 numbers, a non-integer image number, bad boxes, missing image.
    """
    source = str(path)
    series = path.parent.name
    name = _class_name(path, series_classes or {})
    rows: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        tokens = [t for t in _SPLIT.split(line.strip()) if t]
        if not tokens or tokens[0].startswith(("#", "%")):
            continue
        if len(tokens) != 5:
            raise InvalidScanError(
                f"line {lineno}: expected 5 numbers 'image_index x1 x2 y1 y2'; got {len(tokens)}: "
                f"{line.strip()[:80]!r}",
                source=source,
            )
        index, x1, x2, y1, y2 = (parse_float(t, f"line {lineno}", source) for t in tokens)
        if index != int(index) or index < 1:
            raise InvalidScanError(
                f"line {lineno}: image index must be a positive integer; got {tokens[0]}", source=source
            )
        rows[int(index)].append((x1 - 1.0, y1 - 1.0, x2, y2))
    out = []
    for index, boxes in sorted(rows.items()):
        image_path = resolve_image(f"{series}_{index:04d}.png", [path.parent], source, options)
        meta = {"format": "gdxray", "dataset": "gdxray", "series": series, "image_index": index}
        out.append(make_annotation(image_path, boxes, [name] * len(boxes), None, source, options, meta))
    return out


def load_gdxray(
    root: str | Path,
    *,
    series_classes: Mapping[str, str] | None = None,
    label_map: LabelMap | None = None,
    keep_unmapped: bool = False,
    on_error: OnError = "raise",
    check_images: bool = True,
) -> list[Annotation]:
    """Load GDXray ground truth from every ``ground_truth*.txt`` under ``root``.

    Images of a series without a ground-truth row are not listed.

    Args:
        root: GDXray folder (e.g. ``GDXray/Baggages``), one series folder, or one ground-truth file.
        series_classes: series folder name -> class name, e.g. ``{"B0046": "handgun"}`` (check the
            series list of your GDXray copy; the ground-truth files do not name classes).
        label_map: source class name -> our label (default :class:`LabelMap`).
        keep_unmapped: keep boxes whose class is not our contraband (their label is None).
        on_error: ``"raise"`` the first error, or ``"skip"`` bad files with one :class:`DatasetSkipWarning`.
        check_images: require each image to exist (its size is read from the header to clip boxes).

    Returns:
        One :class:`Annotation` per annotated image.

    Raises:
        UnsupportedFormatError: ``root`` does not exist.
        InvalidScanError: a bad file, with ``on_error="raise"``.
    """
    options = make_options(label_map, keep_unmapped, on_error, check_images)
    root = Path(root)
    files = annotation_files(root, ".txt")
    files = [p for p in files if p.match(GROUND_TRUTH_GLOB)] if root.is_dir() else files
    collector = Collector(options, "gdxray")
    out: list[Annotation] = []
    for path in files:
        out.extend(collector.attempt(parse_gdxray_ground_truth, path, options, series_classes) or [])
    return collector.finish(out)
