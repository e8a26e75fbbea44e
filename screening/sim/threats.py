"""Contraband builders: firearms and parts, ammunition, blades, drugs, currency, wildlife, shields."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from screening.scan import Label
from screening.sim.geometry import Primitive, box, cylinder, ellipsoid, prism, rotation
from screening.sim.objects import SimObject

__all__ = ["BANKNOTE_SIZES_MM", "BANKNOTE_THICKNESS_MM", "THREAT_BUILDERS", "cartridge", "currency_bundle"]

#: Banknote sizes (length, width) mm: USD 156×66, 156×77 (as in the issue), EUR 100 147×82, GBP 20 139×73.
BANKNOTE_SIZES_MM: tuple[tuple[float, float], ...] = (
    (156.0, 66.0),
    (156.0, 77.0),
    (147.0, 82.0),
    (139.0, 73.0),
)
#: Thickness of one banknote, mm (USD: 0.0043 in ≈ 0.11 mm).
BANKNOTE_THICKNESS_MM = 0.11

_CALIBRES = {  # name: (case radius, case half length, bullet radius, bullet length) mm
    "9mm": (4.95, 9.5, 4.5, 12.0),
    ".38": (4.8, 14.5, 4.5, 13.0),
    "5.56": (4.8, 22.5, 2.85, 19.0),
    "7.62x39": (5.6, 19.5, 3.9, 26.0),
    "12ga": (10.5, 35.0, 9.0, 6.0),
}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def cartridge(center, rot: np.ndarray, calibre: str = "9mm") -> list[Primitive]:
    """One round along local z: brass case (hollow, powder-filled) and lead bullet with an ogive nose."""
    cr, chl, br, bl = _CALIBRES[calibre]
    c = np.asarray(center, dtype=np.float64)
    ax = rot[:, 2]
    case_mat = "polyethylene" if calibre == "12ga" else "brass"
    wall = 1.0 if calibre == "12ga" else 0.45
    parts = [
        cylinder(c, cr, chl, case_mat, rot),
        cylinder(c + ax * 0.6, cr - wall, chl - 0.6, case_mat, rot, scale=-1),
        cylinder(c + ax * 0.6, cr - wall, chl - 0.6, "gunpowder", rot),
        cylinder(c - ax * (chl - 0.7), cr * 0.6, 0.7, "brass", rot),  # head / rim
    ]
    body = bl * 0.55
    parts.append(cylinder(c + ax * (chl + body / 2 - 2), br, body / 2, "lead", rot))
    parts.append(ellipsoid(c + ax * (chl + body - 2), (br, br, bl * 0.45), "lead", rot))
    return parts


# --------------------------------------------------------------------------- firearms
def pistol(rng: np.random.Generator) -> SimObject:
    """Semi-automatic pistol lying on its side: slide, barrel, frame, grip, loaded magazine, trigger guard."""
    s = _u(rng, 0.85, 1.15)
    frame_mat = str(rng.choice(["polymer_frame", "gun_steel"], p=[0.6, 0.4]))
    P = lambda pts: [(x * s, y * s) for x, y in pts]  # noqa: E731
    parts = [
        prism([0, 0, 0], P([(-90, 30), (95, 30), (95, 58), (-82, 62), (-90, 55)]), 12.5 * s, "gun_steel"),
        prism([0, 0, 0], P([(-80, 34), (85, 34), (85, 55), (-80, 57)]), 8.5 * s, "gun_steel", scale=-1),
        cylinder([5 * s, 46 * s, 0], 7 * s, 55 * s, "gun_steel", rotation(0, 90, 0)),
        cylinder([5 * s, 46 * s, 0], 4.5 * s, 55 * s, "gun_steel", rotation(0, 90, 0), scale=-1),
        cylinder(
            [-20 * s, 46 * s, 0], 5 * s, 30 * s, "steel", rotation(0, 90, 0), scale=0.6
        ),  # recoil spring
        prism([0, 0, 0], P([(-85, 14), (70, 14), (70, 30), (-85, 30)]), 11 * s, frame_mat),
        prism([0, 0, 0], P([(-88, 18), (-48, 18), (-60, -72), (-100, -66)]), 14 * s, frame_mat),
        prism([0, 0, 0], P([(-83, 14), (-55, 14), (-66, -64), (-93, -60)]), 11 * s, frame_mat, scale=-1),
        # trigger guard: bottom bar and front bar; trigger blade
        prism([0, 0, 0], P([(-50, -8), (-5, -8), (-3, -3), (-50, -3)]), 5 * s, frame_mat),
        prism([0, 0, 0], P([(-8, -8), (-2, -5), (-2, 14), (-8, 14)]), 5 * s, frame_mat),
        prism([0, 0, 0], P([(-32, 14), (-26, 14), (-30, -2), (-34, -2)]), 3 * s, "gun_steel"),
        box([-40 * s, 20 * s, 0], (12 * s, 3 * s, 6 * s), "gun_steel"),  # trigger bar / locking block
    ]
    loaded = rng.random() < 0.7
    parts += [
        prism([0, 0, 0], P([(-80, 12), (-58, 12), (-68, -66), (-90, -62)]), 6 * s, "gun_steel"),
        prism([0, 0, 0], P([(-79, 12), (-59, 12), (-69, -65), (-89, -61)]), 5.3 * s, "gun_steel", scale=-1),
    ]
    if loaded:
        for k in range(int(rng.integers(4, 11))):
            y = 5 - k * 6.5
            x = -70 - (5 - y) * 0.13
            parts += cartridge([x * s, y * s, 0], rotation(0, 90, 0), "9mm")
    return SimObject("pistol", Label.FIREARM, "gun_steel", parts, extra={"loaded": loaded})


def revolver(rng: np.random.Generator) -> SimObject:
    """Revolver: barrel, frame, cylinder with six chambers (rounds in some), wooden grip."""
    s = _u(rng, 0.85, 1.2)
    bl = _u(rng, 50, 150) * s
    rx = rotation(0, 90, 0)
    parts = [
        cylinder([bl / 2 + 20 * s, 40 * s, 0], 8.5 * s, bl / 2, "gun_steel", rx),
        cylinder([bl / 2 + 20 * s, 40 * s, 0], 4.5 * s, bl / 2, "gun_steel", rx, scale=-1),
        prism(
            [0, 0, 0],
            [(x * s, y * s) for x, y in [(-50, 20), (22, 20), (22, 52), (-40, 55), (-55, 40)]],
            10 * s,
            "gun_steel",
        ),
        cylinder([0, 32 * s, 0], 19 * s, 20 * s, "gun_steel", rx),
        prism(
            [0, 0, 0],
            [(x * s, y * s) for x, y in [(-50, 22), (-25, 18), (-45, -60), (-75, -55)]],
            15 * s,
            "wood",
        ),
        prism(
            [0, 0, 0],
            [(x * s, y * s) for x, y in [(-45, 22), (-32, 20), (-50, -50), (-62, -48)]],
            4 * s,
            "gun_steel",
        ),
        prism(
            [0, 0, 0], [(x * s, y * s) for x, y in [(-25, 0), (5, 0), (8, 18), (-22, 18)]], 4 * s, "gun_steel"
        ),
        prism(
            [0, 0, 0],
            [(x * s, y * s) for x, y in [(-15, 18), (-10, 18), (-13, 4), (-17, 4)]],
            2.5 * s,
            "gun_steel",
        ),
    ]
    n_loaded = int(rng.integers(0, 7))
    for k in range(6):
        a = 2 * np.pi * k / 6
        cy, cz = 32 * s + 11 * s * np.cos(a), 11 * s * np.sin(a)
        parts.append(cylinder([0, cy, cz], 4.8 * s, 20 * s, "gun_steel", rx, scale=-1))
        if k < n_loaded:
            parts += cartridge([0, cy, cz], rx, ".38")[:3]
    return SimObject("revolver", Label.FIREARM, "gun_steel", parts, extra={"rounds": n_loaded})


def gun_part(rng: np.random.Generator) -> SimObject:
    """A loose firearm part: barrel, slide or magazine."""
    k = int(rng.integers(3))
    if k == 0:
        L = _u(rng, 90, 400)
        parts = [
            cylinder([0, 0, 0], _u(rng, 7, 12), L / 2, "gun_steel", rotation(0, 90, 0)),
            cylinder([0, 0, 0], 4.5, L / 2, "gun_steel", rotation(0, 90, 0), scale=-1),
        ]
        return SimObject("gun_barrel", Label.FIREARM, "gun_steel", parts)
    if k == 1:
        parts = [
            box([0, 0, 0], (90, 14, 12), "gun_steel"),
            box([0, 0, 0], (80, 10, 8), "gun_steel", scale=-1),
        ]
        return SimObject("gun_slide", Label.FIREARM, "gun_steel", parts)
    parts = [box([0, 0, 0], (11, 40, 6), "gun_steel"), box([0, 0, 0], (10.3, 39, 5.3), "gun_steel", scale=-1)]
    for j in range(int(rng.integers(0, 10))):
        parts += cartridge([0, 32 - j * 7.0, 0], rotation(0, 90, 0), "9mm")
    return SimObject("magazine", Label.FIREARM, "gun_steel", parts)


# --------------------------------------------------------------------------- ammunition
def ammo(rng: np.random.Generator) -> SimObject:
    """A box of cartridges in a grid, or a few loose rounds."""
    cal = str(rng.choice(list(_CALIBRES), p=[0.4, 0.2, 0.15, 0.15, 0.1]))
    cr = _CALIBRES[cal][0]
    parts: list[Primitive] = []
    if rng.random() < 0.5:
        nx, ny = int(rng.integers(3, 8)), int(rng.integers(2, 6))
        pitch = 2 * cr + 1.5
        parts += [
            box([0, 0, 0], (nx * pitch / 2 + 2, ny * pitch / 2 + 2, 22), "paper"),
            box([0, 0, 0], (nx * pitch / 2 + 1, ny * pitch / 2 + 1, 21), "paper", scale=-1),
        ]
        for i in range(nx):
            for j in range(ny):
                c = [(i - (nx - 1) / 2) * pitch, (j - (ny - 1) / 2) * pitch, -4]
                parts += cartridge(c, np.eye(3), cal)
        return SimObject(
            "ammo_box", Label.AMMUNITION, "brass", parts, extra={"calibre": cal, "rounds": nx * ny}
        )
    n = int(rng.integers(1, 9))
    for _ in range(n):
        parts += cartridge([_u(rng, -60, 60), _u(rng, -60, 60), 0], rotation(_u(rng, 0, 360), 90), cal)
    return SimObject("loose_rounds", Label.AMMUNITION, "brass", parts, extra={"calibre": cal, "rounds": n})


# --------------------------------------------------------------------------- blades
def knife(rng: np.random.Generator) -> SimObject:
    """Fixed-blade kitchen/hunting knife or a dagger."""
    bl, bw, t = _u(rng, 80, 200), _u(rng, 14, 30), _u(rng, 0.7, 1.5)
    mat = str(rng.choice(["steel", "stainless"]))
    if rng.random() < 0.3:
        blade = [(0, -bw / 2), (bl * 0.8, -bw * 0.3), (bl, 0), (bl * 0.8, bw * 0.3), (0, bw / 2)]
        name = "dagger"
    else:
        blade = [(0, -bw / 2), (bl * 0.7, -bw / 2), (bl, bw * 0.35), (bl * 0.9, bw / 2), (0, bw / 2)]
        name = "fixed_knife"
    hl = _u(rng, 90, 130)
    hmat = str(rng.choice(["wood", "abs", "rubber"]))
    parts = [
        prism([0, 0, 0], blade, t, mat),
        box([-hl / 2, 0, 0], (hl / 2, 11, 9), hmat),
        box([-hl / 2, 0, 0], (hl / 2 - 5, 6, t), mat),
    ]  # tang
    if name == "dagger" or rng.random() < 0.3:
        parts.append(box([-3, 0, 0], (3, bw * 0.9, 6), "brass"))  # guard
    for k in range(3):
        parts.append(cylinder([-hl * (0.2 + 0.3 * k), 0, 0], 2.5, 9, "brass"))  # rivets
    return SimObject(name, Label.BLADE, mat, parts)


def folding_knife(rng: np.random.Generator) -> SimObject:
    """Folding knife, open or closed: blade, steel liners, scales, pivot and clip."""
    bl, bw, t = _u(rng, 60, 100), _u(rng, 15, 25), _u(rng, 1.2, 1.8)
    hl = bl * 1.1
    opened = rng.random() < 0.5
    blade = [(0, -bw / 2), (bl * 0.7, -bw / 2), (bl, bw * 0.35), (bl * 0.85, bw / 2), (0, bw / 2)]
    rot_b = np.eye(3) if opened else rotation(180)
    parts = [prism([0, 0, 0], blade, t, "stainless", rot_b)]
    scale_mat = str(rng.choice(["abs", "aluminium", "wood"]))
    parts += [
        box([-hl / 2, 0, 4], (hl / 2, 12, 1.8), scale_mat),
        box([-hl / 2, 0, -4], (hl / 2, 12, 1.8), scale_mat),
        box([-hl / 2, 0, 2.2], (hl / 2, 11, 0.5), "steel"),
        box([-hl / 2, 0, -2.2], (hl / 2, 11, 0.5), "steel"),
        cylinder([0, 0, 0], 4, 6.5, "steel"),
        box([-hl * 0.6, 8, 6.5], (hl * 0.35, 4, 0.6), "steel"),
    ]
    return SimObject("folding_knife", Label.BLADE, "stainless", parts, extra={"open": opened})


def razor_blades(rng: np.random.Generator) -> SimObject:
    """One to five double-edge razor blades (0.1 mm steel) with the centre slot."""
    parts = []
    for _ in range(int(rng.integers(1, 6))):
        c = [_u(rng, -20, 20), _u(rng, -20, 20), _u(rng, -1, 1)]
        r = rotation(_u(rng, 0, 180))
        parts.append(box(c, (21.5, 11, 0.05), "steel", r))
        parts.append(box(c, (12, 1.5, 0.05), "steel", r, scale=-1))
    return SimObject("razor_blades", Label.BLADE, "steel", parts)


# --------------------------------------------------------------------------- drugs
_DRUGS = ("cocaine_hcl", "cocaine_base", "heroin", "meth_hcl", "cannabis_resin")


def drug_brick(rng: np.random.Generator) -> SimObject:
    """Taped pressed brick (~0.5–1.2 kg)."""
    mat = str(rng.choice(_DRUGS))
    h = (_u(rng, 80, 110), _u(rng, 50, 70), _u(rng, 15, 28))
    parts = [
        box([0, 0, 0], h, mat),
        box([0, 0, 0], tuple(x + 0.4 for x in h), "polyethylene"),
        box([0, 0, 0], h, "polyethylene", scale=-1),
    ]
    return SimObject("drug_brick", Label.DRUGS, mat, parts)


def drug_pouch(rng: np.random.Generator) -> SimObject:
    """Soft plastic pouch(es) of powder or a batch of swallowed-style pellets."""
    mat = str(rng.choice(_DRUGS))
    if rng.random() < 0.35:
        parts = []
        for _ in range(int(rng.integers(10, 40))):
            parts.append(
                ellipsoid(
                    [_u(rng, -45, 45), _u(rng, -35, 35), _u(rng, -8, 8)],
                    (16, 7.5, 7.5),
                    mat,
                    rotation(_u(rng, 0, 180)),
                )
            )
        return SimObject("drug_pellets", Label.DRUGS, mat, parts)
    r = (_u(rng, 40, 90), _u(rng, 30, 60), _u(rng, 8, 18))
    return SimObject("drug_pouch", Label.DRUGS, mat, [ellipsoid([0, 0, 0], r, mat)])


def drug_sheet(rng: np.random.Generator) -> SimObject:
    """A flat layer of powder for hiding in a bag's lining."""
    mat = str(rng.choice(_DRUGS[:4]))
    parts = [box([0, 0, 0], (_u(rng, 100, 180), _u(rng, 80, 140), _u(rng, 2, 5)), mat)]
    return SimObject("drug_sheet", Label.DRUGS, mat, parts)


