"""Objects for bag phantoms (SimObject = named group of primitives); builders for bags and benign clutter."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from screening.physics.materials import get_material
from screening.scan import Label
from screening.sim.geometry import Primitive, box, cylinder, ellipsoid, prism, rotation, transform

__all__ = ["BENIGN_BUILDERS", "SimObject", "build_bag_shell", "place"]


@dataclass
class SimObject:
    """One object in a bag, built in its own frame (mm) and then placed.

    Attributes:
        name: what it is (``"pistol"``, ``"laptop"``...).
        label: contraband class, or ``None`` for benign items and bag parts.
        material: main material name.
        parts: primitives (in the bag frame once placed).
        note_count: banknotes in a currency bundle.
        concealment: how it is hidden (``"none"``, ``"in_shoe"``...).
        texture: relative amplitude of fold/texture modulation of its path length (clothes).
        cavity: optional ``(lo, hi)`` inner box (bag frame) where small items can be hidden.
    """

    name: str
    label: Label | None
    material: str
    parts: list[Primitive]
    note_count: int | None = None
    concealment: str = "none"
    texture: float = 0.0
    cavity: tuple[np.ndarray, np.ndarray] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def mass_g(self) -> float:
        """Σ scale × volume × density over the parts, grams."""
        return float(
            sum(
                p.scale * p.volume_mm3() * get_material(p.material).density_g_cm3 / 1000.0 for p in self.parts
            )
        )

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds of the positive parts, mm."""
        b = [p.world_bounds() for p in self.parts if p.scale > 0]
        return np.min([x[0] for x in b], axis=0), np.max([x[1] for x in b], axis=0)


def place(obj: SimObject, rot: np.ndarray, offset: np.ndarray) -> SimObject:
    """Apply a rigid pose to every part of ``obj`` (in place) and return it."""
    obj.parts = [transform(p, rot, np.asarray(offset, dtype=np.float64)) for p in obj.parts]
    if obj.cavity is not None:
        lo, hi = obj.cavity
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        c = corners @ rot.T + offset
        obj.cavity = (c.min(0), c.max(0))
    return obj


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _shell_box(c, half, t: float, material: str, rot=None) -> list[Primitive]:
    inner = tuple(max(h - t, 0.1) for h in half)
    return [box(c, half, material, rot), box(c, inner, material, rot, scale=-1.0)]


