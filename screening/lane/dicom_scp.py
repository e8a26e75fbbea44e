"""DICOM network receiver: a C-STORE SCP (pynetdicom) that spools DICOS/DICOM objects for the lane.

Each received object is written atomically (to ``.incoming/`` then renamed) into the spool folder, which
the lane reads as a hot folder (:class:`~screening.lane.sources.HotFolderSource` with ``settle_s=0``), so a
received bag survives a lane restart and is screened exactly once. One object = one bag.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.errors import BackendUnavailableError

__all__ = ["DICOS_STORAGE_UIDS", "DicomReceiver", "ReceiverConfig"]

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
        safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in uid) or "object"
        tmp = self.incoming / f"{safe}.dcm"
        final = self.spool_dir / f"{safe}.dcm"
        try:
            ds.save_as(tmp, enforce_file_format=True)
            os.replace(tmp, final)  # atomic: the lane never sees a half-written file
        except Exception as exc:
            log.error("C-STORE: cannot spool %s to %s: %r", uid, final, exc)
            with self._lock:
                self.refused += 1
            return 0xA700
        with self._lock:
            self.received += 1
        log.info("received %s from %s -> %s", uid, event.assoc.requestor.ae_title, final.name)
        return 0x0000

    def start(self) -> None:
        """Listen in a background thread."""
        try:
            from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, evt
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the DICOM receiver needs pynetdicom ({exc}); install it with 'pip install pynetdicom'"
            ) from None
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
            evt_handlers=[(evt.EVT_C_STORE, self._handle_store)],
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
