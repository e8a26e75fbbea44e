"""Bad input: each case gives one clear ScreeningError naming the file, never a raw traceback."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest
import tifffile
from PIL import Image

from screening.errors import InvalidScanError, ResourceLimitError, ScreeningError, UnsupportedFormatError
from screening.ingest import ReadLimits, detect_format, read
from screening.ingest.write import write_dicos_ct, write_dicos_dx


@pytest.fixture
def good_ct(tmp_path, ct_scan):
    return write_dicos_ct(ct_scan, tmp_path / "good.dcs")


def _expect(path, cls, pattern):
    with pytest.raises(cls, match=pattern) as err:
        read(path)
    assert err.value.source == str(path)
    assert str(path) in str(err.value)
    assert err.value.__cause__ is None or isinstance(err.value.__cause__, ScreeningError)
    return err.value


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.97])
def test_truncated_dicos(tmp_path, good_ct, keep):
    data = good_ct.read_bytes()
    path = tmp_path / "trunc.dcs"
    path.write_bytes(data[: int(len(data) * keep)])
    _expect(path, InvalidScanError, "truncated|corrupt|no pixel data")


def test_truncated_jpeg_lossless(tmp_path, pydicos_ct):
    src = pydicos_ct(tmp_path / "j.dcs", np.arange(4 * 8 * 8, dtype=np.uint16).reshape(4, 8, 8) * 50)
    data = src.read_bytes()
    path = tmp_path / "jt.dcs"
    path.write_bytes(data[: len(data) - 200])
    _expect(path, InvalidScanError, "decode|truncated|corrupt")


def test_wrong_sop_class(tmp_path, good_ct, edit_dicom):
    def mr(ds):
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"

    path = edit_dicom(good_ct, tmp_path / "mr.dcs", mr)
    err = _expect(path, UnsupportedFormatError, "SOP Class UID 1.2.840.10008.5.1.4.1.1.4")
    assert "MR Image Storage" in err.message
    with pytest.raises(UnsupportedFormatError):
        detect_format(path)


def test_missing_pixel_data(tmp_path, good_ct, edit_dicom):
    def strip(ds):
        del ds.PixelData

    _expect(edit_dicom(good_ct, tmp_path / "nopix.dcs", strip), InvalidScanError, "no pixel data")


@pytest.mark.parametrize(
    ("tag", "value", "word"), [("Rows", 17, "truncated"), ("NumberOfFrames", 4, "inconsistent")]
)
def test_inconsistent_dimensions(tmp_path, good_ct, edit_dicom, tag, value, word):
    def change(ds):
        setattr(ds, tag, value)

    err = _expect(edit_dicom(good_ct, tmp_path / "dims.dcs", change), InvalidScanError, word)
    assert "Rows*Columns*NumberOfFrames" in err.message


def test_missing_rows_tag(tmp_path, good_ct, edit_dicom):
    def strip(ds):
        del ds.Rows

    _expect(edit_dicom(good_ct, tmp_path / "norows.dcs", strip), InvalidScanError, "Rows")


def test_nan_in_float_pixel_data(tmp_path, good_ct, edit_dicom):
    def to_float(ds):
        values = np.frombuffer(ds.PixelData, "<u2").astype("<f4")
        values[5] = np.nan
        del ds.PixelData
        ds.FloatPixelData = values.tobytes()
        ds.BitsAllocated = 32
        for k in ("BitsStored", "HighBit", "PixelRepresentation"):
            delattr(ds, k)

    _expect(edit_dicom(good_ct, tmp_path / "nan.dcs", to_float), InvalidScanError, "NaN/inf")


def test_inf_after_rescale(tmp_path, good_ct, edit_dicom):
    def huge(ds):
        ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0].RescaleSlope = "1e38"

    _expect(edit_dicom(good_ct, tmp_path / "inf.dcs", huge), InvalidScanError, "NaN/inf after applying")


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
def test_nan_rescale_tag(tmp_path, good_ct, edit_dicom):
    def nan(ds):
        ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0].RescaleIntercept = "nan"

    _expect(edit_dicom(good_ct, tmp_path / "nanr.dcs", nan), InvalidScanError, "NaN/inf")


def test_nan_in_float_tiff(tmp_path):
    arr = np.full((4, 4), 0.5, np.float32)
    arr[1, 1] = np.inf
    tifffile.imwrite(tmp_path / "n.tif", arr)
    _expect(tmp_path / "n.tif", InvalidScanError, "NaN/inf")


def test_absurd_dimensions_refused_before_allocating(tmp_path, good_ct, edit_dicom):
    def absurd(ds):
        ds.Rows = 65535
        ds.Columns = 65535
        ds.NumberOfFrames = 65535

    path = edit_dicom(good_ct, tmp_path / "absurd.dcs", absurd)
    tracemalloc.start()
    try:
        err = _expect(path, ResourceLimitError, "Rows=65535")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024**2  # nothing near the 65535**3 * 2 bytes the header asks for
    assert "max_dimension" in err.message


def test_custom_limits_name_the_tag(tmp_path, good_ct):
    with pytest.raises(ResourceLimitError, match="NumberOfFrames=8") as err:
        read(good_ct, ReadLimits(max_frames=4))
    assert err.value.source == str(good_ct)
    with pytest.raises(ResourceLimitError, match="max_file_bytes"):
        read(good_ct, ReadLimits(max_file_bytes=1000))
    with pytest.raises(ResourceLimitError, match="max_voxels"):
        read(good_ct, ReadLimits(max_voxels=1000))


def test_huge_png_header_refused(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(path)
    with pytest.raises(ResourceLimitError, match="height\\*width"):
        read(path, ReadLimits(max_pixels=1_000_000))


def test_read_limits_validate_themselves():
    with pytest.raises(ValueError, match="max_voxels"):
        ReadLimits(max_voxels=0)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dcs"
    path.write_bytes(b"")
    _expect(path, InvalidScanError, "empty")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.dcs"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _expect(path, UnsupportedFormatError, "unrecognised content")


def test_dicm_preamble_then_garbage(tmp_path):
    path = tmp_path / "fake.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + os.urandom(64))
    with pytest.raises((InvalidScanError, UnsupportedFormatError)) as err:
        read(path)
    assert err.value.source == str(path)


def test_truncated_png(tmp_path, rng):
    path = tmp_path / "t.png"
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    _expect(path, InvalidScanError, "truncated|corrupt")


def test_truncated_tiff(tmp_path, rng):
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, rng.integers(0, 65535, (64, 64)).astype(np.uint16))
    path.write_bytes(path.read_bytes()[:100])
    _expect(path, InvalidScanError, "truncated|corrupt")


def test_folder_with_nothing_readable(tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.txt").write_text("hello")
    (folder / "b.bin").write_bytes(b"")
    err = _expect(folder, UnsupportedFormatError, "nothing readable")
    assert "a.txt" in err.message


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "e").mkdir()
    _expect(tmp_path / "e", UnsupportedFormatError, "nothing readable")
    _expect(tmp_path / "nope.dcs", InvalidScanError, "no such file")


def test_folder_mixing_dicom_and_images(tmp_path, good_ct, rng):
    folder = tmp_path / "mix"
    folder.mkdir()
    good_ct.rename(folder / "ct.dcs")
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / "a.png")
    _expect(folder, UnsupportedFormatError, "mixes DICOM")


def test_broken_dx_frame_count(tmp_path, de_views, edit_dicom):
    folder = write_dicos_dx(de_views, tmp_path / "bag")

    def wrong(ds):
        ds.NumberOfFrames = 3

    path = edit_dicom(folder / "00_top_high.dcs", tmp_path / "dx.dcs", wrong)
    _expect(path, InvalidScanError, "truncated: .* 1440 bytes expected, 480 bytes present")


def test_one_broken_input_does_not_affect_the_others(tmp_path, ct_scan, de_views, rng):
    """A batch: every good input reads identically whether or not a broken one sits between them."""
    good = [write_dicos_ct(ct_scan, tmp_path / "a.dcs"), write_dicos_dx(de_views, tmp_path / "dx")]
    png = tmp_path / "c.png"
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(png)
    good.append(png)
    broken = tmp_path / "broken.dcs"
    broken.write_bytes(good[0].read_bytes()[:300])
    alone = [read(p) for p in good]
    results = []
    for p in [good[0], broken, good[1], broken, good[2]]:
        try:
            results.append(read(p))
        except ScreeningError as exc:
            results.append(exc)
    assert isinstance(results[1], InvalidScanError) and isinstance(results[3], InvalidScanError)
    for before, after in zip(alone, [results[0], results[2], results[4]], strict=True):
        assert len(before) == len(after)
        for x, y in zip(before, after, strict=True):
            np.testing.assert_array_equal(x.array, y.array)


def test_pixel_decoding_failure_is_wrapped(tmp_path, ct_scan, edit_dicom):
    """Corrupt RLE segments: the decoder's own exception never escapes."""
    src = write_dicos_ct(ct_scan, tmp_path / "rle.dcs", compressed=True)

    def corrupt(d):
        data = bytearray(d.PixelData)
        data[40:80] = b"\xff" * 40
        d.PixelData = bytes(data)

    path = edit_dicom(src, tmp_path / "bad_rle.dcs", corrupt)
    err = _expect(path, InvalidScanError, "cannot decode the pixel data")
    assert "RLE Lossless" in err.message
