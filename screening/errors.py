"""Exception hierarchy: every failure the pipeline reports names the file and what was wrong."""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "DeadlineExceededError",
    "InvalidScanError",
    "ResourceLimitError",
    "ScreeningError",
    "UnsupportedFormatError",
]


class ScreeningError(Exception):
    """Base class for all errors raised by the screening package.

    Args:
        message: what was expected, what was received and, where possible, how to fix it.
        source: the file, folder or stream the problem came from (named in ``str(err)``).
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.message = message
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class InvalidScanError(ScreeningError, ValueError):
    """The input was recognised but its content is broken (truncated, inconsistent, NaN, missing pixels)."""


class UnsupportedFormatError(ScreeningError, ValueError):
    """The input is not in any format the pipeline reads (or is the wrong SOP class)."""


class ResourceLimitError(ScreeningError, ValueError):
    """The input declares sizes beyond the configured limits; refused before allocating memory."""


class BackendUnavailableError(ScreeningError, ImportError):
    """An optional backend (onnxruntime CUDA, torch, ...) is not installed or cannot run here."""


class DeadlineExceededError(ScreeningError, TimeoutError):
    """A bag's screening did not finish within its verdict budget."""
