"""Training data: simulated bags (on the fly or from a folder) turned into X-ray view samples and CT bags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screening.detect.xray_input import letterbox
from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.scan import CONTRABAND, Label, Scan

__all__ = [
    "CLASS_NAMES",
    "FailureGuard",
    "GtObject",
    "SimBag",
    "XraySample",
    "bag_devices",
    "bag_objects",
    "load_bags",
    "named_devices",
    "sim_bags",
    "sim_bags_parallel",
    "xray_samples",
]

#: Model output classes, in order (``screening.scan.CONTRABAND``).
CLASS_NAMES: tuple[str, ...] = tuple(str(c) for c in CONTRABAND)


@dataclass(frozen=True)
class GtObject:
    """Ground truth of one contraband object (the simulator's ``GroundTruth``, reduced to what we score).

    Attributes:
        label: contraband class.
        boxes_2d: view -> ``(x0, y0, x1, y1)`` pixels.
        box_3d: ``(x0, y0, z0, x1, y1, z1)`` voxels, or ``None``.
        concealment: how it is hidden (``"none"``, ``"in_shoe"``...).
        mass_g: true mass, where known.
        note_count: true banknote count (currency), where known.
        name: object name (``"pistol"``...).
        index: the object's value in the bag's CT label volume (``SimBag.ct_labels``); 0 if unknown.
    """

    label: Label
    boxes_2d: dict[str, tuple[float, float, float, float]]
    box_3d: tuple[float, ...] | None
    concealment: str = "none"
    mass_g: float | None = None
    note_count: int | None = None
    name: str = ""
    index: int = 0


@dataclass(frozen=True)
class SimBag:
    """One simulated bag reduced to scans + contraband ground truth.

    Attributes:
        seed: simulator seed (bags are reproducible from it).
        xray: X-ray views.
        ct: CT volume, or ``None``.
        objects: contraband objects only.
        ct_labels: ``int16 (Z, Y, X)`` object-index volume aligned with ``ct`` (``GtObject.index``; 0 for
            air, bag parts and benign items), or ``None`` where the bag did not come with one.
    """

    seed: int
    xray: tuple[Scan, ...]
    ct: Scan | None
    objects: tuple[GtObject, ...]
    ct_labels: np.ndarray | None = None


def bag_objects(raw_objects: Iterable[Any]) -> tuple[GtObject, ...]:
    """Contraband ground truth from the simulator's ``bag.objects`` (benign items and ``shield`` dropped)."""
    out = []
    for o in raw_objects:
        label = getattr(o, "label", None)
        if label is None or str(label) not in CLASS_NAMES:
            continue
        b3 = getattr(o, "box_3d", None)
        out.append(
            GtObject(
                label=Label(str(label)),
                boxes_2d={str(k): tuple(float(x) for x in v) for k, v in (o.boxes_2d or {}).items()},
                box_3d=tuple(float(x) for x in b3) if b3 is not None else None,
                concealment=str(getattr(o, "concealment", "none") or "none"),
                mass_g=getattr(o, "mass_g", None),
                note_count=getattr(o, "note_count", None),
                name=str(getattr(o, "name", "")),
                index=int(getattr(o, "index", 0) or 0),
            )
        )
    return tuple(out)


GenerateFn = Callable[..., Any]

#: Seeds the simulator may fail on, before any succeeds, before a run stops (a broken install, not a bag).
FIRST_FAILURES_LIMIT = 5


class FailureGuard:
    """Stops a run whose first bags all fail: that is a broken simulator, and training on nothing is worse.

    Single bad seeds later on are skipped with a warning (one bag must not stop a long run).
    """

    def __init__(self, limit: int = FIRST_FAILURES_LIMIT) -> None:
        self.limit = limit
        self.ok = 0
        self.failed = 0

    def success(self) -> None:
        self.ok += 1

    def failure(self, what: str) -> None:
        """Record one failed seed; raise once ``limit`` seeds failed and none succeeded."""
        from screening.errors import ScreeningError

        self.failed += 1
        if self.ok == 0 and self.failed >= self.limit:
            raise ScreeningError(f"the simulator failed on the first {self.failed} seeds (last: {what})")


def sim_bags(
    seeds: Iterable[int], modality: str, generate: GenerateFn | None = None, config: Any = None
) -> Iterator[SimBag]:
    """Generate bags with the simulator (``screening.sim.generate_bag``).

    Args:
        seeds: one bag per seed.
        modality: ``"xray"``, ``"ct"`` or ``"both"``.
        generate: ``generate_bag``-compatible callable (tests pass a tiny fake); default the simulator.
        config: ``SimConfig`` (default: the simulator's defaults).

    Yields:
        :class:`SimBag` per seed. A seed that makes the simulator raise is skipped with a warning.
    """
    import warnings

    if generate is None:
        from screening.sim.config import SimConfig
        from screening.sim.generate import generate_bag

        generate = generate_bag
        config = config if config is not None else SimConfig()
    guard = FailureGuard()
    for seed in seeds:
        try:
            bag = generate(int(seed), config, modality=modality)
        except Exception as exc:  # one bad bag must not stop a training run
            warnings.warn(f"simulator failed on seed {seed}: {exc!r}; skipped", RuntimeWarning, stacklevel=2)
            guard.failure(f"seed {seed}: {exc!r}")
            continue
        guard.success()
        yield SimBag(
            seed=int(seed),
            xray=tuple(bag.xray or ()),
            ct=bag.ct,
            objects=bag_objects(bag.objects),
            ct_labels=getattr(bag, "ct_labels", None) if modality in ("ct", "both") else None,
        )


def _generate_one(job: tuple[int, str, Any]) -> SimBag | None:
    seed, modality, config = job
    try:
        return next(iter(sim_bags([seed], modality, config=config)))
    except StopIteration:
        return None


def sim_bags_parallel(
    seeds: Iterable[int], modality: str, config: Any = None, workers: int = 2
) -> Iterator[SimBag]:
    """:func:`sim_bags` with the simulator in ``workers`` processes; bags come back in seed order."""
    seeds = list(seeds)
    if workers <= 1:
        yield from sim_bags(seeds, modality, config=config)
        return
    import multiprocessing as mp

    guard = FailureGuard()
    with mp.get_context("spawn").Pool(workers) as pool:
        for seed, bag in zip(
            seeds, pool.imap(_generate_one, [(s, modality, config) for s in seeds], chunksize=1), strict=True
        ):
            if bag is None:
                guard.failure(f"seed {seed}, see the warning above")
                continue
            guard.success()
            yield bag


def load_bags(folder: str | Path, modality: str) -> Iterator[SimBag]:
    """Bags written by ``screening simulate`` (``screening.sim.export.write_bag`` layout) in ``folder``.

    Reads ``truth/<bag_id>.json`` for the ground truth, ``xray/<bag_id>_<view>_{high,low}.png`` (16-bit
    transmission x 65535) for X-ray and ``ct/<bag_id>.dcs`` (DICOS, via ``screening.ingest.read``) for CT.
    A bag whose files are broken is skipped with a warning naming the file.

    Raises:
        UnsupportedFormatError: the folder does not exist or holds no ``truth/*.json``.
    """
    import json
    import warnings

    from PIL import Image

    from screening.scan import Modality

    path = Path(folder)
    truths = sorted((path / "truth").glob("*.json")) if path.is_dir() else []
    if not truths:
        raise UnsupportedFormatError(
            "no truth/*.json found; expected the output folder of 'screening simulate' "
            "(or use --sim-bags N --seed S to generate bags on the fly)",
            source=str(path),
        )
    for tfile in truths:
        try:
            truth = json.loads(tfile.read_text())
            bag_id = truth["bag_id"]
            xray: list[Scan] = []
            if modality in ("xray", "both"):
                for view in truth.get("xray_views", []):
                    chans = []
                    for ch in ("high", "low"):
                        with Image.open(path / "xray" / f"{bag_id}_{view}_{ch}.png") as im:
                            chans.append(np.asarray(im, dtype=np.float32) / 65535.0)
                            source_text = im.info.get("Source")  # the device, as ingest reads it
                    pixel = float(truth["meta"]["scanner"]["pixel_mm"])
                    xray.append(
                        Scan(
                            np.stack(chans),
                            Modality.XRAY,
                            (pixel, pixel),
                            ("high", "low"),
                            bag_id,
                            view=view,
                            source=str(path / "xray" / f"{bag_id}_{view}_high.png"),
                            meta={"device": source_text} if isinstance(source_text, str) else {},
                        )
                    )
            ct, ct_labels = None, None
            if modality in ("ct", "both") and truth.get("ct_file"):
                from screening.ingest import read

                ct = read(path / truth["ct_file"])[0]
                if truth.get("ct_labels_file"):
                    with np.load(path / truth["ct_labels_file"]) as z:
                        ct_labels = z["labels"]
                    if ct_labels.shape != ct.shape[-3:]:
                        raise InvalidScanError(
                            f"label volume {ct_labels.shape} does not match the CT volume {ct.shape[-3:]}",
                            source=str(path / truth["ct_labels_file"]),
                        )
            objs = [_TruthObject(**o) for o in truth["objects"]]
        except Exception as exc:  # one broken bag must not stop a run
            warnings.warn(f"{tfile}: unreadable bag ({exc!r}); skipped", RuntimeWarning, stacklevel=2)
            continue
        yield SimBag(
            seed=int(truth.get("seed", -1)),
            xray=tuple(xray),
            ct=ct,
            objects=bag_objects(objs),
            ct_labels=ct_labels,
        )


@dataclass(frozen=True)
class _TruthObject:
    label: str | None
    name: str = ""
    material: str = ""
    mass_g: float | None = None
    note_count: int | None = None
    concealment: str = "none"
    boxes_2d: dict | None = None
    box_3d: list | None = None
    index: int = 0


@dataclass(frozen=True)
class XraySample:
    """One raw dual-energy view, letterboxed for training.

    Attributes:
        hl: ``float16 (2, S, S)`` high/low transmission (padding = 1, air).
        boxes: ``float32 (N, 4)`` xyxy in letterboxed pixels.
        labels: ``int64 (N,)`` class indices into :data:`CLASS_NAMES`.
        px_mm: millimetres per letterboxed pixel.
    """

    hl: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    px_mm: float


def xray_samples(bag: SimBag, size: int) -> list[XraySample]:
    """Letterboxed training samples for each raw dual-energy view of ``bag``."""
    out = []
    for scan in bag.xray:
        if tuple(scan.channels[:2]) != ("high", "low"):
            raise InvalidScanError(
                f"training needs raw ('high', 'low') views; got channels {scan.channels!r}",
                source=scan.source or None,
            )
        img, lb = letterbox(scan.array[:2], size)
        boxes, labels = [], []
        for o in bag.objects:
            b = o.boxes_2d.get(scan.view)
            if b is None:
                continue
            boxes.append(
                [
                    b[0] * lb.scale + lb.pad_x,
                    b[1] * lb.scale + lb.pad_y,
                    b[2] * lb.scale + lb.pad_x,
                    b[3] * lb.scale + lb.pad_y,
                ]
            )
            labels.append(CLASS_NAMES.index(str(o.label)))
        out.append(
            XraySample(
                hl=img.astype(np.float16),
                boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                labels=np.asarray(labels, dtype=np.int64),
                px_mm=float(scan.spacing_mm[1]) / lb.scale,
            )
        )
    return out


def bag_devices(bags: Iterable[SimBag], seen: set[str]) -> Iterator[SimBag]:
    """Pass ``bags`` through unchanged, adding the device of each of their scans to ``seen``.

    What calibration records as the devices a model's thresholds hold on (``validated_devices``).
    """
    from screening.ingest.device import device_of

    for bag in bags:
        for scan in (*bag.xray, *((bag.ct,) if bag.ct is not None else ())):
            seen.add(device_of(scan.meta))
        yield bag


def named_devices(seen: set[str]) -> list[str]:
    """The devices of ``seen`` that have a name: a scan naming none validates no device."""
    from screening.ingest.device import UNKNOWN_DEVICE

    return sorted(seen - {UNKNOWN_DEVICE})
