"""Importing screening.report stays light: PIL, pydicom and torch load only when a writer runs."""

from __future__ import annotations

import subprocess
import sys


def test_import_report_is_light() -> None:
    code = "import sys, screening.report; print(' '.join(sorted(sys.modules)))"
    mods = set(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert "screening.report.tdr" in mods
    assert not mods & {"torch", "PIL", "pydicom", "matplotlib", "onnxruntime"}
