"""Core types that flow through every stage: Scan, Step, Detection, Verdict and BagReport."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

__all__ = [
    "CONTRABAND",
    "REPORT_SCHEMA_VERSION",
    "BagReport",
    "Detection",
    "Label",
    "Modality",
    "Scan",
    "Step",
    "Verdict",
]

REPORT_SCHEMA_VERSION = "1.0"


class Modality(StrEnum):
    """Imaging modality of a scan (values are the DICOM/DICOS Modality codes)."""

    CT = "CT"
    XRAY = "DX"


class Label(StrEnum):
    """Detection labels. Fixed: reports, models and policies all key on these strings."""

    FIREARM = "firearm"
    AMMUNITION = "ammunition"
    BLADE = "blade"
    DRUGS = "drugs"
    CURRENCY = "currency"
    WILDLIFE = "wildlife"
    #: An impenetrable region large enough to hide a threat; leads to ``review``, not ``alarm``.
    SHIELD = "shield"


#: The contraband classes (everything but ``shield``), in model class-index order.
CONTRABAND: tuple[Label, ...] = (
    Label.FIREARM,
    Label.AMMUNITION,
    Label.BLADE,
    Label.DRUGS,
    Label.CURRENCY,
    Label.WILDLIFE,
)


class Verdict(StrEnum):
    """Bag-level decision. ``review`` is the fail-safe: never ``clear`` on error or timeout."""

    CLEAR = "clear"
    ALARM = "alarm"
    REVIEW = "review"


@dataclass(frozen=True)
class Step:
    """One applied processing step, recorded in :attr:`Scan.provenance`."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Scan:
    """One image of a bag, with its geometry, source metadata and processing history.

    Array contract (always ``float32``, channel first):

    * **CT** (:attr:`Modality.CT`): ``(C, Z, Y, X)``; values in MHU (modified Hounsfield units,
      air 0, water 1000). ``C`` is 1 (``channels=("mhu",)``) or 2 for dual energy
      (``("high", "low")``). ``spacing_mm`` is ``(z, y, x)``. Z runs along the belt.
    * **X-ray** (:attr:`Modality.XRAY`): ``(C, H, W)``, one view. ``spacing_mm`` is ``(y, x)``.
      Channel names say what the values are:

      - ``("high", "low")``: raw dual-energy transmission ``I/I0`` in ``[0, 1]`` (1 = air);
      - ``("grey",)``: single-energy transmission ``[0, 1]`` (bright = transmits);
      - ``("r", "g", "b")``: a scanner's pseudo-colour rendering, ``[0, 1]``.

    Attributes:
        array: pixel/voxel data as described above.
        modality: CT or X-ray.
        spacing_mm: pixel/voxel size in millimetres, one entry per spatial axis.
        channels: names of the channel axis entries.
        bag_id: identifier of the bag; all views/volumes of one bag share it.
        view: view name for X-ray (``"top"``, ``"side"``, ``"view0"``...); ``""`` for CT.
        source: file or stream this scan came from (used in messages and reports).
        meta: source tags (DICOM UIDs, scanner, declaration...); never mutated.
        provenance: steps applied since ingest, oldest first.
    """

    array: np.ndarray
    modality: Modality
    spacing_mm: tuple[float, ...]
    channels: tuple[str, ...]
    bag_id: str
    view: str = ""
    source: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    provenance: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        ndim = 4 if self.modality == Modality.CT else 3
        if self.array.ndim != ndim:
            raise ValueError(
                f"{self.modality} scan array must be {ndim}-D "
                f"({'(C, Z, Y, X)' if ndim == 4 else '(C, H, W)'}); got shape {self.array.shape}"
            )
        if self.array.shape[0] != len(self.channels):
            raise ValueError(
                f"array has {self.array.shape[0]} channels but channels={self.channels!r} names "
                f"{len(self.channels)}"
            )
        if len(self.spacing_mm) != ndim - 1:
            raise ValueError(f"spacing_mm needs {ndim - 1} entries; got {self.spacing_mm!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        """Spatial shape (without the channel axis)."""
        return tuple(self.array.shape[1:])

    def replace(self, step: Step | None = None, **changes: Any) -> Scan:
        """Return a copy with ``changes`` applied and ``step`` appended to the provenance."""
        if step is not None:
            changes["provenance"] = (*self.provenance, step)
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Detection:
    """One detected object.

    Attributes:
        label: what it is.
        score: confidence in ``[0, 1]``.
        box: pixel indices ``(x0, y0, x1, y1)`` for X-ray, voxel indices
            ``(x0, y0, z0, x1, y1, z1)`` for CT; exclusive upper corner, float.
        view: the X-ray view the box is in; ``""`` for CT.
        mass_g: estimated mass in grams, where known.
        note_count: estimated banknote count (currency only), where known.
        density_g_cm3: estimated density, where known.
        material: material name or class, where known.
        detector: name of the detector that produced it.
    """

    label: Label
    score: float
    box: tuple[float, ...]
    view: str = ""
    mass_g: float | None = None
    note_count: int | None = None
    density_g_cm3: float | None = None
    material: str | None = None
    detector: str = ""

    def __post_init__(self) -> None:
        if len(self.box) not in (4, 6):
            raise ValueError(f"box needs 4 (2-D) or 6 (3-D) numbers; got {self.box!r}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be in [0, 1]; got {self.score}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see the report schema in README.md)."""
        d: dict[str, Any] = {
            "label": str(self.label),
            "score": round(float(self.score), 4),
            "box": [round(float(v), 2) for v in self.box],
            "view": self.view,
        }
        for key in ("mass_g", "note_count", "density_g_cm3", "material"):
            value = getattr(self, key)
            if value is not None:
                d[key] = round(value, 3) if isinstance(value, float) else value
        if self.detector:
            d["detector"] = self.detector
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Detection:
        """Inverse of :meth:`to_dict`."""
        return cls(
            label=Label(d["label"]),
            score=float(d["score"]),
            box=tuple(float(v) for v in d["box"]),
            view=d.get("view", ""),
            mass_g=d.get("mass_g"),
            note_count=d.get("note_count"),
            density_g_cm3=d.get("density_g_cm3"),
            material=d.get("material"),
            detector=d.get("detector", ""),
        )


@dataclass(frozen=True)
class BagReport:
    """Everything decided about one bag. Serialised as the versioned JSON bag report.

    Attributes:
        bag_id: identifier of the bag.
        sources: files/streams the bag's scans came from.
        modality: ``"CT"``, ``"DX"`` or ``""`` when nothing could be read.
        verdict: clear / alarm / review.
        reasons: human-readable reasons for the verdict (e.g. ``"firearm 0.97"``, ``"deadline"``,
            ``"unreadable: <file>: truncated"``).
        detections: everything found, including sub-threshold annotations.
        timings_s: seconds spent per stage (``ingest``, ``detect``, ``decide``, ``report``, ``total``).
        deadline_s: the verdict budget this bag was screened under.
        model_versions: detector name -> version (with sha256 prefix for model files).
        created_utc: ISO-8601 time the report was made.
        extra: free-form additions (declaration, scanner...); JSON-serialisable.
    """

    bag_id: str
    sources: tuple[str, ...]
    modality: str
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    detections: tuple[Detection, ...] = ()
    timings_s: Mapping[str, float] = field(default_factory=dict)
    deadline_s: float = 10.0
    model_versions: Mapping[str, str] = field(default_factory=dict)
    created_utc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    schema_version: str = REPORT_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the schema is documented in README.md."""
        return {
            "schema_version": self.schema_version,
            "bag_id": self.bag_id,
            "sources": list(self.sources),
            "modality": self.modality,
            "verdict": str(self.verdict),
            "reasons": list(self.reasons),
            "detections": [d.to_dict() for d in self.detections],
            "timings_s": {k: round(float(v), 4) for k, v in self.timings_s.items()},
            "deadline_s": self.deadline_s,
            "model_versions": dict(self.model_versions),
            "created_utc": self.created_utc,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BagReport:
        """Inverse of :meth:`to_dict`."""
        return cls(
            bag_id=d["bag_id"],
            sources=tuple(d.get("sources", ())),
            modality=d.get("modality", ""),
            verdict=Verdict(d["verdict"]),
            reasons=tuple(d.get("reasons", ())),
            detections=tuple(Detection.from_dict(x) for x in d.get("detections", ())),
            timings_s=dict(d.get("timings_s", {})),
            deadline_s=float(d.get("deadline_s", 10.0)),
            model_versions=dict(d.get("model_versions", {})),
            created_utc=d.get("created_utc", ""),
            extra=dict(d.get("extra", {})),
            schema_version=d.get("schema_version", REPORT_SCHEMA_VERSION),
        )
