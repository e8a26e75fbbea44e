"""DICOM network receiver: a C-STORE SCP (pynetdicom) that spools DICOS/DICOM objects for the lane.

Objects are grouped into bags by their OOI/patient ID (``PatientID``; else ``StudyInstanceUID``) and
written under ``.incoming/<association>/<bag>/``. When the sending association closes (released or
aborted), each bag folder is moved atomically into the spool folder, which the lane reads as a hot folder
(:class:`~screening.lane.sources.HotFolderSource` with ``settle_s=0``): a bag is complete when its
association ends, survives a lane restart, and is screened exactly once. A dual-energy DICOS DX bag (high
and low energy objects) therefore arrives as one bag.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.errors import BackendUnavailableError

__all__ = ["DICOS_STORAGE_UIDS", "DicomReceiver", "ReceiverConfig", "register_dicos_storage"]

log = logging.getLogger("screening.lane")

#: DICOS storage SOP classes (NEMA IIC 1 / DICOM PS3.4 Annex "DICOS"): CT, DX for presentation and
#: processing, AIT 2D/3D, quadrupole resonance, threat detection report.
DICOS_STORAGE_UIDS: tuple[str, ...] = (
    "1.2.840.10008.5.1.4.1.1.501.1",
    "1.2.840.10008.5.1.4.1.1.501.2.1",
    "1.2.840.10008.5.1.4.1.1.501.2.2",
    "1.2.840.10008.5.1.4.1.1.501.3",
    "1.2.840.10008.5.1.4.1.1.501.4",
    "1.2.840.10008.5.1.4.1.1.501.5",
    "1.2.840.10008.5.1.4.1.1.501.6",
)

#: Plain DICOM image storage accepted as well: CT, enhanced CT, DX for presentation/processing.
DICOM_IMAGE_UIDS: tuple[str, ...] = (
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.5.1.4.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.7",
)


_DICOS_KEYWORDS = (
    "DICOSCTImageStorage",
    "DICOSDigitalXRayImageStorageForPresentation",
    "DICOSDigitalXRayImageStorageForProcessing",
    "DICOSThreatDetectionReportStorage",
    "DICOS2DAITStorage",
    "DICOS3DAITStorage",
    "DICOSQuadrupoleResonanceStorage",
)


def register_dicos_storage() -> None:
    """Teach pynetdicom that the DICOS SOP classes are storage classes (needed by senders and receivers).

    pynetdicom does not list DICOS; without this it refuses C-STORE for them. Registering is idempotent.
    """
    from pynetdicom.service_class import StorageServiceClass
    from pynetdicom.sop_class import register_uid, uid_to_service_class

    for uid, keyword in zip(DICOS_STORAGE_UIDS, _DICOS_KEYWORDS, strict=True):
        if uid_to_service_class(uid) is not StorageServiceClass:
            register_uid(uid, keyword, StorageServiceClass)


@dataclass(frozen=True)
class ReceiverConfig:
    """Settings of the C-STORE SCP.

    Attributes:
        ae_title: our Application Entity title (callers must address it).
        host: interface to listen on.
        port: TCP port (0 = pick a free one; see :attr:`DicomReceiver.port`).
        allowed_callers: calling AE titles accepted; empty = any caller.
    """

    ae_title: str = "SCREENING"
    host: str = "0.0.0.0"
    port: int = 11112
    allowed_callers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < len(self.ae_title.strip()) <= 16:
            raise ValueError(f"AE title must be 1-16 characters; got {self.ae_title!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535; got {self.port}")


class DicomReceiver:
    """C-STORE SCP that writes each received object into ``spool_dir``.

    Args:
        config: AE title, address, allowed callers.
        spool_dir: folder the lane watches (created if missing).

    Raises:
        BackendUnavailableError: pynetdicom is not installed.
    """

    def __init__(self, config: ReceiverConfig, spool_dir: str | Path) -> None:
        self.config = config
        self.spool_dir = Path(spool_dir)
        self.incoming = self.spool_dir / ".incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.received = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._server: Any = None
        self._assoc_dirs: dict[int, Path] = {}
        self._seq = 0

    def _handle_store(self, event: Any) -> int:
        """Write one object; return a DIMSE status (0x0000 success, 0xA700 out of resources, 0xC000)."""
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            uid = str(ds.SOPInstanceUID)
        except Exception as exc:
            log.error("C-STORE from %s: cannot decode dataset: %r", event.assoc.requestor.ae_title, exc)
            with self._lock:
                self.refused += 1
            return 0xC000
        bag = str(ds.get("PatientID", "") or ds.get("StudyInstanceUID", "") or uid)
        folder = self._assoc_dir(event.assoc) / _safe(bag)
        final = folder / f"{_safe(uid)}.dcm"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            ds.save_as(final, enforce_file_format=True)
        except Exception as exc:
            log.error("C-STORE: cannot spool %s to %s: %r", uid, final, exc)
            with self._lock:
                self.refused += 1
            return 0xA700
        with self._lock:
            self.received += 1
        log.info("received %s (bag %s) from %s", uid, bag, event.assoc.requestor.ae_title)
        return 0x0000

    def _assoc_dir(self, assoc: Any) -> Path:
        with self._lock:
            key = id(assoc)
            if key not in self._assoc_dirs:
                self._seq += 1
                self._assoc_dirs[key] = self.incoming / f"a{os.getpid()}-{self._seq:06d}"
            return self._assoc_dirs[key]

    def _handle_close(self, event: Any) -> None:
        """Association over: move each received bag folder into the spool (atomic rename)."""
        with self._lock:
            adir = self._assoc_dirs.pop(id(event.assoc), None)
        if adir is None or not adir.is_dir():
            return
        for bag_dir in sorted(adir.iterdir()):
            target = self.spool_dir / bag_dir.name
            n = 1
            while target.exists():  # the same bag sent again in another association
                n += 1
                target = self.spool_dir / f"{bag_dir.name}-{n}"
            try:
                os.replace(bag_dir, target)
            except OSError as exc:
                log.error("cannot move received bag %s into %s: %s", bag_dir, target, exc)
        with contextlib.suppress(OSError):
            adir.rmdir()

    def start(self) -> None:
        """Listen in a background thread."""
        try:
            from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, evt
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the DICOM receiver needs pynetdicom ({exc}); install it with 'pip install pynetdicom'"
            ) from None
        register_dicos_storage()
        ae = AE(ae_title=self.config.ae_title)
        for ctx in StoragePresentationContexts:
            ae.add_supported_context(ctx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        for uid in (*DICOS_STORAGE_UIDS, *DICOM_IMAGE_UIDS):
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.require_called_aet = True
        if self.config.allowed_callers:
            ae.require_calling_aet = list(self.config.allowed_callers)
        self._server = ae.start_server(
            (self.config.host, self.config.port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, self._handle_store), (evt.EVT_CONN_CLOSE, self._handle_close)],
        )

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._server is None:
            return self.config.port
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> DicomReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in name).strip(".") or "object"
