"""Simulator configuration (SimConfig) and per-bag scanner parameters sampled from it (ScannerParams)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from screening.physics.pseudocolour import Palette
from screening.scan import CONTRABAND, Label

__all__ = ["ScannerParams", "SimConfig", "sample_scanner"]


@dataclass(frozen=True)
class SimConfig:
    """What bags to generate and how the simulated scanners look.

    Attributes:
        threat_fraction: fraction of bags that carry at least one threat (the rest are benign).
        max_threats: most threat objects in one bag.
        classes: contraband classes to draw threats from.
        shield_fraction: fraction of bags with an impenetrable container (label ``shield``).
        pixel_mm: X-ray pixel size at the bag centre, mm.
        voxel_mm: CT voxel size, mm (security CT: 0.5–2).
        views: X-ray views to render (``"top"``, ``"side"``).
        kvp: nominal tube voltage, kV (randomised ±20 kV when ``randomise_scanner``).
        randomise_scanner: draw vendor-specific parameters (palette, thresholds, filtration,
            detector, noise, blur) per bag; otherwise use the nominal scanner.
        bag_types: bag kinds to choose from.
        clutter: (min, max) number of benign items per bag.
        ct_dual_energy: CT volumes for two energies (``("high", "low")``) instead of one (``("mhu",)``).
        ct_artifacts: add metal streaks (filtered back-projection of beam-hardening error) to CT.
        photons: mean detected quanta per unattenuated pixel in the high channel.
    """

    threat_fraction: float = 0.35
    max_threats: int = 2
    classes: tuple[Label, ...] = CONTRABAND
    shield_fraction: float = 0.03
    pixel_mm: float = 1.0
    voxel_mm: float = 2.0
    views: tuple[str, ...] = ("top", "side")
    kvp: float = 140.0
    randomise_scanner: bool = True
    bag_types: tuple[str, ...] = ("suitcase", "backpack", "softbag")
    clutter: tuple[int, int] = (12, 26)
    ct_dual_energy: bool = False
    ct_artifacts: bool = True
    photons: float = 20000.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threat_fraction <= 1.0:
            raise ValueError(f"threat_fraction must be in [0, 1]; got {self.threat_fraction}")
        if self.pixel_mm <= 0 or self.voxel_mm <= 0:
            raise ValueError(f"pixel_mm and voxel_mm must be > 0; got {self.pixel_mm}, {self.voxel_mm}")
        bad = [v for v in self.views if v not in ("top", "side")]
        if bad or not self.views:
            raise ValueError(f"views must be a non-empty subset of ('top', 'side'); got {self.views!r}")
        bad_bags = [b for b in self.bag_types if b not in ("suitcase", "backpack", "softbag")]
        if bad_bags or not self.bag_types:
            raise ValueError(f"bag_types must come from suitcase, backpack, softbag; got {self.bag_types!r}")
        if self.clutter[0] < 0 or self.clutter[1] < self.clutter[0]:
            raise ValueError(f"clutter must be (min, max) with 0 <= min <= max; got {self.clutter!r}")
        object.__setattr__(self, "classes", tuple(Label(c) for c in self.classes))


@dataclass(frozen=True)
class ScannerParams:
    """One simulated scanner's physics and look (recorded in ``SimBag.meta``).

    Attributes:
        kvp: tube voltage, kV.
        filter_al_mm: added Al filtration, mm.
        filter_cu_mm: added Cu filtration, mm.
        low_scint_mm: CsI thickness of the low-energy layer, mm.
        mid_filter_cu_mm: Cu interfilter thickness, mm.
        high_scint_mm: GOS thickness of the high-energy layer, mm.
        pixel_mm: pixel pitch at the bag centre, mm.
        photons_high: detected quanta per unattenuated pixel, high channel.
        photons_low: same for the low channel.
        electronic_noise: additive Gaussian noise (transmission units).
        blur_px: detector blur (Gaussian sigma) across the detector, pixels.
        motion_blur_px: blur along the belt, pixels.
        source_distance_mm: source to bag-centre distance (fan-beam magnification).
        palette: pseudo-colour palette.
    """

    kvp: float = 140.0
    filter_al_mm: float = 2.0
    filter_cu_mm: float = 0.0
    low_scint_mm: float = 0.3
    mid_filter_cu_mm: float = 0.5
    high_scint_mm: float = 4.0
    pixel_mm: float = 1.0
    photons_high: float = 20000.0
    photons_low: float = 12000.0
    electronic_noise: float = 0.0004
    blur_px: float = 0.6
    motion_blur_px: float = 0.4
    source_distance_mm: float = 900.0
    palette: Palette = field(default_factory=Palette)

    def detector_key(self) -> tuple[float, ...]:
        """Arguments of :func:`screening.physics.spectra.dual_energy_response` for this scanner."""
        return (
            self.kvp,
            self.filter_al_mm,
            self.filter_cu_mm,
            self.low_scint_mm,
            self.mid_filter_cu_mm,
            self.high_scint_mm,
        )

    def to_dict(self) -> dict:
        """JSON-ready form."""
        d = asdict(self)
        d["palette"] = {k: v for k, v in asdict(self.palette).items() if k != "curves"}
        return d


def _jitter(
    rng: np.random.Generator, rgb: tuple[float, float, float], amount: float
) -> tuple[float, float, float]:
    return tuple(float(np.clip(c + rng.normal(0, amount), 0.0, 1.0)) for c in rgb)  # type: ignore[return-value]


#: Palette families seen on real consoles (organic, mixed, metal).
_PALETTES = (
    ((1.0, 0.62, 0.18), (0.35, 0.8, 0.25), (0.2, 0.45, 1.0)),  # classic orange / green / blue
    ((0.95, 0.55, 0.1), (0.25, 0.7, 0.2), (0.1, 0.35, 0.8)),  # darker, SIXray-like
    ((0.98, 0.7, 0.35), (0.55, 0.8, 0.35), (0.25, 0.4, 0.75)),  # pale, PIDray-like
    ((0.9, 0.5, 0.05), (0.2, 0.65, 0.45), (0.1, 0.2, 0.7)),  # teal-green variant
    ((0.72, 0.66, 0.42), (0.42, 0.58, 0.32), (0.12, 0.18, 0.38)),  # khaki / olive / navy (PIDray-like)
)


def sample_scanner(rng: np.random.Generator, config: SimConfig) -> ScannerParams:
    """Draw a scanner for one bag (``sample_params`` in the house style; recorded in the bag's meta).

    With ``config.randomise_scanner`` False the nominal scanner at ``config.kvp`` is returned. Pass a
    generator of its own (not the one that packs the bag) so bag content does not depend on the flag.
    """
    from screening.physics.dual_energy import material_curves

    draws = rng.random(16)
    if not config.randomise_scanner:
        key = (config.kvp, 2.0, 0.0, 0.3, 0.5, 4.0)
        return ScannerParams(
            kvp=config.kvp,
            pixel_mm=config.pixel_mm,
            photons_high=config.photons,
            photons_low=config.photons * 0.6,
            palette=Palette(curves=material_curves(*key)),
        )
    kvp = float(np.clip(config.kvp + round((draws[0] - 0.5) * 4) * 10, 80, 200))
    al = float(np.round(1.0 + 3.0 * draws[1], 1))
    cu = float(np.round(0.3 * draws[2] if draws[3] < 0.3 else 0.0, 2))
    low_scint = float(np.round(0.2 + 0.3 * draws[4], 2))
    mid_cu = float(np.round(0.3 + 0.6 * draws[5], 2))
    high_scint = float(np.round(3.0 + 3.0 * draws[6], 1))
    fam = _PALETTES[int(draws[7] * len(_PALETTES)) % len(_PALETTES)]
    curves = material_curves(kvp, al, cu, low_scint, mid_cu, high_scint)
    palette = Palette(
        organic=_jitter(rng, fam[0], 0.03),
        mixed=_jitter(rng, fam[1], 0.03),
        metal=_jitter(rng, fam[2], 0.03),
        impenetrable=float(0.004 + 0.01 * draws[8]),
        gamma=float(0.5 + 0.5 * draws[9]),
        blend=float(0.12 + 0.2 * draws[10]),
        curves=curves,
        index_mixed=float(0.52 + 0.16 * draws[11]),
        index_metal=float(1.3 + 0.2 * draws[12]),
        saturation=float(0.1 + 0.4 * draws[13]),
        smooth_px=float(rng.uniform(0.7, 1.5)),
        air_level=float(rng.uniform(0.95, 0.985)),
    )
    photons = float(config.photons * (0.4 + 1.2 * draws[14]))
    return ScannerParams(
        kvp=kvp,
        filter_al_mm=al,
        filter_cu_mm=cu,
        low_scint_mm=low_scint,
        mid_filter_cu_mm=mid_cu,
        high_scint_mm=high_scint,
        pixel_mm=float(config.pixel_mm * (0.85 + 0.3 * draws[15])),
        photons_high=photons,
        photons_low=photons * float(rng.uniform(0.4, 0.8)),
        electronic_noise=float(rng.uniform(0.0001, 0.0008)),
        blur_px=float(rng.uniform(0.4, 1.1)),
        motion_blur_px=float(rng.uniform(0.2, 0.8)),
        source_distance_mm=float(rng.uniform(700, 1100)),
        palette=palette,
    )
