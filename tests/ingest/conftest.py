"""Tiny generated fixtures for the ingest tests (synthetic data, seeded)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from screening.scan import Modality, Scan


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def ct_scan(rng: np.random.Generator) -> Scan:
    """Synthetic 8x16x16 single-energy CT: integer MHU in [0, 3000] (air 0, water 1000)."""
    array = rng.integers(0, 3001, size=(1, 8, 16, 16)).astype(np.float32)
    return Scan(array, Modality.CT, (2.0, 0.75, 0.5), ("mhu",), "bag-ct", meta={"KVP": 140.0})


@pytest.fixture
def de_ct_scan(rng: np.random.Generator) -> Scan:
    """Synthetic dual-energy CT with non-integer MHU (exercises the rescale quantisation)."""
    high = rng.uniform(0, 2500, size=(8, 16, 16))
    low = high * 1.2 + rng.normal(0, 5, size=high.shape)
    array = np.stack([high, np.clip(low, 0, None)]).astype(np.float32)
    return Scan(array, Modality.CT, (1.5, 0.8, 0.8), ("high", "low"), "bag-de")


def make_de_view(rng: np.random.Generator, view: str, shape: tuple[int, int] = (12, 20)) -> Scan:
    """Synthetic dual-energy view: low = high**1.6, so high energy transmits more (brighter)."""
    high = rng.uniform(0.05, 1.0, size=shape)
    array = np.stack([high, high**1.6]).astype(np.float32)
    return Scan(array, Modality.XRAY, (0.8, 0.8), ("high", "low"), "bag-dx", view=view)


@pytest.fixture
def de_views(rng: np.random.Generator) -> list[Scan]:
    return [make_de_view(rng, "top"), make_de_view(rng, "side")]


@pytest.fixture
def edit_dicom() -> Callable[..., Path]:
    """Rewrite a DICOM file after ``change(ds)``; returns the new path."""

    def _edit(src: Path, dst: Path, change: Callable[[Any], None]) -> Path:
        import pydicom

        ds = pydicom.dcmread(src)
        change(ds)
        ds.save_as(dst, enforce_file_format=False)
        return dst

    return _edit


def _write_pydicos_ct(
    path: Path,
    volume: np.ndarray,
    spacing_xyz: tuple[float, float, float] = (0.5, 0.75, 2.0),
    *,
    jpeg_lossless: bool = True,
    ooi_id: str | None = None,
) -> Path:
    """Write a uint16 ``(Z, Y, X)`` MHU volume as DICOS CT with pydicos; skip if pydicos is absent."""
    import pyDICOS as p

    ct = p.CT(p.CT.OBJECT_OF_INSPECTION_TYPE.enumTypeBaggage, p.CT.OOI_IMAGE_CHARACTERISTICS.enumMu)
    ct.SetImageAcquisitionDuration(1.0)
    if ooi_id:
        ct.SetOOIID(p.DcsLongString(ooi_id))
    ct.SetNumberOfSections(1)
    section = ct.GetSectionByIndex(0)
    section.SetRescaleType(p.DcsLongString("MHU"))
    pixels = section.GetPixelData()
    pixels.set_data(pixels, np.ascontiguousarray(volume, dtype=np.uint16))
    section.SetSpacingInMM(*spacing_xyz)
    syntax = (
        p.CT.TRANSFER_SYNTAX.enumLosslessJPEG
        if jpeg_lossless
        else p.CT.TRANSFER_SYNTAX.enumLittleEndianExplicit
    )
    log = p.ErrorLog()
    if not ct.Write(p.Filename(str(path)), log, syntax):
        raise RuntimeError(f"pydicos could not write {path}: {log.GetErrorLog().Get()}")
    return path


@pytest.fixture
def pydicos_ct() -> Callable[..., Path]:
    """Writer using pydicos (Stratovan DICOS toolkit binding; test-only second implementation)."""
    pytest.importorskip("pydicos")
    return _write_pydicos_ct
