"""write_bag: PNG files are lossless (the faster zlib strategy changes nothing) and bad pixels are refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from screening.errors import InvalidScanError
from screening.physics.pseudocolour import render
from screening.sim import generate_bag
from screening.sim.export import write_bag


@pytest.fixture(scope="module")
def xray_bag(small_config):
    return generate_bag(11, small_config, "xray")


def test_png_pair_and_pseudocolour_read_back_exactly(xray_bag, tmp_path):
    rec = write_bag(xray_bag, tmp_path)
    assert len(rec["images"]) == len(xray_bag.xray)
    for scan, img in zip(xray_bag.xray, rec["images"], strict=True):
        for channel, key in enumerate(("high_file", "low_file")):
            with Image.open(tmp_path / img[key]) as im:
                back = np.asarray(im)
            expected = np.round(np.clip(scan.array[channel], 0, 1) * 65535).astype(np.uint16)
            assert back.shape == expected.shape
            np.testing.assert_array_equal(back.astype(np.uint16), expected)
        with Image.open(tmp_path / img["file_name"]) as im:
            rgb = np.asarray(im.convert("RGB"))
        np.testing.assert_array_equal(rgb, render(scan.array[0], scan.array[1], xray_bag.scanner.palette))


def test_png_pair_reads_back_through_ingest(xray_bag, tmp_path):
    import shutil

    from screening.ingest import read

    rec = write_bag(xray_bag, tmp_path)
    img = rec["images"][0]
    pair = tmp_path / "pair"
    pair.mkdir()
    shutil.copy(tmp_path / img["high_file"], pair / "high.png")
    shutil.copy(tmp_path / img["low_file"], pair / "low.png")
    scans = read(pair)
    assert len(scans) == 1
    np.testing.assert_allclose(scans[0].array, xray_bag.xray[0].array, atol=1.0 / 65535 + 1e-6)


def test_nan_pixels_are_refused_with_the_source(xray_bag, tmp_path):
    scan = xray_bag.xray[0]
    bad = scan.array.copy()
    bad[0, 3, 3] = np.nan
    broken = dataclasses.replace(xray_bag, xray=(dataclasses.replace(scan, array=bad),))
    with pytest.raises(InvalidScanError, match="NaN") as err:
        write_bag(broken, tmp_path)
    assert err.value.source == scan.source


def test_written_files_name_the_simulator_as_their_device(small_config, tmp_path):
    """DICOS tags and PNG ``Source`` text carry the device that calibrated models list as validated."""
    from screening.ingest import read
    from screening.ingest.device import device_of
    from screening.sim.generate import SIM_DEVICE

    bag = generate_bag(12, small_config, "both")
    assert {device_of(s.meta) for s in (*bag.xray, bag.ct)} == {SIM_DEVICE}  # in memory, as on disk
    rec = write_bag(bag, tmp_path)
    files = [tmp_path / rec["images"][0]["file_name"], tmp_path / rec["ct"]]
    assert [device_of(s.meta) for f in files for s in read(f)] == [SIM_DEVICE, SIM_DEVICE]
    from screening.bench.bagset import pad_views
    from screening.ingest.write import write_dicos_dx

    dx = write_dicos_dx(pad_views(bag.xray), tmp_path / "dx")  # as the benchmark and hot folders get them
    assert {device_of(s.meta) for s in read(dx)} == {SIM_DEVICE}
