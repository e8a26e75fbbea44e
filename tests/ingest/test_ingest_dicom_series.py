"""Standard DICOM CT Image Storage series: CT_small.dcm, round trips, sorting and broken series."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from screening.errors import InvalidScanError, ResourceLimitError, UnsupportedFormatError
from screening.ingest import ReadLimits, detect_format, read
from screening.ingest.write import write_dicom_ct_series, write_dicos_ct


def test_pydicom_ct_small_reads_as_mhu():
    path = get_testdata_file("CT_small.dcm", download=False)
    assert path is not None
    assert detect_format(path) == "dicom-ct"
    (scan,) = read(path)
    ds = pydicom.dcmread(path)
    assert scan.array.shape == (1, 1, 128, 128)
    expected_hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(scan.array[0, 0], expected_hu + 1000.0)
    sy, sx = (float(v) for v in ds.PixelSpacing)
    assert scan.spacing_mm == pytest.approx((float(ds.SliceThickness), sy, sx))
    assert scan.meta["SeriesInstanceUID"] == ds.SeriesInstanceUID
    assert scan.meta["rescale_unit"] == "HU"
    assert "PatientID" not in scan.meta  # a patient id never leaks into bag metadata
    assert scan.bag_id == "CT_small"


def test_series_round_trip_and_shuffled_files(tmp_path, ct_scan):
    folder = tmp_path / "series"
    files = write_dicom_ct_series(ct_scan, folder)
    assert len(files) == 8
    # Rename so that name order disagrees with slice order: sorting must use positions.
    for i, f in enumerate(reversed(files)):
        f.rename(folder / f"x{(i * 5) % 8}.dcm")
    assert detect_format(folder) == "dicom-ct-series"
    (scan,) = read(folder)
    np.testing.assert_array_equal(scan.array, ct_scan.array)
    assert scan.spacing_mm == pytest.approx(ct_scan.spacing_mm)
    assert scan.meta["slice_count"] == 8
    assert scan.bag_id == "series"


def test_series_with_mixed_sizes_is_refused(tmp_path, ct_scan, rng):
    folder = tmp_path / "series"
    write_dicom_ct_series(ct_scan, folder)
    other = ct_scan.replace(array=rng.integers(0, 2000, (1, 1, 8, 8)).astype(np.float32))
    odd = write_dicom_ct_series(other, tmp_path / "other")[0]
    ds = pydicom.dcmread(odd)
    ds.SeriesInstanceUID = pydicom.dcmread(folder / "slice_0000.dcm").SeriesInstanceUID
    ds.save_as(folder / "slice_0099.dcm")
    with pytest.raises(InvalidScanError, match="mixed sizes") as err:
        read(folder)
    assert err.value.source == str(folder)


def test_series_with_a_missing_slice_is_refused(tmp_path, ct_scan):
    folder = tmp_path / "series"
    files = write_dicom_ct_series(ct_scan, folder)
    files[3].unlink()
    with pytest.raises(InvalidScanError, match="missing"):
        read(folder)


def test_folder_with_two_series_is_refused(tmp_path, ct_scan):
    folder = tmp_path / "bag"
    write_dicom_ct_series(ct_scan, folder / "a")
    write_dicom_ct_series(ct_scan, folder / "b")
    for sub in ("a", "b"):
        for f in (folder / sub).iterdir():
            shutil.move(f, folder / f"{sub}_{f.name}")
    with pytest.raises(InvalidScanError, match="series"):
        read(folder)


def test_folder_mixing_dicos_and_dicom_is_refused(tmp_path, ct_scan):
    folder = tmp_path / "bag"
    write_dicom_ct_series(ct_scan, folder)
    write_dicos_ct(ct_scan, folder / "extra.dcs")
    with pytest.raises(UnsupportedFormatError, match="mixes"):
        read(folder)


def test_too_many_slices_is_a_resource_error(tmp_path, ct_scan):
    folder = tmp_path / "series"
    write_dicom_ct_series(ct_scan, folder)
    with pytest.raises(ResourceLimitError, match="max_frames"):
        read(folder, ReadLimits(max_frames=4))
    with pytest.raises(ResourceLimitError, match="max_voxels"):
        read(folder, ReadLimits(max_voxels=16 * 16 * 7))


def test_series_written_as_mhu(tmp_path, ct_scan):
    folder = tmp_path / "s"
    write_dicom_ct_series(ct_scan, folder, hu=False)
    (scan,) = read(folder)
    assert scan.meta["rescale_unit"] == "MHU"
    np.testing.assert_array_equal(scan.array, ct_scan.array)
