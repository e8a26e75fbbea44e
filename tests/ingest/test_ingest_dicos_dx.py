"""DICOS DX: dual/single energy, views as frames or files, MONOCHROME1, transmission mapping."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.ingest import detect_format, read
from screening.ingest.write import write_dicos_dx
from screening.scan import Modality, Scan

QUANT = 0.5 / 65535 + 1e-7  # 16-bit transmission quantisation


def test_dual_energy_views_round_trip(tmp_path, de_views):
    folder = write_dicos_dx(de_views, tmp_path / "bag")
    assert sorted(p.name for p in folder.iterdir()) == [
        "00_top_high.dcs",
        "00_top_low.dcs",
        "01_side_high.dcs",
        "01_side_low.dcs",
    ]
    assert detect_format(folder) == "dicos-dx"
    scans = read(folder)
    assert [s.view for s in scans] == ["top", "side"]
    for got, want in zip(scans, de_views, strict=True):
        assert got.modality == Modality.XRAY
        assert got.channels == ("high", "low")
        assert got.spacing_mm == pytest.approx((0.8, 0.8))
        assert got.bag_id == "bag-dx"
        assert np.abs(got.array - want.array).max() <= QUANT
        assert got.meta["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.501.2.2"
        assert set(got.meta["channel_sop_instance_uids"]) == {"high", "low"}
    assert len({s.meta["SeriesInstanceUID"] for s in scans}) == 1


def test_single_file_single_energy(tmp_path, rng):
    view = Scan(
        rng.random((1, 10, 14)).astype(np.float32), Modality.XRAY, (1.2, 1.1), ("grey",), "b1", view="top"
    )
    folder = write_dicos_dx([view], tmp_path / "bag")
    (file,) = folder.iterdir()
    assert detect_format(file) == "dicos-dx"
    (scan,) = read(file)
    assert scan.channels == ("grey",)
    assert scan.view == "top"
    assert scan.spacing_mm == pytest.approx((1.2, 1.1))
    assert np.abs(scan.array - view.array).max() <= QUANT


def test_views_as_frames_of_one_multiframe_file(tmp_path, de_views):
    """The other layout: one file per energy whose frames are the views (FrameLabel names them)."""
    folder = write_dicos_dx(de_views, tmp_path / "src")
    out = tmp_path / "bag"
    out.mkdir()
    for energy in ("high", "low"):
        parts = [pydicom.dcmread(folder / f"{i:02d}_{v}_{energy}.dcs") for i, v in enumerate(("top", "side"))]
        ds = parts[0]
        ds.PerFrameFunctionalGroupsSequence = [p.PerFrameFunctionalGroupsSequence[0] for p in parts]
        ds.NumberOfFrames = len(parts)
        ds.PixelData = b"".join(p.PixelData for p in parts)
        ds.save_as(out / f"{energy}.dcs")
    scans = read(out)
    assert [s.view for s in scans] == ["top", "side"]
    for got, want in zip(scans, de_views, strict=True):
        assert np.abs(got.array - want.array).max() <= QUANT
        assert got.channels == ("high", "low")


def test_views_of_different_sizes(tmp_path, rng):
    views = [
        Scan(
            rng.random((1, 8, 12)).astype(np.float32), Modality.XRAY, (1.0, 1.0), ("grey",), "b", view="top"
        ),
        Scan(
            rng.random((1, 10, 6)).astype(np.float32), Modality.XRAY, (1.0, 1.0), ("grey",), "b", view="side"
        ),
    ]
    scans = read(write_dicos_dx(views, tmp_path / "bag"))
    assert [s.shape for s in scans] == [(8, 12), (10, 6)]


def test_monochrome1_and_rescale_are_honoured(tmp_path, rng, edit_dicom):
    view = Scan(rng.random((1, 6, 9)).astype(np.float32), Modality.XRAY, (1.0, 1.0), ("grey",), "b", view="v")
    (src,) = write_dicos_dx([view], tmp_path / "bag").iterdir()

    def invert(ds):
        pixels = np.frombuffer(ds.PixelData, "<u2")
        ds.PixelData = (65535 - pixels).astype("<u2").tobytes()
        ds.PhotometricInterpretation = "MONOCHROME1"

    (scan,) = read(edit_dicom(src, tmp_path / "m1.dcs", invert))
    assert np.abs(scan.array - view.array).max() <= QUANT

    def twelve_bit(ds):
        pixels = np.frombuffer(ds.PixelData, "<u2").astype(np.float64)
        ds.PixelData = np.round(pixels / 65535 * 4095).astype("<u2").tobytes()
        ds.BitsStored = 12
        ds.HighBit = 11

    (scan,) = read(edit_dicom(src, tmp_path / "b12.dcs", twelve_bit))
    assert np.abs(scan.array - view.array).max() <= 0.5 / 4095 + 1e-5


def test_unpaired_energies_are_refused(tmp_path, de_views):
    folder = write_dicos_dx(de_views, tmp_path / "bag")
    (folder / "01_side_low.dcs").unlink()
    with pytest.raises(InvalidScanError, match="high-energy") as err:
        read(folder)
    assert err.value.source == str(folder)


def test_for_presentation_sop_class_reads(tmp_path, rng, edit_dicom):
    view = Scan(rng.random((1, 6, 9)).astype(np.float32), Modality.XRAY, (1.0, 1.0), ("grey",), "b", view="v")
    (src,) = write_dicos_dx([view], tmp_path / "bag").iterdir()

    def presentation(ds):
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.501.2.1"

    (scan,) = read(edit_dicom(src, tmp_path / "p.dcs", presentation))
    assert scan.meta["SOPClassUID"].endswith("501.2.1")


def test_writer_refuses_pseudo_colour_and_mixed_views(tmp_path, rng, de_views):
    rgb = Scan(rng.random((3, 4, 4)).astype(np.float32), Modality.XRAY, (1.0, 1.0), ("r", "g", "b"), "b")
    with pytest.raises(ValueError, match="channels"):
        write_dicos_dx([rgb], tmp_path / "x")
    grey = Scan(rng.random((1, 12, 20)).astype(np.float32), Modality.XRAY, (1.0, 1.0), ("grey",), "b")
    with pytest.raises(ValueError, match="share"):
        write_dicos_dx([de_views[0], grey], tmp_path / "x")
    with pytest.raises(ValueError, match="at least one"):
        write_dicos_dx([], tmp_path / "x")


def test_dx_file_with_ct_sop_class_in_dx_folder_is_refused(tmp_path, de_views, ct_scan):
    from screening.ingest.write import write_dicos_ct

    folder = write_dicos_dx(de_views, tmp_path / "bag")
    write_dicos_ct(ct_scan, folder / "ct.dcs")
    with pytest.raises(UnsupportedFormatError, match="mixes"):
        read(folder)
    assert pydicom.dcmread(folder / "ct.dcs", stop_before_pixels=True).Modality == "CT"
