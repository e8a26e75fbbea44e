"""The shipped X-ray detector: a CenterNet exported to ONNX, run per view with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from screening.detect.card import operating_thresholds, read_card, validated_devices
from screening.detect.centernet import decode_maps
from screening.detect.onnx_runtime import calibrate, make_session, thresholds_for
from screening.detect.quantities import notes_from_mass, xray_mass_g
from screening.detect.xray_input import letterbox, scan_to_rgb, unletterbox_boxes
from screening.errors import UnsupportedFormatError
from screening.scan import Detection, Label, Modality, Scan

__all__ = ["XrayOnnxDetector"]


class XrayOnnxDetector:
    """Runs an exported X-ray CenterNet on one view (raw dual-energy, grey or RGB pseudo-colour).

    Scores are calibrated per class so that the operating threshold saved in the model card maps to 0.5
    (the policy's default). Drugs/currency detections on raw dual-energy views carry a mass estimate
    (and a note count for currency).

    Args:
        model_path: the ``.onnx`` file; its card (``.json``) must sit next to it.
        device: ``"cpu"`` or ``"cuda"``.
        threads: onnxruntime intra-op threads (0 = default).
        min_score: raw heatmap peaks below this are not reported.
        operating_point: ``"pd"`` (the card's thresholds for the target PD) or ``"far"`` (thresholds that keep
            the validation bag FAR within 5 %), see :func:`screening.detect.card.operating_thresholds`.
    """

    modalities = (Modality.XRAY,)

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
        if self.card.modality != "xray":
            raise UnsupportedFormatError(
                f"model card says modality {self.card.modality!r}; expected 'xray'", source=str(self.path)
            )
        self.labels = tuple(Label(c) for c in self.card.classes)
        self.size = int(self.card.input_spec["shape"][-1])
        self.stride = int(self.card.extra.get("stride", 8))
        self.operating_point = operating_point
        self.thresholds = thresholds_for(self.card.classes, operating_thresholds(self.card, operating_point))
        self.min_score = min_score
        self.session = make_session(self.path, device, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.name = self.card.name
        #: devices its thresholds were calibrated on; the pipeline never clears other devices' bags alone
        self.validated_devices = validated_devices(self.card)
        self.version = f"{self.card.training.get('version', '1')}+sha256:{self.card.sha256[:12]}"

    def raw(self, scan: Scan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Uncalibrated boxes (source pixels), class indices and raw scores for one view."""
        if tuple(scan.channels[:2]) == ("high", "low"):
            # Shrink the raw pair first, then render: as in training, and far cheaper than at full size.
            small, lb = letterbox(scan.array[:2], self.size)
            img = scan_to_rgb(scan.replace(array=small, channels=("high", "low")))
        else:
            img, lb = letterbox(scan_to_rgb(scan), self.size)
        maps = self.session.run(None, {self.input_name: img[None]})[0][0]
        boxes, cls, scores = decode_maps(maps, len(self.labels), self.stride, min_score=self.min_score)
        return unletterbox_boxes(boxes, lb, scan.shape), cls, scores

    def __call__(self, scan: Scan) -> list[Detection]:
        boxes, cls, scores = self.raw(scan)
        raw_high = scan.array[0] if tuple(scan.channels[:2]) == ("high", "low") else None
        out: list[Detection] = []
        for box, c, s in zip(boxes, cls, scores, strict=True):
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            label = self.labels[int(c)]
            mass = notes = None
            if raw_high is not None and label in (Label.DRUGS, Label.CURRENCY):
                sp = (float(scan.spacing_mm[0]), float(scan.spacing_mm[1]))
                mass = xray_mass_g(raw_high, tuple(float(v) for v in box), sp, str(label))
                if label == Label.CURRENCY:
                    notes = notes_from_mass(mass)
            out.append(
                Detection(
                    label=label,
                    score=calibrate(float(s), self.thresholds[int(c)]),
                    box=tuple(float(v) for v in box),
                    view=scan.view,
                    mass_g=mass,
                    note_count=notes,
                    detector=self.name,
                )
            )
        return out
