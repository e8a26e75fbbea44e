"""DICOS Threat Detection Report (TDR) writer: one Potential Threat Object per detection, via pydicom.

Mapping from our :class:`~screening.scan.BagReport` to the DICOS v03 TDR IOD
(SOP Class 1.2.840.10008.5.1.4.1.1.501.3, Modality ``TDR``, ``TDR Type`` ``MACHINE``):

* verdict -> ``Alarm Decision`` (4010,1031): ``alarm`` -> ``ALARM``, ``clear`` -> ``CLEAR``,
  ``review`` -> ``UNKNOWN``. DICOS has no "operator must look" value; ``UNKNOWN`` is the decision an
  algorithm gives when it cannot clear the bag, which consoles treat like an alarm for routing.
  A review caused by the deadline also sets ``Abort Flag`` ``ABORT`` with ``Abort Reason`` ``TIMEOUT``;
  one where no scan could be read sets ``ABORT`` / ``UNKNOWN_DATATYPE``. Otherwise ``SUCCESS``.
* each detection -> one Threat Sequence item: ``Threat ROI Base`` = ``(x0, y0, z0)`` and
  ``Threat ROI Extents`` = ``(x1 - x0, y1 - y0, z1 - z0)`` in pixels/voxels of the referenced image
  (X-ray: ``z0 = 0``, extent ``1``: one slice); an empty ``Threat ROI Bitmap`` (the box is the ROI).
  Assessment: category (firearm/ammunition/blade -> ``PI`` prohibited item; drugs/currency/wildlife
  -> ``CONTRABAND``; shield -> ``ANOMALY`` with ability ``SHIELD``), description = our label,
  probability = score, flag from the policy (``THREAT`` if that detection alone would alarm,
  ``UNKNOWN`` if it would send the bag to review, else ``NO_THREAT``). ``Mass`` (g) and ``Density``
  (g/cm³) where known. Per-PTO processing start/end/time (4010,1080-1082) are the bag's processing
  window (we do not time detections one by one).
* ``Total Processing Time`` (ms) from ``timings_s["total"]``; ``Threat Detection Algorithm and
  Version`` = ``[name, version, "-detector=version"...]``.
* references: each PTO's ``Referenced Instance Sequence`` names the image it is in (the X-ray view with
  the detection's ``view``; every CT volume); the top-level ``Referenced Series Sequence`` names every
  scan. UIDs come from ``scan.meta`` (``SOPClassUID``, ``SOPInstanceUID``, ``SeriesInstanceUID``,
  ``StudyInstanceUID``, ``FrameOfReferenceUID``); a scan without them (e.g. a PNG) gets UIDs derived
  deterministically from bag id, source, view and position (see :func:`scan_reference`), so the same
  input always gets the same UIDs. The TDR joins the scan's study.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from screening import __version__
from screening.decide.policy import Policy, decide
from screening.report._atomic import atomic_write_bytes
from screening.report._fast_dataset import CHARSET as _CHARSET
from screening.report._fast_dataset import Element as _Element
from screening.report._fast_dataset import dataset as _dataset
from screening.report.select import reported_detections
from screening.scan import BagReport, Detection, Label, Modality, Scan, Verdict

if TYPE_CHECKING:
    from pydicom import Dataset

__all__ = [
    "ALARM_DECISION",
    "SOP_CLASS_CT",
    "SOP_CLASS_DX",
    "SOP_CLASS_TDR",
    "THREAT_CATEGORY",
    "ScanReference",
    "scan_reference",
    "write_tdr",
]

SOP_CLASS_TDR = "1.2.840.10008.5.1.4.1.1.501.3"
SOP_CLASS_CT = "1.2.840.10008.5.1.4.1.1.501.1"
SOP_CLASS_DX = "1.2.840.10008.5.1.4.1.1.501.2.1"

#: Verdict -> DICOS Alarm Decision (4010,1031).
ALARM_DECISION: Mapping[Verdict, str] = {
    Verdict.ALARM: "ALARM",
    Verdict.CLEAR: "CLEAR",
    Verdict.REVIEW: "UNKNOWN",
}

#: Label -> DICOS Threat Category (4010,1012).
THREAT_CATEGORY: Mapping[Label, str] = {
    Label.FIREARM: "PI",
    Label.AMMUNITION: "PI",
    Label.BLADE: "PI",
    Label.DRUGS: "CONTRABAND",
    Label.CURRENCY: "CONTRABAND",
    Label.WILDLIFE: "CONTRABAND",
    Label.SHIELD: "ANOMALY",
}

# Threat Sequence item attributes of DICOS v03 that pydicom's dictionary does not know yet
# (the reference toolkit requires them): PTO processing start (DT), end (DT) and time in ms (FL).
TAG_PTO_PROCESSING_START = 0x40101080
TAG_PTO_PROCESSING_END = 0x40101081
TAG_PTO_PROCESSING_TIME_MS = 0x40101082

#: MHU above which a voxel inside a CT box counts as object (not air/foam) for the mass estimate.
OBJECT_MHU = 50.0

#: General Equipment attributes the reference toolkit requires present (type 2); copied from the scan.
_EQUIPMENT_TYPE2 = (
    "InstitutionName",
    "InstitutionAddress",
    "StationName",
    "DeviceSerialNumber",
    "DateOfLastCalibration",
    "TimeOfLastCalibration",
)

TAG_IMAGE_SCALE_REPRESENTATION = 0x40101075
# File meta "DICOS Version" (0002,0004), required by DICOS readers, unknown to DICOM.
TAG_META_DICOS_VERSION = 0x00020004

_FLAG_BY_VERDICT = {Verdict.ALARM: "THREAT", Verdict.REVIEW: "UNKNOWN", Verdict.CLEAR: "NO_THREAT"}


@dataclass(frozen=True)
class ScanReference:
    """The DICOM identity of one scanned image, as referenced from a TDR.

    Attributes:
        sop_class_uid: SOP Class UID of the image (DICOS CT or DX storage).
        sop_instance_uid: SOP Instance UID of the image.
        series_instance_uid: its series.
        study_instance_uid: its study (the TDR joins it).
        frame_of_reference_uid: its frame of reference (the TDR's ROI coordinates live in it).
        generated: True when the scan carried no UIDs and these were derived by :func:`scan_reference`.
        view: the X-ray view name; ``""`` for CT.
        modality: the scan's modality.
    """

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    generated: bool
    view: str
    modality: Modality


def _derived_uid(*parts: str) -> str:
    """A ``2.25.<int>`` UID from a name-based (SHA-1) UUID of ``parts``: same parts, same UID."""
    name = "\x1f".join(("screening", *parts))
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, name).int}"


def scan_reference(scan: Scan, index: int = 0) -> ScanReference:
    """UIDs of a scan from its ``meta``, deriving stable ones where the source had none.

    Args:
        scan: the scanned image.
        index: its position among the bag's scans (tells apart views without names).

    Returns:
        The reference; derived UIDs are ``2.25.<uuid-integer>`` values of a name-based UUID of bag
        id, source, view and ``index``, so re-running on the same input gives the same UIDs.
    """
    meta = scan.meta
    study = str(meta.get("StudyInstanceUID") or _derived_uid("study", scan.bag_id))
    key = (scan.bag_id, scan.source, scan.view, str(index))
    sop_instance = meta.get("SOPInstanceUID")
    default_class = SOP_CLASS_CT if scan.modality == Modality.CT else SOP_CLASS_DX
    return ScanReference(
        sop_class_uid=str(meta.get("SOPClassUID") or default_class),
        sop_instance_uid=str(sop_instance or _derived_uid("instance", *key)),
        series_instance_uid=str(meta.get("SeriesInstanceUID") or _derived_uid("series", *key)),
        study_instance_uid=study,
        frame_of_reference_uid=str(meta.get("FrameOfReferenceUID") or _derived_uid("frame", *key)),
        generated=not sop_instance,
        view=scan.view,
        modality=scan.modality,
    )


def _report_time(report: BagReport) -> datetime:
    try:
        when = datetime.fromisoformat(report.created_utc)
    except ValueError:
        return datetime.now(UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _dt(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S.%f") + "+0000"


def _lo(text: str, limit: int = 64) -> str:
    """A value fit for LO/SH: no backslash (the DICOM value separator), at most ``limit`` chars."""
    return text.replace("\\", "/")[:limit]


def _roi(det: Detection) -> tuple[list[float], list[float]]:
    """``(base, extents)`` as ``[x, y, z]``; corners are sorted and an empty axis gets extent 1."""
    b = [float(v) for v in det.box]
    if len(b) == 4:
        lo, hi = [min(b[0], b[2]), min(b[1], b[3]), 0.0], [max(b[0], b[2]), max(b[1], b[3]), 1.0]
    else:
        lo = [min(b[0], b[3]), min(b[1], b[4]), min(b[2], b[5])]
        hi = [max(b[0], b[3]), max(b[1], b[4]), max(b[2], b[5])]
    extents = [h - low if h - low > 0 else 1.0 for low, h in zip(lo, hi, strict=True)]
    return lo, extents


def _mass_density(det: Detection, ct: Scan | None) -> tuple[float, float] | None:
    """``(mass g, density g/cm³)`` for a PTO: the detection's, else estimated from the CT volume.

    DICOS requires both for a PTO in a CT volume. The estimate is water-equivalent: voxels of the box
    above :data:`OBJECT_MHU` count as the object, density = mean MHU / 1000 g/cm³ (exact for water,
    low for nothing organic, high for metals), mass = density x object volume. X-ray PTOs get
    values only if the detection has them; a CT PTO without a CT scan gets 0 (not estimated).
    """
    if len(det.box) == 4:
        if det.mass_g is None and det.density_g_cm3 is None:
            return None
        return float(det.mass_g or 0.0), float(det.density_g_cm3 or 0.0)
    if det.mass_g is not None and det.density_g_cm3 is not None:
        return float(det.mass_g), float(det.density_g_cm3)
    mass, density = 0.0, 0.0
    if ct is not None:
        import numpy as np

        x0, y0, z0, x1, y1, z1 = det.box
        _, nz, ny, nx = ct.array.shape
        sl = tuple(
            slice(max(0, int(np.floor(min(a, b)))), min(n, int(np.ceil(max(a, b)))))
            for a, b, n in ((z0, z1, nz), (y0, y1, ny), (x0, x1, nx))
        )
        crop = ct.array[(0, *sl)]
        obj = crop[crop > OBJECT_MHU]  # NaN compares False: never counted
        if obj.size:
            voxel_cm3 = float(np.prod(ct.spacing_mm)) / 1000.0
            density = float(obj.sum(dtype=np.float64)) / obj.size / 1000.0
            mass = density * obj.size * voxel_cm3
    return (
        float(det.mass_g) if det.mass_g is not None else mass,
        float(det.density_g_cm3) if det.density_g_cm3 is not None else density,
    )


def _pto_refs(det: Detection, refs: Sequence[ScanReference], fallback: ScanReference) -> list[ScanReference]:
    if len(det.box) == 6:
        chosen = [r for r in refs if r.modality == Modality.CT]
    else:
        chosen = [r for r in refs if r.modality == Modality.XRAY and r.view == det.view]
        if not chosen and len([r for r in refs if r.modality == Modality.XRAY]) == 1:
            chosen = [r for r in refs if r.modality == Modality.XRAY]
    return chosen or list(refs) or [fallback]


def _abort(report: BagReport, scans: Sequence[Scan]) -> tuple[str, str | None]:
    if report.verdict != Verdict.REVIEW:
        return "SUCCESS", None
    if any(reason.startswith("deadline") for reason in report.reasons):
        return "ABORT", "TIMEOUT"
    if not scans:
        return "ABORT", "UNKNOWN_DATATYPE"
    return "SUCCESS", None


def _ref_item(ref: ScanReference) -> Dataset:
    return _dataset(
        (("ReferencedSOPClassUID", ref.sop_class_uid), ("ReferencedSOPInstanceUID", ref.sop_instance_uid))
    )


def _threat_item(
    pid: int,
    det: Detection,
    refs: Sequence[Dataset],
    policy: Policy,
    window: tuple[str, str, float],
    mass_density: tuple[float, float] | None,
) -> tuple[Dataset, bool]:
    base, extents = _roi(det)
    voxel = _dataset((("ThreatROIBase", base), ("ThreatROIExtents", extents), ("ThreatROIBitmap", b"")))
    rep: list[_Element] = [("ReferencedInstanceSequence", list(refs)), ("ThreatROIVoxelSequence", [voxel])]
    if mass_density is not None:
        rep += [("Mass", mass_density[0]), ("Density", mass_density[1])]

    flag = _FLAG_BY_VERDICT[decide([det], policy)[0]]
    assessment = _dataset(
        (
            ("ThreatCategory", THREAT_CATEGORY[det.label]),
            ("ThreatCategoryDescription", str(det.label)),
            ("ATDAbilityAssessment", "SHIELD" if det.label == Label.SHIELD else "NO_INTERFERENCE"),
            ("ATDAssessmentFlag", flag),
            ("ATDAssessmentProbability", float(det.score)),
        )
    )
    start, end, ms = window
    item = _dataset(
        (
            ("PotentialThreatObjectID", pid),
            ("PTORepresentationSequence", [_dataset(rep)]),
            ("ATDAssessmentSequence", [assessment]),
            ((TAG_PTO_PROCESSING_START, "DT"), start),
            ((TAG_PTO_PROCESSING_END, "DT"), end),
            ((TAG_PTO_PROCESSING_TIME_MS, "FL"), ms),
        )
    )
    return item, flag == "THREAT"


def build_tdr(
    report: BagReport,
    scans: Sequence[Scan],
    *,
    algorithm: tuple[str, str] = ("screening", __version__),
    policy: Policy | None = None,
) -> Dataset:
    """The TDR as a pydicom :class:`~pydicom.dataset.Dataset` (with file meta); see :func:`write_tdr`."""
    from pydicom import FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

    policy = policy or Policy()
    refs = [scan_reference(scan, i) for i, scan in enumerate(scans)]
    study_uid = refs[0].study_instance_uid if refs else _derived_uid("study", report.bag_id)
    fallback = ScanReference(
        SOP_CLASS_CT if report.modality == "CT" else SOP_CLASS_DX,
        _derived_uid("instance", report.bag_id, *report.sources),
        _derived_uid("series", report.bag_id, *report.sources),
        study_uid,
        _derived_uid("frame", report.bag_id, *report.sources),
        True,
        "",
        Modality.CT if report.modality == "CT" else Modality.XRAY,
    )
    first_meta: Mapping[str, object] = scans[0].meta if scans else {}
    when = _report_time(report)
    total_s = float(report.timings_s.get("total", 0.0) or 0.0)
    start = when - timedelta(seconds=max(total_s, 0.0))
    window = (_dt(start), _dt(when), (when - start).total_seconds() * 1000.0)
    sop_uid = generate_uid()
    date, time_of_day = when.strftime("%Y%m%d"), when.strftime("%H%M%S.%f")

    threats, n_alarm = [], 0
    ct_scans = [scan for scan in scans if scan.modality == Modality.CT]
    for pid, det in enumerate(reported_detections(report.detections, policy)):
        mass_density = _mass_density(det, ct_scans[0] if ct_scans else None)
        pto_refs = [_ref_item(r) for r in _pto_refs(det, refs, fallback)]
        item, alarming = _threat_item(pid, det, pto_refs, policy, window, mass_density)
        threats.append(item)
        n_alarm += alarming

    series: dict[str, list[Dataset]] = {}
    for ref in refs:
        series.setdefault(ref.series_instance_uid, []).append(_ref_item(ref))
    abort_flag, abort_reason = _abort(report, scans)

    elements: list[_Element] = [
        ("SpecificCharacterSet", _CHARSET),
        # SOP Common, General Study, TDR Series, Object of Inspection, General Equipment, Frame of Reference.
        ("SOPClassUID", SOP_CLASS_TDR),
        ("SOPInstanceUID", sop_uid),
        ("InstanceCreationDate", date),
        ("InstanceCreationTime", time_of_day),
        ("StudyInstanceUID", study_uid),
        ("StudyDate", date),
        ("SeriesDate", date),
        ("ContentDate", date),
        ("StudyTime", time_of_day),
        ("SeriesTime", time_of_day),
        ("ContentTime", time_of_day),
        ("StudyID", _lo(report.bag_id, 16)),
        ("Modality", "TDR"),
        ("SeriesInstanceUID", generate_uid()),
        ("PatientID", _lo(report.bag_id)),
        ("IssuerOfPatientID", _lo(str(first_meta.get("IssuerOfPatientID") or "unknown"))),
        ("TypeOfPatientID", "TEXT"),
        ("OOIType", "BAGGAGE"),
        ("Manufacturer", _lo(algorithm[0])),
        ("ManufacturerModelName", _lo(algorithm[0])),
        ("SoftwareVersions", _lo(algorithm[1])),
        # Type 2 equipment attributes: the scanner's where the scan carried them, else empty.
        *((keyword, str(first_meta.get(keyword, ""))) for keyword in _EQUIPMENT_TYPE2),
        ("FrameOfReferenceUID", refs[0].frame_of_reference_uid if refs else fallback.frame_of_reference_uid),
        ("PositionReferenceIndicator", ""),
        ("InstanceNumber", 1),
        # Threat Detection Report module.
        ("TDRType", "MACHINE"),
        (
            "ThreatDetectionAlgorithmAndVersion",
            [
                _lo(algorithm[0]),
                _lo(algorithm[1]),
                *(_lo(f"-{name}={version}") for name, version in sorted(report.model_versions.items())),
            ],
        ),
        ("AlarmDecision", ALARM_DECISION[report.verdict]),
        ("AlarmDecisionTime", _dt(when)),
        ("AbortFlag", abort_flag),
        *((("AbortReason", abort_reason),) if abort_reason else ()),
        ("TotalProcessingTime", total_s * 1000.0),
        # DICOS v03 encodes Image Scale Representation as FD (pydicom's dictionary says DS, which the
        # reference toolkit reads as 0 and rejects). 1.0: ROI coordinates are in the image's own pixels.
        ((TAG_IMAGE_SCALE_REPRESENTATION, "FD"), 1.0),
        ("DICOSVersion", "V03"),
        ("ScanType", "OPERATIONAL"),
        ("AcquisitionStatus", "SUCCESSFUL"),
        ("AdditionalScreeningPerformed", "NO"),
        ("ThreatSequence", threats),
        ("NumberOfTotalObjects", len(threats)),
        ("NumberOfAlarmObjects", n_alarm),
        # DICOS names (0008,1110) "Referenced Scans Sequence" and requires it in a TDR.
        ("ReferencedStudySequence", [_ref_item(ref) for ref in refs]),
    ]
    if series:  # an empty sequence is invalid (type 1C); no scans means no referenced series
        elements.append(
            (
                "ReferencedSeriesSequence",
                [
                    _dataset((("SeriesInstanceUID", uid), ("ReferencedInstanceSequence", items)))
                    for uid, items in series.items()
                ],
            )
        )
    ds = _dataset(elements)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASS_TDR
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = _lo(f"SCREENING_{__version__}", 16)
    meta.add_new(TAG_META_DICOS_VERSION, "CS", "V03")
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    return ds


def write_tdr(
    report: BagReport,
    scans: Sequence[Scan],
    path: str | os.PathLike[str],
    *,
    algorithm: tuple[str, str] = ("screening", __version__),
    policy: Policy | None = None,
) -> Path:
    """Write the bag's DICOS Threat Detection Report, atomically.

    Args:
        report: the bag report (verdict, detections, timings).
        scans: the bag's scans, in the order the report's detections refer to them; may be empty
            (unreadable input: the TDR then says ``UNKNOWN`` / ``ABORT``).
        path: destination file (``.dcs``); its folder is created if needed.
        algorithm: ``(name, version)`` written as Threat Detection Algorithm and Version.
        policy: decides each PTO's assessment flag; the default :class:`Policy` if ``None``.

    Returns:
        The written path.

    Raises:
        ScreeningError: the file cannot be written.
    """
    ds = build_tdr(report, scans, algorithm=algorithm, policy=policy)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return atomic_write_bytes(path, buffer.getvalue())
