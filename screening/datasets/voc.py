"""Pascal VOC XML loader (SIXray and other VOC-style X-ray datasets), parsed with defusedxml."""

from __future__ import annotations

from pathlib import Path

from screening.datasets._common import (
    Collector,
    OnError,
    Options,
    annotation_files,
    image_dirs_near,
    make_annotation,
    make_options,
    parse_float,
    read_bytes,
    resolve_image,
)
from screening.datasets.annotation import Annotation
from screening.datasets.labels import LabelMap
from screening.errors import BackendUnavailableError, InvalidScanError

__all__ = ["load_voc", "parse_voc_xml"]


def _parse_xml(data: bytes, source: str):  # -> xml.etree.ElementTree.Element
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring
    except ImportError as err:
        raise BackendUnavailableError(
            "reading VOC XML needs defusedxml (refuses entity-expansion attacks); pip install defusedxml",
            source=source,
        ) from err
    try:
        # VOC files never need a DTD; forbidding it refuses entity bombs and external entities outright.
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise InvalidScanError(
            f"refused XML with a DTD or entity declarations ({type(err).__name__}); VOC annotations have "
            "neither, so this file is corrupt or hostile",
            source=source,
        ) from err
    except ParseError as err:
        raise InvalidScanError(f"malformed XML: {err}", source=source) from err


def parse_voc_xml(path: Path, options: Options, image_dirs: list[Path] | None = None) -> Annotation:
    """Parse one VOC ``<annotation>`` file.

    VOC pixel coordinates are 1-based and inclusive; they are converted to 0-based with an exclusive
    upper corner: ``(xmin - 1, ymin - 1, xmax, ymax)``. The image is ``<filename>`` (or the XML's stem)
    searched in ``image_dirs`` (default: next to the ``Annotations`` folder, e.g. ``JPEGImages``).
    A ``<size>`` of 0 (common in converted datasets) is treated as unknown.

    Raises:
        InvalidScanError: malformed or hostile XML, missing fields, bad boxes, missing image.
    """
    source = str(path)
    root = _parse_xml(read_bytes(path), source)
    if root.tag != "annotation":
        raise InvalidScanError(f"expected a VOC <annotation> root element; got <{root.tag}>", source=source)
    filename = (root.findtext("filename") or "").strip() or path.stem
    size = None
    w, h = root.findtext("size/width"), root.findtext("size/height")
    if w is not None and h is not None:
        width, height = parse_float(w, "<size><width>", source), parse_float(h, "<size><height>", source)
        size = (int(width), int(height)) if width > 0 and height > 0 else None
    boxes, names, difficult = [], [], []
    for i, obj in enumerate(root.findall("object")):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise InvalidScanError(f"<object> {i} has no <name>", source=source)
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = obj.findtext(f"bndbox/{tag}")
            if text is None:
                raise InvalidScanError(f"<object> {i} ({name!r}) has no <bndbox><{tag}>", source=source)
            coords.append(parse_float(text, f"<object> {i} <{tag}>", source))
        boxes.append((coords[0] - 1.0, coords[1] - 1.0, coords[2], coords[3]))
        names.append(name)
        difficult.append((obj.findtext("difficult") or "0").strip() == "1")
    dirs = image_dirs if image_dirs is not None else image_dirs_near(path.parent)
    image_path = resolve_image(filename, dirs, source, options)
    return make_annotation(
        image_path,
        boxes,
        names,
        size,
        source,
        options,
        {"format": "voc", "dataset": "voc"},
        {"difficult": difficult},
    )


def load_voc(
    root: str | Path,
    *,
    label_map: LabelMap | None = None,
    keep_unmapped: bool = False,
    on_error: OnError = "raise",
    check_images: bool = True,
) -> list[Annotation]:
    """Load a Pascal VOC style dataset (SIXray's annotations are VOC XML).

    Reads ``root/Annotations/**/*.xml`` (or every ``*.xml`` under ``root``; ``root`` may be one file).
    Images without an XML file (e.g. SIXray's negatives) are not listed.

    Args:
        root: dataset folder or one XML file.
        label_map: source class name -> our label (default :class:`LabelMap`).
        keep_unmapped: keep objects that are not our contraband (their label is None).
        on_error: ``"raise"`` the first bad file's error, or ``"skip"`` bad files and issue one
            :class:`DatasetSkipWarning` listing them.
        check_images: require each image to exist (and read its size from the header if needed).

    Returns:
        One :class:`Annotation` per XML file, in path order.

    Raises:
        UnsupportedFormatError: ``root`` does not exist.
        InvalidScanError: a bad file, with ``on_error="raise"``.
        BackendUnavailableError: defusedxml is not installed.
    """
    options = make_options(label_map, keep_unmapped, on_error, check_images)
    collector = Collector(options, "voc")
    out = []
    for path in annotation_files(Path(root), ".xml", "Annotations"):
        ann = collector.attempt(parse_voc_xml, path, options)
        if ann is not None:
            out.append(ann)
    return collector.finish(out)
