"""The shipped CT detector: physics candidates classified by a small 3-D CNN exported to ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from screening.detect.card import operating_thresholds, read_card, validated_devices
from screening.detect.ct_candidates import METAL_BANDS, CandidateParams, find_candidates
from screening.detect.ct_inputs import candidate_inputs, context_inputs
from screening.detect.onnx_runtime import calibrate, make_session, thresholds_for
from screening.detect.quantities import notes_from_mass
from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.scan import Detection, Label, Modality, Scan

__all__ = ["CtOnnxDetector"]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class CtOnnxDetector:
    """Candidates from density windows (connected components), each classified by the ONNX 3-D CNN.

    Every candidate yields one detection per contraband class whose probability is at least ``min_score``,
    with the candidate's voxel box, its mass (density x volume) and, for currency, a note count. Scores are
    calibrated so the card's operating threshold maps to 0.5.

    Args:
        model_path: the ``.onnx`` file; its card (``.json``) must sit next to it.
        device: ``"cpu"`` or ``"cuda"``.
        threads: onnxruntime intra-op threads (0 = default).
        min_score: class probabilities below this are not reported.
        operating_point: ``"pd"`` (the card's thresholds for the target PD) or ``"far"`` (thresholds that keep
            the validation bag FAR within 5 %), see :func:`screening.detect.card.operating_thresholds`.
    """

    modalities = (Modality.CT,)

    def __init__(
        self,
        model_path: str | Path,
        device: str = "cpu",
        threads: int = 0,
        min_score: float = 0.05,
        operating_point: str = "pd",
    ) -> None:
        self.path = Path(model_path)
        self.card = read_card(self.path)
        if self.card.modality != "ct":
            raise UnsupportedFormatError(
                f"model card says modality {self.card.modality!r}; expected 'ct'", source=str(self.path)
            )
        self.labels = tuple(Label(c) for c in self.card.classes)
        self.operating_point = operating_point
        self.thresholds = thresholds_for(self.card.classes, operating_thresholds(self.card, operating_point))
        self.params = CandidateParams(**self.card.extra.get("candidates", {}))
        self.min_score = min_score
        self.session = make_session(self.path, device, threads)
        self.name = self.card.name
        #: devices its thresholds were calibrated on; the pipeline never clears other devices' bags alone
        self.validated_devices = validated_devices(self.card)
        self.version = f"{self.card.training.get('version', '1')}+sha256:{self.card.sha256[:12]}"

    def probabilities(self, scan: Scan) -> tuple[list, np.ndarray]:
        """Candidates and their class probabilities ``(N, 1 + len(classes))`` (column 0 = background)."""
        if scan.modality != Modality.CT:
            raise InvalidScanError(
                f"the CT detector needs a CT volume; got modality {scan.modality}", source=scan.source or None
            )
        mhu = scan.array[0]
        if not np.isfinite(mhu).all():
            raise InvalidScanError(
                "volume contains NaN/inf voxels; expected finite MHU values", source=scan.source or None
            )
        spacing = tuple(float(s) for s in scan.spacing_mm)
        cands, _ = find_candidates(mhu, spacing, self.params)  # type: ignore[arg-type]
        if not cands:
            return [], np.zeros((0, len(self.labels) + 1), dtype=np.float32)
        crops, feats = candidate_inputs(mhu, cands, crop=self.params.crop)
        feeds = {"crop": crops, "feats": feats}
        if self.params.context:
            feeds["context"] = context_inputs(
                mhu, cands, spacing, self.params.context, self.params.context_mm
            )
        logits = self.session.run(None, feeds)[0]
        return cands, _softmax(logits)

    def __call__(self, scan: Scan) -> list[Detection]:
        cands, probs = self.probabilities(scan)
        out: list[Detection] = []
        for cand, p in zip(cands, probs, strict=True):
            metal = cand.band in METAL_BANDS  # dense/split passes (4, 5) are organic
            for j, label in enumerate(self.labels):
                s = float(p[j + 1])
                if s < self.min_score:
                    continue
                mass = cand.mass_g if label in (Label.DRUGS, Label.CURRENCY) else None
                out.append(
                    Detection(
                        label=label,
                        score=calibrate(s, self.thresholds[j]),
                        box=tuple(float(v) for v in cand.box),
                        mass_g=mass,
                        note_count=notes_from_mass(mass) if label == Label.CURRENCY else None,
                        # MHU/1000 is a water-equivalent density: fair for organics, several times
                        # too high for metals (photoelectric excess), so metals carry none.
                        density_g_cm3=None if metal else float(cand.features[1]),
                        material="metal" if metal else "organic",
                        detector=self.name,
                    )
                )
        return out
