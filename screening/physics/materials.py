"""Materials with NIST-based attenuation (via xraydb): benign clutter, contraband and detector parts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "MATERIALS",
    "Material",
    "get_material",
    "linear_attenuation",
    "mass_attenuation_xraydb",
    "mu_table",
]


@dataclass(frozen=True)
class Material:
    """A homogeneous material: composition by mass fraction and bulk density.

    Attributes:
        name: key in :data:`MATERIALS`.
        components: ``((formula, mass_fraction), ...)``; formulas in xraydb syntax (``"C17H21NO4"``),
            fractions sum to 1.
        density_g_cm3: bulk density (g/cm³) as packed in a bag (powders pressed into bricks, etc.).
        category: ``"organic"``, ``"mixed"`` or ``"metal"`` (what a scanner's colour should say).
        note: where the composition comes from / what it stands for.
    """

    name: str
    components: tuple[tuple[str, float], ...]
    density_g_cm3: float
    category: str
    note: str = ""


def _m(name: str, comps: Sequence[tuple[str, float]] | str, rho: float, cat: str, note: str = "") -> Material:
    if isinstance(comps, str):
        comps = ((comps, 1.0),)
    total = sum(w for _, w in comps)
    return Material(name, tuple((f, w / total) for f, w in comps), rho, cat, note)


# Compositions: standard chemistry; polymer repeat units; densities are typical handbook values.
_ALL: tuple[Material, ...] = (
    _m("air", (("N2", 0.755), ("O2", 0.232), ("Ar", 0.013)), 0.0012, "organic"),
    # --- benign ---
    _m("water", "H2O", 1.0, "organic"),
    _m("cotton", "C6H10O5", 0.25, "organic", "cellulose, folded textile (mostly air)"),
    _m("polyester", "C10H8O4", 0.2, "organic", "PET fibre, folded textile (mostly air)"),
    _m("paper", (("C6H10O5", 0.9), ("CaCO3", 0.1)), 0.8, "organic", "cellulose with chalk filler"),
    _m("polyethylene", "C2H4", 0.94, "organic"),
    _m("abs", "C15H17N", 1.05, "organic", "acrylonitrile-butadiene-styrene repeat unit"),
    _m("polycarbonate", "C16H14O3", 1.2, "organic", "hard-shell suitcases"),
    _m("pvc", "C2H3Cl", 1.38, "mixed", "chlorine raises Zeff to ~14"),
    _m("pet", "C10H8O4", 1.38, "organic", "bottles"),
    _m("rubber", (("C5H8", 0.85), ("ZnO", 0.03), ("C", 0.12)), 1.1, "organic", "shoe soles, wheels"),
    _m("leather", (("C10H17N3O5", 0.95), ("Cr2O3", 0.05)), 0.9, "organic"),
    _m("glass", (("SiO2", 0.72), ("Na2O", 0.14), ("CaO", 0.1), ("MgO", 0.04)), 2.5, "mixed", "soda-lime"),
    _m("aluminium", "Al", 2.7, "mixed"),
    _m("steel", (("Fe", 0.98), ("C", 0.01), ("Mn", 0.01)), 7.85, "metal"),
    _m("stainless", (("Fe", 0.7), ("Cr", 0.18), ("Ni", 0.1), ("Mn", 0.02)), 7.9, "metal"),
    _m("copper", "Cu", 8.96, "metal"),
    _m("lead", "Pb", 11.34, "metal"),
    _m("zinc_alloy", (("Zn", 0.96), ("Al", 0.04)), 6.6, "metal", "zamak buckles, zip sliders"),
    _m(
        "li_ion_cell",
        (
            ("LiCoO2", 0.3),
            ("C", 0.18),
            ("Cu", 0.12),
            ("Al", 0.08),
            ("LiPF6", 0.04),
            ("C3H4O3", 0.14),
            ("Fe", 0.14),
        ),
        2.6,
        "metal",
        "18650/pouch cell average: cathode, graphite, foils, electrolyte, can",
    ),
    _m(
        "pcb",
        (("SiO2", 0.45), ("C15H16O2", 0.3), ("Cu", 0.2), ("Sn", 0.03), ("Br", 0.02)),
        1.9,
        "mixed",
        "FR-4 glass-epoxy with copper layers",
    ),
    _m("food", (("H2O", 0.6), ("C6H10O5", 0.3), ("C16H32O2", 0.08), ("NaCl", 0.02)), 0.9, "organic"),
    _m(
        "chocolate",
        (("C12H22O11", 0.5), ("C55H104O6", 0.35), ("H2O", 0.02), ("C6H10O5", 0.13)),
        1.3,
        "organic",
    ),
    _m("cosmetic_gel", (("H2O", 0.8), ("C3H8O3", 0.15), ("C12H25NaO4S", 0.05)), 1.02, "organic"),
    _m("soap", (("C18H35NaO2", 0.85), ("H2O", 0.15)), 1.07, "organic", "sodium stearate; looks like drugs"),
    _m("sugar", "C12H22O11", 0.9, "organic", "packed powder"),
    _m("salt", "NaCl", 1.2, "mixed", "packed table salt"),
    _m("wood", "C6H10O5", 0.6, "organic"),
    # --- contraband ---
    _m("cocaine_base", "C17H21NO4", 1.1, "organic", "pressed brick"),
    _m("cocaine_hcl", "C17H22ClNO4", 1.2, "organic", "pressed brick; Cl raises Zeff slightly"),
    _m("heroin", "C21H23NO5", 1.1, "organic", "diacetylmorphine base, pressed"),
    _m("meth_hcl", "C10H16ClN", 1.0, "organic", "methamphetamine HCl crystal, packed"),
    _m("cannabis_resin", (("C21H30O2", 0.3), ("C6H10O5", 0.6), ("H2O", 0.1)), 1.05, "organic"),
    _m(
        "banknote_paper",
        (("C6H10O5", 0.97), ("TiO2", 0.02), ("Fe2O3", 0.01)),
        0.9,
        "organic",
        "cotton-fibre note paper with inks",
    ),
    _m(
        "ivory",
        (("Ca10P6O26H2", 0.62), ("C10H17N3O5", 0.28), ("H2O", 0.1)),
        1.85,
        "mixed",
        "hydroxyapatite + collagen",
    ),
    _m("bone", (("Ca10P6O26H2", 0.55), ("C10H17N3O5", 0.3), ("H2O", 0.15)), 1.75, "mixed"),
    _m(
        "keratin",
        (("C10H17N3O5S", 0.95), ("Ca10P6O26H2", 0.05)),
        1.3,
        "organic",
        "horn, pangolin scales, tortoiseshell; sulfur-rich protein",
    ),
    _m("gun_steel", (("Fe", 0.97), ("Cr", 0.01), ("Mo", 0.005), ("C", 0.01), ("Mn", 0.005)), 7.85, "metal"),
    _m(
        "polymer_frame",
        (("C12H22N2O2", 0.7), ("SiO2", 0.3)),
        1.35,
        "organic",
        "glass-filled nylon pistol frame",
    ),
    _m("brass", (("Cu", 0.7), ("Zn", 0.3)), 8.5, "metal", "cartridge cases"),
    _m("gunpowder", (("C6H7N3O11", 0.9), ("C", 0.1)), 0.9, "organic", "nitrocellulose propellant"),
    # --- detector parts ---
    _m("csi", "CsI", 4.51, "metal", "scintillator"),
    _m("gos", "Gd2O2S", 7.3, "metal", "scintillator"),
)

#: All materials by name.
MATERIALS: dict[str, Material] = {m.name: m for m in _ALL}


def get_material(name: str) -> Material:
    """Look up a material by name; raise ``KeyError`` listing the valid names otherwise."""
    try:
        return MATERIALS[name]
    except KeyError:
        raise KeyError(f"unknown material {name!r}; valid: {', '.join(sorted(MATERIALS))}") from None


@lru_cache(maxsize=1024)
def _formula_mass_attenuation(formula: str, energies_kev: tuple[float, ...]) -> np.ndarray:
    """xraydb mass attenuation (cm²/g) of one compound; cached, as many materials share compounds."""
    import xraydb

    e_ev = np.asarray(energies_kev, dtype=np.float64) * 1e3
    # density=1 g/cm³ makes material_mu return the mass attenuation coefficient in cm²/g.
    return np.asarray(xraydb.material_mu(formula, e_ev, density=1.0), dtype=np.float64)


def mass_attenuation_xraydb(name: str, energies_kev: tuple[float, ...]) -> np.ndarray:
    """Mass attenuation coefficient (cm²/g) of a material from xraydb: ``(K,)`` float64.

    Raises:
        KeyError: unknown material (the message lists the valid names).
    """
    mat = get_material(name)
    out = np.zeros(len(energies_kev), dtype=np.float64)
    for formula, frac in mat.components:
        out += frac * _formula_mass_attenuation(formula, tuple(energies_kev))
    return out


@lru_cache(maxsize=512)
def _mass_attenuation_cached(name: str, energies_kev: tuple[float, ...]) -> np.ndarray:
    from screening.physics.attenuation_table import ENERGIES_KEV, MASS_ATTENUATION_CM2_G

    if energies_kev == ENERGIES_KEV and name in MASS_ATTENUATION_CM2_G:
        return np.array(MASS_ATTENUATION_CM2_G[name], dtype=np.float64)  # = xraydb, tabulated
    return mass_attenuation_xraydb(name, energies_kev)


def linear_attenuation(name: str, energies_kev: Sequence[float] | np.ndarray) -> np.ndarray:
    """Linear attenuation coefficient in 1/mm at the given photon energies.

    Args:
        name: material name (see :data:`MATERIALS`).
        energies_kev: photon energies in keV, shape ``(K,)``.

    Returns:
        ``float64`` array ``(K,)`` of μ in 1/mm (total attenuation incl. coherent scatter, NIST/Elam data).
    """
    key = tuple(round(float(e), 4) for e in np.atleast_1d(energies_kev))
    mat = get_material(name)
    return _mass_attenuation_cached(name, key) * mat.density_g_cm3 / 10.0


def mu_table(names: Sequence[str], energies_kev: Sequence[float] | np.ndarray) -> np.ndarray:
    """Stack :func:`linear_attenuation` for several materials: ``(M, K)`` float64 in 1/mm."""
    return np.stack([linear_attenuation(n, energies_kev) for n in names]) if names else np.zeros((0, 0))