# --------------------------------------------------------------------------- bag shells
def build_bag_shell(
    kind: str, rng: np.random.Generator
) -> tuple[list[SimObject], tuple[np.ndarray, np.ndarray]]:
    """The bag itself (shell, frame, wheels, handle, zips), with its origin at the bag's corner.

    Args:
        kind: ``"suitcase"``, ``"backpack"`` or ``"softbag"``.
        rng: random generator.

    Returns:
        ``(objects, (lo, hi))``: the bag parts and the packable interior box (mm, bag frame).
    """
    if kind == "suitcase":
        L, W, H = _u(rng, 520, 720), _u(rng, 360, 460), _u(rng, 200, 280)
        wall = _u(rng, 2.5, 4.0)
        shell_mat = str(
            rng.choice(["abs", "polyethylene", "polycarbonate", "aluminium"], p=[0.5, 0.2, 0.25, 0.05])
        )
        if shell_mat == "aluminium":
            wall = _u(rng, 0.8, 1.2)
        c = np.array([L / 2, W / 2, H / 2])
        parts = _shell_box(c, (L / 2, W / 2, H / 2), wall, shell_mat)
        # interior lining
        parts += _shell_box(c, (L / 2 - wall, W / 2 - wall, H / 2 - wall), 0.6, "polyester")
        frame = []
        # telescopic trolley handle: two rectangular aluminium tubes along x inside the back wall
        tube_len = L * _u(rng, 0.75, 0.9)
        tw, th, tt = _u(rng, 10, 16), _u(rng, 5, 8), _u(rng, 1.2, 2.0)
        for yy in (W * _u(rng, 0.25, 0.32), W * _u(rng, 0.68, 0.75)):
            ctr = [L * 0.5, yy, wall + th + 2]
            frame += _shell_box(ctr, (tube_len / 2, tw, th), tt, "aluminium")
            frame.append(box([L * 0.5 + tube_len / 2 - 20, yy, wall + th + 2], (20, tw + 3, th + 3), "abs"))
        # handle housing at the top end, carry handle on the side (with steel screws)
        frame.append(box([L - 15, W / 2, wall + 20], (10, W * 0.25, 18), "abs"))
        frame.append(box([L / 2, W + 12, H / 2], (70, 10, 12), "abs"))
        frame.append(box([L / 2, W + 12, H / 2], (60, 6, 9), "abs", scale=-1))
        for xx in (L / 2 - 75, L / 2 + 75):
            frame.append(cylinder([xx, W + 1, H / 2], 2.5, 8, "steel", rotation(0, 0, 90)))
        # edge piping along the 12 edges of the shell
        for y0 in (0.0, W):
            for z0 in (0.0, H):
                frame.append(cylinder([L / 2, y0, z0], 4.0, L / 2, "pvc", rotation(0, 90, 0)))
        for x0 in (0.0, L):
            for z0 in (0.0, H):
                frame.append(cylinder([x0, W / 2, z0], 4.0, W / 2, "pvc", rotation(0, 0, 90)))
            for y0 in (0.0, W):
                frame.append(cylinder([x0, y0, H / 2], 4.0, H / 2, "pvc"))
        # rivets and feet on the shell
        for _ in range(int(rng.integers(6, 16))):
            frame.append(
                cylinder([_u(rng, 0, L), _u(rng, 0, W), float(rng.choice([1.0, H - 1.0]))], 3.0, 1.5, "steel")
            )
        # wheels (4) with steel axles at the bottom end
        for yy in (25, W - 25):
            for zz in (20, H - 20):
                frame.append(cylinder([-18, yy, zz], 25, 12, "rubber", rotation(0, 0, 90)))
                frame.append(cylinder([-18, yy, zz], 3, 16, "steel", rotation(0, 0, 90)))
                frame.append(box([-6, yy, zz], (8, 20, 20), "abs"))
        # zip around the middle: polyester tape with zinc-alloy teeth, and two sliders
        zip_parts = []
        for y0 in (0.0, W):
            zip_parts.append(box([L / 2, y0, H / 2], (L / 2, 1.5, 12), "polyester"))
            zip_parts.append(box([L / 2, y0, H / 2], (L / 2, 1.5, 3.0), "zinc_alloy", scale=0.5))
        for x0 in (0.0, L):
            zip_parts.append(box([x0, W / 2, H / 2], (1.5, W / 2, 12), "polyester"))
            zip_parts.append(box([x0, W / 2, H / 2], (1.5, W / 2, 3.0), "zinc_alloy", scale=0.5))
        for _ in range(2):
            zip_parts.append(box([L * _u(rng, 0.2, 0.8), 0.0, H / 2], (12, 4, 6), "zinc_alloy"))
            zip_parts.append(box([L * _u(rng, 0.2, 0.8), -6.0, H / 2], (14, 1.5, 5), "zinc_alloy"))
        objs = [
            SimObject("suitcase_shell", None, shell_mat, parts),
            SimObject("suitcase_frame", None, "aluminium", frame),
            SimObject("zip", None, "zinc_alloy", zip_parts),
        ]
        m = wall + 1.0
        return objs, (np.array([m, m, m + 24.0]), np.array([L - m, W - m, H - m]))
    if kind == "backpack":
        L, W, H = _u(rng, 380, 480), _u(rng, 260, 330), _u(rng, 150, 220)
        c = np.array([L / 2, W / 2, H / 2])
        parts = [
            ellipsoid(c, (L * 0.55, W * 0.58, H * 0.58), "polyester"),
            ellipsoid(c, (L * 0.55 - 1.5, W * 0.58 - 1.5, H * 0.58 - 1.5), "polyester", scale=-1),
        ]
        # padded back panel and straps
        parts.append(box([L / 2, W / 2, 6], (L * 0.45, W * 0.4, 6), "polyethylene"))
        parts.append(box([L / 2, W / 2, 6], (L * 0.45, W * 0.4, 6), "polyethylene", scale=-0.7))
        extra = []
        for yy in (W * 0.3, W * 0.7):
            extra.append(box([L / 2, yy, -8], (L * 0.42, 25, 5), "polyester"))
            extra.append(box([L * 0.1, yy, -8], (15, 20, 2), "polyethylene"))  # buckle
            extra.append(box([L * 0.9, yy, -8], (12, 18, 1.5), "zinc_alloy"))
        zip_parts = [
            box([L / 2, W * 0.5, H * 0.95], (L * 0.4, 1.5, 1.2), "zinc_alloy"),
            box([L * _u(rng, 0.2, 0.8), W * 0.5, H * 0.95], (10, 4, 5), "zinc_alloy"),
        ]
        objs = [
            SimObject("backpack_shell", None, "polyester", parts + extra),
            SimObject("zip", None, "zinc_alloy", zip_parts),
        ]
        return objs, (np.array([L * 0.1, W * 0.12, H * 0.12]), np.array([L * 0.9, W * 0.88, H * 0.88]))
    # soft duffel bag: cylinder of fabric along x
    L, R = _u(rng, 450, 650), _u(rng, 120, 160)
    rx = rotation(0, 90, 0)
    c = np.array([L / 2, R, R])
    parts = [
        cylinder(c, R, L / 2, "polyester", rx),
        cylinder(c, R - 1.5, L / 2 - 1.5, "polyester", rx, scale=-1),
    ]
    parts.append(box([L / 2, R, 2 * R + 10], (L * 0.3, 15, 4), "polyester"))
    parts.append(box([L / 2, R, 2 * R + 10], (L * 0.3 - 3, 12, 3), "polyester", scale=-1))
    for x0 in (L * 0.15, L * 0.85):
        parts.append(box([x0, R, 2 * R + 3], (10, 8, 3), "zinc_alloy"))
    zip_parts = [box([L / 2, R, 2 * R - 2], (L * 0.42, 1.5, 1.2), "zinc_alloy")]
    objs = [
        SimObject("softbag_shell", None, "polyester", parts),
        SimObject("zip", None, "zinc_alloy", zip_parts),
    ]
    return objs, (np.array([L * 0.08, R * 0.3, R * 0.3]), np.array([L * 0.92, R * 1.7, R * 1.7]))


