"""Bag outputs: the JSON bag report, the DICOS Threat Detection Report and the annotated PNG."""

from __future__ import annotations

from screening.report.annotate import annotate, ct_views, project_box
from screening.report.json_report import REPORT_JSON_SCHEMA, read_json, report_line, write_json
from screening.report.tdr import write_tdr
from screening.report.tdr_read import read_tdr

__all__ = [
    "REPORT_JSON_SCHEMA",
    "annotate",
    "ct_views",
    "project_box",
    "read_json",
    "read_tdr",
    "report_line",
    "write_json",
    "write_tdr",
]
