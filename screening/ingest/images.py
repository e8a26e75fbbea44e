"""Plain X-ray images (PNG/JPEG via Pillow, TIFF via tifffile): pseudo-colour, greyscale and energy pairs.

Conventions:

* RGB pseudo-colour (SIXray/PIDray style) -> ``("r", "g", "b")`` in ``[0, 1]``; an RGB file whose
  three channels are identical is greyscale and becomes ``("grey",)``.
* 8/16-bit greyscale (GDXray style) -> ``("grey",)``, value / full scale (255 or 65535), bright =
  transmits. Float TIFFs must already hold transmission in ``[0, 1]``.
* A folder with exactly two greyscale images of one size that are 16-bit (or whose names say
  high/low) is a dual-energy pair -> ``("high", "low")``: the brighter image (higher mean
  transmission) is high energy; the names decide only when the means tie.
* Any other folder of images: one view per file, named by the file stem.
* Spacing is unknown: :data:`~screening.ingest.geometry.DEFAULT_SPACING_MM` with
  ``meta["spacing_assumed"] = True``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screening.errors import InvalidScanError, ResourceLimitError, UnsupportedFormatError
from screening.ingest.geometry import DEFAULT_SPACING_MM
from screening.ingest.limits import ReadLimits, check_file_size
from screening.ingest.sniff import sniff_container
from screening.scan import Modality, Scan

__all__ = ["ImageInfo", "is_energy_pair", "load_image", "probe_image", "read_images"]

_SIZE_TAGS = ("height", "width", "pages")
#: Relative difference of mean transmission below which a pair counts as tied.
TIE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ImageInfo:
    """What an image header says, before any pixels are decoded.

    Attributes:
        container: ``"png"``, ``"jpeg"`` or ``"tiff"``.
        height: rows.
        width: columns.
        grey: one sample per pixel (before the identical-RGB check).
        bits: bits per sample (8, 16, 32 or 64).
        device: the device the file names (PNG ``Source`` text, EXIF/TIFF ``Make`` + ``Model``), or ``""``.
    """

    container: str
    height: int
    width: int
    grey: bool
    bits: int
    device: str = ""


#: EXIF / TIFF tag numbers of the camera (scanner) make and model.
_MAKE, _MODEL = 0x010F, 0x0110


def _named_device(make: Any, model: Any = "") -> str:
    """``"make / model"`` (at most 128 characters), or ``""`` when the file names no device."""
    from screening.ingest.device import UNKNOWN_DEVICE, device_text

    found = device_text(make, model)
    return "" if found == UNKNOWN_DEVICE else found[:128]


def _pillow_device(img: Any) -> str:
    """The device a PNG (``Source`` text chunk) or JPEG (EXIF ``Make``/``Model``) names, or ``""``."""
    text = img.info.get("Source") if isinstance(img.info, dict) else None
    if isinstance(text, str) and text.strip():
        return _named_device(text)
    try:
        exif = img.getexif()
    except Exception:  # a broken EXIF block must not make the image unreadable; it just names no device
        return ""
    return _named_device(exif.get(_MAKE), exif.get(_MODEL))


def _pillow_info(path: Path, container: str, limits: ReadLimits) -> ImageInfo:
    from PIL import Image, UnidentifiedImageError

    source = str(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
            mode = img.mode
            device = _pillow_device(img)
    except Image.DecompressionBombError as exc:
        raise ResourceLimitError(f"image refused as a decompression bomb ({exc})", source=source) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidScanError(
            f"cannot read the {container.upper()} header ({exc}); the file is truncated or corrupt",
            source=source,
        ) from None
    limits.check_image(height, width, 1, source=source, tags=_SIZE_TAGS)
    grey = mode in ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
    bits = 16 if mode.startswith("I;16") or mode == "I" else 32 if mode == "F" else 8
    return ImageInfo(container, height, width, grey, bits, device)


def _tiff_info(path: Path, limits: ReadLimits) -> ImageInfo:
    import tifffile

    source = str(path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise InvalidScanError("TIFF holds no pages", source=source)
            page = tif.pages.first
            shape = tuple(int(v) for v in page.shape)
            dtype = np.dtype(page.dtype) if page.dtype is not None else None
            samples = int(page.samplesperpixel)
            npages = len(tif.pages)
            make, model = (page.tags.get(k) for k in (_MAKE, _MODEL))
            device = _named_device(make.value if make else "", model.value if model else "")
    except InvalidScanError:
        raise
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct.error...
        raise InvalidScanError(
            f"cannot read the TIFF header ({type(exc).__name__}: {exc}); the file is truncated or corrupt",
            source=source,
        ) from None
    if dtype is None:
        raise InvalidScanError("TIFF page has no readable sample format", source=source)
    spatial = shape[:2] if samples == 1 or shape[-1] == samples else shape[1:3]
    if len(spatial) != 2:
        raise InvalidScanError(f"TIFF page shape {shape}; expected a 2-D image", source=source)
    limits.check_image(spatial[0], spatial[1], npages, source=source, tags=_SIZE_TAGS)
    return ImageInfo("tiff", spatial[0], spatial[1], samples == 1, dtype.itemsize * 8, device)


def probe_image(path: Path, limits: ReadLimits) -> ImageInfo:
    """Read an image's header (no pixels) and check its size against ``limits``.

    Raises:
        UnsupportedFormatError: not PNG/JPEG/TIFF.
        InvalidScanError: unreadable header.
        ResourceLimitError: too large.
    """
    check_file_size(path, limits)
    container = sniff_container(path)
    if container == "tiff":
        return _tiff_info(path, limits)
    if container in ("png", "jpeg"):
        return _pillow_info(path, container, limits)
    raise UnsupportedFormatError(f"{container} content; expected a PNG, JPEG or TIFF image", source=str(path))


def _scale(arr: np.ndarray, source: str) -> np.ndarray:
    """Integer samples -> ``[0, 1]`` by their type's full scale; floats must already be in ``[0, 1]``."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 2:
        return arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    if arr.dtype.kind == "f":
        out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            bad = int(out.size - np.isfinite(out).sum())
            raise InvalidScanError(
                f"float image holds {bad} NaN/inf values; expected finite numbers", source=source
            )
        if out.min() < -1e-3 or out.max() > 1 + 1e-3:
            raise InvalidScanError(
                f"float image values span [{out.min():.4g}, {out.max():.4g}]; float images must hold "
                "transmission in [0, 1]. Save integer images (8/16-bit) for raw detector counts.",
                source=source,
            )
        return np.clip(out, 0.0, 1.0)
    raise InvalidScanError(
        f"sample type {arr.dtype} is not supported; expected 8/16-bit unsigned integers or float in [0, 1]",
        source=source,
    )


