"""Fast PNG encoder: lossless round trip through Pillow with each deflate backend, and its error paths."""

from __future__ import annotations

import importlib.util
import io
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from screening.errors import BackendUnavailableError
from screening.report.png import deflate_backend, encode_png

HAVE_ISAL = importlib.util.find_spec("isal") is not None
NEEDS_ISAL = pytest.mark.skipif(not HAVE_ISAL, reason="isal not installed")
BACKENDS = ["zlib", pytest.param("isal", marks=NEEDS_ISAL)]


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        img.verify()  # chunk CRCs and structure
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        return np.asarray(img)


def _picture(seed: int, h: int, w: int) -> np.ndarray:
    """Noise, flat areas and hard edges: every byte value, wrap-around in the Up filter."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    img[: h // 3] = 255
    img[h // 3 : h // 2, : w // 2] = (40, 40, 40)
    img[-1, -1] = (0, 255, 7)
    return img


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (37, 53)])
def test_round_trip_is_lossless(backend: str, shape: tuple[int, int]) -> None:
    img = _picture(sum(shape), *shape)
    data = encode_png(img, backend=backend)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(_decode(data), img)


def test_non_contiguous_input_and_same_pixels_as_pillow() -> None:
    img = _picture(3, 40, 60)[:, ::2]  # a strided view
    reference = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(reference, format="PNG")
    np.testing.assert_array_equal(_decode(encode_png(img)), _decode(reference.getvalue()))


def test_idat_is_a_zlib_stream_of_up_filtered_rows() -> None:
    img = _picture(4, 5, 4)
    data = encode_png(img, backend="zlib")
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    rows = np.frombuffer(zlib.decompress(data[start : start + length]), np.uint8).reshape(5, 1 + 4 * 3)
    assert np.all(rows[:, 0] == 2)  # filter type Up on every row
    flat = img.reshape(5, 12)
    np.testing.assert_array_equal(rows[0, 1:], flat[0])
    np.testing.assert_array_equal(rows[1:, 1:], (flat[1:].astype(int) - flat[:-1]) % 256)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((4, 0, 3), np.uint8),
    ],
)
def test_rejects_what_is_not_an_rgb8_image(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        encode_png(bad)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="'auto' or one of"):
        encode_png(np.zeros((2, 2, 3), np.uint8), backend="libpng")


def test_without_isal_auto_uses_zlib_and_isal_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal now raises ImportError
    assert deflate_backend("auto")[0] == "zlib"
    img = _picture(5, 8, 8)
    np.testing.assert_array_equal(_decode(encode_png(img)), img)
    with pytest.raises(BackendUnavailableError, match="pip install isal"):
        encode_png(img, backend="isal")


@NEEDS_ISAL
def test_auto_prefers_isal() -> None:
    assert deflate_backend()[0] == "isal"
