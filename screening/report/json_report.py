"""The versioned JSON bag report: atomic write, checked read, JSON Schema and the CLI's one-line summary."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from screening.errors import InvalidScanError, ScreeningError, UnsupportedFormatError
from screening.report._atomic import atomic_write_bytes
from screening.scan import REPORT_SCHEMA_VERSION, BagReport, Label, Verdict

__all__ = ["REPORT_JSON_SCHEMA", "read_json", "report_line", "write_json"]

_NUMBER = {"type": "number"}
_STRINGS = {"type": "array", "items": {"type": "string"}}

#: JSON Schema (draft 2020-12) of :meth:`BagReport.to_dict` for ``schema_version`` 1.x.
REPORT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"urn:screening:bag-report:{REPORT_SCHEMA_VERSION}",
    "title": "Bag report",
    "description": "Everything decided about one bag: verdict, reasons, detections and timings.",
    "type": "object",
    "required": [
        "schema_version",
        "bag_id",
        "sources",
        "modality",
        "verdict",
        "reasons",
        "detections",
        "timings_s",
        "deadline_s",
        "model_versions",
        "created_utc",
        "extra",
    ],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+$"},
        "bag_id": {"type": "string"},
        "sources": {**_STRINGS, "description": "files/streams the bag's scans came from"},
        "modality": {"enum": ["CT", "DX", ""], "description": "'' when nothing could be read"},
        "verdict": {"enum": [str(v) for v in Verdict]},
        "reasons": {**_STRINGS, "description": "human-readable reasons for the verdict"},
        "detections": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label", "score", "box", "view"],
                "additionalProperties": False,
                "properties": {
                    "label": {"enum": [str(label) for label in Label]},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "box": {
                        "description": "pixels (x0, y0, x1, y1) for X-ray, voxels (x0, y0, z0, x1, y1, z1) "
                        "for CT; exclusive upper corner",
                        "type": "array",
                        "items": _NUMBER,
                        "anyOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
                    },
                    "view": {"type": "string", "description": "X-ray view; '' for CT"},
                    "mass_g": {"type": "number", "minimum": 0},
                    "note_count": {"type": "integer", "minimum": 0},
                    "density_g_cm3": {"type": "number", "minimum": 0},
                    "material": {"type": "string"},
                    "detector": {"type": "string"},
                },
            },
        },
        "timings_s": {
            "type": "object",
            "description": "seconds per stage (ingest, detect, decide, report, total)",
            "additionalProperties": {"type": "number", "minimum": 0},
        },
        "deadline_s": {"type": "number", "minimum": 0},
        "model_versions": {"type": "object", "additionalProperties": {"type": "string"}},
        "created_utc": {"type": "string", "description": "ISO-8601 time the report was made"},
        "extra": {"type": "object", "description": "free-form additions (declaration, scanner...)"},
    },
}


def _version_tuple(text: object) -> tuple[int, int] | None:
    if not isinstance(text, str):
        return None
    parts = text.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def write_json(report: BagReport, path: str | os.PathLike[str]) -> Path:
    """Write the bag report as indented UTF-8 JSON, atomically (temporary file + ``os.replace``).

    Args:
        report: the report to save.
        path: destination ``.json`` file; its folder is created if needed.

    Returns:
        The written path.

    Raises:
        InvalidScanError: the report holds NaN/infinite numbers or a non-JSON value in ``extra``.
        ScreeningError: the file cannot be written.
    """
    try:
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise InvalidScanError(
            f"bag report {report.bag_id!r} cannot be written as JSON ({err}); expected finite numbers "
            "and JSON-serialisable values in 'extra' (str, int, float, bool, None, list, dict)",
            source=os.fspath(path),
        ) from err
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> BagReport:
    """Read a bag report written by :func:`write_json` (any 1.x version up to ours).

    Args:
        path: the ``.json`` file.

    Returns:
        The :class:`BagReport`.

    Raises:
        ScreeningError: the file cannot be read.
        UnsupportedFormatError: not a bag report, or a schema version this code does not read
            (a newer one: upgrade ``screening``).
        InvalidScanError: broken JSON or missing/invalid fields.
    """
    source = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise ScreeningError(
            f"cannot read the bag report ({err.strerror or err}); check the path", source=source
        ) from err
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidScanError(
            f"bag report is not valid UTF-8 JSON ({err}); the file may be truncated", source=source
        ) from err
    if not isinstance(data, dict) or "schema_version" not in data:
        raise UnsupportedFormatError(
            "not a bag report: expected a JSON object with a 'schema_version' key; got "
            f"{type(data).__name__}{' without schema_version' if isinstance(data, dict) else ''}",
            source=source,
        )
    version = data["schema_version"]
    ours = _version_tuple(REPORT_SCHEMA_VERSION)
    theirs = _version_tuple(version)
    assert ours is not None
    if theirs is None or theirs[0] != ours[0] or theirs > ours:
        newer = theirs is not None and theirs > ours
        raise UnsupportedFormatError(
            f"bag report schema_version {version!r} is not readable here; this screening reads "
            f"{ours[0]}.0 to {REPORT_SCHEMA_VERSION}"
            + ("; it was written by a newer screening: upgrade screening to read it" if newer else ""),
            source=source,
        )
    try:
        return BagReport.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        what = f"missing key {err}" if isinstance(err, KeyError) else str(err)
        raise InvalidScanError(
            f"bag report fields are invalid: {what}; expected the layout of REPORT_JSON_SCHEMA",
            source=source,
        ) from err


def _labels_by_score(report: BagReport) -> list[str]:
    best: dict[str, float] = {}
    for det in report.detections:
        key = str(det.label)
        best[key] = max(best.get(key, -1.0), det.score)
    return sorted(best, key=lambda k: (-best[k], k))


def report_line(report: BagReport, outputs: Mapping[str, str | os.PathLike[str]] | None = None) -> str:
    """The one-line JSON summary the CLI prints per bag (no newline inside, none at the end).

    Args:
        report: the bag report.
        outputs: written files by kind, e.g. ``{"json": path, "tdr": path, "png": path}``; omitted
            from the line when empty.

    Returns:
        JSON object text with ``bag_id``, ``verdict``, ``reasons``, ``labels`` (unique, best score
        first), ``n_detections``, ``total_s`` (seconds, ``null`` when not timed) and ``outputs``.
    """
    total = report.timings_s.get("total")
    total_s = round(float(total), 3) if total is not None and math.isfinite(float(total)) else None
    line: dict[str, Any] = {
        "bag_id": report.bag_id,
        "verdict": str(report.verdict),
        "reasons": list(report.reasons),
        "labels": _labels_by_score(report),
        "n_detections": len(report.detections),
        "total_s": total_s,
    }
    if outputs:
        line["outputs"] = {str(k): os.fspath(v) for k, v in outputs.items()}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))
