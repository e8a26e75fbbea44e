"""DICOM C-STORE receiver on loopback: a pynetdicom sender pushes a DICOS object, the lane screens it."""

from __future__ import annotations

import functools
import socket
import time
from pathlib import Path

import pydicom
import pytest

from screening.audit import AuditStore
from screening.ingest.write import write_dicos_dx
from screening.lane.dicom_scp import DicomReceiver, ReceiverConfig
from screening.lane.fakes import fake_detectors, tiny_bag
from screening.lane.lane import Lane
from screening.lane.scheduler import SchedulerConfig
from screening.lane.sources import HotFolderSource


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(folder: Path, port: int, calling: str, called: str = "SCREENING") -> list[int] | None:
    """C-STORE every file of a bag in one association; DIMSE statuses, or ``None`` if refused."""
    from pynetdicom import AE

    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    ae = AE(ae_title=calling)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        return None
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def test_receive_then_screen(tmp_path: Path) -> None:
    dcs = write_dicos_dx(tiny_bag("bag-net"), tmp_path / "bag.dcs")
    spool = tmp_path / "spool"
    cfg = ReceiverConfig(
        ae_title="SCREENING", host="127.0.0.1", port=free_port(), allowed_callers=("SCANNER1",)
    )
    with DicomReceiver(cfg, spool) as rx:
        assert send(dcs, rx.port, "SCANNER1") == [0x0000, 0x0000]  # high + low energy objects
        assert send(dcs, rx.port, "INTRUDER") is None  # calling AE title not allowed
        assert send(dcs, rx.port, "SCANNER1", called="OTHER") is None  # wrong called AE title
        assert rx.received == 2
        end = time.monotonic() + 5
        while not [p for p in spool.iterdir() if not p.name.startswith(".")] and time.monotonic() < end:
            time.sleep(0.02)
    bags = [p for p in spool.iterdir() if not p.name.startswith(".")]
    assert [b.name for b in bags] == ["bag-net"] and len(list(bags[0].iterdir())) == 2  # one bag, 2 objects
    assert not list((spool / ".incoming").iterdir())  # moved atomically when the association closed
    store = AuditStore(tmp_path / "audit.sqlite")
    lane = Lane(
        HotFolderSource(spool, store, settle_s=0.0, poll_s=0.05, max_bags=1),
        functools.partial(fake_detectors),
        SchedulerConfig(workers=1, queue_size=1, kind="thread"),
        store=store,
    )
    lane.run()
    (row,) = store.bags()
    assert row.verdict == "clear" and store.report(row.bag_id).bag_id == "bag-net"


def test_receiver_config_validation() -> None:
    with pytest.raises(ValueError, match="1-16 characters"):
        ReceiverConfig(ae_title="X" * 17)
    with pytest.raises(ValueError, match="0-65535"):
        ReceiverConfig(port=70000)
