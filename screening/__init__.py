"""Baggage X-ray/CT screening pipeline: the core types; stages live in the subpackages."""

from __future__ import annotations

from screening.errors import (
    BackendUnavailableError,
    DeadlineExceededError,
    InvalidScanError,
    ResourceLimitError,
    ScreeningError,
    UnsupportedFormatError,
)
from screening.scan import CONTRABAND, BagReport, Detection, Label, Modality, Scan, Step, Verdict

__version__ = "0.1.0"

__all__ = [
    "CONTRABAND",
    "BackendUnavailableError",
    "BagReport",
    "DeadlineExceededError",
    "Detection",
    "InvalidScanError",
    "Label",
    "Modality",
    "ResourceLimitError",
    "Scan",
    "ScreeningError",
    "Step",
    "UnsupportedFormatError",
    "Verdict",
    "__version__",
]