def drug_container(rng: np.random.Generator) -> SimObject:
    """Powder or liquid drug inside a shampoo bottle or tin (the ``in_container`` case)."""
    mat = str(rng.choice(_DRUGS[:4]))
    r, hl = _u(rng, 25, 40), _u(rng, 40, 80)
    shell = str(rng.choice(["polyethylene", "aluminium"]))
    t = 1.2 if shell == "polyethylene" else 0.5
    parts = [
        cylinder([0, 0, 0], r, hl, shell),
        cylinder([0, 0, 0], r - t, hl - t, shell, scale=-1),
        cylinder([0, 0, -hl * 0.1], r - t, hl * 0.85, mat),
    ]
    return SimObject("drug_container", Label.DRUGS, mat, parts, concealment="in_container")


# --------------------------------------------------------------------------- currency
def currency_bundle(rng: np.random.Generator, note_count: int | None = None) -> SimObject:
    """A strapped bundle (or several) of banknotes with a known total note count.

    The stack is one paper box whose thickness is ``note_count × BANKNOTE_THICKNESS_MM``.
    """
    n_bundles = int(rng.integers(1, 5)) if note_count is None else 1
    size = BANKNOTE_SIZES_MM[int(rng.integers(len(BANKNOTE_SIZES_MM)))]
    parts: list[Primitive] = []
    total = 0
    z = 0.0
    for b in range(n_bundles):
        n = int(note_count if note_count is not None else rng.choice([50, 100, 100, 100, 200, 250]))
        total += n
        half_t = n * BANKNOTE_THICKNESS_MM / 2
        c = [_u(rng, -10, 10) if b else 0.0, _u(rng, -5, 5) if b else 0.0, z + half_t]
        parts.append(box(c, (size[0] / 2, size[1] / 2, half_t), "banknote_paper"))
        z += 2 * half_t
    for p in list(parts):
        band = box(p.center, (10, p.polygon[:, 1].max() + 0.1, p.size[2] + 0.1), "paper", scale=1)
        parts.append(band)
        parts.append(box(p.center, (10, p.polygon[:, 1].max(), p.size[2]), "paper", scale=-1))
    return SimObject(
        "banknotes", Label.CURRENCY, "banknote_paper", parts, note_count=total, extra={"note_size_mm": size}
    )