# --------------------------------------------------------------------------- benign clutter
def clothes(rng: np.random.Generator) -> SimObject:
    """A folded garment or a soft pile of clothes: overlapping flattened ellipsoids with fold texture."""
    mat = str(rng.choice(["cotton", "polyester"]))
    hx, hy, hz = _u(rng, 130, 240), _u(rng, 100, 180), _u(rng, 8, 25)
    parts = []
    if rng.random() < 0.35:  # neatly folded: a rounded slab
        parts.append(box([0, 0, 0], (hx, hy, hz * 0.6), mat))
        parts.append(ellipsoid([0, 0, 0], (hx * 1.02, hy * 1.02, hz * 0.6), mat, scale=0.5))
    else:
        for _ in range(int(rng.integers(2, 5))):
            c = [_u(rng, -0.3, 0.3) * hx, _u(rng, -0.3, 0.3) * hy, _u(rng, -0.3, 0.3) * hz]
            r = (hx * _u(rng, 0.6, 1.0), hy * _u(rng, 0.6, 1.0), hz * _u(rng, 0.6, 1.0))
            parts.append(ellipsoid(c, r, mat, rotation(_u(rng, 0, 180))))
    if rng.random() < 0.5:  # buttons / a zip / a belt buckle
        for _ in range(int(rng.integers(2, 7))):
            parts.append(cylinder([_u(rng, -hx, hx) * 0.6, _u(rng, -hy, hy) * 0.6, 0], 5, 1, "abs"))
    if rng.random() < 0.2:
        parts.append(box([_u(rng, -hx, hx) * 0.5, 0, hz * 0.3], (18, 12, 1.5), "zinc_alloy"))
    if rng.random() < 0.2:  # zip along a jacket
        parts.append(
            box(
                [0, _u(rng, -hy, hy) * 0.5, 0], (hx * 0.8, 1.5, 1.0), "zinc_alloy", rotation(_u(rng, -20, 20))
            )
        )
    return SimObject("clothes", None, mat, parts, texture=_u(rng, 0.5, 0.9))


