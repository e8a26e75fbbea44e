"""Placeholder physics-rule detector: dense-metal and impenetrable regions from attenuation values.

This is not a trained model. It flags (a) regions X-rays cannot penetrate, as ``shield`` (an operator must
look), and (b) large dense-metal objects, as a low-confidence ``firearm`` candidate. It finds nothing
organic (drugs, currency, wildlife) and is replaced by the trained detectors as they land.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.physics.pseudocolour import dual_energy_ratio
from screening.scan import Detection, Label, Modality, Scan

__all__ = ["PhysicsRuleDetector", "RuleParams"]


@dataclass(frozen=True)
class RuleParams:
    """Thresholds of the rule (physical units, so they transfer across scanners).

    Attributes:
        shield_transmission: high-energy transmission below which X-ray pixels count as impenetrable.
        shield_min_area_mm2: smallest impenetrable area that could hide a threat (a small pistol ~ 100x70 mm
            seen edge-on is far larger than this; we stay conservative).
        metal_ratio: dual-energy ratio ``ln T_low / ln T_high`` above which a pixel counts as metal.
        metal_max_transmission: metal pixels must also attenuate at least this much (ignores thin foil).
        metal_min_area_mm2: smallest dense-metal X-ray area reported as a firearm candidate.
        ct_metal_mhu: CT MHU above which a voxel counts as dense metal (water 1000; aluminium ~2700-3500).
        ct_metal_min_cm3: smallest dense-metal volume reported as a firearm candidate.
    """

    shield_transmission: float = 0.01
    shield_min_area_mm2: float = 1500.0
    metal_ratio: float = 1.6
    metal_max_transmission: float = 0.35
    metal_min_area_mm2: float = 1200.0
    ct_metal_mhu: float = 6000.0
    ct_metal_min_cm3: float = 15.0


def _components(mask: np.ndarray, min_size: float, unit: float) -> list[tuple[tuple[slice, ...], float]]:
    from scipy import ndimage

    labelled, n = ndimage.label(mask)
    if n == 0:
        return []
    sizes = ndimage.sum_labels(mask, labelled, index=np.arange(1, n + 1)) * unit
    slices = ndimage.find_objects(labelled)
    return [
        (sl, float(sz)) for sl, sz in zip(slices, sizes, strict=True) if sl is not None and sz >= min_size
    ]


class PhysicsRuleDetector:
    """Dense-metal / impenetrable-region rule for X-ray (raw dual-energy, grey or pseudo-colour) and CT."""

    name = "physics-rule"
    version = "0.1.0-placeholder"
    modalities = (Modality.XRAY, Modality.CT)

    def __init__(
        self,
        params: RuleParams | None = None,
        labels: frozenset[Label] | None = None,
        modalities: tuple[Modality, ...] = (Modality.XRAY, Modality.CT),
    ) -> None:
        """Args: params: thresholds; labels: report only these labels (``None`` = all), e.g. only ``shield``
        when trained models cover the contraband classes; modalities: the modalities to accept."""
        self.params = params or RuleParams()
        self.labels = labels
        self.modalities = modalities

    def __call__(self, scan: Scan) -> list[Detection]:
        out = self._ct(scan) if scan.modality == Modality.CT else self._xray(scan)
        if self.labels is None:
            return out
        return [d for d in out if d.label in self.labels]

    def _xray(self, scan: Scan) -> list[Detection]:
        p = self.params
        px_area = float(scan.spacing_mm[0] * scan.spacing_mm[1])
        arr = scan.array
        if scan.channels[:2] == ("high", "low"):
            transmission = arr[0]
            metal = (dual_energy_ratio(arr[0], arr[1]) > p.metal_ratio) & (arr[0] < p.metal_max_transmission)
        elif scan.channels == ("r", "g", "b"):
            transmission = arr.max(axis=0)
            # Blue-dominant, fairly dark pixels are metal in every common palette.
            metal = (arr[2] > arr[0] + 0.15) & (arr[2] > arr[1]) & (transmission < 0.8)
        else:
            transmission = arr[0]
            metal = np.zeros_like(transmission, dtype=bool)
        out: list[Detection] = []
        shield = transmission < p.shield_transmission
        for sl, area in _components(shield, p.shield_min_area_mm2, px_area):
            score = min(1.0, 0.5 + area / (4 * p.shield_min_area_mm2))
            out.append(self._det(Label.SHIELD, score, sl, scan.view, "impenetrable"))
        for sl, area in _components(metal & ~shield, p.metal_min_area_mm2, px_area):
            score = min(0.6, 0.3 + area / (20 * p.metal_min_area_mm2))
            out.append(self._det(Label.FIREARM, score, sl, scan.view, "dense metal"))
        return out

    def _ct(self, scan: Scan) -> list[Detection]:
        p = self.params
        voxel_cm3 = float(np.prod(scan.spacing_mm)) / 1000.0
        mhu = scan.array[0]
        out: list[Detection] = []
        for sl, vol in _components(mhu > p.ct_metal_mhu, p.ct_metal_min_cm3, voxel_cm3):
            z, y, x = sl
            score = min(0.6, 0.3 + vol / (20 * p.ct_metal_min_cm3))
            out.append(
                Detection(
                    label=Label.FIREARM,
                    score=score,
                    box=(x.start, y.start, z.start, x.stop, y.stop, z.stop),
                    material="dense metal",
                    detector=self.name,
                )
            )
        return out

    def _det(self, label: Label, score: float, sl: tuple[slice, ...], view: str, material: str) -> Detection:
        y, x = sl
        return Detection(
            label=label,
            score=score,
            box=(x.start, y.start, x.stop, y.stop),
            view=view,
            material=material,
            detector=self.name,
        )