# --------------------------------------------------------------------------- wildlife
def ivory_tusk(rng: np.random.Generator) -> SimObject:
    """Elephant tusk (or a cut piece): curved tapering ivory with a pulp cavity at the base."""
    L = _u(rng, 250, 600)
    r0 = _u(rng, 25, 45)
    curv = _u(rng, 20, 60)
    n = 10
    parts = []
    for k in range(n):
        f0, f1 = k / n, (k + 1) / n
        x0, x1 = (f0 - 0.5) * L, (f1 - 0.5) * L
        y0, y1 = curv * (f0 - 0.5) ** 2 * 4, curv * (f1 - 0.5) ** 2 * 4
        ang = np.rad2deg(np.arctan2(y1 - y0, x1 - x0))
        r = r0 * (1 - 0.8 * (f0 + f1) / 2)
        seg = float(np.hypot(x1 - x0, y1 - y0))
        rot = rotation(ang, 90, 0)
        parts.append(cylinder([(x0 + x1) / 2, (y0 + y1) / 2, 0], r, seg / 2 + 0.5, "ivory", rot))
        if k < 3:
            parts.append(
                cylinder(
                    [(x0 + x1) / 2, (y0 + y1) / 2, 0],
                    r * (0.7 - 0.2 * k),
                    seg / 2 + 0.5,
                    "ivory",
                    rot,
                    scale=-1,
                )
            )
    return SimObject("ivory_tusk", Label.WILDLIFE, "ivory", parts)


