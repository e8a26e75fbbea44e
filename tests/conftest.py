"""Fixtures shared across test folders: loading the scripts in ``datasets/`` (they are not a package)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

_DATASETS = Path(__file__).resolve().parents[1] / "datasets"


@pytest.fixture(scope="session")
def datasets_script() -> Callable[[str], ModuleType]:
    """Import ``datasets/NAME.py`` as module ``NAME`` (registered, so its dataclasses and pickles resolve)."""

    def _load(name: str) -> ModuleType:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, _DATASETS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    return _load
