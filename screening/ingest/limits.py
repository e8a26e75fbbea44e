"""Size limits checked from file headers before any pixel buffer is allocated."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from screening.errors import ResourceLimitError

__all__ = ["ReadLimits", "check_file_size"]


@dataclass(frozen=True)
class ReadLimits:
    """Upper bounds on what a reader accepts; anything larger raises :class:`ResourceLimitError`.

    The checks use header fields only (file size, DICOM Rows/Columns/NumberOfFrames, image
    width/height), so an absurd header is refused before memory is allocated for its pixels.

    Attributes:
        max_file_bytes: largest file accepted, in bytes (default 2 GiB).
        max_voxels: largest CT volume per channel, in voxels (default 1024**3 / 2, i.e. a
            512 MiB ``uint8``-equivalent; 2 GiB once converted to ``float32``).
        max_pixels: largest single 2-D view or slice, in pixels (default 64 Mpx).
        max_frames: most frames in one multi-frame object or slices in one series.
        max_dimension: largest single axis (rows, columns or frames), in pixels.
        max_files: most files looked at in one folder.
    """

    max_file_bytes: int = 2 * 1024**3
    max_voxels: int = 1024**3 // 2
    max_pixels: int = 64 * 1024**2
    max_frames: int = 4096
    max_dimension: int = 16384
    max_files: int = 4096

    def __post_init__(self) -> None:
        for name in (
            "max_file_bytes",
            "max_voxels",
            "max_pixels",
            "max_frames",
            "max_dimension",
            "max_files",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"ReadLimits.{name} must be a positive int; got {value!r}")

    def check_image(
        self,
        rows: int,
        columns: int,
        frames: int = 1,
        *,
        source: str,
        tags: tuple[str, str, str] = ("Rows", "Columns", "NumberOfFrames"),
    ) -> None:
        """Refuse an image/volume whose declared size is beyond the limits.

        Args:
            rows: declared height in pixels.
            columns: declared width in pixels.
            frames: declared number of frames (slices or views).
            source: file named in the error.
            tags: names of the header fields the three numbers came from, for the message.

        Raises:
            ResourceLimitError: a dimension, the per-frame pixel count, the frame count or the
                total voxel count is beyond its limit.
        """
        for value, tag in zip((rows, columns, frames), tags, strict=True):
            if value > self.max_dimension:
                raise ResourceLimitError(
                    f"{tag}={value} is beyond the limit max_dimension={self.max_dimension}; refusing to "
                    "allocate. If the file is genuine, raise ReadLimits.max_dimension.",
                    source=source,
                )
        if frames > self.max_frames:
            raise ResourceLimitError(
                f"{tags[2]}={frames} is beyond the limit max_frames={self.max_frames}; refusing to allocate. "
                "If the file is genuine, raise ReadLimits.max_frames.",
                source=source,
            )
        if rows * columns > self.max_pixels:
            raise ResourceLimitError(
                f"{tags[0]}*{tags[1]}={rows}*{columns}={rows * columns} pixels per frame is beyond "
                f"the limit max_pixels={self.max_pixels}; refusing to allocate. "
                "Raise ReadLimits.max_pixels if genuine.",
                source=source,
            )
        if rows * columns * frames > self.max_voxels:
            raise ResourceLimitError(
                f"{tags[0]}*{tags[1]}*{tags[2]}={rows}*{columns}*{frames}={rows * columns * frames} voxels "
                f"is beyond the limit max_voxels={self.max_voxels}; refusing to allocate. "
                "Raise ReadLimits.max_voxels if genuine.",
                source=source,
            )


def check_file_size(path: Path, limits: ReadLimits) -> int:
    """Return the size of ``path`` in bytes, refusing files beyond ``limits.max_file_bytes``.

    Raises:
        ResourceLimitError: the file is larger than the limit.
    """
    size = os.stat(path).st_size
    if size > limits.max_file_bytes:
        raise ResourceLimitError(
            f"file is {size} bytes, beyond the limit max_file_bytes={limits.max_file_bytes}. "
            "Raise ReadLimits.max_file_bytes if genuine.",
            source=str(path),
        )
    return size