def ivory_carving(rng: np.random.Generator) -> SimObject:
    """Carved figurine (ellipsoid body + head) or a bead necklace."""
    if rng.random() < 0.5:
        parts = []
        n = int(rng.integers(20, 60))
        R = n * 5.0 / np.pi
        for k in range(n):
            a = 2 * np.pi * k / n
            parts.append(ellipsoid([R * np.cos(a), R * np.sin(a) * 0.6, 0], (4.5, 4.5, 4.5), "ivory"))
        return SimObject("ivory_beads", Label.WILDLIFE, "ivory", parts)
    h = _u(rng, 40, 90)
    parts = [
        ellipsoid([0, 0, 0], (h * 0.35, h * 0.3, h * 0.5), "ivory", rotation(0, 90, 0)),
        ellipsoid([h * 0.6, 0, 0], (h * 0.22, h * 0.2, h * 0.22), "ivory"),
    ]
    return SimObject("ivory_carving", Label.WILDLIFE, "ivory", parts)


def rhino_horn(rng: np.random.Generator) -> SimObject:
    """Rhino horn: a keratin cone approximated by stacked tapering cylinders."""
    L, r0 = _u(rng, 150, 350), _u(rng, 40, 70)
    parts = []
    n = 8
    for k in range(n):
        r = r0 * (1 - (k + 0.5) / n * 0.9)
        parts.append(cylinder([(k + 0.5) * L / n - L / 2, 0, 0], r, L / n / 2, "keratin", rotation(0, 90, 0)))
    return SimObject("rhino_horn", Label.WILDLIFE, "keratin", parts)


