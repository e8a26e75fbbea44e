"""Interop with a second DICOS implementation: pydicos (Stratovan toolkit binding), test-only."""

from __future__ import annotations

import numpy as np
import pytest

from screening.ingest import detect_format, read
from screening.ingest.write import write_dicos_ct

pytest.importorskip("pydicos")


@pytest.mark.parametrize("jpeg_lossless", [True, False])
def test_we_read_a_ct_written_by_pydicos(tmp_path, pydicos_ct, rng, jpeg_lossless):
    volume = rng.integers(0, 4000, (6, 10, 12)).astype(np.uint16)
    path = pydicos_ct(
        tmp_path / "pyd.dcs", volume, (0.5, 0.75, 2.5), jpeg_lossless=jpeg_lossless, ooi_id="BAG-77"
    )
    assert detect_format(path) == "dicos-ct"
    (scan,) = read(path)
    assert scan.array.shape == (1, 6, 10, 12)
    # pydicos takes (column, row, slice) spacing: x = 0.5, y = 0.75, z = 2.5; we report (z, y, x).
    assert scan.spacing_mm == pytest.approx((2.5, 0.75, 0.5))
    np.testing.assert_array_equal(scan.array[0], volume.astype(np.float32))
    assert scan.bag_id == "BAG-77"
    expected_ts = "1.2.840.10008.1.2.4.70" if jpeg_lossless else "1.2.840.10008.1.2.1"
    assert scan.meta["TransferSyntaxUID"] == expected_ts
    assert scan.meta["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.501.1"


@pytest.mark.parametrize("compressed", [False, True])
def test_pydicos_reads_a_ct_we_wrote(tmp_path, ct_scan, compressed):
    from pydicos import CTLoader

    path = write_dicos_ct(ct_scan, tmp_path / "ours.dcs", compressed=compressed)
    ct = CTLoader(str(path))  # raises RuntimeError listing every missing mandatory DICOS attribute
    (data,) = ct.get_data()
    np.testing.assert_array_equal(data, ct_scan.array[0].astype(np.uint16))
    spacing = ct.GetSectionByIndex(0).GetSpacingInMM()
    assert (spacing.x, spacing.y, spacing.z) == pytest.approx((0.5, 0.75, 2.0))


def test_we_read_a_dx_written_by_pydicos(tmp_path, rng):
    import pyDICOS as p
    from pydicos import DXLoader

    counts = rng.integers(0, 65536, (6, 9)).astype(np.uint16)
    dx = p.DX(p.CT.OBJECT_OF_INSPECTION_TYPE.enumTypeBaggage)
    DXLoader.set_data(dx, counts)
    dx.SetKVP(160.0)
    dx.SetXRayTubeCurrent(1.0)
    path = tmp_path / "pyd_dx.dcs"
    log = p.ErrorLog()
    assert dx.Write(p.Filename(str(path)), log), log.GetErrorLog().Get()
    assert detect_format(path) == "dicos-dx"
    (scan,) = read(path)
    assert scan.channels == ("grey",)
    # Convention: full scale of the stored bits is air (MONOCHROME2, 16 bits stored).
    np.testing.assert_allclose(scan.array[0], counts / 65535.0, atol=1e-6)
    assert scan.meta["spacing_assumed"] is True  # pydicos writes no pixel spacing


def test_pydicos_reads_dx_views_we_wrote(tmp_path, de_views):
    from pydicos import DXLoader

    from screening.ingest.write import write_dicos_dx

    folder = write_dicos_dx(de_views, tmp_path / "bag")
    for i, view in enumerate(de_views):
        for channel, energy in enumerate(("high", "low")):
            data = DXLoader(str(folder / f"{i:02d}_{view.view}_{energy}.dcs")).get_data()
            np.testing.assert_allclose(data / 65535.0, view.array[channel], atol=1e-5)