def shoes(rng: np.random.Generator) -> SimObject:
    """A shoe: rubber sole, leather upper with an air cavity (where items get hidden)."""
    L, Wd = _u(rng, 250, 300), _u(rng, 90, 110)
    sole = [
        (-L / 2, -Wd * 0.35),
        (-L * 0.3, -Wd / 2),
        (L * 0.3, -Wd / 2),
        (L / 2, -Wd * 0.2),
        (L / 2, Wd * 0.2),
        (L * 0.3, Wd / 2),
        (-L * 0.3, Wd / 2),
        (-L / 2, Wd * 0.35),
    ]
    parts = [
        prism([0, 0, 0], sole, _u(rng, 8, 14), "rubber"),
        ellipsoid([0, 0, 45], (L * 0.48, Wd * 0.5, 45), "leather"),
        ellipsoid([0, 0, 45], (L * 0.48 - 3, Wd * 0.5 - 3, 42), "leather", scale=-1),
    ]
    if rng.random() < 0.5:  # steel shank
        parts.append(box([-L * 0.1, 0, 5], (45, 8, 0.8), "steel"))
    cav = (np.array([-L * 0.35, -Wd * 0.3, 20.0]), np.array([L * 0.35, Wd * 0.3, 70.0]))
    return SimObject("shoe", None, "rubber", parts, cavity=cav)


def toiletry(rng: np.random.Generator) -> SimObject:
    """Bottle of gel/liquid (PE shell), or an aluminium aerosol can."""
    r, hl = _u(rng, 18, 35), _u(rng, 40, 90)
    if rng.random() < 0.3:
        parts = [
            cylinder([0, 0, 0], r, hl, "aluminium"),
            cylinder([0, 0, 0], r - 0.5, hl - 0.5, "aluminium", scale=-1),
            cylinder([0, 0, 0], r - 0.5, hl * 0.6, "cosmetic_gel"),
        ]
        parts.append(cylinder([0, 0, hl + 8], 10, 8, "polyethylene"))
        return SimObject("aerosol", None, "aluminium", parts)
    parts = [
        cylinder([0, 0, 0], r, hl, "polyethylene"),
        cylinder([0, 0, 0], r - 1.2, hl - 1.2, "polyethylene", scale=-1),
        cylinder([0, 0, -hl * 0.15], r - 1.2, hl * 0.8, "cosmetic_gel"),
    ]
    parts.append(cylinder([0, 0, hl + 10], r * 0.5, 10, "polyethylene"))
    parts.append(cylinder([0, 0, hl + 14], 1.5, 3, "steel"))  # pump spring
    return SimObject("toiletry", None, "cosmetic_gel", parts)


def book(rng: np.random.Generator) -> SimObject:
    """A paperback or hardback book."""
    hx, hy, hz = _u(rng, 65, 120), _u(rng, 100, 150), _u(rng, 6, 25)
    parts = [box([0, 0, 0], (hx, hy, hz), "paper")]
    return SimObject("book", None, "paper", parts)


def laptop(rng: np.random.Generator) -> SimObject:
    """Laptop: aluminium/ABS case, PCB, Li-ion battery pack, screws, fan, hinge."""
    hx, hy, hz = _u(rng, 140, 180), _u(rng, 100, 125), _u(rng, 8, 11)
    case = str(rng.choice(["aluminium", "abs"]))
    t = 1.0 if case == "aluminium" else 2.0
    parts = _shell_box([0, 0, 0], (hx, hy, hz), t, case)
    parts.append(box([0, hy * 0.25, 0], (hx * 0.85, hy * 0.45, 0.8), "pcb"))
    parts.append(box([0, -hy * 0.6, -hz * 0.3], (hx * 0.75, hy * 0.25, 3.5), "li_ion_cell"))
    parts.append(box([0, 0, hz - 1.2], (hx * 0.95, hy * 0.95, 0.35), "glass"))  # display
    parts.append(cylinder([hx * 0.55, hy * 0.5, 0], 20, 4, "aluminium"))  # fan / heatsink
    parts.append(box([hx * 0.2, hy * 0.5, 0], (35, 4, 2), "copper"))  # heat pipe
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(cylinder([sx * (hx - 8), sy * (hy - 8), 0], 1.2, hz - 1, "steel"))
        parts.append(box([sx * hx * 0.6, hy - 4, hz - 3], (15, 3, 3), "zinc_alloy"))  # hinges
    for _ in range(int(rng.integers(4, 10))):
        parts.append(
            box(
                [_u(rng, -hx, hx) * 0.7, _u(rng, 0, hy) * 0.6, 1.5],
                (_u(rng, 3, 10), _u(rng, 3, 10), 1.0),
                "pcb",
            )
        )
    return SimObject("laptop", None, case, parts)


