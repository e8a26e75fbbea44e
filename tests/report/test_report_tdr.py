"""DICOS TDR writer and our reader: mapping of verdicts, boxes, assessments, references and error paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pydicom
import pytest

from screening.decide.policy import Policy
from screening.errors import InvalidScanError, ScreeningError, UnsupportedFormatError
from screening.report import read_tdr, write_tdr
from screening.report.tdr import SOP_CLASS_CT, SOP_CLASS_DX, SOP_CLASS_TDR, scan_reference
from screening.scan import BagReport, Detection, Label, Modality, Scan, Verdict


def test_ct_alarm_report(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    path = write_tdr(ct_report, [ct_scan], tmp_path / "tdr" / "bag.dcs")
    assert sorted(p.name for p in path.parent.iterdir()) == ["bag.dcs"]
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == SOP_CLASS_TDR == ds.file_meta.MediaStorageSOPClassUID
    assert ds.Modality == "TDR"
    assert ds.TDRType == "MACHINE"

    tdr = read_tdr(path)
    assert tdr["verdict"] is Verdict.ALARM and tdr["alarm_decision"] == "ALARM"
    assert tdr["abort_flag"] == "SUCCESS" and tdr["abort_reasons"] == []
    assert tdr["bag_id"] == "ct-bag"
    assert tdr["study_instance_uid"] == ct_scan.meta["StudyInstanceUID"]
    assert tdr["frame_of_reference_uid"] == ct_scan.meta["FrameOfReferenceUID"]
    assert tdr["series_instance_uid"] != ct_scan.meta["SeriesInstanceUID"]  # the TDR is its own series
    assert tdr["total_processing_time_ms"] == pytest.approx(1500.0)
    assert tdr["alarm_decision_time"] == "20240501100000.000000+0000"
    assert tdr["algorithm"]["name"] == "screening"
    assert tdr["algorithm"]["parameters"] == ["-ct-detector=1.0+sha256:abcd1234"]
    assert tdr["references"] == [
        {
            "series_instance_uid": ct_scan.meta["SeriesInstanceUID"],
            "sop_class_uid": SOP_CLASS_CT,
            "sop_instance_uid": ct_scan.meta["SOPInstanceUID"],
        }
    ]
    assert tdr["n_total_objects"] == 2 and tdr["n_alarm_objects"] == 1

    gun, drugs = tdr["threats"]
    assert gun["box"] == pytest.approx((5.0, 4.0, 2.0, 20.0, 10.0, 6.0))
    assert gun["base"] == pytest.approx((5.0, 4.0, 2.0)) and gun["extents"] == pytest.approx((15.0, 6.0, 4.0))
    assert (gun["label"], gun["category"], gun["flag"], gun["ability"]) == (
        "firearm",
        "PI",
        "THREAT",
        "NO_INTERFERENCE",
    )
    assert gun["probability"] == pytest.approx(0.93, abs=1e-6)
    assert gun["mass_g"] == pytest.approx(812.0) and gun["density_g_cm3"] == pytest.approx(7.8, abs=1e-5)
    assert gun["references"] == [
        {"sop_class_uid": SOP_CLASS_CT, "sop_instance_uid": ct_scan.meta["SOPInstanceUID"]}
    ]
    assert gun["processing_time_ms"] == pytest.approx(1500.0)
    assert (drugs["label"], drugs["category"], drugs["flag"]) == ("drugs", "CONTRABAND", "NO_THREAT")
    assert drugs["box"] == pytest.approx((1.0, 1.0, 1.0, 4.5, 3.0, 2.0))


def test_ct_mass_is_estimated_when_detector_gave_none(
    ct_scan: Scan, ct_report: BagReport, tmp_path: Path
) -> None:
    # The box covers x 0:10, y 0:16, z 0:8; the water block inside it is x 5:10, y 4:10, z 2:6 = 120 voxels
    # of 2 mm^3 at MHU 1000 -> density 1.0 g/cm^3, mass 0.24 g. Air voxels do not count.
    det = Detection(Label.DRUGS, 0.6, (0.0, 0.0, 0.0, 10.0, 16.0, 8.0))
    report = dataclasses.replace(ct_report, detections=(det,))
    (pto,) = read_tdr(write_tdr(report, [ct_scan], tmp_path / "m.dcs"))["threats"]
    assert pto["density_g_cm3"] == pytest.approx(1.0, rel=1e-5)
    assert pto["mass_g"] == pytest.approx(0.24, rel=1e-5)
    # Given only a density, the detector's value is kept and the mass is still estimated.
    det = dataclasses.replace(det, density_g_cm3=1.3)
    (pto,) = read_tdr(
        write_tdr(dataclasses.replace(report, detections=(det,)), [ct_scan], tmp_path / "d.dcs")
    )["threats"]
    assert pto["density_g_cm3"] == pytest.approx(1.3, rel=1e-5) and pto["mass_g"] == pytest.approx(
        0.24, rel=1e-5
    )


def test_xray_views_without_uids_get_stable_generated_ones(
    xray_scans: list[Scan], xray_report: BagReport, tmp_path: Path
) -> None:
    first = read_tdr(write_tdr(xray_report, xray_scans, tmp_path / "a.dcs"))
    second = read_tdr(write_tdr(xray_report, xray_scans, tmp_path / "b.dcs"))
    assert first["sop_instance_uid"] != second["sop_instance_uid"]  # each TDR is a new instance
    assert first["references"] == second["references"]  # ... about the same, re-derivable images
    assert first["study_instance_uid"] == second["study_instance_uid"]
    top, side = (scan_reference(s, i) for i, s in enumerate(xray_scans))
    assert top.generated and side.generated and top.sop_instance_uid != side.sop_instance_uid
    assert top.sop_class_uid == SOP_CLASS_DX
    for ref in (top, side):
        assert pydicom.uid.UID(ref.sop_instance_uid).is_valid
    assert {r["sop_instance_uid"] for r in first["references"]} == {
        top.sop_instance_uid,
        side.sop_instance_uid,
    }

    blade, cash = first["threats"]
    assert blade["box"] == pytest.approx((8.0, 5.0, 20.0, 12.0))
    assert blade["base"] == pytest.approx((8.0, 5.0, 0.0)) and blade["extents"] == pytest.approx(
        (12.0, 7.0, 1.0)
    )
    assert blade["references"] == [{"sop_class_uid": SOP_CLASS_DX, "sop_instance_uid": side.sop_instance_uid}]
    assert blade["flag"] == "THREAT"
    assert cash["box"] == pytest.approx((2.5, 1.0, 6.0, 4.0))
    assert cash["references"][0]["sop_instance_uid"] == top.sop_instance_uid
    # 20 notes is under the policy's currency minimum: annotated, not alarming.
    assert (cash["category"], cash["flag"]) == ("CONTRABAND", "NO_THREAT")
    assert cash["mass_g"] is None and cash["density_g_cm3"] is None  # X-ray: only what the detector knew
    assert first["n_alarm_objects"] == 1


def test_clear_report_has_no_threats(xray_scans: list[Scan], clear_report: BagReport, tmp_path: Path) -> None:
    tdr = read_tdr(write_tdr(clear_report, xray_scans[:1], tmp_path / "c.dcs"))
    assert (tdr["verdict"], tdr["alarm_decision"], tdr["abort_flag"]) == (Verdict.CLEAR, "CLEAR", "SUCCESS")
    assert tdr["threats"] == [] and tdr["n_total_objects"] == 0 and tdr["n_alarm_objects"] == 0
    assert len(tdr["references"]) == 1


def test_review_maps_to_unknown(xray_scans: list[Scan], review_report: BagReport, tmp_path: Path) -> None:
    tdr = read_tdr(write_tdr(review_report, xray_scans[:1], tmp_path / "r.dcs"))
    assert (tdr["verdict"], tdr["alarm_decision"], tdr["abort_flag"]) == (
        Verdict.REVIEW,
        "UNKNOWN",
        "SUCCESS",
    )
    (shield,) = tdr["threats"]
    assert (shield["category"], shield["ability"], shield["flag"]) == ("ANOMALY", "SHIELD", "UNKNOWN")
    assert tdr["n_alarm_objects"] == 0


def test_unreadable_bag_aborts(unreadable_report: BagReport, tmp_path: Path) -> None:
    tdr = read_tdr(write_tdr(unreadable_report, [], tmp_path / "u.dcs"))
    assert (tdr["alarm_decision"], tdr["abort_flag"], tdr["abort_reasons"]) == (
        "UNKNOWN",
        "ABORT",
        ["UNKNOWN_DATATYPE"],
    )
    assert tdr["references"] == [] and tdr["threats"] == [] and tdr["bag_id"] == "bad-bag"
    assert pydicom.uid.UID(tdr["study_instance_uid"]).is_valid


def test_deadline_review_aborts_with_timeout(
    xray_scans: list[Scan], clear_report: BagReport, tmp_path: Path
) -> None:
    report = dataclasses.replace(clear_report, verdict=Verdict.REVIEW, reasons=("deadline: 10.2 s > 10 s",))
    tdr = read_tdr(write_tdr(report, xray_scans, tmp_path / "t.dcs"))
    assert (tdr["alarm_decision"], tdr["abort_flag"], tdr["abort_reasons"]) == (
        "UNKNOWN",
        "ABORT",
        ["TIMEOUT"],
    )


def test_policy_and_algorithm_arguments(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    strict = Policy(thresholds={Label.FIREARM: 0.99})
    path = write_tdr(ct_report, [ct_scan], tmp_path / "p.dcs", algorithm=("acme-atr", "7.1"), policy=strict)
    tdr = read_tdr(path)
    assert [t["flag"] for t in tdr["threats"]] == ["NO_THREAT", "NO_THREAT"]
    assert tdr["n_alarm_objects"] == 0
    assert tdr["verdict"] is Verdict.ALARM  # the report's decision is written as made, never re-decided
    assert (tdr["algorithm"]["name"], tdr["algorithm"]["version"]) == ("acme-atr", "7.1")


def test_odd_values_are_made_valid(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    det = Detection(Label.BLADE, 0.7, (9.0, 3.0, 4.0, 2.0, 3.0, 1.0))  # reversed corners, zero height
    report = dataclasses.replace(
        ct_report,
        bag_id="B" * 100,
        detections=(det,),
        model_versions={"weird\\name": "v" * 80},
        created_utc="not a time",
    )
    tdr = read_tdr(write_tdr(report, [ct_scan], tmp_path / "o.dcs"))
    (pto,) = tdr["threats"]
    assert pto["base"] == pytest.approx((2.0, 3.0, 1.0)) and pto["extents"] == pytest.approx((7.0, 1.0, 3.0))
    assert tdr["bag_id"] == "B" * 64  # LO holds 64 characters
    (param,) = tdr["algorithm"]["parameters"]
    assert "\\" not in param and len(param) == 64
    assert len(tdr["alarm_decision_time"]) == len("20240501100000.000000+0000")


def test_write_to_unwritable_place(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ScreeningError, match=r"f/t\.dcs"):
        write_tdr(ct_report, [ct_scan], tmp_path / "f" / "t.dcs")


def test_read_errors(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    text = tmp_path / "notes.dcs"
    text.write_text("hello")
    with pytest.raises(UnsupportedFormatError, match=r"notes\.dcs.*not a DICOM"):
        read_tdr(text)

    image = pydicom.Dataset()
    image.SOPClassUID = SOP_CLASS_CT
    image.SOPInstanceUID = pydicom.uid.generate_uid()
    image.Modality = "CT"
    image.file_meta = pydicom.dataset.FileMetaDataset()
    image.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    image.save_as(tmp_path / "ct.dcs", enforce_file_format=True)
    with pytest.raises(
        UnsupportedFormatError, match=r"expected SOP Class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.501\.3"
    ):
        read_tdr(tmp_path / "ct.dcs")

    good = write_tdr(ct_report, [ct_scan], tmp_path / "good.dcs")
    ds = pydicom.dcmread(good)
    del ds.AlarmDecision
    ds.save_as(tmp_path / "nodecision.dcs")
    with pytest.raises(InvalidScanError, match=r"nodecision\.dcs.*AlarmDecision"):
        read_tdr(tmp_path / "nodecision.dcs")

    ds = pydicom.dcmread(good)
    del ds.ThreatSequence[0].PTORepresentationSequence
    ds.save_as(tmp_path / "noroi.dcs")
    with pytest.raises(InvalidScanError, match="Threat ROI"):
        read_tdr(tmp_path / "noroi.dcs")

    data = good.read_bytes()
    cut = tmp_path / "cut.dcs"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(InvalidScanError, match=r"cut\.dcs"):
        read_tdr(cut)

    with pytest.raises(ScreeningError, match=r"missing\.dcs"):
        read_tdr(tmp_path / "missing.dcs")


def test_dual_energy_ct_and_multiple_volumes(ct_scan: Scan, ct_report: BagReport, tmp_path: Path) -> None:
    de = ct_scan.replace(array=np.concatenate([ct_scan.array, ct_scan.array * 1.2]), channels=("high", "low"))
    other = ct_scan.replace(meta={**ct_scan.meta, "SOPInstanceUID": "1.2.826.0.1.3680043.10.1.9"})
    tdr = read_tdr(write_tdr(ct_report, [de, other], tmp_path / "two.dcs"))
    assert len(tdr["references"]) == 2
    assert {r["sop_instance_uid"] for r in tdr["threats"][0]["references"]} == {
        "1.2.826.0.1.3680043.10.1.1",
        "1.2.826.0.1.3680043.10.1.9",
    }


def test_scan_reference_prefers_meta(ct_scan: Scan) -> None:
    ref = scan_reference(ct_scan)
    assert not ref.generated
    assert (ref.sop_instance_uid, ref.series_instance_uid) == (
        "1.2.826.0.1.3680043.10.1.1",
        "1.2.826.0.1.3680043.10.1.2",
    )
    assert ref.modality is Modality.CT
