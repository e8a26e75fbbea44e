"""Shared loader machinery: options, safe file reading, image lookup, box checks and skip accounting."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from screening.datasets.annotation import Annotation
from screening.datasets.labels import LabelMap
from screening.errors import InvalidScanError, ResourceLimitError, ScreeningError

OnError = Literal["raise", "skip"]

#: Image file suffixes tried when an annotation names an image without (or with the wrong) suffix.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
#: Largest annotation text/XML file read (one image's annotation is a few kB).
MAX_TEXT_BYTES = 16 * 2**20
#: Largest COCO JSON file read (PIDray's largest is tens of MB); json.loads needs several times this in RAM.
MAX_JSON_BYTES = 512 * 2**20

T = TypeVar("T")


class DatasetSkipWarning(UserWarning):
    """Issued once per load with ``on_error="skip"`` when files or images were skipped.

    Attributes:
        errors: the :class:`~screening.errors.ScreeningError` of each skipped item, in load order.
    """

    def __init__(self, message: str, errors: Sequence[ScreeningError]) -> None:
        super().__init__(message)
        self.errors: tuple[ScreeningError, ...] = tuple(errors)


@dataclass(frozen=True)
class Options:
    """Loader settings shared by every format (see :func:`screening.datasets.load_dataset`)."""

    label_map: LabelMap = field(default_factory=LabelMap)
    keep_unmapped: bool = False
    on_error: OnError = "raise"
    check_images: bool = True

    def __post_init__(self) -> None:
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip'; got {self.on_error!r}")


def make_options(
    label_map: LabelMap | None, keep_unmapped: bool, on_error: OnError, check_images: bool
) -> Options:
    """Build :class:`Options` from a loader's keyword arguments."""
    return Options(label_map or LabelMap(), keep_unmapped, on_error, check_images)


class Collector:
    """Runs per-item parsers: re-raises their ScreeningError or, with ``on_error="skip"``, counts it."""

    def __init__(self, options: Options, fmt: str) -> None:
        self.options = options
        self.fmt = fmt
        self.errors: list[ScreeningError] = []
        self.attempted = 0

    def attempt(self, fn: Callable[..., T], *args: Any) -> T | None:
        """Call ``fn(*args)``; on a ScreeningError raise it or record it and return None."""
        self.attempted += 1
        try:
            return fn(*args)
        except ScreeningError as err:
            self.record(err)
            return None

    def record(self, err: ScreeningError) -> None:
        """Raise ``err`` or, with ``on_error="skip"``, remember it."""
        if self.options.on_error == "raise":
            raise err
        self.errors.append(err)

    def finish(self, items: list[Annotation]) -> list[Annotation]:
        """Warn once (:class:`DatasetSkipWarning`) if anything was skipped; return ``items``."""
        if self.errors:
            first = "; ".join(str(e) for e in self.errors[:3])
            warnings.warn(
                DatasetSkipWarning(
                    f"{self.fmt}: skipped {len(self.errors)} of {self.attempted} items with bad input "
                    f"(kept {len(items)} images). First: {first}",
                    self.errors,
                ),
                stacklevel=3,
            )
        return items


def read_bytes(path: Path, limit: int = MAX_TEXT_BYTES) -> bytes:
    """Read a file, refusing files over ``limit`` bytes before reading them.

    Raises:
        ResourceLimitError: the file is larger than ``limit``.
        InvalidScanError: the file cannot be read.
    """
    try:
        size = path.stat().st_size
        if size > limit:
            raise ResourceLimitError(
                f"annotation file is {size} bytes; the limit is {limit}. Check it is the right file",
                source=str(path),
            )
        return path.read_bytes()
    except OSError as err:
        raise InvalidScanError(
            f"cannot read annotation file: {err.strerror or err}", source=str(path)
        ) from err