def phone(rng: np.random.Generator) -> SimObject:
    """Smartphone or power bank."""
    if rng.random() < 0.4:
        hx, hy, hz = _u(rng, 45, 75), _u(rng, 30, 40), _u(rng, 8, 12)
        parts = _shell_box([0, 0, 0], (hx, hy, hz), 1.5, "abs")
        parts.append(box([-5, 0, 0], (hx - 10, hy - 4, hz - 3), "li_ion_cell"))
        parts.append(box([hx - 6, 0, 0], (3, hy - 4, 2), "pcb"))
        return SimObject("power_bank", None, "li_ion_cell", parts)
    hx, hy, hz = _u(rng, 70, 80), _u(rng, 34, 38), 4.0
    parts = [
        box([0, 0, 0], (hx, hy, hz), "aluminium"),
        box([0, 0, 0], (hx - 1, hy - 1, hz - 0.8), "aluminium", scale=-1),
    ]
    parts.append(box([0, 0, 0], (hx - 1, hy - 1, 0.5), "glass"))
    parts.append(box([-hx * 0.2, 0, -1.5], (hx * 0.45, hy * 0.8, 1.8), "li_ion_cell"))
    parts.append(box([hx * 0.5, 0, -0.5], (hx * 0.3, hy * 0.7, 0.6), "pcb"))
    parts.append(cylinder([hx * 0.7, hy * 0.5, 0], 5, 1.5, "steel"))  # camera
    return SimObject("phone", None, "aluminium", parts)


def charger(rng: np.random.Generator) -> SimObject:
    """Charger brick with copper windings, steel prongs and a coiled cable."""
    hx, hy, hz = _u(rng, 20, 40), _u(rng, 20, 35), _u(rng, 12, 20)
    parts = [box([0, 0, 0], (hx, hy, hz), "abs"), box([0, 0, 0], (hx - 2, hy - 2, hz - 2), "abs", scale=-1)]
    parts.append(box([0, 0, 0], (hx * 0.4, hy * 0.4, hz * 0.5), "steel"))
    parts.append(cylinder([0, 0, 0], hx * 0.35, hz * 0.5, "copper", scale=0.5))
    parts.append(box([0, 0, 0], (hx * 0.8, hy * 0.8, 0.8), "pcb"))
    for sy in (-1, 1):
        parts.append(box([hx + 8, sy * 6, 0], (8, 1, 3), "steel"))
    # cable: loops approximated by short straight segments
    x, y = -hx, 0.0
    ang = _u(rng, 0, 360)
    for _ in range(int(rng.integers(4, 12))):
        seg = _u(rng, 20, 45)
        ang += _u(rng, -100, 100)
        nx, ny = x + seg * np.cos(np.deg2rad(ang)), y + seg * np.sin(np.deg2rad(ang))
        r = rotation(ang, 90, 0)
        parts.append(cylinder([(x + nx) / 2, (y + ny) / 2, 0], 1.8, seg / 2, "pvc", r))
        parts.append(cylinder([(x + nx) / 2, (y + ny) / 2, 0], 0.5, seg / 2, "copper", r))
        x, y = nx, ny
    return SimObject("charger", None, "abs", parts)


def bottle(rng: np.random.Generator) -> SimObject:
    """PET water bottle or a glass jar."""
    if rng.random() < 0.3:
        r, hl = _u(rng, 30, 45), _u(rng, 40, 70)
        parts = [
            cylinder([0, 0, 0], r, hl, "glass"),
            cylinder([0, 0, 0], r - 3, hl - 3, "glass", scale=-1),
            cylinder([0, 0, -5], r - 3, hl - 8, str(rng.choice(["food", "water"]))),
        ]
        parts.append(cylinder([0, 0, hl + 4], r * 0.9, 4, "steel"))
        parts.append(cylinder([0, 0, hl + 4], r * 0.9 - 0.3, 3.7, "steel", scale=-1))
        return SimObject("jar", None, "glass", parts)
    r, hl = _u(rng, 30, 42), _u(rng, 90, 140)
    parts = [
        cylinder([0, 0, 0], r, hl, "pet"),
        cylinder([0, 0, 0], r - 0.4, hl - 0.4, "pet", scale=-1),
        cylinder([0, 0, -hl * 0.1], r - 0.4, hl * 0.85, "water"),
        cylinder([0, 0, hl + 10], 14, 10, "polyethylene"),
    ]
    return SimObject("bottle", None, "water", parts)


