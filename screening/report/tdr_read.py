"""Reads a DICOS Threat Detection Report back into a plain dict (for tests, the console, re-analysis)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from screening.errors import InvalidScanError, ScreeningError, UnsupportedFormatError
from screening.report.tdr import (
    SOP_CLASS_TDR,
    TAG_PTO_PROCESSING_END,
    TAG_PTO_PROCESSING_START,
    TAG_PTO_PROCESSING_TIME_MS,
)
from screening.scan import Label, Verdict

if TYPE_CHECKING:
    from pydicom import Dataset

__all__ = ["read_tdr"]

_VERDICT_BY_DECISION = {"ALARM": Verdict.ALARM, "CLEAR": Verdict.CLEAR, "UNKNOWN": Verdict.REVIEW}
#: SOP classes whose images are 2-D (their PTO boxes are read back as ``(x0, y0, x1, y1)``).
_TWO_D_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.501.2.1",  # DICOS DX for presentation
        "1.2.840.10008.5.1.4.1.1.501.2.2",  # DICOS DX for processing
        "1.2.840.10008.5.1.4.1.1.1.1",  # DICOM DX for presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # DICOM DX for processing
        "1.2.840.10008.5.1.4.1.1.7",  # secondary capture
    }
)


def _refs(seq: Any) -> list[dict[str, str]]:
    return [
        {
            "sop_class_uid": str(r.get("ReferencedSOPClassUID", "")),
            "sop_instance_uid": str(r.get("ReferencedSOPInstanceUID", "")),
        }
        for r in (seq or [])
    ]


def _opt_float(ds: Dataset, keyword: str) -> float | None:
    value = ds.get(keyword)
    return None if value is None or value == "" else float(value)


def _threat(item: Dataset) -> dict[str, Any]:
    reps = item.get("PTORepresentationSequence") or []
    rep = reps[0] if reps else None
    if rep is None or not rep.get("ThreatROIVoxelSequence"):
        raise KeyError("PTORepresentationSequence > ThreatROIVoxelSequence")
    voxel = rep.ThreatROIVoxelSequence[0]
    base = tuple(float(v) for v in voxel.ThreatROIBase)
    extents = tuple(float(v) for v in voxel.ThreatROIExtents)
    refs = _refs(rep.get("ReferencedInstanceSequence"))
    two_d = bool(refs) and all(r["sop_class_uid"] in _TWO_D_CLASSES for r in refs)
    if two_d:
        box: tuple[float, ...] = (base[0], base[1], base[0] + extents[0], base[1] + extents[1])
    else:
        box = (*base, *(b + e for b, e in zip(base, extents, strict=True)))
    assessments = item.get("ATDAssessmentSequence") or []
    a = assessments[0] if assessments else None
    description = str(a.get("ThreatCategoryDescription", "")) if a is not None else ""
    label = description if description in {str(x) for x in Label} else None
    probability = a.get("ATDAssessmentProbability") if a is not None else None
    start = item.get(TAG_PTO_PROCESSING_START)
    end = item.get(TAG_PTO_PROCESSING_END)
    ms = item.get(TAG_PTO_PROCESSING_TIME_MS)
    return {
        "id": int(item.PotentialThreatObjectID),
        "base": base,
        "extents": extents,
        "box": box,
        "label": label,
        "category": str(a.get("ThreatCategory", "")) if a is not None else "",
        "description": description,
        "ability": str(a.get("ATDAbilityAssessment", "")) if a is not None else "",
        "flag": str(a.get("ATDAssessmentFlag", "")) if a is not None else "",
        "probability": None if probability is None else float(probability),
        "mass_g": _opt_float(rep, "Mass"),
        "density_g_cm3": _opt_float(rep, "Density"),
        "references": refs,
        "processing_start": str(start.value) if start is not None else "",
        "processing_end": str(end.value) if end is not None else "",
        "processing_time_ms": float(ms.value) if ms is not None and ms.value is not None else None,
    }


def read_tdr(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a DICOS TDR (ours or another vendor's) into a plain dict.

    Args:
        path: the TDR file.

    Returns:
        A dict with ``sop_instance_uid``, ``study_instance_uid``, ``series_instance_uid``,
        ``frame_of_reference_uid``, ``bag_id`` (the OOI/Patient ID), ``alarm_decision`` (DICOS text),
        ``verdict`` (:class:`Verdict` or ``None`` if unrecognised; ``UNKNOWN`` reads as ``review``),
        ``abort_flag``, ``abort_reasons`` (list), ``tdr_type``, ``algorithm`` (``name``, ``version``,
        ``parameters`` list), ``total_processing_time_ms``, ``alarm_decision_time``,
        ``n_total_objects``, ``n_alarm_objects``, ``references`` (every referenced image:
        ``series_instance_uid``, ``sop_class_uid``, ``sop_instance_uid``) and ``threats``: one dict per
        PTO with ``id``, ``base``/``extents`` (``(x, y, z)``), ``box`` (ours: 4 numbers when every
        referenced image is 2-D, else 6), ``label`` (a :class:`Label` value or ``None``),
        ``category``, ``description``, ``ability``, ``flag``, ``probability``, ``mass_g``,
        ``density_g_cm3``, ``references`` and the PTO processing times.

    Raises:
        ScreeningError: the file cannot be read.
        UnsupportedFormatError: not DICOM, or not a Threat Detection Report.
        InvalidScanError: a TDR with broken or missing required content.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    source = os.fspath(path)
    try:
        ds = pydicom.dcmread(source)
    except InvalidDicomError as err:
        raise UnsupportedFormatError(
            f"not a DICOM/DICOS file ({err}); expected a Threat Detection Report (.dcs)", source=source
        ) from err
    except OSError as err:
        raise ScreeningError(
            f"cannot read the TDR ({err.strerror or err}); check the path", source=source
        ) from err
    except Exception as err:  # pydicom raises many types on truncated/corrupt data
        raise InvalidScanError(f"TDR file is corrupt or truncated ({err})", source=source) from err

    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class != SOP_CLASS_TDR:
        raise UnsupportedFormatError(
            f"expected SOP Class {SOP_CLASS_TDR} (DICOS Threat Detection Report); got "
            f"{sop_class or 'none'} (modality {ds.get('Modality', '?')}); read images with the ingest stage",
            source=source,
        )
    try:
        decision = str(ds.AlarmDecision)
        algorithm = [str(v) for v in (ds.get("ThreatDetectionAlgorithmAndVersion") or [])]
        if isinstance(ds.get("ThreatDetectionAlgorithmAndVersion"), str):
            algorithm = [str(ds.ThreatDetectionAlgorithmAndVersion)]
        abort_reasons = ds.get("AbortReason")
        if isinstance(abort_reasons, str):
            abort_reasons = [abort_reasons]
        references = [
            {"series_instance_uid": str(s.get("SeriesInstanceUID", "")), **r}
            for s in (ds.get("ReferencedSeriesSequence") or [])
            for r in _refs(s.get("ReferencedInstanceSequence"))
        ]
        threats = [_threat(item) for item in (ds.get("ThreatSequence") or [])]
        total = ds.get("TotalProcessingTime")
        return {
            "sop_class_uid": sop_class,
            "sop_instance_uid": str(ds.SOPInstanceUID),
            "study_instance_uid": str(ds.get("StudyInstanceUID", "")),
            "series_instance_uid": str(ds.get("SeriesInstanceUID", "")),
            "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "")),
            "bag_id": str(ds.get("PatientID", "")),
            "tdr_type": str(ds.get("TDRType", "")),
            "alarm_decision": decision,
            "verdict": _VERDICT_BY_DECISION.get(decision),
            "alarm_decision_time": str(ds.get("AlarmDecisionTime", "")),
            "abort_flag": str(ds.get("AbortFlag", "")),
            "abort_reasons": [str(r) for r in (abort_reasons or [])],
            "algorithm": {
                "name": algorithm[0] if algorithm else "",
                "version": algorithm[1] if len(algorithm) > 1 else "",
                "parameters": algorithm[2:],
            },
            "total_processing_time_ms": None if total is None else float(total),
            "n_total_objects": int(ds.get("NumberOfTotalObjects", len(threats))),
            "n_alarm_objects": int(ds.get("NumberOfAlarmObjects", 0)),
            "references": references,
            "threats": threats,
        }
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as err:
        raise InvalidScanError(
            f"Threat Detection Report is missing or has invalid required content ({err}); expected "
            "Alarm Decision and, per Threat Sequence item, a PTO Representation with a Threat ROI",
            source=source,
        ) from err