def read_text(path: Path) -> str:
    """Read a UTF-8 annotation text file (a BOM is allowed), within :data:`MAX_TEXT_BYTES`."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidScanError(
            f"expected UTF-8 text; byte {err.start} is not valid UTF-8 (is this a binary file?)",
            source=str(path),
        ) from err


def parse_float(token: str, what: str, source: str) -> float:
    """Parse one number of an annotation, naming the field on failure."""
    try:
        value = float(token)
    except ValueError:
        raise InvalidScanError(f"{what}: expected a number; got {token!r}", source=source) from None
    if not np.isfinite(value):
        raise InvalidScanError(f"{what}: expected a finite number; got {token!r}", source=source)
    return value


def image_dirs_near(ann_dir: Path) -> list[Path]:
    """Folders where the images of annotations in ``ann_dir`` may be.

    ``ann_dir`` itself, its siblings whose name contains ``image`` or ``img`` (``JPEGImages``,
    ``train_image``, ``images``...) and its parent.
    """
    parent = ann_dir.parent
    try:
        siblings = sorted(
            d
            for d in parent.iterdir()
            if d.is_dir() and d != ann_dir and ("image" in d.name.lower() or "img" in d.name.lower())
        )
    except OSError:
        siblings = []
    return [ann_dir, *siblings, parent]


def find_image(name: str, dirs: Iterable[Path]) -> Path | None:
    """First existing image called ``name`` (or ``name``'s stem with an image suffix) in ``dirs``."""
    dirs = list(dirs)
    for d in dirs:
        if (d / name).is_file():
            return d / name
    stem = Path(name).with_suffix("") if Path(name).suffix.lower() in IMAGE_SUFFIXES else Path(name)
    for d in dirs:
        for suffix in (*IMAGE_SUFFIXES, *(s.upper() for s in IMAGE_SUFFIXES)):
            candidate = d / stem.with_name(stem.name + suffix)
            if candidate.is_file():
                return candidate
    return None


def missing_image(name: str, dirs: Sequence[Path], source: str) -> InvalidScanError:
    """The error for an annotation whose image is not found."""
    where = ", ".join(str(d) for d in dirs[:4])
    return InvalidScanError(
        f"image {name!r} not found (looked in {where}); restore the image, or pass check_images=False "
        "to load annotations without images",
        source=source,
    )


def read_image_size(path: Path, source: str) -> tuple[int, int]:
    """``(width, height)`` from the image header (the pixels are not decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except Image.DecompressionBombError as err:
        raise ResourceLimitError(f"image {path} is too large to be a scan: {err}", source=source) from err
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise InvalidScanError(f"image {path} cannot be read as an image: {err}", source=source) from err


def make_annotation(
    image_path: Path,
    boxes: Sequence[Sequence[float]],
    names: Sequence[str],
    image_size: tuple[int, int] | None,
    source: str,
    options: Options,
    meta: dict[str, Any],
    per_object: dict[str, Sequence[Any]] | None = None,
) -> Annotation:
    """Check boxes, clip them to the image, map the labels and build the :class:`Annotation`.

    Args:
        image_path: the image the boxes belong to.
        boxes: ``(x0, y0, x1, y1)`` per object, 0-based pixels.
        names: source class name per object.
        image_size: ``(width, height)`` if the annotation gives it, else None (then read from the image).
        source: annotation file, named in errors.
        options: loader options.
        meta: extra metadata (``format``, ``dataset``...).
        per_object: per-object values (VOC ``difficult``...), stored in ``meta`` filtered like the boxes.

    Raises:
        InvalidScanError: missing image, inverted or empty box, box entirely outside the image.
    """
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if options.check_images:
        if not image_path.is_file():
            raise missing_image(image_path.name, [image_path.parent], source)
        if image_size is None:
            image_size = read_image_size(image_path, source)
    for i, (x0, y0, x1, y1) in enumerate(arr):
        if not (x1 > x0 and y1 > y0):
            raise InvalidScanError(
                f"object {i} ({names[i]!r}) of image {image_path.name}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) "
                "has non-positive width or height; expected x0 < x1 and y0 < y1",
                source=source,
            )
    upper = (np.inf, np.inf) if image_size is None else image_size
    clipped = arr.copy()
    clipped[:, [0, 2]] = np.clip(arr[:, [0, 2]], 0.0, upper[0])
    clipped[:, [1, 3]] = np.clip(arr[:, [1, 3]], 0.0, upper[1])
    for i, (x0, y0, x1, y1) in enumerate(clipped):
        if not (x1 > x0 and y1 > y0):
            raise InvalidScanError(
                f"object {i} ({names[i]!r}): box {tuple(float(v) for v in arr[i])} lies entirely outside "
                f"the {upper[0]}x{upper[1]} image {image_path.name}",
                source=source,
            )
    labels = [options.label_map(n) for n in names]
    keep = [i for i, lab in enumerate(labels) if lab is not None or options.keep_unmapped]
    meta = {
        **meta,
        "annotation": source,
        "clipped_boxes": int(np.count_nonzero(np.any(clipped != arr, axis=1))),
    }
    for key, values in (per_object or {}).items():
        meta[key] = tuple(values[i] for i in keep)
    out_boxes = clipped[keep].astype(np.float32).reshape(-1, 4)
    index = np.asarray(keep, dtype=np.int64)
    out_boxes.setflags(write=False)
    index.setflags(write=False)
    return Annotation(
        image_path=image_path,
        boxes=out_boxes,
        labels=tuple(labels[i] for i in keep),
        source_labels=tuple(names),
        source_index=index,
        image_size=image_size,
        meta=meta,
    )


def resolve_image(name: str, dirs: Sequence[Path], source: str, options: Options) -> Path:
    """The image file for ``name``; with ``check_images=False`` a best guess when it is not found.

    Raises:
        InvalidScanError: not found and ``options.check_images`` is set.
    """
    found = find_image(name, dirs)
    if found is not None:
        return found
    if options.check_images:
        raise missing_image(name, dirs, source)
    return dirs[0] / name


def annotation_files(root: Path, suffix: str, preferred_dir: str | None = None) -> list[Path]:
    """Sorted ``*suffix`` files under ``root`` (only ``root/preferred_dir`` if that folder exists).

    Raises:
        UnsupportedFormatError: ``root`` does not exist.
    """
    from screening.errors import UnsupportedFormatError

    if root.is_file():
        return [root]
    if not root.is_dir():
        raise UnsupportedFormatError("dataset folder not found; check the path", source=str(root))
    base = root / preferred_dir if preferred_dir and (root / preferred_dir).is_dir() else root
    return sorted(p for p in base.rglob(f"*{suffix}") if p.is_file())
