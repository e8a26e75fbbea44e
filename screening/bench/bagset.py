"""The measured bag set: seeded simulated bags written as DICOS files, with ground truth, cached on disk."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.errors import BackendUnavailableError, InvalidScanError

__all__ = [
    "BenchBag",
    "TruthObject",
    "build_bagset",
    "load_bagset",
    "sim_fingerprint",
    "sim_source",
    "truth_from_sim",
]

#: Bumped when the on-disk layout of a cached bag set changes.
_LAYOUT_VERSION = "1"


@dataclass(frozen=True)
class TruthObject:
    """One simulated object the screening should find (or, for ``shield``, flag).

    Attributes:
        label: ``Label`` value (``"firearm"``, ..., ``"shield"``).
        boxes_2d: X-ray view name -> ``(x0, y0, x1, y1)`` pixels (views where the object is visible).
        box_3d: CT ``(x0, y0, z0, x1, y1, z1)`` voxels, or ``None`` without CT.
    """

    label: str
    boxes_2d: Mapping[str, tuple[float, ...]]
    box_3d: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "boxes_2d": {k: list(v) for k, v in self.boxes_2d.items()},
            "box_3d": list(self.box_3d) if self.box_3d is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TruthObject:
        return cls(
            label=str(d["label"]),
            boxes_2d={k: tuple(float(x) for x in v) for k, v in d.get("boxes_2d", {}).items()},
            box_3d=tuple(float(x) for x in d["box_3d"]) if d.get("box_3d") is not None else None,
        )


@dataclass(frozen=True)
class BenchBag:
    """One bag of the measured set.

    Attributes:
        index: position in the set (arrival order on the simulated lane).
        seed: simulator seed that made it.
        modality: ``"xray"`` or ``"ct"``.
        path: the DICOS file or folder (what the scanner would hand the lane).
        truth: what is in the bag.
        length_m: bag length along the belt, metres (``screening.lane.belt.bag_length_m``).
    """

    index: int
    seed: int
    modality: str
    path: Path
    truth: tuple[TruthObject, ...]
    length_m: float = float("nan")

    @property
    def is_threat(self) -> bool:
        """Whether the bag holds contraband (anything but ``shield``)."""
        return any(t.label != "shield" for t in self.truth)


def _box(value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    return tuple(float(v) for v in value)


def truth_from_sim(sim_bag: Any) -> tuple[TruthObject, ...]:
    """Ground truth of a ``SimBag`` (``.objects`` with ``.label``, ``.boxes_2d``, ``.box_3d``)."""
    out = []
    for obj in getattr(sim_bag, "objects", ()):
        if getattr(obj, "label", None) is None:  # benign clutter
            continue
        boxes = {str(k): _box(v) for k, v in (getattr(obj, "boxes_2d", None) or {}).items()}
        out.append(
            TruthObject(
                label=str(obj.label),
                boxes_2d={k: v for k, v in boxes.items() if v is not None},
                box_3d=_box(getattr(obj, "box_3d", None)),
            )
        )
    return tuple(out)


def _length_m(sim_bag: Any, modality: str) -> float:
    scans = list(getattr(sim_bag, "xray", ()) or ()) if modality == "xray" else [getattr(sim_bag, "ct", None)]
    scans = [s for s in scans if s is not None]
    if not scans:
        return float("nan")
    try:
        from screening.lane.belt import bag_length_m
    except ImportError:
        return float("nan")
    return float(bag_length_m(scans))


def sim_fingerprint() -> str:
    """``GENERATOR_VERSION`` plus a hash of the simulator's sources: keys every cache made from its bags.

    The version alone is not enough while the simulator is being developed (its output changes without a
    version bump), and a stale cache would score models trained on today's simulator against old bags.
    """
    try:
        from screening.sim.generate import GENERATOR_VERSION
    except ImportError:
        return "nosim"
    h = hashlib.sha256(_LAYOUT_VERSION.encode())
    for f in sorted((Path(__file__).resolve().parents[1] / "sim").glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return f"sim{GENERATOR_VERSION}-{h.hexdigest()[:8]}"


def sim_source(modality: str, ct_voxel_mm: float, quick: bool) -> Callable[[int], Any]:
    """``seed -> SimBag`` from ``screening.sim`` for ``modality``, with the CT voxel size asked for."""
    try:
        from screening.sim import SimConfig, generate_bag
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the benchmark generates its bags with screening.sim, which cannot be imported ({exc}). "
            "Install the package with 'pip install -e .' or pass a bag_source."
        ) from exc
    cfg = SimConfig()
    fields = {f.name for f in dataclasses.fields(cfg)} if dataclasses.is_dataclass(cfg) else set()
    changes: dict[str, Any] = {}
    if "voxel_mm" in fields:
        changes["voxel_mm"] = float(ct_voxel_mm)
    if quick:  # smoke test: coarse, lightly packed bags (the numbers mean nothing, the plumbing does)
        quick_changes = {"pixel_mm": 4.0, "voxel_mm": 8.0, "clutter": (1, 3)}
        changes.update({k: v for k, v in quick_changes.items() if k in fields})
    if changes:
        cfg = dataclasses.replace(cfg, **changes)
    return lambda seed: generate_bag(seed, cfg, modality=modality)


def pad_views(views: Sequence[Any]) -> tuple[Any, ...]:
    """Pad X-ray views to one shape with air (transmission 1.0) at the bottom/right.

    ``write_dicos_dx`` stores the views of a bag as frames of one multi-frame object, which needs one
    shape; the simulator's top and side views differ in height. Boxes keep their pixel coordinates.
    """
    import numpy as np

    h = max(v.array.shape[1] for v in views)
    w = max(v.array.shape[2] for v in views)
    out = []
    for v in views:
        c, vh, vw = v.array.shape
        if (vh, vw) == (h, w):
            out.append(v)
            continue
        arr = np.ones((c, h, w), dtype=np.float32)
        arr[:, :vh, :vw] = v.array
        out.append(dataclasses.replace(v, array=arr))
    return tuple(out)


def _write(sim_bag: Any, modality: str, path: Path) -> None:
    from screening.ingest.write import write_dicos_ct, write_dicos_dx

    if modality == "xray":
        views = tuple(getattr(sim_bag, "xray", ()) or ())
        if not views:
            raise InvalidScanError("simulated bag has no X-ray views; expected .xray", source=str(path))
        write_dicos_dx(pad_views(views), path)
    else:
        ct = getattr(sim_bag, "ct", None)
        if ct is None:
            raise InvalidScanError("simulated bag has no CT volume; expected .ct", source=str(path))
        write_dicos_ct(ct, path)


def build_bagset(
    modality: str,
    n: int,
    seed: int,
    cache_dir: Path,
    *,
    ct_voxel_mm: float = 2.0,
    quick: bool = False,
    bag_source: Callable[[int, str], Any] | None = None,
    writer: Callable[[Any, str, Path], None] | None = None,
    jobs: int = 1,
) -> list[BenchBag]:
    """Generate (or reuse from ``cache_dir``) ``n`` seeded bags, written as DICOS files.

    Args:
        modality: ``"xray"`` or ``"ct"``.
        n: number of bags; bag ``i`` is simulated with seed ``seed + i``.
        seed: first seed.
        cache_dir: parent folder of the cached sets; a set is keyed by all arguments and the simulator's
            ``GENERATOR_VERSION``; a cached larger set with the same first seed serves its first ``n``.
        ct_voxel_mm: CT voxel size for the simulator.
        quick: ask the simulator for its small/fast configuration when it has one.
        bag_source: ``callable(seed, modality) -> SimBag-like``; defaults to ``screening.sim.generate_bag``.
        writer: ``callable(sim_bag, modality, path)``; defaults to ``screening.ingest.write``'s DICOS writers.
        jobs: parallel generator processes (simulator only; the simulation is the slow part).

    Returns:
        The bags in arrival order.
    """
    tag = "custom" if bag_source is not None else sim_fingerprint()
    rest = f"s{seed}-v{ct_voxel_mm:g}{'-quick' if quick else ''}-{tag}"
    folder = Path(cache_dir) / "bags" / f"{modality}-n{n}-{rest}"
    manifest = folder / "manifest.json"
    if bag_source is None:
        cached = sorted(Path(cache_dir).glob(f"bags/{modality}-n*-{rest}/manifest.json"))
        for m in [manifest, *cached]:
            if not m.is_file():
                continue
            try:
                bags = load_bagset(m)
            except (OSError, KeyError, ValueError):
                continue  # stale or partial cache
            if len(bags) >= n:
                return bags[:n]
    folder.mkdir(parents=True, exist_ok=True)
    if bag_source is None and writer is None and jobs > 1 and n > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = [
                pool.submit(_make_one, i, seed + i, modality, ct_voxel_mm, quick, str(folder))
                for i in range(n)
            ]
            bags = [f.result() for f in futures]
        save_manifest(bags, manifest)
        return bags
    if bag_source is None:
        make = sim_source(modality, ct_voxel_mm, quick)
    else:
        src = bag_source

        def make(s: int) -> Any:
            return src(s, modality)

    write = writer or _write
    bags = []
    for i in range(n):
        sim_bag = make(seed + i)
        path = folder / _bag_name(i, modality)
        write(sim_bag, modality, path)
        bags.append(
            BenchBag(i, seed + i, modality, path, truth_from_sim(sim_bag), _length_m(sim_bag, modality))
        )
    save_manifest(bags, manifest)
    return bags


def _bag_name(i: int, modality: str) -> str:
    return f"bag_{i:04d}" if modality == "xray" else f"bag_{i:04d}.dcs"


def _make_one(i: int, seed: int, modality: str, ct_voxel_mm: float, quick: bool, folder: str) -> BenchBag:
    """Simulate and write one bag (runs in a generator process)."""
    sim_bag = sim_source(modality, ct_voxel_mm, quick)(seed)
    path = Path(folder) / _bag_name(i, modality)
    _write(sim_bag, modality, path)
    return BenchBag(i, seed, modality, path, truth_from_sim(sim_bag), _length_m(sim_bag, modality))


def save_manifest(bags: Sequence[BenchBag], manifest: Path) -> None:
    """Write the bag list with ground truth next to the files (paths relative to the manifest)."""
    doc = {
        "layout_version": _LAYOUT_VERSION,
        "bags": [
            {
                "index": b.index,
                "seed": b.seed,
                "modality": b.modality,
                "file": b.path.name,
                "length_m": b.length_m,
                "truth": [t.to_dict() for t in b.truth],
            }
            for b in bags
        ],
    }
    manifest.write_text(json.dumps(doc, indent=1).replace("NaN", "null"))


def load_bagset(manifest: Path) -> list[BenchBag]:
    """Read a cached bag set written by :func:`build_bagset`; raises ``ValueError`` if a file is missing."""
    doc = json.loads(Path(manifest).read_text())
    if doc.get("layout_version") != _LAYOUT_VERSION:
        raise ValueError(f"{manifest}: layout {doc.get('layout_version')!r} != {_LAYOUT_VERSION!r}")
    bags = []
    for d in doc["bags"]:
        path = Path(manifest).parent / d["file"]
        if not path.exists():
            raise ValueError(f"{manifest}: bag file {path} is missing")
        truth = tuple(TruthObject.from_dict(t) for t in d["truth"])
        length = float(d.get("length_m") if d.get("length_m") is not None else "nan")
        bags.append(BenchBag(int(d["index"]), int(d["seed"]), d["modality"], path, truth, length))
    return bags
