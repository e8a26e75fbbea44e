"""Content-based format sniffing: magic bytes, never file names."""

from __future__ import annotations

from pathlib import Path

from screening.errors import InvalidScanError, UnsupportedFormatError

__all__ = ["KNOWN_CONTAINERS", "sniff_container"]

#: What :func:`sniff_container` can answer.
KNOWN_CONTAINERS = ("dicom", "png", "jpeg", "tiff")

# Explicit-VR codes a DICOM dataset without a preamble may start with.
_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF",
    b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN",
    b"UR", b"US", b"UT", b"UV",
}  # fmt: skip


def _looks_like_bare_dicom(head: bytes) -> bool:
    """A dataset without the 128-byte preamble: a little-endian group 0002/0008 tag, then VR or length."""
    if len(head) < 8:
        return False
    group = int.from_bytes(head[0:2], "little")
    element = int.from_bytes(head[2:4], "little")
    if group not in (0x0002, 0x0008) or element > 0x0100:
        return False
    if head[4:6] in _VRS:
        return True
    # Implicit VR: a 4-byte length that is small and plausible for a header element.
    return int.from_bytes(head[4:8], "little") < 0x1000


def sniff_container(path: Path) -> str:
    """Name the container format of a file from its first bytes.

    Args:
        path: a regular file.

    Returns:
        One of :data:`KNOWN_CONTAINERS`.

    Raises:
        InvalidScanError: the file is empty.
        UnsupportedFormatError: the bytes match no known format.
    """
    source = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError as exc:
        raise InvalidScanError(f"cannot open the file ({exc.strerror})", source=source) from None
    if not head:
        raise InvalidScanError("file is empty (0 bytes); expected a scan", source=source)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if _looks_like_bare_dicom(head):
        return "dicom"
    raise UnsupportedFormatError(
        f"unrecognised content (first bytes {head[:8].hex(' ')}); expected DICOS/DICOM (DICM preamble or a "
        "bare dataset), PNG, JPEG or TIFF",
        source=source,
    )
