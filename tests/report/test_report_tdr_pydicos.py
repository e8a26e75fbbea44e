"""Interop: our TDRs are read by pydicos' TDRLoader (the Stratovan DICOS toolkit) with the same content."""

from __future__ import annotations

from pathlib import Path

import pytest

from screening.report import write_tdr
from screening.report.tdr import scan_reference
from screening.scan import BagReport, Scan, Verdict

pydicos = pytest.importorskip("pydicos")

_DECISION = {
    Verdict.ALARM: "enumAlarm",
    Verdict.CLEAR: "enumClear",
    Verdict.REVIEW: "enumUnknownAlarmDecision",
}


def _load(path: Path) -> dict:
    return pydicos.TDRLoader(str(path)).get_data()


def _expected_roi(box: tuple[float, ...]) -> tuple[dict[str, float], dict[str, float]]:
    if len(box) == 4:
        x0, y0, x1, y1 = box
        return {"x": x0, "y": y0, "z": 0.0}, {"x": x1 - x0, "y": y1 - y0, "z": 1.0}
    x0, y0, z0, x1, y1, z1 = box
    return {"x": x0, "y": y0, "z": z0}, {"x": x1 - x0, "y": y1 - y0, "z": z1 - z0}


def _check_same(report: BagReport, scans: list[Scan], path: Path) -> dict:
    data = _load(write_tdr(report, scans, path))
    assert data["AlarmDecision"].name == _DECISION[report.verdict]
    assert data["OOIID"] == report.bag_id
    assert data["TDRType"].name == "enumMachine"
    assert data["ProcessingTime"] == pytest.approx(1000.0 * report.timings_s.get("total", 0.0))
    assert data["ATR"]["manufacturer"] == "screening"
    # pydicos exposes the scan's Study Instance UID (which the TDR joins) as "InstanceUID".
    if scans:
        assert data["InstanceUID"] == scan_reference(scans[0]).study_instance_uid
    assert len(data["PTOs"]) == len(report.detections)
    for pto, det in zip(data["PTOs"], report.detections, strict=True):
        base, extent = _expected_roi(det.box)
        assert pto["Base"] == pytest.approx(base)
        assert pto["Extent"] == pytest.approx(extent)
        assert pto["Assessment"]["description"] == str(det.label)
        assert pto["Assessment"]["probability"] == pytest.approx(det.score, abs=1e-6)
    return data


def test_pydicos_reads_ct_report(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    data = _check_same(ct_report, [ct_scan], tmp_path / "ct.dcs")
    gun, drugs = data["PTOs"]
    assert gun["Assessment"]["flag"].name == "enumThreat"
    assert gun["Assessment"]["category"].name == "enumProhibitedItem"
    assert drugs["Assessment"]["flag"].name == "enumNoThreat"
    assert drugs["Assessment"]["category"].name == "enumContraband"
    assert data["ATR"]["parameters"] == {"ct-detector": "1.0+sha256:abcd1234"}


def test_pydicos_reads_xray_report(xray_scans: list[Scan], xray_report: BagReport, tmp_path: Path) -> None:
    data = _check_same(xray_report, xray_scans, tmp_path / "dx.dcs")
    assert [p["Assessment"]["flag"].name for p in data["PTOs"]] == ["enumThreat", "enumNoThreat"]


def test_pydicos_reads_clear_report(xray_scans: list[Scan], clear_report: BagReport, tmp_path: Path) -> None:
    data = _check_same(clear_report, xray_scans[:1], tmp_path / "clear.dcs")
    assert data["PTOs"] == []


def test_pydicos_reads_review_report(
    xray_scans: list[Scan], review_report: BagReport, tmp_path: Path
) -> None:
    data = _check_same(review_report, xray_scans[:1], tmp_path / "review.dcs")
    (shield,) = data["PTOs"]
    assert shield["Assessment"]["ability"].name == "enumShield"
    assert shield["Assessment"]["flag"].name == "enumUnknown"
    assert shield["Assessment"]["category"].name == "enumAnomaly"


def test_pydicos_reads_unreadable_bag_report(unreadable_report: BagReport, tmp_path: Path) -> None:
    data = _check_same(unreadable_report, [], tmp_path / "unreadable.dcs")
    assert data["PTOs"] == []


def test_pydicos_reads_ct_report_without_detector_mass(
    ct_scan: Scan, ct_report: BagReport, tmp_path: Path
) -> None:
    # DICOS requires Mass and Density for CT PTOs; here they come from our estimate.
    import dataclasses

    dets = tuple(dataclasses.replace(d, mass_g=None, density_g_cm3=None) for d in ct_report.detections)
    _check_same(dataclasses.replace(ct_report, detections=dets), [ct_scan], tmp_path / "nomass.dcs")


def test_pydicos_reads_non_ascii_bag_id(
    xray_scans: list[Scan], clear_report: BagReport, tmp_path: Path
) -> None:
    import dataclasses

    report = dataclasses.replace(clear_report, bag_id="bäg-ü-7")
    data = _check_same(report, xray_scans[:1], tmp_path / "utf8.dcs")
    assert data["OOIID"] == "bäg-ü-7"


def test_tdr_for_an_ingested_dicos_ct_references_the_real_file(tmp_path: Path) -> None:
    """Cross-stage: a DICOS CT written and read by the ingest stage keeps its real UIDs in our TDR."""
    import numpy as np
    import pydicom

    from screening.ingest import read
    from screening.ingest.write import write_dicos_ct
    from screening.report import read_tdr
    from screening.scan import Detection, Label, Modality

    vol = np.zeros((1, 12, 16, 16), np.float32)
    vol[0, 3:8, 4:10, 4:12] = 15000.0
    src = write_dicos_ct(Scan(vol, Modality.CT, (2.0, 2.0, 2.0), ("mhu",), "ingested"), tmp_path / "ct.dcs")
    (scan,) = read(src)
    truth = pydicom.dcmread(src, stop_before_pixels=True)
    report = BagReport(
        bag_id=scan.bag_id,
        sources=(str(src),),
        modality="CT",
        verdict=Verdict.ALARM,
        reasons=("firearm 0.90",),
        detections=(Detection(Label.FIREARM, 0.9, (4.0, 4.0, 3.0, 12.0, 10.0, 8.0)),),
        timings_s={"total": 0.8},
    )
    data = _check_same(report, [scan], tmp_path / "tdr.dcs")
    assert data["InstanceUID"] == truth.StudyInstanceUID
    tdr = read_tdr(tmp_path / "tdr.dcs")
    assert tdr["references"][0]["sop_instance_uid"] == truth.SOPInstanceUID
    assert tdr["threats"][0]["references"][0]["sop_class_uid"] == truth.SOPClassUID
    assert tdr["threats"][0]["density_g_cm3"] == pytest.approx(15.0, rel=1e-3)  # MHU 15000 -> 15 g/cm^3 w.e.