def pangolin_scales(rng: np.random.Generator) -> SimObject:
    """A plastic bag of loose pangolin scales (thin keratin plates)."""
    parts = [ellipsoid([0, 0, 0], (110, 80, 35), "polyethylene", scale=0.02)]
    for _ in range(int(rng.integers(60, 160))):
        parts.append(
            ellipsoid(
                [_u(rng, -85, 85), _u(rng, -60, 60), _u(rng, -22, 22)],
                (_u(rng, 14, 22), _u(rng, 12, 18), 1.2),
                "keratin",
                rotation(_u(rng, 0, 180), _u(rng, -40, 40), _u(rng, -40, 40)),
            )
        )
    return SimObject("pangolin_scales", Label.WILDLIFE, "keratin", parts)


def tortoiseshell(rng: np.random.Generator) -> SimObject:
    """Turtle carapace: a thin domed keratin/bone shell."""
    a, b, c = _u(rng, 120, 220), _u(rng, 90, 160), _u(rng, 35, 70)
    parts = [
        ellipsoid([0, 0, 0], (a, b, c), "keratin"),
        ellipsoid([0, 0, 0], (a - 3, b - 3, c - 3), "keratin", scale=-1),
    ]
    return SimObject("tortoiseshell", Label.WILDLIFE, "keratin", parts)


