"""Atomic file writes: write a temporary file beside the target, then ``os.replace`` it into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from screening.errors import ScreeningError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one.

    The parent folder is created if needed. A crash mid-write leaves at most a hidden ``.*.tmp`` file
    beside the target, never a truncated target.

    Args:
        path: destination file.
        data: the complete file content.

    Returns:
        The destination as a :class:`~pathlib.Path`.

    Raises:
        ScreeningError: the folder cannot be created or the file cannot be written (names the path).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise ScreeningError(
            f"cannot create the output file ({err.strerror or err}); check that the folder is writable",
            source=str(target),
        ) from err
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise ScreeningError(
            f"cannot write the output file ({err.strerror or err}); check free space and permissions",
            source=str(target),
        ) from err
    return target