def umbrella(rng: np.random.Generator) -> SimObject:
    """Folded umbrella: steel shaft, ribs and runner in polyester canopy."""
    hl = _u(rng, 120, 160)
    parts = [
        cylinder([0, 0, 0], 5, hl, "steel"),
        cylinder([0, 0, 0], 4.2, hl, "steel", scale=-1),
        cylinder([0, 0, 0], 22, hl * 0.85, "polyester", scale=0.6),
    ]
    for k in range(8):
        a = 2 * np.pi * k / 8
        parts.append(cylinder([14 * np.cos(a), 14 * np.sin(a), -10], 1.2, hl * 0.8, "steel"))
    parts.append(cylinder([0, 0, -hl - 20], 14, 20, "abs"))
    return SimObject("umbrella", None, "steel", parts)


def food(rng: np.random.Generator) -> SimObject:
    """Snacks: a chocolate bar, a sandwich box, fruit."""
    k = rng.integers(3)
    if k == 0:
        return SimObject(
            "chocolate",
            None,
            "chocolate",
            [box([0, 0, 0], (_u(rng, 40, 80), _u(rng, 20, 40), 5), "chocolate")],
        )
    if k == 1:
        hx, hy, hz = _u(rng, 60, 100), _u(rng, 50, 80), _u(rng, 20, 35)
        parts = _shell_box([0, 0, 0], (hx, hy, hz), 1.5, "polyethylene")
        parts.append(box([0, 0, -hz * 0.2], (hx - 4, hy - 4, hz * 0.6), "food"))
        return SimObject("lunchbox", None, "food", parts)
    return SimObject("fruit", None, "food", [ellipsoid([0, 0, 0], (38, 36, 35), "water")])


def metal_bits(rng: np.random.Generator) -> SimObject:
    """Keys, coins, a belt buckle, pens, a small torch or tool."""
    parts = []
    for _ in range(int(rng.integers(1, 6))):
        x, y = _u(rng, -40, 40), _u(rng, -40, 40)
        k = rng.integers(4)
        if k == 0:
            parts.append(
                cylinder([x, y, 0], _u(rng, 9, 14), 1.0, str(rng.choice(["copper", "steel", "brass"])))
            )
        elif k == 1:
            ang = _u(rng, 0, 180)
            parts.append(
                prism(
                    [x, y, 0], [(-25, -4), (25, -3), (28, 0), (25, 3), (-25, 4)], 1.0, "brass", rotation(ang)
                )
            )
            parts.append(
                cylinder(
                    [x - 30 * np.cos(np.deg2rad(ang)), y - 30 * np.sin(np.deg2rad(ang)), 0],
                    10,
                    1.2,
                    "brass",
                    rotation(ang),
                )
            )
        elif k == 2:
            r = rotation(_u(rng, 0, 180), 90)
            parts.append(cylinder([x, y, 0], 5, 70, "abs", r))
            parts.append(cylinder([x, y, 0], 1.0, 60, "steel", r))
        else:
            r = rotation(_u(rng, 0, 180), 90)
            parts.append(cylinder([x, y, 0], 13, 60, "aluminium", r))
            parts.append(cylinder([x, y, 0], 12, 59, "aluminium", r, scale=-1))
            parts.append(cylinder([x, y, -20], 9, 30, "li_ion_cell", r))
    return SimObject("metal_items", None, "steel", parts)


def glasses_case(rng: np.random.Generator) -> SimObject:
    """Glasses in a hard case (steel hinge spring, glass lenses)."""
    parts = _shell_box([0, 0, 0], (75, 28, 20), 1.5, "abs")
    parts.append(box([0, -25, 0], (60, 1.5, 10), "steel", scale=0.5))
    for sx in (-1, 1):
        parts.append(ellipsoid([sx * 28, 0, 0], (24, 18, 2.5), "glass"))
    return SimObject("glasses_case", None, "abs", parts)


#: Benign item builders and relative frequencies.
BENIGN_BUILDERS = {
    "clothes": (clothes, 5.0),
    "shoe": (shoes, 1.0),
    "toiletry": (toiletry, 1.5),
    "book": (book, 1.0),
    "laptop": (laptop, 0.25),
    "phone": (phone, 1.0),
    "charger": (charger, 1.0),
    "bottle": (bottle, 0.8),
    "umbrella": (umbrella, 0.3),
    "food": (food, 0.8),
    "metal_items": (metal_bits, 0.8),
    "glasses_case": (glasses_case, 0.3),
}
