"""Tube spectra (spekpy) and dual-energy sandwich-detector responses on a coarse energy grid."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from screening.physics.materials import linear_attenuation

__all__ = [
    "ENERGY_EDGES_KEV",
    "ENERGY_GRID_KEV",
    "DetectorResponse",
    "dual_energy_response",
    "effective_energy",
    "tube_spectrum",
]

#: Edges (keV) of the energy bins every polychromatic calculation uses: narrow where attenuation
#: changes fast (low energies), wide above 100 keV; few bins keep the per-pixel Beer–Lambert sum cheap.
ENERGY_EDGES_KEV: np.ndarray = np.array([10.0, 27, 38, 50, 64, 82, 106, 140, 200])
#: Bin centres (keV) of :data:`ENERGY_EDGES_KEV`.
ENERGY_GRID_KEV: np.ndarray = (ENERGY_EDGES_KEV[1:] + ENERGY_EDGES_KEV[:-1]) / 2


#: spekpy tungsten spectra at the default 12 degree anode, binned on :data:`ENERGY_EDGES_KEV` (6 significant
#: digits), for 80-200 kV in 10 kV steps. A spekpy call costs ~0.5 s; the simulator draws kVp per bag, so
#: without this table every fresh worker process paid it once per kVp. Regenerate with
#: ``spekpy_table()``; a test checks the table against spekpy.
SPEKPY_TABLE_ANODE_DEG = 12.0
SPEKPY_TABLE: dict[int, tuple[float, ...]] = {
    80: (170824000.0, 86496700.0, 60286900.0, 40831900.0, 14821800.0, 0.0, 0.0, 0.0),
    90: (173790000.0, 98453400.0, 72980500.0, 58267300.0, 30944500.0, 3024100.0, 0.0, 0.0),
    100: (174974000.0, 109124000.0, 84988700.0, 76580300.0, 45138900.0, 12869700.0, 0.0, 0.0),
    110: (174430000.0, 118552000.0, 96398200.0, 96675600.0, 58738700.0, 26899300.0, 586680.0, 0.0),
    120: (172871000.0, 126856000.0, 107180000.0, 115690000.0, 71328800.0, 39670400.0, 6020640.0, 0.0),
    130: (170616000.0, 134140000.0, 117401000.0, 135263000.0, 83592200.0, 51004800.0, 15842300.0, 0.0),
    140: (167874000.0, 140480000.0, 127082000.0, 155351000.0, 95628200.0, 61476100.0, 29049600.0, 0.0),
    150: (164959000.0, 146015000.0, 136249000.0, 174506000.0, 107073000.0, 71325400.0, 42855000.0, 2172380.0),
    160: (161631000.0, 150656000.0, 144865000.0, 195359000.0, 118688000.0, 80709800.0, 55427500.0, 7991600.0),
    170: (
        158206000.0,
        154552000.0,
        152933000.0,
        215240000.0,
        129711000.0,
        89622700.0,
        67112700.0,
        16710200.0,
    ),
    180: (
        154823000.0,
        157807000.0,
        160491000.0,
        235287000.0,
        140502000.0,
        98122400.0,
        78190300.0,
        27814100.0,
    ),
    190: (
        151557000.0,
        160500000.0,
        167550000.0,
        255468000.0,
        151076000.0,
        106234000.0,
        88797900.0,
        40950100.0,
    ),
    200: (
        148434000.0,
        162736000.0,
        174187000.0,
        274789000.0,
        161197000.0,
        114024000.0,
        99052600.0,
        55874500.0,
    ),
}


def spekpy_table(kvps: range = range(80, 210, 10), anode_angle_deg: float = SPEKPY_TABLE_ANODE_DEG) -> dict:
    """Recompute :data:`SPEKPY_TABLE` from spekpy (slow: ~0.5 s per kVp)."""
    return {
        kv: tuple(float(f"{v:.6g}") for v in _spekpy_binned.__wrapped__(kv, anode_angle_deg)) for kv in kvps
    }


@lru_cache(maxsize=16)
def _binned(kvp: int, anode_angle_deg: float) -> np.ndarray:
    if anode_angle_deg == SPEKPY_TABLE_ANODE_DEG and kvp in SPEKPY_TABLE:
        return np.asarray(SPEKPY_TABLE[kvp], dtype=np.float64)
    return _spekpy_binned(kvp, anode_angle_deg)


@lru_cache(maxsize=16)
def _spekpy_binned(kvp: int, anode_angle_deg: float) -> np.ndarray:
    import spekpy

    spec = spekpy.Spek(kvp=float(kvp), th=float(anode_angle_deg), dk=1.0)
    e, phi = spec.get_spectrum()
    binned, _ = np.histogram(e, bins=ENERGY_EDGES_KEV, weights=phi)
    return binned.astype(np.float64)


def tube_spectrum(
    kvp: float, filter_al_mm: float = 2.0, filter_cu_mm: float = 0.0, anode_angle_deg: float = 12.0
):
    """Photon fluence of a tungsten tube on :data:`ENERGY_GRID_KEV`, after inherent + added filtration.

    spekpy is called once per (kVp rounded to 10 kV, anode angle) and cached; filtration is applied
    analytically (Beer–Lambert with xraydb attenuation), which is exact and lets it vary freely.

    Args:
        kvp: tube voltage in kV (rounded to the nearest 10 for the spekpy call).
        filter_al_mm: added aluminium filtration, mm.
        filter_cu_mm: added copper filtration, mm.
        anode_angle_deg: anode (target) angle, degrees.

    Returns:
        ``(K,)`` float64 fluence per bin (arbitrary units; only the shape matters).
    """
    kv = int(round(kvp / 10.0) * 10)
    phi = _binned(kv, float(anode_angle_deg)).copy()
    e = ENERGY_GRID_KEV
    phi *= np.exp(
        -linear_attenuation("aluminium", e) * filter_al_mm - linear_attenuation("copper", e) * filter_cu_mm
    )
    return phi


@dataclass(frozen=True)
class DetectorResponse:
    """Energy weights of the two channels of a dual-energy line-scan detector.

    Attributes:
        energies_kev: bin centres ``(K,)``.
        w_low: normalised weight of each bin in the low-energy channel ``(K,)`` (sums to 1).
        w_high: normalised weight in the high-energy channel ``(K,)``.
        mean_low_kev: signal-weighted mean energy of the low channel.
        mean_high_kev: signal-weighted mean energy of the high channel.
    """

    energies_kev: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray
    mean_low_kev: float
    mean_high_kev: float


@lru_cache(maxsize=256)
def dual_energy_response(
    kvp: float = 140.0,
    filter_al_mm: float = 2.0,
    filter_cu_mm: float = 0.0,
    low_scint_mm: float = 0.3,
    mid_filter_cu_mm: float = 0.5,
    high_scint_mm: float = 4.0,
) -> DetectorResponse:
    """Channel weights of an energy-integrating sandwich detector (thin CsI, Cu interfilter, thick GOS).

    Weight per bin = fluence × energy × fraction absorbed in that layer (photons reaching the high
    layer have passed the low scintillator and the copper interfilter).

    Args:
        kvp: tube voltage, kV.
        filter_al_mm: added Al filtration at the tube, mm.
        filter_cu_mm: added Cu filtration at the tube, mm.
        low_scint_mm: CsI thickness of the low-energy layer, mm.
        mid_filter_cu_mm: copper between the layers, mm.
        high_scint_mm: GOS thickness of the high-energy layer, mm.

    Returns:
        The normalised channel weights.
    """
    e = ENERGY_GRID_KEV
    phi = tube_spectrum(kvp, filter_al_mm, filter_cu_mm)
    mu_csi = linear_attenuation("csi", e)
    mu_gos = linear_attenuation("gos", e)
    mu_cu = linear_attenuation("copper", e)
    abs_low = 1.0 - np.exp(-mu_csi * low_scint_mm)
    reach_high = np.exp(-mu_csi * low_scint_mm - mu_cu * mid_filter_cu_mm)
    abs_high = reach_high * (1.0 - np.exp(-mu_gos * high_scint_mm))
    w_low = phi * e * abs_low
    w_high = phi * e * abs_high
    w_low /= w_low.sum()
    w_high /= w_high.sum()
    return DetectorResponse(e, w_low, w_high, float((w_low * e).sum()), float((w_high * e).sum()))


def effective_energy(kvp: float, filter_al_mm: float = 2.0, filter_cu_mm: float = 0.0) -> float:
    """Fluence×energy-weighted mean energy (keV) of a filtered tube spectrum (used for CT MHU)."""
    phi = tube_spectrum(kvp, filter_al_mm, filter_cu_mm) * ENERGY_GRID_KEV
    return float((phi * ENERGY_GRID_KEV).sum() / phi.sum())
