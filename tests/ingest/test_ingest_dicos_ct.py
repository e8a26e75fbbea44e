"""DICOS CT: writer round trips (plain, RLE, dual energy), frame sorting, rescale units, pairs."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from screening.errors import InvalidScanError
from screening.ingest import detect_format, read
from screening.ingest.write import quantise_uint16, write_dicos_ct
from screening.scan import Modality


@pytest.mark.parametrize("compressed", [False, True])
def test_round_trip_exact_for_integer_mhu(tmp_path, ct_scan, compressed):
    path = write_dicos_ct(ct_scan, tmp_path / "bag.dcs", compressed=compressed)
    assert detect_format(path) == "dicos-ct"
    (scan,) = read(path)
    assert scan.modality == Modality.CT
    assert scan.channels == ("mhu",)
    assert scan.array.dtype == np.float32
    assert scan.array.shape == (1, 8, 16, 16)
    assert scan.spacing_mm == pytest.approx((2.0, 0.75, 0.5))
    np.testing.assert_array_equal(scan.array, ct_scan.array)
    assert scan.bag_id == "bag-ct"
    assert scan.source == str(path)
    ts = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert ts == ("1.2.840.10008.1.2.5" if compressed else "1.2.840.10008.1.2.1")


def test_meta_carries_uids_for_the_tdr_writer(tmp_path, ct_scan):
    path = write_dicos_ct(ct_scan, tmp_path / "bag.dcs")
    (scan,) = read(path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    for key in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert scan.meta[key] == str(ds[key].value)
    assert scan.meta["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.501.1"
    assert scan.meta["format"] == "dicos-ct"
    assert scan.meta["Modality"] == "CT"
    assert scan.meta["ImageType"][1] == "MU"
    assert scan.meta["KVP"] == pytest.approx(140.0)
    assert "spacing_assumed" not in scan.meta


def test_real_valued_mhu_round_trips_within_rescale_precision(tmp_path, de_ct_scan):
    path = write_dicos_ct(de_ct_scan, tmp_path / "de.dcs")
    (scan,) = read(path)
    assert scan.channels == ("high", "low")
    assert scan.array.shape == (2, 8, 16, 16)
    assert scan.spacing_mm == pytest.approx((1.5, 0.8, 0.8))
    slope = float(
        pydicom.dcmread(path)
        .SharedFunctionalGroupsSequence[0]
        .PixelValueTransformationSequence[0]
        .RescaleSlope
    )
    assert slope < 0.1
    assert np.abs(scan.array - de_ct_scan.array).max() <= slope / 2 + 1e-3
    assert scan.meta["channel_sop_instance_uids"]["high"] == scan.meta["SOPInstanceUID"]


def test_two_file_energy_pair_in_a_folder(tmp_path, de_ct_scan):
    folder = tmp_path / "bag-7"
    folder.mkdir()
    high = de_ct_scan.replace(array=de_ct_scan.array[:1], channels=("high",))
    low = de_ct_scan.replace(array=de_ct_scan.array[1:], channels=("low",))
    # Names that sort low first: the pair must be assembled from ImageType, not from names/order.
    write_dicos_ct(low, folder / "a.dcs")
    write_dicos_ct(high, folder / "b.dcs")
    assert detect_format(folder) == "dicos-ct-pair"
    (scan,) = read(folder)
    assert scan.channels == ("high", "low")
    np.testing.assert_allclose(scan.array, de_ct_scan.array, atol=0.05)
    assert scan.meta["channel_sources"] == {"high": str(folder / "b.dcs"), "low": str(folder / "a.dcs")}
    assert scan.source == str(folder)


def test_pair_with_mismatched_grids_is_refused(tmp_path, de_ct_scan, ct_scan):
    folder = tmp_path / "bag"
    folder.mkdir()
    write_dicos_ct(de_ct_scan.replace(array=de_ct_scan.array[:1], channels=("high",)), folder / "h.dcs")
    small = ct_scan.replace(array=ct_scan.array[:, :4], channels=("low",))
    write_dicos_ct(small, folder / "l.dcs")
    with pytest.raises(InvalidScanError, match="share one grid") as err:
        read(folder)
    assert err.value.source == str(folder)


def test_two_single_energy_objects_are_not_a_pair(tmp_path, ct_scan):
    folder = tmp_path / "bag"
    folder.mkdir()
    write_dicos_ct(ct_scan, folder / "a.dcs")
    write_dicos_ct(ct_scan, folder / "b.dcs")
    with pytest.raises(InvalidScanError, match="HIGH/LOW ENERGY"):
        read(folder)


def test_frames_are_sorted_along_the_normal(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")

    def reverse_positions(ds):
        n = len(ds.PerFrameFunctionalGroupsSequence)
        for k, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
            item.PlanePositionSequence[0].ImagePositionPatient = [0, 0, 2.0 * (n - 1 - k)]

    path = edit_dicom(src, tmp_path / "rev.dcs", reverse_positions)
    (scan,) = read(path)
    np.testing.assert_array_equal(scan.array[0], ct_scan.array[0, ::-1])
    assert scan.spacing_mm[0] == pytest.approx(2.0)


def test_rescale_applied_and_hu_converted_to_mhu(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")

    def as_hu(ds):
        pvt = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
        pvt.RescaleSlope = "2"
        pvt.RescaleIntercept = "-1000"
        pvt.RescaleType = "HU"

    (scan,) = read(edit_dicom(src, tmp_path / "hu.dcs", as_hu))
    np.testing.assert_allclose(scan.array, ct_scan.array * 2 - 1000 + 1000)


def test_unknown_rescale_unit_is_refused(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")

    def other_unit(ds):
        ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0].RescaleType = "US"

    path = edit_dicom(src, tmp_path / "us.dcs", other_unit)
    with pytest.raises(InvalidScanError, match="RescaleType='US'") as err:
        read(path)
    assert str(path) in str(err.value)


def test_duplicate_positions_are_refused(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")

    def flatten(ds):
        for item in ds.PerFrameFunctionalGroupsSequence:
            item.PlanePositionSequence[0].ImagePositionPatient = [0, 0, 0]

    with pytest.raises(InvalidScanError, match="share the same ImagePositionPatient"):
        read(edit_dicom(src, tmp_path / "dup.dcs", flatten))


def test_bag_id_falls_back_to_file_stem(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")

    def no_id(ds):
        ds.PatientID = "unknown"

    (scan,) = read(edit_dicom(src, tmp_path / "BAG-0042.dcs", no_id))
    assert scan.bag_id == "BAG-0042"


def test_missing_spacing_uses_documented_default(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")

    def strip(ds):
        del ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence
        del ds.PerFrameFunctionalGroupsSequence

    (scan,) = read(edit_dicom(src, tmp_path / "nospace.dcs", strip))
    assert scan.spacing_mm == (1.0, 1.0, 1.0)
    assert scan.meta["spacing_assumed"] is True


def test_quantise_uint16_bounds():
    stored, slope, intercept = quantise_uint16(np.array([-1000.0, 0.0, 3000.0]))
    assert (slope, intercept) == (1.0, -1000.0)
    np.testing.assert_array_equal(stored * slope + intercept, [-1000, 0, 3000])
    values = np.linspace(-5.5, 70000.25, 101)
    stored, slope, intercept = quantise_uint16(values)
    assert stored.dtype == np.uint16
    assert np.abs(stored * slope + intercept - values).max() <= slope / 2 + 1e-9
    with pytest.raises(ValueError, match="NaN"):
        quantise_uint16(np.array([np.nan]))


def test_writer_rejects_non_ct_and_bad_channels(tmp_path, ct_scan, de_views):
    with pytest.raises(ValueError, match="CT"):
        write_dicos_ct(de_views[0], tmp_path / "x.dcs")
    with pytest.raises(ValueError, match="channels"):
        write_dicos_ct(ct_scan.replace(channels=("zeff",)), tmp_path / "x.dcs")
