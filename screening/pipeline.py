"""One bag end to end: ingest -> detect -> decide, with per-stage timings and fail-safe verdicts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screening.decide.declarations import Declaration, declaration_for
from screening.decide.policy import Policy, decide
from screening.detect.quantities import reconcile_views
from screening.errors import ScreeningError
from screening.scan import BagReport, Detection, Scan, Verdict

if TYPE_CHECKING:
    from screening.detect.base import Detector
    from screening.ingest.limits import ReadLimits

__all__ = ["PipelineConfig", "failure_report", "screen_path", "screen_scans", "unvalidated_devices"]


@dataclass(frozen=True)
class PipelineConfig:
    """Settings for screening one bag.

    Attributes:
        policy: thresholds and alarm rules.
        deadline_s: verdict budget in seconds (the lane defines when the clock starts).
        limits: ingest size limits; ``None`` uses the ingest defaults.
        declarations: bag id -> passenger cash declaration (customs mode); scan metadata
            ``meta["declaration"]`` is used when the bag is not in this table.
    """

    policy: Policy = field(default_factory=Policy)
    deadline_s: float = 10.0
    limits: ReadLimits | None = None
    declarations: Mapping[str, Declaration] = field(default_factory=dict)


def _now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def failure_report(
    bag_id: str,
    sources: Sequence[str],
    reason: str,
    *,
    deadline_s: float = 10.0,
    timings_s: dict[str, float] | None = None,
    modality: str = "",
) -> BagReport:
    """A ``review`` report for a bag that could not be screened (never ``clear``)."""
    return BagReport(
        bag_id=bag_id,
        sources=tuple(sources),
        modality=modality,
        verdict=Verdict.REVIEW,
        reasons=(reason,),
        timings_s=timings_s or {},
        deadline_s=deadline_s,
        created_utc=_now_utc(),
    )


def unvalidated_devices(scans: Sequence[Scan], detectors: Sequence[Detector]) -> list[str]:
    """One reason per (device, detector) where a detector's thresholds were not calibrated on that device.

    A detector's PD and false-alarm rate were measured on the devices its card lists
    (``validated_devices``; ``None`` = not recorded, nothing checked). On another scanner, or on an image
    that names no device, "nothing found" means little: the decision stage then gives ``review``.
    """
    from screening.ingest.device import UNKNOWN_DEVICE, device_of, is_validated

    out: dict[tuple[str, str], str] = {}
    for det in detectors:
        devices = getattr(det, "validated_devices", None)
        if devices is None:
            continue
        for scan in scans:
            device = device_of(scan.meta)
            if scan.modality in det.modalities and not is_validated(device, devices):
                named = (
                    "on a scan that names no device (no DICOS Manufacturer, PNG Source or EXIF Make)"
                    if device == UNKNOWN_DEVICE
                    else f"on {device!r} (run 'screening calibrate' on this device's bags)"
                )
                out.setdefault(
                    (device, det.name),
                    f"unvalidated device: {det.name} was calibrated on "
                    f"{', '.join(devices) or 'no device'}, not {named}",
                )
    return list(out.values())


def screen_scans(
    scans: Sequence[Scan],
    detectors: Sequence[Detector],
    config: PipelineConfig = PipelineConfig(),
    *,
    bag_id: str | None = None,
    sources: Sequence[str] = (),
    started: float | None = None,
    timings_s: dict[str, float] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    extra: dict[str, Any] | None = None,
) -> BagReport:
    """Detect and decide on the scans of one bag.

    A detector that raises, or a bag whose screening passes ``config.deadline_s`` (measured from
    ``started``), gives ``review`` with the reason; this function itself does not raise for those.

    Args:
        scans: all views/volumes of the bag (same ``bag_id``).
        detectors: run on every scan whose modality they accept.
        config: policy, deadline and limits.
        bag_id: defaults to the first scan's.
        sources: files the scans came from; defaults to the scans' ``source``.
        started: ``clock()`` value when the budget started; defaults to now.
        timings_s: stage timings measured before this call (e.g. ``ingest``); copied, not mutated.
        clock: monotonic clock in seconds (injectable for tests).
        extra: JSON-serialisable additions to the report.

    Returns:
        The bag's report.
    """
    t0 = clock() if started is None else started
    timings = dict(timings_s or {})
    bag = bag_id or (scans[0].bag_id if scans else "unknown")
    srcs = tuple(sources) or tuple(dict.fromkeys(s.source for s in scans if s.source))
    detections: list[Detection] = []
    errors: list[str] = []
    versions: dict[str, str] = {}

    t_detect = clock()
    for det in detectors:
        versions[det.name] = det.version
        for scan in scans:
            if scan.modality not in det.modalities:
                continue
            if clock() - t0 > config.deadline_s:
                errors.append(f"deadline: {config.deadline_s:g} s passed before {det.name} finished")
                break
            try:
                detections.extend(det(scan))
            except Exception as exc:  # a broken detector must give review, never crash the lane
                errors.append(f"error: detector {det.name} failed on {scan.view or 'volume'}: {exc!r}")
    # one object seen in two views: the less cluttered view's quantity (see reconcile_views)
    detections = reconcile_views(detections)
    timings["detect"] = clock() - t_detect
    if clock() - t0 > config.deadline_s and not any(e.startswith("deadline") for e in errors):
        errors.append(f"deadline: verdict took {clock() - t0:.2f} s > {config.deadline_s:g} s")

    t_decide = clock()
    declaration = declaration_for(bag, [s.meta for s in scans], config.declarations)
    verdict, reasons = decide(
        detections,
        config.policy,
        errors,
        declaration=declaration,
        unvalidated=unvalidated_devices(scans, detectors),
    )
    timings["decide"] = clock() - t_decide
    extra = dict(extra or {})
    if declaration is not None:
        extra["declaration"] = declaration.to_dict()
    timings["total"] = clock() - t0
    modality = str(scans[0].modality) if scans else ""
    return BagReport(
        bag_id=bag,
        sources=srcs,
        modality=modality,
        verdict=verdict,
        reasons=reasons,
        detections=tuple(detections),
        timings_s=timings,
        deadline_s=config.deadline_s,
        model_versions=versions,
        created_utc=_now_utc(),
        extra=extra,
    )


def screen_path(
    path: str | Path,
    detectors: Sequence[Detector],
    config: PipelineConfig = PipelineConfig(),
    *,
    clock: Callable[[], float] = time.perf_counter,
    started: float | None = None,
    bag_id: str | None = None,
) -> tuple[BagReport, list[Scan]]:
    """Read one input (file or folder = one bag) and screen it.

    Unreadable input gives a ``review`` report naming the file and the problem; never raises for it.

    Args:
        path: the file or folder (one bag).
        detectors: run on every scan whose modality they accept.
        config: policy, deadline, limits and declarations.
        clock: monotonic clock in seconds.
        started: ``clock()`` value when the budget started (the lane passes the time the file was
            complete); defaults to the start of reading.
        bag_id: bag id for an unreadable input; defaults to the file name without extension.

    Returns:
        ``(report, scans)``; ``scans`` is empty when the input could not be read.
    """
    from screening.ingest import read

    t_read = clock()
    t0 = t_read if started is None else started
    source = str(path)
    try:
        scans = read(path, config.limits)
    except Exception as exc:  # ScreeningError is expected; anything else is a reader bug, still review
        msg = str(exc) if isinstance(exc, ScreeningError) else f"{source}: reader failed: {exc!r}"
        return (
            failure_report(
                bag_id or Path(path).stem or source,
                [source],
                f"unreadable: {msg}",
                deadline_s=config.deadline_s,
                timings_s={"ingest": clock() - t_read, "total": clock() - t0},
            ),
            [],
        )
    timings = {"ingest": clock() - t_read}
    report = screen_scans(
        scans, detectors, config, sources=[source], started=t0, timings_s=timings, clock=clock
    )
    return report, list(scans)
