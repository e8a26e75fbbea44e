"""Fixtures for the dataset-loader tests: tiny generated images written to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """Write a small seeded greyscale image (``w`` x ``h`` pixels) at ``path``; return the path."""

    def _make(path: Path, w: int = 40, h: int = 30) -> Path:
        from PIL import Image

        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(path)
        return path

    return _make
