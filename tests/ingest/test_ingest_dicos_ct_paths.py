"""DICOS CT decode shortcuts: per-frame rescale still per frame, in-order frames stay a view."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from screening.errors import UnsupportedFormatError
from screening.ingest import detect_format, read
from screening.ingest.write import write_dicos_ct


def test_per_frame_rescale_overrides_the_shared_one_frame_by_frame(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")
    shared = pydicom.dcmread(src).SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    slope, intercept = float(shared.RescaleSlope), float(shared.RescaleIntercept)

    def double_frame_3(ds):
        item = Dataset()
        item.RescaleSlope = str(2 * slope)
        item.RescaleIntercept = str(intercept)
        item.RescaleType = "MHU"
        ds.PerFrameFunctionalGroupsSequence[3].PixelValueTransformationSequence = [item]

    (scan,) = read(edit_dicom(src, tmp_path / "pf.dcs", double_frame_3))
    expected = ct_scan.array.copy()
    expected[0, 3] = (ct_scan.array[0, 3] - intercept) * 2 + intercept
    np.testing.assert_allclose(scan.array, expected, atol=1e-3)


def test_in_order_frames_are_returned_without_a_copy(tmp_path, ct_scan):
    (scan,) = read(write_dicos_ct(ct_scan, tmp_path / "a.dcs"))
    np.testing.assert_array_equal(scan.array, ct_scan.array)
    assert scan.array.base is not None  # a view of the decoded stack, not a second volume


def test_cheap_classification_still_refuses_other_objects(tmp_path, ct_scan, edit_dicom):
    src = write_dicos_ct(ct_scan, tmp_path / "a.dcs")
    assert detect_format(src) == "dicos-ct"

    def other_sop(ds):
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"  # MR Image Storage

    with pytest.raises(UnsupportedFormatError, match=r"MR Image Storage.*expected DICOS CT"):
        read(edit_dicom(src, tmp_path / "mr.dcs", other_sop))
