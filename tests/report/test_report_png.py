"""PNG encoder for annotated bag pictures: lossless round trip through Pillow, Up-filtered rows, bad input."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from screening.report.png import encode_png


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


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (37, 53)])
def test_round_trip_is_lossless(shape: tuple[int, int]) -> None:
    img = _picture(sum(shape), *shape)
    data = encode_png(img)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(_decode(data), img)


def test_non_contiguous_input_and_same_pixels_as_pillow() -> None:
    img = _picture(3, 40, 60)[:, ::2]  # a strided view
    reference = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(reference, format="PNG")
    np.testing.assert_array_equal(_decode(encode_png(img)), _decode(reference.getvalue()))


def test_rows_are_up_filtered() -> None:
    img = _picture(4, 5, 4)
    data = encode_png(img)
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    rows = np.frombuffer(zlib.decompress(data[start : start + length]), np.uint8).reshape(5, 1 + 4 * 3)
    assert np.all(rows[1:, 0] == 2)  # filter type Up (libpng may pick None for the first row)


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
