"""`import screening` and the CLI's --help stay light: no torch, no onnxruntime."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_import_screening_does_not_import_torch() -> None:
    mods = _loaded_after("import screening")
    assert "torch" not in mods
    assert "onnxruntime" not in mods


def test_cli_parser_does_not_import_torch() -> None:
    mods = _loaded_after("from screening.cli.main import build_parser; build_parser()")
    assert "torch" not in mods
