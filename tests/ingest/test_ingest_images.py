"""Plain images: RGB pseudo-colour, 8/16-bit greyscale, TIFF, high/low pairs and view folders."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from screening.errors import InvalidScanError
from screening.ingest import detect_format, read
from screening.ingest.write import write_png_pair
from screening.scan import Modality


def test_rgb_pseudo_colour_png(tmp_path, rng):
    rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    path = tmp_path / "P00001.png"
    Image.fromarray(rgb).save(path)
    assert detect_format(path) == "png"
    (scan,) = read(path)
    assert scan.modality == Modality.XRAY
    assert scan.channels == ("r", "g", "b")
    assert scan.array.shape == (3, 10, 12)
    np.testing.assert_allclose(scan.array, np.moveaxis(rgb, -1, 0) / 255.0, atol=1e-6)
    assert scan.bag_id == "P00001"
    assert scan.view == "view0"
    assert scan.meta["spacing_assumed"] is True
    assert scan.spacing_mm == (1.0, 1.0)


def test_jpeg_detected_by_content_not_name(tmp_path):
    yy, xx = np.mgrid[0:16, 0:16]
    rgb = np.stack([yy * 15, xx * 15, (yy + xx) * 7], axis=-1).astype(np.uint8)  # smooth: JPEG keeps it
    path = tmp_path / "misnamed.png"  # JPEG bytes behind a .png name
    Image.fromarray(rgb).save(path, format="JPEG", quality=95)
    assert detect_format(path) == "jpeg"
    (scan,) = read(path)
    assert scan.channels == ("r", "g", "b")
    assert np.abs(scan.array - np.moveaxis(rgb, -1, 0) / 255.0).mean() < 0.05  # lossy


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_greyscale_png(tmp_path, rng, dtype):
    full = np.iinfo(dtype).max
    grey = rng.integers(0, full + 1, (9, 11)).astype(dtype)
    path = tmp_path / "g.png"
    Image.fromarray(grey).save(path)
    (scan,) = read(path)
    assert scan.channels == ("grey",)
    assert scan.meta["bits"] == np.dtype(dtype).itemsize * 8
    np.testing.assert_allclose(scan.array[0], grey / full, atol=1e-6)


def test_rgb_with_identical_channels_is_grey(tmp_path, rng):
    grey = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    path = tmp_path / "g.png"
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(path)
    (scan,) = read(path)
    assert scan.channels == ("grey",)


def test_tiff_uint16_and_float(tmp_path, rng):
    grey = rng.integers(0, 65536, (7, 5)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", grey)
    assert detect_format(tmp_path / "a.tif") == "tiff"
    (scan,) = read(tmp_path / "a.tif")
    np.testing.assert_allclose(scan.array[0], grey / 65535.0, atol=1e-6)
    trans = rng.random((7, 5)).astype(np.float32)
    tifffile.imwrite(tmp_path / "b.tiff", trans)
    (scan,) = read(tmp_path / "b.tiff")
    np.testing.assert_array_equal(scan.array[0], trans)


def test_float_tiff_outside_unit_range_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", np.full((4, 4), 1000.0, np.float32))
    with pytest.raises(InvalidScanError, match=r"transmission in \[0, 1\]"):
        read(tmp_path / "c.tif")


def test_png_pair_high_chosen_by_content(tmp_path, rng, de_views):
    view = de_views[0]
    # Names say the opposite of the content: content must win.
    write_png_pair(view, tmp_path / "pair", names=("low_energy.png", "high_energy.png"))
    assert detect_format(tmp_path / "pair") == "image-pair"
    (scan,) = read(tmp_path / "pair")
    assert scan.channels == ("high", "low")
    assert scan.meta["energy_assignment"] == "content"
    assert np.abs(scan.array - view.array).max() <= 0.5 / 65535 + 1e-7
    assert scan.bag_id == "pair"


def test_pair_tie_broken_by_names_and_refused_without(tmp_path, rng):
    a = rng.integers(0, 65536, (6, 6)).astype(np.uint16)
    b = a[::-1].copy()  # same mean, different image
    folder = tmp_path / "tie"
    folder.mkdir()
    Image.fromarray(a).save(folder / "scan_low.png")
    Image.fromarray(b).save(folder / "scan_high.png")
    (scan,) = read(folder)
    assert scan.meta["energy_assignment"] == "names"
    np.testing.assert_allclose(scan.array[0], b / 65535.0, atol=1e-6)
    (folder / "scan_low.png").rename(folder / "one.png")
    (folder / "scan_high.png").rename(folder / "two.png")
    with pytest.raises(InvalidScanError, match="cannot tell high from low"):
        read(folder)


def test_folder_of_views(tmp_path, rng):
    folder = tmp_path / "bag9"
    folder.mkdir()
    for name in ("side", "top"):
        Image.fromarray(rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("operator notes")
    assert detect_format(folder) == "images"
    scans = read(folder)
    assert [s.view for s in scans] == ["side", "top"]
    assert all(s.bag_id == "bag9" for s in scans)
    assert scans[0].source == str(folder / "side.png")
    assert scans[0].meta["skipped_files"][0].startswith("notes.txt")


def test_two_8bit_grey_images_without_energy_names_are_views(tmp_path, rng):
    folder = tmp_path / "bag"
    folder.mkdir()
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{name}.png")
    assert detect_format(folder) == "images"
    assert len(read(folder)) == 2


def test_palette_and_alpha_images_become_rgb(tmp_path, rng):
    rgba = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    (scan,) = read(tmp_path / "a.png")
    np.testing.assert_allclose(scan.array, np.moveaxis(rgba[..., :3], -1, 0) / 255.0, atol=1e-6)
    Image.fromarray(rgba[..., :3]).convert("P").save(tmp_path / "p.png")
    (scan,) = read(tmp_path / "p.png")
    assert scan.channels in (("r", "g", "b"), ("grey",))
    assert scan.array.shape[1:] == (8, 8)
