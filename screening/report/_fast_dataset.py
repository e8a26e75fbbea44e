"""pydicom datasets built fast from ``(keyword or (tag, VR), value)`` pairs (the TDR writer's hot path)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom import Dataset

__all__ = ["CHARSET", "Element", "dataset"]

#: Specific Character Set of the TDR: UTF-8 (bag ids and names may be non-ASCII).
CHARSET = "ISO_IR 192"

#: An element for :func:`dataset`: a dictionary keyword, or ``(tag, VR)`` for tags pydicom's
#: dictionary lacks or gets wrong, with its value.
Element = tuple[str | tuple[int, str], object]


@functools.cache
def _tag_vr(keyword: str) -> tuple[int, str]:
    """``(tag, VR)`` of a DICOM dictionary keyword (looked up once per process)."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"{keyword!r} is not in pydicom's DICOM dictionary")
    return tag, dictionary_VR(tag)


@functools.cache
def _encodings() -> tuple[str, ...]:
    """Python codecs of :data:`CHARSET` (converted once per process)."""
    from pydicom.charset import convert_encodings

    return tuple(convert_encodings(CHARSET))


def dataset(elements: Iterable[Element]) -> Dataset:
    """A dataset (or sequence item) of ``(keyword or (tag, VR), value)`` pairs, built cheaply.

    Elements are made with ``DataElement`` directly (no keyword lookup per assignment, no value
    validation or conversion: every value here is produced by this module as a plain ``str``,
    ``int``, ``float`` or list of them) and the dataset is marked as already
    encoded in explicit VR little endian / UTF-8, so that ``dcmwrite`` skips its ambiguous-VR pass
    (this module writes no ambiguous VR). A TDR with ~50 PTOs had ~1,400 datasets; the generic
    ``ds.Keyword = value`` path and that pass were most of the writer's time.
    """
    from pydicom import Dataset
    from pydicom.config import IGNORE
    from pydicom.dataelem import DataElement

    elems = {}
    for key, value in elements:
        tag, vr = _tag_vr(key) if isinstance(key, str) else key
        # Values are already in their final Python form (str, int, float, lists of them), except
        # sequences, which pydicom turns into its Sequence type.
        elem = DataElement(tag, vr, value, validation_mode=IGNORE, already_converted=vr != "SQ")
        elems[elem.tag] = elem
    encodings = list(_encodings())
    ds = Dataset(elems, parent_encoding=encodings)
    ds.set_original_encoding(False, True, encodings)
    return ds