def _pillow_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    source = str(path)
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBA", "RGBX"):
                img = img.convert("RGB")
            elif mode == "LA":
                img = img.convert("L")
            arr = np.asarray(img)
            if mode == "I":  # 16-bit PNGs may open as 32-bit "I"; their values fit 16 bits.
                if arr.min() < 0 or arr.max() > 65535:
                    raise InvalidScanError("32-bit integer image values exceed 16 bits", source=source)
                arr = arr.astype(np.uint16)
            elif mode.startswith("I;16"):
                arr = arr.astype(np.uint16)
    except InvalidScanError:
        raise
    except Image.DecompressionBombError as exc:
        raise ResourceLimitError(f"image refused as a decompression bomb ({exc})", source=source) from None
    except Exception as exc:  # Pillow raises OSError("image file is truncated"), SyntaxError, ValueError...
        raise InvalidScanError(
            f"cannot decode the image ({type(exc).__name__}: {exc}); the file is truncated or corrupt",
            source=source,
        ) from None
    return arr


def _tiff_pixels(path: Path) -> np.ndarray:
    import tifffile

    try:
        return np.asarray(tifffile.imread(path, key=0))
    except Exception as exc:
        raise InvalidScanError(
            f"cannot decode the TIFF ({type(exc).__name__}: {exc}); the file is truncated or corrupt",
            source=str(path),
        ) from None


def load_image(path: Path, limits: ReadLimits) -> tuple[np.ndarray, tuple[str, ...], ImageInfo]:
    """Decode one image into ``(C, H, W)`` float32 in ``[0, 1]`` with its channel names.

    Returns:
        ``(array, channels, info)``; channels ``("grey",)`` or ``("r", "g", "b")``.

    Raises:
        InvalidScanError: undecodable, unsupported layout or sample type, NaN/inf.
        ResourceLimitError: too large (checked from the header first).
        UnsupportedFormatError: not an image.
    """
    source = str(path)
    info = probe_image(path, limits)
    arr = _tiff_pixels(path) if info.container == "tiff" else _pillow_pixels(path)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar TIFF
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        return _scale(arr, source)[None], ("grey",), info
    if arr.ndim == 3 and arr.shape[-1] == 3:
        scaled = np.moveaxis(_scale(arr, source), -1, 0)
        if np.array_equal(scaled[0], scaled[1]) and np.array_equal(scaled[0], scaled[2]):
            return np.ascontiguousarray(scaled[:1]), ("grey",), info
        return np.ascontiguousarray(scaled), ("r", "g", "b"), info
    raise InvalidScanError(
        f"image array has shape {arr.shape}; expected (H, W) greyscale or (H, W, 3) RGB", source=source
    )


