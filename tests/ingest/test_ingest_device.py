"""Which device made a scan: DICOS tags, PNG Source text, EXIF/TIFF Make + Model, or none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from screening.ingest import read
from screening.ingest.device import UNKNOWN_DEVICE, device_of, device_text, is_validated


def test_device_text_and_priority() -> None:
    assert device_text("  Acme  Corp ", "CT 9") == "Acme Corp / CT 9"
    assert device_text("Acme", "") == "Acme" and device_text("", None) == UNKNOWN_DEVICE
    # DICOM tags win over an image's text; nothing at all is unknown
    assert (
        device_of({"Manufacturer": "Acme", "ManufacturerModelName": "X1", "device": "other"}) == "Acme / X1"
    )
    assert device_of({"device": "Vendor / DV"}) == "Vendor / DV"
    assert device_of({}) == UNKNOWN_DEVICE


@pytest.mark.parametrize(
    ("device", "patterns", "ok"),
    [
        ("Acme / CT 9", ["Acme / CT 9"], True),
        ("Acme / CT 9", ["Acme / CT*"], True),
        ("Acme / CT 9", ["acme / ct 9"], False),  # case matters: vendors' strings are exact
        ("Acme / CT 9", [], False),
        (UNKNOWN_DEVICE, ["Acme / *"], False),
    ],
)
def test_is_validated(device: str, patterns: list[str], ok: bool) -> None:
    assert is_validated(device, patterns) is ok


def _rgb() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8))


def test_png_source_text_jpeg_exif_and_tiff_tags_name_the_device(tmp_path: Path) -> None:
    info = PngInfo()
    info.add_text("Source", "Vendor / DV-6040")
    _rgb().save(tmp_path / "a.png", pnginfo=info)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Vendor", "HS 100"
    _rgb().save(tmp_path / "b.jpg", exif=exif)
    import tifffile

    tifffile.imwrite(
        tmp_path / "c.tif",
        np.zeros((8, 8), np.uint16),
        extratags=[(0x010F, "s", 0, "Vendor", True), (0x0110, "s", 0, "T 1", True)],
    )
    _rgb().save(tmp_path / "d.png")  # names nothing
    got = {p: device_of(read(tmp_path / p)[0].meta) for p in ("a.png", "b.jpg", "c.tif", "d.png")}
    assert got == {
        "a.png": "Vendor / DV-6040",
        "b.jpg": "Vendor / HS 100",
        "c.tif": "Vendor / T 1",
        "d.png": UNKNOWN_DEVICE,
    }
