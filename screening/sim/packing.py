"""Procedural packing: a bag shell, benign clutter and concealed threats, posed in the bag frame (mm)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.scan import Label
from screening.sim.config import SimConfig
from screening.sim.geometry import rotation
from screening.sim.objects import (
    BENIGN_BUILDERS,
    SimObject,
    build_bag_shell,
    laptop,
    metal_bits,
    place,
    shoes,
)
from screening.sim.threats import THREAT_BUILDERS

__all__ = ["CONCEALMENTS", "PackedBag", "pack_bag"]

#: Concealment methods a threat can get.
CONCEALMENTS: tuple[str, ...] = (
    "none",
    "under_laptop",
    "in_shoe",
    "in_lining",
    "metal_clutter",
    "in_container",
)


@dataclass
class PackedBag:
    """A packed bag in its own frame: x along the belt, y across, z up; mm.

    Attributes:
        kind: bag type.
        objects: everything in the bag; bag parts first, threats last.
        size: ``(3,)`` outer extent of the bag, mm.
    """

    kind: str
    objects: list[SimObject]
    size: np.ndarray


def _pick(rng: np.random.Generator, options: dict):
    names = list(options)
    w = np.array([options[n][1] for n in names], dtype=np.float64)
    return options[names[int(rng.choice(len(names), p=w / w.sum()))]][0]


def _fit(
    obj: SimObject,
    rng: np.random.Generator,
    lo: np.ndarray,
    hi: np.ndarray,
    rot: np.ndarray,
    z_level: float | None = None,
) -> SimObject:
    """Pose ``obj`` with ``rot`` and move it to a random spot with its bounds inside [lo, hi] if possible."""
    place(obj, rot, np.zeros(3))
    blo, bhi = obj.bounds()
    ext = bhi - blo
    room = (hi - lo) - ext
    off = np.where(room > 0, lo - blo + rng.random(3) * np.maximum(room, 0), (lo + hi) / 2 - (blo + bhi) / 2)
    if z_level is not None:
        off[2] = z_level - blo[2]
    return place(obj, np.eye(3), off)


def _fit_group(
    objs: list[SimObject], rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, rot: np.ndarray
) -> None:
    """Pose several objects rigidly together (e.g. a shoe and what is hidden in it) and fit them inside."""
    for o in objs:
        place(o, rot, np.zeros(3))
    blo = np.min([o.bounds()[0] for o in objs], axis=0)
    bhi = np.max([o.bounds()[1] for o in objs], axis=0)
    room = (hi - lo) - (bhi - blo)
    off = np.where(room > 0, lo - blo + rng.random(3) * np.maximum(room, 0), (lo + hi) / 2 - (blo + bhi) / 2)
    for o in objs:
        place(o, np.eye(3), off)


def _flat_pose(rng: np.random.Generator, tilt: float = 8.0) -> np.ndarray:
    return rotation(rng.uniform(0, 360), rng.normal(0, tilt), rng.normal(0, tilt))


def _threat_pose(rng: np.random.Generator) -> np.ndarray:
    # Mostly lying flat, sometimes on edge or steeply tilted (hard views), any yaw, upside down half the time.
    roll = rng.choice([0.0, 180.0]) + (
        rng.uniform(50, 90) * rng.choice([-1, 1]) if rng.random() < 0.2 else rng.normal(0, 12)
    )
    return rotation(rng.uniform(0, 360), rng.normal(0, 12), float(roll))


def _concealment(rng: np.random.Generator, threat: SimObject) -> str:
    if threat.concealment != "none":
        return threat.concealment
    lo, hi = threat.bounds()
    ext = np.sort(hi - lo)
    small = ext[2] < 170 and ext[1] < 90
    thin = ext[0] < 12
    opts = ["none", "none", "under_laptop", "metal_clutter"]
    if small:
        opts.append("in_shoe")
    if thin or threat.label in (Label.CURRENCY, Label.DRUGS):
        opts += ["in_lining", "in_lining"]
    return str(rng.choice(opts))


def pack_bag(rng: np.random.Generator, config: SimConfig, threat_labels: list[Label]) -> PackedBag:
    """Build one bag with benign clutter and the given threats.

    Args:
        rng: random generator (the only source of randomness).
        config: simulator configuration.
        threat_labels: labels of the threats to include (may be empty; ``shield`` allowed).

    Returns:
        The packed bag; threat objects come last and carry their concealment.
    """
    kind = str(rng.choice(list(config.bag_types)))
    shell, (lo, hi) = build_bag_shell(kind, rng)
    objects: list[SimObject] = list(shell)
    benign: list[SimObject] = []
    # 1) clothes in layers from the bottom up
    # clutter scales with the packable volume (config.clutter is for a ~0.07 m3 suitcase)
    fill = float(np.clip(np.prod(hi - lo) / 0.07e9, 0.3, 1.3))
    n_items = round(int(rng.integers(config.clutter[0], config.clutter[1] + 1)) * fill)
    z = lo[2]
    n_clothes = max(1, int(n_items * rng.uniform(0.25, 0.45)))
    for _ in range(n_clothes):
        if z > hi[2] - 15:  # the bag is full: no more layers (they would interpenetrate)
            break
        c = BENIGN_BUILDERS["clothes"][0](rng)
        _fit(c, rng, lo, hi, rotation(rng.uniform(-25, 25)), z_level=z)
        z += (c.bounds()[1][2] - c.bounds()[0][2]) * rng.uniform(0.5, 0.9)
        benign.append(c)
    # 2) other clutter anywhere inside
    others = {k: v for k, v in BENIGN_BUILDERS.items() if k != "clothes"}
    for _ in range(n_items - n_clothes):
        o = _pick(rng, others)(rng)
        if o.name == "laptop" and any(b.name == "laptop" for b in benign):
            o = BENIGN_BUILDERS["book"][0](rng)  # one laptop per bag is plenty
        pose = (
            _flat_pose(rng)
            if o.name not in ("bottle", "toiletry", "umbrella", "aerosol")
            else rotation(rng.uniform(0, 360), 90 + rng.normal(0, 10), 0)
        )
        benign.append(_fit(o, rng, lo, hi, pose))
    objects += benign
    # 3) threats with concealment
    threats: list[SimObject] = []
    for label in threat_labels:
        builders = THREAT_BUILDERS[label]
        w = np.array([b[1] for b in builders])
        t = builders[int(rng.choice(len(builders), p=w / w.sum()))][0](rng)
        how = _concealment(rng, t) if label != Label.SHIELD else "none"
        t.concealment = how
        if how == "in_shoe":
            shoe = shoes(rng)
            clo, chi = shoe.cavity  # type: ignore[misc]
            yaw = rng.uniform(-15, 15) + float(rng.choice([0.0, 180.0]))
            _fit(t, rng, clo, chi, rotation(yaw, 0, float(rng.normal(0, 10))))
            _fit_group([shoe, t], rng, lo, hi, _flat_pose(rng, 3))
            objects.append(shoe)
        elif how == "under_laptop":
            lap = next((o for o in objects if o.name == "laptop"), None)
            if lap is None:
                lap = _fit(laptop(rng), rng, lo, hi, _flat_pose(rng, 3))
                objects.append(lap)
            llo, lhi = lap.bounds()
            pose = _threat_pose(rng) if rng.random() < 0.3 else rotation(rng.uniform(0, 360))
            _fit(t, rng, np.r_[llo[:2], lo[2]], np.r_[lhi[:2], max(llo[2], lo[2] + 5)], pose)
        elif how == "in_lining":
            pose = rotation(rng.uniform(0, 360), rng.normal(0, 2), float(rng.choice([0.0, 180.0])))
            _fit(t, rng, lo, hi, pose, z_level=lo[2] - 1.0 if kind == "suitcase" else lo[2])
        elif how == "metal_clutter":
            _fit(t, rng, lo, hi, _threat_pose(rng))
            tlo, thi = t.bounds()
            for _ in range(int(rng.integers(2, 5))):
                m = metal_bits(rng) if rng.random() < 0.6 else BENIGN_BUILDERS["charger"][0](rng)
                pad = np.array([60.0, 60.0, 20.0])
                objects.append(
                    _fit(m, rng, np.maximum(tlo - pad, lo), np.minimum(thi + pad, hi), _flat_pose(rng))
                )
        else:
            _fit(t, rng, lo, hi, _threat_pose(rng))
        threats.append(t)
    objects += threats
    blo = np.min([o.bounds()[0] for o in objects], axis=0)
    bhi = np.max([o.bounds()[1] for o in objects], axis=0)
    # Shift so the bag's lowest point rests on the belt (z = 0) and starts at x = y = 0.
    for o in objects:
        place(o, np.eye(3), -blo)
    return PackedBag(kind, objects, bhi - blo)
