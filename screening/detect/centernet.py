"""CenterNet output decoding (numpy) and target encoding, shared by the ONNX runtime and training."""

from __future__ import annotations

import numpy as np

__all__ = ["decode_maps", "draw_gaussian", "encode_targets", "gaussian_radius"]


def decode_maps(
    maps: np.ndarray, num_classes: int, stride: int, *, top_k: int = 50, min_score: float = 0.02
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn one image's output maps into boxes.

    Args:
        maps: ``float32 (C + 4, h, w)``: heatmaps, log width/height (cells), offset (cells).
        num_classes: ``C``.
        stride: model pixels per output cell.
        top_k: keep at most this many peaks.
        min_score: drop peaks below this heatmap value.

    Returns:
        ``boxes float32 (N, 4)`` xyxy in model pixels, ``labels int64 (N,)`` class indices,
        ``scores float32 (N,)``, sorted by decreasing score.
    """
    from scipy.ndimage import maximum_filter

    hm = maps[:num_classes]
    peaks = (hm == maximum_filter(hm, size=(1, 3, 3), mode="constant", cval=0.0)) & (hm >= min_score)
    cls, ys, xs = np.nonzero(peaks)
    scores = hm[cls, ys, xs]
    order = np.argsort(-scores, kind="stable")[:top_k]
    cls, ys, xs, scores = cls[order], ys[order], xs[order], scores[order]
    lw, lh, ox, oy = (maps[num_classes + i, ys, xs] for i in range(4))
    w = np.exp(np.clip(lw, -4.0, 6.0)) * stride
    h = np.exp(np.clip(lh, -4.0, 6.0)) * stride
    cx = (xs + ox) * stride
    cy = (ys + oy) * stride
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes.reshape(-1, 4), cls.astype(np.int64), scores.astype(np.float32)


def gaussian_radius(h: float, w: float, min_overlap: float = 0.7) -> float:
    """CenterNet's Gaussian radius (in cells) for a box of ``h`` x ``w`` cells."""
    a1, b1 = 1.0, h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4.0, 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + np.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return float(max(0.0, min(r1, r2, r3)))


def draw_gaussian(heat: np.ndarray, cx: int, cy: int, radius: float) -> None:
    """Splat a Gaussian peak (value 1 at ``(cx, cy)``) into ``heat`` (``(h, w)``) with element-wise max."""
    r = max(0, int(radius))
    sigma = (2 * r + 1) / 6.0
    yy, xx = np.ogrid[-r : r + 1, -r : r + 1]
    g = np.exp(-(xx * xx + yy * yy) / (2 * sigma * sigma))
    h, w = heat.shape
    x0, x1 = max(0, cx - r), min(w, cx + r + 1)
    y0, y1 = max(0, cy - r), min(h, cy + r + 1)
    if x0 >= x1 or y0 >= y1:
        return
    sub = g[y0 - (cy - r) : y1 - (cy - r), x0 - (cx - r) : x1 - (cx - r)]
    np.maximum(heat[y0:y1, x0:x1], sub, out=heat[y0:y1, x0:x1])


def encode_targets(
    boxes: np.ndarray, labels: np.ndarray, num_classes: int, out_hw: tuple[int, int], stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training targets for one image.

    Args:
        boxes: ``(N, 4)`` xyxy in model pixels.
        labels: ``(N,)`` class indices.
        num_classes: ``C``.
        out_hw: output map size ``(h, w)``.
        stride: model pixels per cell.

    Returns:
        ``heat float32 (C, h, w)``; ``reg float32 (4, h, w)`` (log w, log h, off x, off y at centres);
        ``mask float32 (h, w)`` (1 at object centres).
    """
    h, w = out_hw
    heat = np.zeros((num_classes, h, w), dtype=np.float32)
    reg = np.zeros((4, h, w), dtype=np.float32)
    mask = np.zeros((h, w), dtype=np.float32)
    for box, lab in zip(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), labels, strict=True):
        bw, bh = (box[2] - box[0]) / stride, (box[3] - box[1]) / stride
        if bw <= 0.25 or bh <= 0.25:
            continue
        cx, cy = (box[0] + box[2]) / 2 / stride, (box[1] + box[3]) / 2 / stride
        ix, iy = int(np.clip(cx, 0, w - 1)), int(np.clip(cy, 0, h - 1))
        draw_gaussian(heat[int(lab)], ix, iy, gaussian_radius(bh, bw))
        reg[:, iy, ix] = (np.log(bw), np.log(bh), cx - ix, cy - iy)
        mask[iy, ix] = 1.0
    return heat, reg, mask