# --------------------------------------------------------------------------- shield
def shield(rng: np.random.Generator) -> SimObject:
    """An impenetrable container: lead-lined pouch or thick steel case (→ review, not alarm)."""
    if rng.random() < 0.5:
        h = (_u(rng, 60, 110), _u(rng, 40, 80), _u(rng, 15, 30))
        parts = [box([0, 0, 0], h, "lead"), box([0, 0, 0], tuple(x - 3 for x in h), "lead", scale=-1)]
        return SimObject("lead_box", Label.SHIELD, "lead", parts)
    h = (_u(rng, 80, 140), _u(rng, 60, 100), _u(rng, 25, 45))
    parts = [box([0, 0, 0], h, "steel"), box([0, 0, 0], tuple(x - 12 for x in h), "steel", scale=-1)]
    return SimObject("steel_case", Label.SHIELD, "steel", parts)


#: For each label, the builders of that class and their relative weights.
THREAT_BUILDERS: dict[Label, tuple[tuple[Callable[[np.random.Generator], SimObject], float], ...]] = {
    Label.FIREARM: ((pistol, 0.55), (revolver, 0.3), (gun_part, 0.15)),
    Label.AMMUNITION: ((ammo, 1.0),),
    Label.BLADE: ((knife, 0.5), (folding_knife, 0.35), (razor_blades, 0.15)),
    Label.DRUGS: ((drug_brick, 0.4), (drug_pouch, 0.3), (drug_container, 0.2), (drug_sheet, 0.1)),
    Label.CURRENCY: ((currency_bundle, 1.0),),
    Label.WILDLIFE: (
        (ivory_tusk, 0.3),
        (ivory_carving, 0.25),
        (rhino_horn, 0.15),
        (pangolin_scales, 0.2),
        (tortoiseshell, 0.1),
    ),
    Label.SHIELD: ((shield, 1.0),),
}
