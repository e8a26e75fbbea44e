"""Audit store: every bag's verdict, detections, timings and model versions in SQLite (WAL)."""

from screening.audit.store import OPERATOR_DECISIONS, SCHEMA_VERSION, AuditStore, BagRow, OperatorDecision

__all__ = ["OPERATOR_DECISIONS", "SCHEMA_VERSION", "AuditStore", "BagRow", "OperatorDecision"]
