"""Scan ingest: read DICOS/DICOM/PNG/JPEG/TIFF bags into :class:`~screening.scan.Scan` objects.

``read(path)`` takes one bag (a file, or a folder holding a DICOM CT series, a dual-energy DICOS CT
pair, DICOS DX views or plain images) and returns its scans: CT gives one scan, X-ray one scan per
view. Formats are told apart by content, never by file name. Every failure is a
:class:`~screening.errors.ScreeningError` naming the file. Writers live in :mod:`screening.ingest.write`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from screening.errors import InvalidScanError, ScreeningError, UnsupportedFormatError
from screening.ingest.limits import ReadLimits
from screening.ingest.sniff import sniff_container
from screening.scan import Scan

__all__ = ["FORMATS", "ReadLimits", "detect_format", "preload", "read"]

#: Every name :func:`detect_format` can return.
FORMATS = (
    "dicos-ct",  # one DICOS CT object (a file, or a folder holding one)
    "dicos-ct-pair",  # folder with a high- and a low-energy DICOS CT object
    "dicos-dx",  # DICOS DX file(s): one scan per view
    "dicom-ct",  # one CT Image Storage file (a one-slice volume)
    "dicom-ct-series",  # folder of CT Image Storage slices
    "png",
    "jpeg",
    "tiff",
    "images",  # folder of plain images: one view each
    "image-pair",  # folder with a high/low-energy pair of greyscale images
)


@dataclass(frozen=True)
class _Plan:
    fmt: str
    files: tuple[Path, ...]
    skipped: tuple[str, ...] = ()


def _folder_files(folder: Path, limits: ReadLimits) -> list[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise InvalidScanError(f"cannot list the folder ({exc.strerror})", source=str(folder)) from None
    files = [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_file()]
    if len(files) > limits.max_files:
        from screening.errors import ResourceLimitError

        raise ResourceLimitError(
            f"folder holds {len(files)} files, beyond the limit max_files={limits.max_files}; one folder "
            "must hold one bag",
            source=str(folder),
        )
    return files


def _dicom_family(path: Path, limits: ReadLimits) -> str:
    from screening.ingest.dicom_io import SOP_CLASS_FORMATS, open_dataset

    ds = open_dataset(path, limits, tags=("SOPClassUID",))  # cheap: skips per-frame sequences
    if "SOPClassUID" not in ds:  # absent or unparseable: the full header read tells which, precisely
        ds = open_dataset(path, limits, header_only=True)
    sop = str(ds.get("SOPClassUID", ""))
    fmt = SOP_CLASS_FORMATS.get(sop)
    if fmt is None:
        try:
            from pydicom.uid import UID

            name = UID(sop).name if sop else "missing"
        except Exception:  # pragma: no cover - UID naming is best effort
            name = sop
        raise UnsupportedFormatError(
            f"SOP Class UID {sop or '(missing)'} ({name}) is not read here; expected DICOS CT "
            "(1.2.840.10008.5.1.4.1.1.501.1), DICOS DX (…501.2.1 / …501.2.2) or CT Image Storage "
            "(1.2.840.10008.5.1.4.1.1.2)",
            source=str(path),
        )
    return fmt


def _plan_file(path: Path, limits: ReadLimits) -> _Plan:
    container = sniff_container(path)
    if container == "dicom":
        return _Plan(_dicom_family(path, limits), (path,))
    return _Plan(container, (path,))


def _plan_folder(folder: Path, limits: ReadLimits) -> _Plan:
    source = str(folder)
    files = _folder_files(folder, limits)
    kinds: dict[Path, str] = {}
    skipped: list[str] = []
    for f in files:
        try:
            kinds[f] = sniff_container(f)
        except ScreeningError as exc:
            skipped.append(f"{f.name}: {exc.message}")
    if not kinds:
        raise UnsupportedFormatError(
            f"folder holds nothing readable ({len(files)} file(s) looked at"
            + (f": {'; '.join(skipped[:5])}" if skipped else "")
            + "); expected DICOS/DICOM files or PNG/JPEG/TIFF images of one bag",
            source=source,
        )
    containers = set(kinds.values())
    if "dicom" in containers and len(containers) > 1:
        raise UnsupportedFormatError(
            f"folder mixes DICOM files with {sorted(containers - {'dicom'})} images; one folder must "
            "hold one bag in one format",
            source=source,
        )
    paths = tuple(kinds)
    if "dicom" not in containers:
        from screening.ingest.images import is_energy_pair

        return _Plan("image-pair" if is_energy_pair(paths, limits) else "images", paths, tuple(skipped))
    families = {p: _dicom_family(p, limits) for p in paths}
    found = set(families.values())
    if len(found) > 1:
        raise UnsupportedFormatError(
            f"folder mixes {sorted(found)} objects; one folder must hold one bag in one format", source=source
        )
    family = found.pop()
    if family == "dicom-ct":
        return _Plan("dicom-ct-series", paths, tuple(skipped))
    if family == "dicos-ct":
        if len(paths) > 2:
            raise InvalidScanError(
                f"folder holds {len(paths)} DICOS CT objects; expected one, or a high/low-energy pair",
                source=source,
            )
        return _Plan("dicos-ct-pair" if len(paths) == 2 else "dicos-ct", paths, tuple(skipped))
    return _Plan(family, paths, tuple(skipped))


def _plan(path: Path, limits: ReadLimits) -> _Plan:
    if path.is_dir():
        return _plan_folder(path, limits)
    if path.is_file():
        return _plan_file(path, limits)
    raise InvalidScanError(
        "no such file or folder (or not a regular file); expected a scan file or a bag folder",
        source=str(path),
    )


def detect_format(path: str | os.PathLike[str], limits: ReadLimits | None = None) -> str:
    """Name the format of a bag path by content (magic bytes and DICOM SOP class).

    Args:
        path: a file or a bag folder.
        limits: size limits for the headers read while probing.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        UnsupportedFormatError: unknown content, wrong SOP class, or a folder with nothing readable.
        InvalidScanError: empty, truncated or missing input.
    """
    path = Path(path)
    try:
        return _plan(path, limits or ReadLimits()).fmt
    except ScreeningError:
        raise
    except Exception as exc:
        raise InvalidScanError(
            f"cannot probe the input ({type(exc).__name__}: {exc})", source=str(path)
        ) from None


def _read_plan(path: Path, plan: _Plan, limits: ReadLimits) -> list[Scan]:
    source = str(path)
    fallback = path.name if path.is_dir() else path.stem
    if plan.fmt in ("dicos-ct", "dicos-ct-pair"):
        from screening.ingest.dicos import read_dicos_ct

        scans = [read_dicos_ct(plan.files, limits, source=source, bag_fallback=fallback)]
    elif plan.fmt == "dicos-dx":
        from screening.ingest.dicos_dx import read_dicos_dx

        scans = read_dicos_dx(plan.files, limits, source=source, bag_fallback=fallback)
    elif plan.fmt in ("dicom-ct", "dicom-ct-series"):
        from screening.ingest.dicom_series import read_dicom_ct_series

        scans = [read_dicom_ct_series(plan.files, limits, source=source, bag_fallback=fallback, fmt=plan.fmt)]
    else:
        from screening.ingest.images import read_images

        scans = read_images(plan.files, limits, source=source, bag_fallback=fallback, fmt=plan.fmt)
    if plan.skipped:
        scans = [s.replace(meta={**s.meta, "skipped_files": list(plan.skipped)}) for s in scans]
    return scans


def preload() -> None:
    """Import the readers and their libraries now (pydicom, decoders, Pillow, tifffile).

    ``import screening.ingest`` stays light; the first :func:`read` then pays about a second (more on
    a loaded machine) for these imports. A lane calls this at start-up so no bag pays it against its
    10-second budget.
    """
    import PIL.Image  # noqa: F401
    import pydicom.pixels  # noqa: F401
    import tifffile  # noqa: F401

    from screening.ingest import dicom_series, dicos, dicos_dx, images  # noqa: F401

    with contextlib.suppress(ImportError):  # JPEG-Lossless plugin; its absence is reported per file.
        import libjpeg  # noqa: F401


def read(path: str | os.PathLike[str], limits: ReadLimits | None = None) -> list[Scan]:
    """Read one bag into scans.

    Args:
        path: a scan file, or a folder holding one bag (a DICOM CT series, a DICOS CT high/low pair,
            DICOS DX views, plain-image views, or a high/low pair of greyscale images). Files in a
            folder whose content is not a known format are skipped and listed in
            ``meta["skipped_files"]``.
        limits: size limits, checked from headers before pixels are allocated
            (default :class:`ReadLimits`).

    Returns:
        CT: one scan (``channels`` ``("mhu",)`` or ``("high", "low")``, values MHU).
        X-ray: one scan per view (``("high", "low")``, ``("grey",)`` or ``("r", "g", "b")``, values in
        ``[0, 1]``). ``meta`` holds the source DICOM tags (keyword keys) and ``"format"``.

    Raises:
        UnsupportedFormatError: unknown content or wrong SOP class.
        InvalidScanError: empty, truncated, inconsistent, non-finite or otherwise broken input.
        ResourceLimitError: declared sizes beyond ``limits``.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    try:
        return _read_plan(path, _plan(path, limits), limits)
    except ScreeningError:
        raise
    except MemoryError:
        raise InvalidScanError(
            "ran out of memory while reading; lower ReadLimits so oversized inputs are refused up front",
            source=str(path),
        ) from None
    except Exception as exc:  # the boundary: nothing raw escapes to the caller.
        raise InvalidScanError(
            f"unexpected failure while reading ({type(exc).__name__}: {exc}); the input is probably corrupt",
            source=str(path),
        ) from None
