"""The Detector protocol: the one interface every detection backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from screening.scan import Detection, Modality, Scan


@runtime_checkable
class Detector(Protocol):
    """Finds contraband in one scan.

    Contract:
        * ``modalities`` lists the modalities it accepts; the pipeline only calls it with those.
        * ``__call__(scan)`` returns detections in the scan's own index space: X-ray boxes
          ``(x0, y0, x1, y1)`` in pixels with ``view=scan.view``; CT boxes ``(x0, y0, z0, x1, y1, z1)``
          in voxels. It returns *all* candidates with their scores; thresholds are the policy's job.
        * It raises on failure (it is never asked to swallow errors); the decision stage turns any
          exception into a ``review`` verdict.
        * ``name`` and ``version`` go into every report (``version`` should include a model hash).
    """

    name: str
    version: str
    modalities: tuple[Modality, ...]

    def __call__(self, scan: Scan) -> list[Detection]: ...
