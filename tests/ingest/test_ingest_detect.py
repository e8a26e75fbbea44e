"""Format detection by content, and the import-cost rule (no torch)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pydicom
import pytest
from PIL import Image

from screening.errors import UnsupportedFormatError
from screening.ingest import FORMATS, detect_format, read
from screening.ingest.write import write_dicos_ct


def test_dicom_without_preamble_is_detected(tmp_path, ct_scan):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")
    ds = pydicom.dcmread(src)
    bare = tmp_path / "bare.bin"
    ds.save_as(bare, enforce_file_format=False, implicit_vr=False, little_endian=True)
    raw = bare.read_bytes()
    bare.write_bytes(raw[132:] if raw[128:132] == b"DICM" else raw)
    assert bare.read_bytes()[128:132] != b"DICM"
    assert detect_format(bare) == "dicos-ct"
    (scan,) = read(bare)
    np.testing.assert_array_equal(scan.array, ct_scan.array)


def test_names_never_decide_the_format(tmp_path, ct_scan, rng):
    dicos = write_dicos_ct(ct_scan, tmp_path / "scan.png")
    assert detect_format(dicos) == "dicos-ct"
    png = tmp_path / "image.dcm"
    Image.fromarray(rng.integers(0, 256, (4, 4), dtype=np.uint8)).save(png, format="PNG")
    assert detect_format(png) == "png"
    text = tmp_path / "x.tif"
    text.write_text("not an image")
    with pytest.raises(UnsupportedFormatError):
        detect_format(text)


def test_every_reported_format_is_listed(tmp_path, ct_scan):
    assert detect_format(write_dicos_ct(ct_scan, tmp_path / "a.dcs")) in FORMATS


def test_import_does_not_pull_heavy_modules():
    code = (
        "import sys, screening, screening.ingest, screening.ingest.write;"
        "bad = [m for m in ('torch', 'pydicom', 'PIL', 'tifffile') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_preload_imports_the_readers():
    code = (
        "import sys, screening.ingest as i; i.preload();print('pydicom' in sys.modules, 'PIL' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
