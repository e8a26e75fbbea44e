"""Which device made a scan: one ``"manufacturer / model"`` string from DICOS/DICOM tags, PNG text or EXIF."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

__all__ = ["UNKNOWN_DEVICE", "device_of", "device_text", "is_validated"]

#: The device of a scan whose file names none (a plain PNG/JPEG, a hand-made array).
UNKNOWN_DEVICE = "unknown"


def device_text(manufacturer: Any, model: Any = "") -> str:
    """``"manufacturer / model"`` (``"manufacturer"`` alone when the model is empty); blanks stripped."""
    make = " ".join(str(manufacturer or "").split())
    name = " ".join(str(model or "").split())
    if not make and not name:
        return UNKNOWN_DEVICE
    return f"{make} / {name}" if name else make


def device_of(meta: Mapping[str, Any]) -> str:
    """The device a scan's metadata names.

    DICOS/DICOM ``Manufacturer`` + ``ManufacturerModelName`` (also set by the simulator for the scans it
    makes in memory), else ``meta["device"]`` (an image's PNG ``Source`` text or EXIF ``Make``/``Model``,
    see :mod:`screening.ingest.images`), else :data:`UNKNOWN_DEVICE`.
    """
    if meta.get("Manufacturer") or meta.get("ManufacturerModelName"):
        return device_text(meta.get("Manufacturer"), meta.get("ManufacturerModelName"))
    device = " ".join(str(meta.get("device") or "").split())
    return device or UNKNOWN_DEVICE


def is_validated(device: str, patterns: Iterable[str]) -> bool:
    """Whether ``device`` matches one of ``patterns`` (shell-style, case-sensitive: ``"Acme / CT-9*"``)."""
    return any(fnmatchcase(device, p) for p in patterns)
