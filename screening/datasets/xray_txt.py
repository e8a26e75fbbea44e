"""OPIXray and HiXray text annotations: lines ``image_name category x1 y1 x2 y2``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from screening.datasets._common import (
    IMAGE_SUFFIXES,
    Collector,
    OnError,
    Options,
    annotation_files,
    image_dirs_near,
    make_annotation,
    make_options,
    parse_float,
    read_text,
    resolve_image,
)
from screening.datasets.annotation import Annotation
from screening.datasets.labels import LabelMap
from screening.errors import InvalidScanError

__all__ = ["is_xray_txt_line", "load_hixray", "load_opixray", "parse_xray_txt"]


def is_xray_txt_line(line: str) -> bool:
    """True for an ``image_name category x1 y1 x2 y2`` line (image name with an image suffix)."""
    tokens = line.split()
    if len(tokens) < 6 or Path(tokens[0]).suffix.lower() not in IMAGE_SUFFIXES:
        return False
    try:
        [float(t) for t in tokens[-4:]]
    except ValueError:
        return False
    return True


def parse_xray_txt(path: Path, options: Options, dataset: str = "opixray") -> list[Annotation]:
    """Parse one OPIXray/HiXray annotation file into one :class:`Annotation` per image it names.

    Assumed layout (both datasets): one ``.txt`` per image in ``*_annotation/``, images in a sibling
    ``*_image/`` folder, each line ``image_name category x1 y1 x2 y2`` separated by whitespace, with
    0-based pixel corners used as given. A category with spaces is allowed (the four numbers are the
    last fields). An empty file means an image (``<stem>.<image suffix>``) with no objects.

    Raises:
        InvalidScanError: a line with too few fields or a non-numeric coordinate, bad boxes, missing image.
    """
    source = str(path)
    rows: dict[str, list[tuple[str, tuple[float, float, float, float]]]] = defaultdict(list)
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 6:
            raise InvalidScanError(
                f"line {lineno}: expected 'image_name category x1 y1 x2 y2' (6 fields); got {len(tokens)}: "
                f"{line.strip()[:80]!r}",
                source=source,
            )
        x1, y1, x2, y2 = (parse_float(t, f"line {lineno} coordinate", source) for t in tokens[-4:])
        rows[tokens[0]].append((" ".join(tokens[1:-4]), (x1, y1, x2, y2)))
    if not rows:
        rows[path.stem] = []
    dirs = image_dirs_near(path.parent)
    out = []
    for name, objects in rows.items():
        image_path = resolve_image(name, dirs, source, options)
        out.append(
            make_annotation(
                image_path,
                [box for _, box in objects],
                [cat for cat, _ in objects],
                None,
                source,
                options,
                {"format": "xray-txt", "dataset": dataset},
            )
        )
    return out


def _load(root: str | Path, dataset: str, options: Options) -> list[Annotation]:
    collector = Collector(options, dataset)
    out: list[Annotation] = []
    files = annotation_files(Path(root), ".txt")
    in_annotation_dirs = [p for p in files if "annotation" in p.parent.name.lower()]
    for path in in_annotation_dirs or files:
        out.extend(collector.attempt(parse_xray_txt, path, options, dataset) or [])
    return collector.finish(out)


def load_opixray(
    root: str | Path,
    *,
    label_map: LabelMap | None = None,
    keep_unmapped: bool = False,
    on_error: OnError = "raise",
    check_images: bool = True,
) -> list[Annotation]:
    """Load OPIXray (``train/train_annotation/*.txt`` + ``train/train_image/*.jpg``, same for ``test``).

    The ``*.txt`` files in folders named ``*annotation*`` (or, if there are none, every ``*.txt``)
    under ``root`` are read as annotation files (see :func:`parse_xray_txt` for the
    assumed layout). OPIXray's classes (Folding_Knife, Straight_Knife, Scissor, Utility_Knife,
    Multi-tool_Knife) all map to ``blade``.

    Args:
        root: dataset folder or one ``.txt`` file.
        label_map: source class name -> our label (default :class:`LabelMap`).
        keep_unmapped: keep objects that are not our contraband (their label is None).
        on_error: ``"raise"`` the first error, or ``"skip"`` bad files with one :class:`DatasetSkipWarning`.
        check_images: require each image to exist (its size is read from the header to clip boxes).

    Returns:
        One :class:`Annotation` per image named in the files.

    Raises:
        UnsupportedFormatError: ``root`` does not exist.
        InvalidScanError: a bad file, with ``on_error="raise"``.
    """
    return _load(root, "opixray", make_options(label_map, keep_unmapped, on_error, check_images))


def load_hixray(
    root: str | Path,
    *,
    label_map: LabelMap | None = None,
    keep_unmapped: bool = False,
    on_error: OnError = "raise",
    check_images: bool = True,
) -> list[Annotation]:
    """Load HiXray; same layout and line format as OPIXray (see :func:`load_opixray`).

    HiXray's classes (Portable_Charger_1/2, Mobile_Phone, Laptop, Tablet, Cosmetic, Water,
    Nonmetallic_Lighter) are none of our contraband, so with the default label map every box is
    dropped unless ``keep_unmapped=True`` (useful as hard negatives) or a ``label_map`` override.
    """
    return _load(root, "hixray", make_options(label_map, keep_unmapped, on_error, check_images))
