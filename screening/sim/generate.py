"""generate_bag: one simulated bag (synthetic data) with dual-view dual-energy X-ray, CT and ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from screening.scan import Label, Modality, Scan, Step
from screening.sim.config import ScannerParams, SimConfig, sample_scanner
from screening.sim.geometry import rotation
from screening.sim.objects import SimObject, place

__all__ = ["GENERATOR_VERSION", "SIM_DEVICE", "GroundTruth", "SimBag", "generate_bag"]

#: Version of the generator; recorded in every bag's meta and in dataset cards. 0.2.0: CT metal streaks
#: back-projected from enough angles (0.1.0 used 16: spokes across the bag); X-ray output unchanged.
GENERATOR_VERSION = "0.2.0"
#: How the simulator names itself as a device (DICOS Manufacturer / Manufacturer's Model Name, PNG
#: ``Source``): models calibrated on its bags list this device (``screening.ingest.device``).
SIM_MANUFACTURER = "screening.sim"
SIM_MODEL = f"simulator {GENERATOR_VERSION}"
SIM_DEVICE = f"{SIM_MANUFACTURER} / {SIM_MODEL}"

_BAG_PARTS = ("suitcase_shell", "suitcase_frame", "backpack_shell", "softbag_shell", "zip")


@dataclass(frozen=True)
class GroundTruth:
    """Truth about one object in a simulated bag.

    Attributes:
        label: contraband class (``shield`` for impenetrable containers), ``None`` for benign items.
        name: object kind (``"pistol"``, ``"revolver"``, ``"ammo_box"``, ``"folding_knife"``,
            ``"drug_brick"``, ``"banknotes"``, ``"ivory_tusk"``, ``"laptop"``...).
        material: main material name (see :mod:`screening.physics.materials`).
        mass_g: mass, grams (Σ volume × density of its parts).
        note_count: banknotes (currency only).
        concealment: ``"none"``, ``"under_laptop"``, ``"in_shoe"``, ``"in_lining"``, ``"metal_clutter"``,
            ``"in_container"``.
        boxes_2d: view -> ``(x0, y0, x1, y1)`` pixel box in that view's Scan (exclusive upper corner).
        box_3d: ``(x0, y0, z0, x1, y1, z1)`` voxel box in the CT Scan (x = X, y = Y, z = Z index);
            ``None`` without CT.
        index: value of this object in :attr:`SimBag.ct_labels`.
    """

    label: Label | None
    name: str
    material: str
    mass_g: float
    note_count: int | None
    concealment: str
    boxes_2d: dict[str, tuple[float, float, float, float]]
    box_3d: tuple[float, float, float, float, float, float] | None
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": None if self.label is None else str(self.label),
            "name": self.name,
            "material": self.material,
            "mass_g": round(self.mass_g, 2),
            "note_count": self.note_count,
            "concealment": self.concealment,
            "boxes_2d": {k: [round(float(x), 2) for x in v] for k, v in self.boxes_2d.items()},
            "box_3d": None if self.box_3d is None else [int(x) for x in self.box_3d],
            "index": self.index,
        }


@dataclass(frozen=True, eq=False)
class SimBag:
    """One simulated bag (synthetic data).

    Attributes:
        bag_id: identifier shared by all its scans.
        seed: the seed it was generated from (same seed + config -> same bag).
        xray: one Scan per view, channels ``("high", "low")`` transmission in [0, 1], float32 ``(2, H, W)``.
        ct: CT Scan ``(C, Z, Y, X)`` in MHU, or ``None``.
        objects: ground truth of every object (bag parts excluded); threats last.
        meta: scanner parameters, bag type, generator version.
        ct_labels: ``(Z, Y, X)`` int16 object-index volume aligned with ``ct`` (0 = none,
            ``GroundTruth.index`` otherwise), or ``None``.
        scanner: the simulated scanner (its palette renders this bag's views as that scanner would).
    """

    bag_id: str
    seed: int
    xray: tuple[Scan, ...]
    ct: Scan | None
    objects: tuple[GroundTruth, ...]
    meta: dict = field(default_factory=dict)
    ct_labels: np.ndarray | None = None
    scanner: ScannerParams | None = None

    @property
    def threats(self) -> tuple[GroundTruth, ...]:
        """Objects with a label (contraband or shield)."""
        return tuple(o for o in self.objects if o.label is not None)


def _choose_threats(rng: np.random.Generator, config: SimConfig) -> list[Label]:
    labels: list[Label] = []
    if config.classes and rng.random() < config.threat_fraction:
        n = int(rng.integers(1, max(config.max_threats, 1) + 1))
        labels += [config.classes[int(i)] for i in rng.integers(0, len(config.classes), size=n)]
    if rng.random() < config.shield_fraction:
        labels.append(Label.SHIELD)
    return labels


def _yaw_objects(
    objects: list[SimObject], size: np.ndarray, yaw_deg: float
) -> tuple[list[SimObject], np.ndarray]:
    """Copy of the objects turned by ``yaw_deg`` on the belt, re-anchored at x = y = 0."""
    import copy

    rot = rotation(yaw_deg)
    c = np.asarray(size) / 2
    out = [place(copy.copy(o), rot, c - rot @ c) for o in objects]
    lo = np.min([o.bounds()[0] for o in out], axis=0)
    hi = np.max([o.bounds()[1] for o in out], axis=0)
    shift = np.array([-lo[0], -lo[1], 0.0])
    out = [place(o, np.eye(3), shift) for o in out]
    return out, hi - lo


def generate_bag(seed: int, config: SimConfig = SimConfig(), modality: str = "both") -> SimBag:  # noqa: B008
    """Simulate one bag: pack it, then render X-ray views and/or a CT volume with ground truth.

    Deterministic: the same ``seed`` and ``config`` give the same bag, whatever the modality (packing,
    scanner and noise draw from separate streams spawned from ``seed``).

    Args:
        seed: non-negative integer seed; also names the bag (``sim-<seed>``).
        config: what to generate.
        modality: ``"xray"``, ``"ct"`` or ``"both"``.

    Returns:
        The simulated bag.

    Raises:
        ValueError: ``modality`` is not one of the three, or ``seed`` is negative.
    """
    from screening.sim.ct import MHU_MAX, ct_energies, metal_streaks, voxelise
    from screening.sim.packing import pack_bag
    from screening.sim.xray import path_lengths, render_view, view_geometry

    if modality not in ("xray", "ct", "both"):
        raise ValueError(f"modality must be 'xray', 'ct' or 'both'; got {modality!r}")
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0; got {seed}")
    seed = int(seed)
    s_content, s_scanner, s_xray, s_ct = np.random.SeedSequence(seed).spawn(4)
    rng = np.random.default_rng(s_content)
    threat_labels = _choose_threats(rng, config)
    packed = pack_bag(rng, config, threat_labels)
    yaw = float(rng.normal(0.0, 10.0))
    scanner: ScannerParams = sample_scanner(np.random.default_rng(s_scanner), config)
    bag_id = f"sim-{seed:08d}"
    keep = [i for i, o in enumerate(packed.objects) if o.name not in _BAG_PARTS]
    gt_index = {obj_i: k + 1 for k, obj_i in enumerate(keep)}
    boxes2d: dict[int, dict[str, tuple[float, float, float, float]]] = {i: {} for i in keep}
    meta: dict[str, Any] = {
        "generator": SIM_MANUFACTURER,
        "generator_version": GENERATOR_VERSION,
        # the device, as a scanner would name itself: written to DICOS and PNG, read back by ingest
        "Manufacturer": SIM_MANUFACTURER,
        "ManufacturerModelName": SIM_MODEL,
        "synthetic": True,
        "bag_type": packed.kind,
        "bag_size_mm": [round(float(x), 1) for x in packed.size],
        "yaw_deg": round(yaw, 2),
        "scanner": scanner.to_dict(),
        "seed": seed,
    }

    xrays: list[Scan] = []
    if modality in ("xray", "both"):
        rng_x = np.random.default_rng(s_xray)
        objs, size = _yaw_objects(packed.objects, packed.size, yaw)
        for view in config.views:
            geom = view_geometry(view, size, scanner)
            vr = path_lengths(objs, geom, rng_x, boxes_for=set(keep))
            arr = render_view(vr, scanner, rng_x)
            for i in keep:
                if i in vr.boxes:
                    boxes2d[i][view] = vr.boxes[i]
            xrays.append(
                Scan(
                    array=arr,
                    modality=Modality.XRAY,
                    spacing_mm=(scanner.pixel_mm, scanner.pixel_mm),
                    channels=("high", "low"),
                    bag_id=bag_id,
                    view=view,
                    source=f"sim://{bag_id}/{view}",
                    meta={**meta, "view": view},
                    provenance=(
                        Step("simulate", {"seed": seed, "view": view, "version": GENERATOR_VERSION}),
                    ),
                )
            )

    ct_scan = None
    ct_labels = None
    boxes3d: dict[int, tuple[float, ...]] = {}
    if modality in ("ct", "both"):
        rng_c = np.random.default_rng(s_ct)
        energies = ct_energies(scanner.kvp, config.ct_dual_energy)
        vol, labels = voxelise(packed.objects, packed.size, config.voxel_mm, energies)
        if config.ct_artifacts:
            metal_streaks(vol, rng_c, voxel_mm=config.voxel_mm, kvp=scanner.kvp)
        noise_sd = float(rng_c.uniform(10.0, 30.0)) * (2.0 / config.voxel_mm) ** 1.5
        vol += noise_sd * rng_c.standard_normal(vol.shape, dtype=np.float32)
        np.clip(vol, 0.0, MHU_MAX, out=vol)
        # relabel: packed-object index -> GroundTruth.index (bag parts -> 0)
        lut = np.zeros(len(packed.objects) + 1, np.int16)
        for i, k in gt_index.items():
            lut[i + 1] = k
        ct_labels = lut[labels]
        boxes3d = _boxes_3d(ct_labels, len(keep))
        v = config.voxel_mm
        ct_scan = Scan(
            array=vol,
            modality=Modality.CT,
            spacing_mm=(v, v, v),
            channels=("mhu",) if not config.ct_dual_energy else ("high", "low"),
            bag_id=bag_id,
            source=f"sim://{bag_id}/ct",
            meta={
                **meta,
                "ct_energies_kev": [round(e, 1) for e in energies],
                "ct_noise_mhu": round(noise_sd, 1),
            },
            provenance=(Step("simulate", {"seed": seed, "modality": "CT", "version": GENERATOR_VERSION}),),
        )

    truths = []
    for i in keep:
        o = packed.objects[i]
        k = gt_index[i]
        truths.append(
            GroundTruth(
                label=o.label,
                name=o.name,
                material=o.material,
                mass_g=o.mass_g,
                note_count=o.note_count,
                concealment=o.concealment,
                boxes_2d=boxes2d[i],
                box_3d=boxes3d.get(k),
                index=k,  # type: ignore[arg-type]
            )
        )
    return SimBag(bag_id, seed, tuple(xrays), ct_scan, tuple(truths), meta, ct_labels, scanner)


def _boxes_3d(labels: np.ndarray, n: int) -> dict[int, tuple[float, ...]]:
    """``(x0, y0, z0, x1, y1, z1)`` voxel boxes of each label 1..n (exclusive upper corner)."""
    from scipy.ndimage import find_objects

    out: dict[int, tuple[float, ...]] = {}
    for k, sl in enumerate(find_objects(labels, max_label=n), start=1):
        if sl is None:
            continue
        z, y, x = sl
        out[k] = (float(x.start), float(y.start), float(z.start), float(x.stop), float(y.stop), float(z.stop))
    return out
