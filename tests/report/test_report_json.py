"""JSON bag report: atomic write, versioned read, schema validity of real reports, the CLI line."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from screening.errors import InvalidScanError, ScreeningError, UnsupportedFormatError
from screening.report import REPORT_JSON_SCHEMA, read_json, report_line, write_json
from screening.scan import BagReport, Detection, Label, Verdict

REPORTS = ["ct_report", "xray_report", "clear_report", "review_report", "unreadable_report"]

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "null": type(None),
}


def _errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """A small JSON Schema checker for the keywords REPORT_JSON_SCHEMA uses (jsonschema may be absent)."""
    known = {
        "$schema", "$id", "title", "description", "type", "required", "properties",
        "additionalProperties", "items", "enum", "minimum", "maximum", "minItems", "maxItems",
        "pattern", "anyOf",
    }  # fmt: skip
    unknown = set(schema) - known
    assert not unknown, f"test checker does not implement {unknown}"
    errs: list[str] = []
    if "type" in schema:
        py = _TYPES[schema["type"]]
        if not isinstance(value, py) or (isinstance(value, bool) and schema["type"] != "boolean"):
            return [f"{where}: expected {schema['type']}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        errs.append(f"{where}: {value} < {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errs.append(f"{where}: {value} > {schema['maximum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errs.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if "minItems" in schema and len(value) < schema["minItems"]:
        errs.append(f"{where}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errs.append(f"{where}: more than {schema['maxItems']} items")
    if "anyOf" in schema and all(_errors(value, sub, where) for sub in schema["anyOf"]):
        errs.append(f"{where}: matches none of anyOf")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errs += _errors(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        errs += [f"{where}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errs += _errors(item, props[key], f"{where}.{key}")
            elif extra is False:
                errs.append(f"{where}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                errs += _errors(item, extra, f"{where}.{key}")
    return errs


def _validate(doc: dict[str, Any]) -> list[str]:
    errs = _errors(doc, REPORT_JSON_SCHEMA)
    try:
        import jsonschema
    except ImportError:
        return errs
    validator = jsonschema.Draft202012Validator(REPORT_JSON_SCHEMA)
    lib_errs = [e.message for e in validator.iter_errors(doc)]
    assert bool(lib_errs) == bool(errs), (lib_errs, errs)
    return errs


@pytest.mark.parametrize("name", REPORTS)
def test_json_round_trip_and_schema(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    report: BagReport = request.getfixturevalue(name)
    path = write_json(report, tmp_path / "out" / "bag.json")
    assert path == tmp_path / "out" / "bag.json"
    doc = json.loads(path.read_text("utf-8"))
    assert _validate(doc) == []
    back = read_json(path)
    assert back.to_dict() == report.to_dict()
    assert back.verdict is report.verdict
    assert [d.label for d in back.detections] == [d.label for d in report.detections]
    assert [p.name for p in path.parent.iterdir()] == ["bag.json"]  # no temporary file left


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(verdict="maybe"), "verdict"),
        (lambda d: d["detections"][0].update(score=1.5), "score"),
        (lambda d: d["detections"][0].update(box=[1, 2, 3, 4, 5]), "box"),
        (lambda d: d["detections"][0].update(label="knife"), "label"),
        (lambda d: d.pop("bag_id"), "bag_id"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["timings_s"].update(total="fast"), "total"),
        (lambda d: d.update(schema_version="one"), "schema_version"),
    ],
)
def test_schema_rejects_broken_reports(mutate: Any, fragment: str, ct_report: BagReport) -> None:
    doc = copy.deepcopy(ct_report.to_dict())
    assert _validate(doc) == []
    mutate(doc)
    errs = _validate(doc)
    assert errs and any(fragment in e for e in errs), errs


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(REPORT_JSON_SCHEMA)


def test_schema_lists_every_label_and_verdict() -> None:
    det = REPORT_JSON_SCHEMA["properties"]["detections"]["items"]["properties"]
    assert set(det["label"]["enum"]) == {str(label) for label in Label}
    assert set(REPORT_JSON_SCHEMA["properties"]["verdict"]["enum"]) == {str(v) for v in Verdict}


def test_write_overwrites_atomically_and_keeps_old_file_on_error(
    ct_report: BagReport, tmp_path: Path
) -> None:
    path = tmp_path / "bag.json"
    write_json(ct_report, path)
    before = path.read_bytes()
    bad = BagReport(bag_id="x", sources=(), modality="CT", verdict=Verdict.CLEAR, extra={"obj": object()})
    with pytest.raises(InvalidScanError, match=r"bag\.json.*JSON-serialisable"):
        write_json(bad, path)
    nan = BagReport(
        bag_id="x", sources=(), modality="CT", verdict=Verdict.CLEAR, timings_s={"total": float("nan")}
    )
    with pytest.raises(InvalidScanError, match="finite"):
        write_json(nan, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag.json"]


def test_write_to_unwritable_place_names_the_path(ct_report: BagReport, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ScreeningError, match=r"file/bag\.json"):
        write_json(ct_report, blocker / "bag.json")


def _write_doc(tmp_path: Path, doc: Any, name: str = "r.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), "utf-8")
    return path


@pytest.mark.parametrize("version", ["1.1", "2.0", "10.0"])
def test_read_refuses_newer_schema(version: str, ct_report: BagReport, tmp_path: Path) -> None:
    doc = ct_report.to_dict() | {"schema_version": version}
    with pytest.raises(UnsupportedFormatError, match=rf"r\.json.*{re.escape(version)}.*newer.*upgrade"):
        read_json(_write_doc(tmp_path, doc))


@pytest.mark.parametrize("version", ["0.9", "one", "1", 1.0, None])
def test_read_refuses_wrong_schema(version: Any, ct_report: BagReport, tmp_path: Path) -> None:
    doc = ct_report.to_dict() | {"schema_version": version}
    with pytest.raises(UnsupportedFormatError, match="not readable here") as info:
        read_json(_write_doc(tmp_path, doc))
    assert "newer" not in str(info.value)


@pytest.mark.parametrize("doc", [[1, 2], {"bag_id": "x"}, "report"])
def test_read_refuses_non_reports(doc: Any, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match="not a bag report"):
        read_json(_write_doc(tmp_path, doc))


def test_read_broken_files(ct_report: BagReport, tmp_path: Path) -> None:
    good = write_json(ct_report, tmp_path / "good.json").read_bytes()
    truncated = tmp_path / "cut.json"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidScanError, match=r"cut\.json.*truncated"):
        read_json(truncated)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidScanError, match="UTF-8"):
        read_json(binary)
    for key, value, fragment in [("bag_id", None, "bag_id"), ("verdict", "maybe", "maybe")]:
        doc = ct_report.to_dict()
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
        with pytest.raises(InvalidScanError, match=fragment):
            read_json(_write_doc(tmp_path, doc, f"{key}.json"))
    doc = ct_report.to_dict()
    doc["detections"][0]["box"] = [1, 2, 3]
    with pytest.raises(InvalidScanError, match="box"):
        read_json(_write_doc(tmp_path, doc, "box.json"))
    with pytest.raises(ScreeningError, match=r"missing\.json"):
        read_json(tmp_path / "missing.json")


def test_report_line(ct_report: BagReport, tmp_path: Path) -> None:
    line = report_line(ct_report, {"json": tmp_path / "a.json", "tdr": "a.dcs"})
    assert "\n" not in line
    data = json.loads(line)
    assert data == {
        "bag_id": "ct-bag",
        "verdict": "alarm",
        "reasons": ["firearm 0.93 ~812 g"],
        "labels": ["firearm", "drugs"],
        "n_detections": 2,
        "total_s": 1.5,
        "outputs": {"json": str(tmp_path / "a.json"), "tdr": "a.dcs"},
    }


def test_report_line_orders_labels_by_best_score_and_handles_missing_timing() -> None:
    report = BagReport(
        bag_id="b\n2",
        sources=(),
        modality="DX",
        verdict=Verdict.REVIEW,
        reasons=("deadline",),
        detections=(
            Detection(Label.DRUGS, 0.4, (0, 0, 1, 1)),
            Detection(Label.BLADE, 0.9, (0, 0, 1, 1)),
            Detection(Label.DRUGS, 0.95, (0, 0, 1, 1)),
        ),
    )
    line = report_line(report)
    assert "\n" not in line
    data = json.loads(line)
    assert data["labels"] == ["drugs", "blade"]
    assert data["n_detections"] == 3
    assert data["total_s"] is None
    assert "outputs" not in data
    assert data["bag_id"] == "b\n2"
