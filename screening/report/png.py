"""Fast lossless PNG encoding of 8-bit RGB images (libpng via imagecodecs, one row filter, fast deflate)."""

from __future__ import annotations

import numpy as np

__all__ = ["encode_png"]


def encode_png(rgb: np.ndarray) -> bytes:
    """Encode an RGB image as PNG (8 bits per channel, lossless).

    Pillow's PNG writer tries all five row filters on every row and exposes no filter choice; on a
    ~1500 x 800 bag picture that cost ~2-3x more CPU than libpng with the single "Up" filter and deflate
    level 1 (imagecodecs), for files within ~10 % of the size. Any PNG reader decodes the result to
    exactly ``rgb``.

    Args:
        rgb: ``(H, W, 3)`` ``uint8`` image, ``H, W >= 1``.

    Returns:
        The PNG file content.

    Raises:
        ValueError: ``rgb`` is not a non-empty ``(H, W, 3)`` uint8 array.
    """
    import imagecodecs

    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            "encode_png needs an (H, W, 3) uint8 image with H, W >= 1; "
            f"got shape {arr.shape} dtype {arr.dtype}"
        )
    return bytes(imagecodecs.png_encode(np.ascontiguousarray(arr), level=1, filter=imagecodecs.PNG.FILTER.UP))
