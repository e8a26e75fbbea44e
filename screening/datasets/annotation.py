"""The record every dataset loader returns: one image with its ground-truth boxes and labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from screening.scan import Detection, Label

__all__ = ["Annotation"]


@dataclass(frozen=True, eq=False)
class Annotation:
    """Ground truth for one image of a public X-ray dataset, mapped onto our labels.

    ``source_labels`` lists every object the annotation file names, in file order, including the
    ones that are not our contraband (wrench, laptop...). ``boxes``/``labels`` hold the kept objects:
    the mapped ones, or all of them when the loader was called with ``keep_unmapped=True`` (then
    ``labels`` contains ``None`` for the unmapped ones). ``source_index[i]`` is the position of kept
    object ``i`` in ``source_labels``.

    Attributes:
        image_path: the image file (it exists unless the loader was called with ``check_images=False``).
        boxes: ``float32 [N, 4]`` ``(x0, y0, x1, y1)`` in pixels, 0-based, exclusive upper corner
            (the :class:`~screening.scan.Detection` convention), clipped to the image when its size is known.
        labels: our label of each kept box (``None`` only with ``keep_unmapped=True``).
        source_labels: class names of all objects as written in the dataset.
        source_index: ``int64 [N]``, index of each kept box in ``source_labels``.
        image_size: ``(width, height)`` in pixels, from the annotation or the image header; None if unknown.
        meta: ``format``, ``dataset``, ``annotation`` (the annotation file), ``clipped_boxes`` (how many
            boxes were clipped to the image) and format extras (VOC ``difficult``, COCO ``image_id``...).
    """

    image_path: Path
    boxes: np.ndarray
    labels: tuple[Label | None, ...]
    source_labels: tuple[str, ...]
    source_index: np.ndarray
    image_size: tuple[int, int] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.boxes.dtype != np.float32 or self.boxes.ndim != 2 or self.boxes.shape[1] != 4:
            raise ValueError(f"boxes must be float32 [N, 4]; got {self.boxes.dtype} {self.boxes.shape}")
        n = self.boxes.shape[0]
        if len(self.labels) != n or self.source_index.shape != (n,):
            raise ValueError(
                f"{n} boxes but {len(self.labels)} labels and source_index of shape {self.source_index.shape}"
            )
        if n and not 0 <= int(self.source_index.min()) <= int(self.source_index.max()) < len(
            self.source_labels
        ):
            raise ValueError(f"source_index out of range for {len(self.source_labels)} source labels")

    def detections(self, view: str = "") -> tuple[Detection, ...]:
        """The mapped boxes as score-1 :class:`Detection` objects (unmapped boxes are left out).

        Args:
            view: the X-ray view name to put on each detection.
        """
        return tuple(
            Detection(
                label=label, score=1.0, box=tuple(float(v) for v in box), view=view, detector="ground-truth"
            )
            for box, label in zip(self.boxes, self.labels, strict=True)
            if label is not None
        )