def _energy_hint(name: str) -> str:
    tokens = set(re.split(r"[^a-z]+", name.lower()))
    if tokens & {"high", "he", "hi"}:
        return "high"
    if tokens & {"low", "le", "lo"}:
        return "low"
    return ""


def is_energy_pair(paths: Sequence[Path], limits: ReadLimits) -> bool:
    """Whether a folder's images form a dual-energy pair (see the module note); headers only."""
    if len(paths) != 2:
        return False
    infos = [probe_image(p, limits) for p in paths]
    if not all(i.grey for i in infos) or (infos[0].height, infos[0].width) != (
        infos[1].height,
        infos[1].width,
    ):
        return False
    hints = {_energy_hint(p.stem) for p in paths}
    return all(i.bits >= 16 for i in infos) or hints == {"high", "low"}


def _base_meta(fmt: str, info: ImageInfo) -> dict[str, Any]:
    meta = {"format": fmt, "container": info.container, "bits": info.bits, "spacing_assumed": True}
    return {**meta, "device": info.device} if info.device else meta


def _read_pair(paths: Sequence[Path], limits: ReadLimits, source: str, bag_id: str) -> Scan:
    loaded = [load_image(p, limits) for p in paths]
    for (_, channels, _), p in zip(loaded, paths, strict=True):
        if channels != ("grey",):
            raise InvalidScanError(
                "pseudo-colour image in a high/low pair; both must be greyscale", source=str(p)
            )
    a, b = loaded[0][0][0], loaded[1][0][0]
    if a.shape != b.shape:
        raise InvalidScanError(f"pair images differ in size: {a.shape} vs {b.shape}", source=source)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    if abs(mean_a - mean_b) > TIE_TOLERANCE * max(mean_a, mean_b, 1e-12):
        first_high, how = mean_a > mean_b, "content"
    else:
        hint_a, hint_b = _energy_hint(paths[0].stem), _energy_hint(paths[1].stem)
        if "high" in (hint_a, hint_b) or "low" in (hint_a, hint_b):
            first_high, how = hint_a == "high" or hint_b == "low", "names"
        else:
            raise InvalidScanError(
                f"cannot tell high from low energy: {paths[0].name} and {paths[1].name} have the same mean "
                "transmission and their names say neither high nor low. Name them e.g. high.png / low.png.",
                source=source,
            )
    high, low = (0, 1) if first_high else (1, 0)
    meta = _base_meta("image-pair", loaded[0][2])
    meta["energy_assignment"] = how
    meta["channel_sources"] = {"high": str(paths[high]), "low": str(paths[low])}
    return Scan(
        array=np.stack([loaded[high][0][0], loaded[low][0][0]]),
        modality=Modality.XRAY,
        spacing_mm=(DEFAULT_SPACING_MM, DEFAULT_SPACING_MM),
        channels=("high", "low"),
        bag_id=bag_id,
        view="view0",
        source=source,
        meta=meta,
    )


def read_images(
    paths: Sequence[Path], limits: ReadLimits, *, source: str, bag_fallback: str, fmt: str
) -> list[Scan]:
    """Read plain images of one bag: one scan per view, or one dual-energy scan for a pair.

    Args:
        paths: image files (one file, or a folder's images sorted by name).
        limits: size limits.
        source: the path the caller gave.
        bag_fallback: bag id (file stem or folder name).
        fmt: ``"png"``, ``"jpeg"``, ``"tiff"``, ``"images"`` or ``"image-pair"``.

    Returns:
        X-ray scans in ``[0, 1]`` (see the module note for channels and naming).

    Raises:
        InvalidScanError, UnsupportedFormatError, ResourceLimitError: per file, naming it.
    """
    if fmt == "image-pair":
        return [_read_pair(paths, limits, source, bag_fallback)]
    scans = []
    for i, path in enumerate(paths):
        arr, channels, info = load_image(path, limits)
        scans.append(
            Scan(
                array=arr,
                modality=Modality.XRAY,
                spacing_mm=(DEFAULT_SPACING_MM, DEFAULT_SPACING_MM),
                channels=channels,
                bag_id=bag_fallback,
                view="view0" if len(paths) == 1 else (path.stem or f"view{i}"),
                source=source if len(paths) == 1 else str(path),
                meta=_base_meta(fmt, info),
            )
        )
    return scans
