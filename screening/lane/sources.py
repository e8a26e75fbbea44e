"""Where bags come from: the simulated belt and a hot folder of scanner files; each yields timed arrivals."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screening.lane.belt import Assembler, BeltConfig, bag_length_m, stream_bag
from screening.scan import Scan

if TYPE_CHECKING:
    from screening.audit.store import AuditStore

__all__ = ["Arrival", "HotFolderSource", "SimSource", "sim_bag_maker"]

log = logging.getLogger("screening.lane")

#: Names a scanner uses while a file is still being written (skipped until renamed).
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart")


@dataclass(frozen=True)
class Arrival:
    """A bag ready for screening.

    Attributes:
        bag_id: the lane's id (unique in the audit store).
        budget_start_s: ``time.monotonic()`` when the verdict budget started (tail past the imaging plane;
            for files, when the file was first seen complete).
        scans: the assembled scans, or ``None`` when ``path`` is to be read by the worker.
        path: file or folder of the bag (hot folder).
        bag_length_m: length along the belt, when known.
        extra: lane data for the report (JSON-serialisable).
    """

    bag_id: str
    budget_start_s: float
    scans: tuple[Scan, ...] | None = None
    path: str | None = None
    bag_length_m: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        if self.path:
            return (self.path,)
        return tuple(dict.fromkeys(s.source for s in self.scans or () if s.source))


def sim_bag_maker(seed: int = 0, modality: str = "xray") -> Callable[[int, str], list[Scan]]:
    """``make_bag(index, bag_id) -> scans`` from the simulator (``screening.sim.generate_bag``).

    The simulator's ground truth goes into each scan's ``meta["truth"]`` (label names), so the live view
    can show it next to the verdict.
    """

    def make(index: int, bag_id: str) -> list[Scan]:
        from screening.sim import generate_bag

        bag = generate_bag(seed * 1_000_003 + index, modality=modality)
        scans = [*bag.xray, *([bag.ct] if bag.ct is not None else [])]
        truth = sorted({str(getattr(o, "label", "")) for o in bag.objects if getattr(o, "label", None)})
        return [
            s.replace(bag_id=bag_id, meta={**s.meta, "truth": truth, "sim_bag_id": bag.bag_id}) for s in scans
        ]

    return make


class SimSource:
    """Simulated belt: bags generated ahead, then streamed through the imaging plane at belt speed.

    Args:
        make_bag: ``(index, bag_id) -> scans`` (see :func:`sim_bag_maker`; tests pass tiny fakes).
        count: bags to produce; ``None`` = forever.
        belt: belt speed, gap and chunking.
        time_scale: simulated seconds per real second (1 = real time; tests use large values).
        prefix: bag ids are ``f"{prefix}{index:06d}"``; deterministic, so a restarted lane skips decided bags.
        skip: ``bag_id -> bool``; bags for which it is true are not generated (already decided).
        prefetch: bags generated ahead of the belt (the simulator stands for the physical world; its cost
            is not screening time).
        stop: set to end the stream early.
    """

    def __init__(
        self,
        make_bag: Callable[[int, str], Sequence[Scan]],
        count: int | None = 20,
        belt: BeltConfig | None = None,
        *,
        time_scale: float = 1.0,
        prefix: str = "sim-",
        skip: Callable[[str], bool] | None = None,
        prefetch: int = 2,
        stop: threading.Event | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0; got {time_scale}")
        self.make_bag = make_bag
        self.count = count
        self.belt = belt or BeltConfig()
        self.time_scale = time_scale
        self.prefix = prefix
        self.skip = skip
        self.prefetch = max(1, prefetch)
        self.stop = stop or threading.Event()
        self.skipped = 0
        self.scanner_late = 0

    def _ids(self) -> Iterator[tuple[int, str]]:
        i = 0
        while self.count is None or i < self.count:
            yield i, f"{self.prefix}{i:06d}"
            i += 1

    def _generate(self, out: queue.Queue[Any]) -> None:
        try:
            for i, bag_id in self._ids():
                if self.stop.is_set():
                    break
                if self.skip is not None and self.skip(bag_id):
                    self.skipped += 1
                    continue
                try:
                    item: Any = (bag_id, list(self.make_bag(i, bag_id)))
                except Exception as exc:  # the simulator failed: say so, keep the belt running
                    log.error("simulator failed on %s: %r", bag_id, exc)
                    item = (bag_id, exc)
                while not self.stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        finally:
            out.put(None)

    def __iter__(self) -> Iterator[Arrival]:
        bags: queue.Queue[Any] = queue.Queue(maxsize=self.prefetch)
        gen = threading.Thread(target=self._generate, args=(bags,), name="sim-generator", daemon=True)
        gen.start()
        scale = self.time_scale
        next_head = time.monotonic()
        while not self.stop.is_set():
            item = bags.get()
            if item is None:
                return
            bag_id, scans = item
            if isinstance(scans, Exception) or not scans:
                continue
            head = time.monotonic()
            if head > next_head + 0.05:
                self.scanner_late += 1  # generation or back-pressure held the belt
            head = max(head, next_head)
            asm = Assembler(scans)
            for chunk in stream_bag(scans, self.belt):
                _sleep_until(head + chunk.t_s / scale, self.stop)
                asm.add(chunk)
            length = bag_length_m(scans)
            tail = head + length / self.belt.speed_m_s / scale
            _sleep_until(tail, self.stop)
            start = time.monotonic()
            next_head = tail + self.belt.gap_m / self.belt.speed_m_s / scale
            yield Arrival(
                bag_id=bag_id,
                budget_start_s=start,
                scans=tuple(asm.scans()),
                bag_length_m=length,
                extra={"lane": {"belt_speed_m_s": self.belt.speed_m_s, "bag_length_m": round(length, 3)}},
            )


def _sleep_until(t: float, stop: threading.Event) -> None:
    left = t - time.monotonic()
    if left > 0:
        stop.wait(left)


def _snapshot(path: Path) -> tuple[int, int]:
    """``(total size, newest mtime_ns)`` of a file or of every file under a folder."""
    if path.is_dir():
        size, mtime = 0, 0
        for p in path.rglob("*"):
            if p.is_file():
                st = p.stat()
                size += st.st_size
                mtime = max(mtime, st.st_mtime_ns)
        return size, mtime
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _readable(path: Path) -> bool:
    try:
        if path.is_dir():
            return True
        with path.open("rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False


class HotFolderSource:
    """Scanner drop folder: each file (or sub-folder = one bag) is screened once, when complete.

    A file counts as complete when its size and modification time have not changed for ``settle_s`` and
    it can be opened. Names starting with ``.`` or ending in a partial-write suffix (``.part``, ``.tmp``...)
    are ignored until renamed. Claimed files are recorded in the audit store, so a restarted lane skips
    decided ones and screens again the ones that were in flight.

    Args:
        folder: the drop folder (created if missing).
        store: the audit store (``None``: remember in memory only).
        settle_s: quiet time before a file counts as complete.
        poll_s: how often the folder is listed.
        max_bags: stop after this many arrivals; ``None`` = run until ``stop`` is set.
        idle_exit_s: stop when nothing new arrived for this long (tests, batch use); ``None`` = never.
        stop: set to end the stream.
    """

    def __init__(
        self,
        folder: str | Path,
        store: AuditStore | None = None,
        *,
        settle_s: float = 1.0,
        poll_s: float = 0.25,
        max_bags: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.max_bags = max_bags
        self.idle_exit_s = idle_exit_s
        self.stop = stop or threading.Event()
        self._done: set[str] = set()
        self._watch: dict[str, tuple[int, int, float]] = {}

    def _candidates(self) -> list[Path]:
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except OSError as exc:
            log.error("cannot list hot folder %s: %s", self.folder, exc)
            return []
        return [
            Path(e.path)
            for e in entries
            if not e.name.startswith(".") and not e.name.lower().endswith(PARTIAL_SUFFIXES)
        ]

    def _poll(self) -> list[Arrival]:
        now = time.monotonic()
        ready = []
        for path in self._candidates():
            key = path.name
            if key in self._done:
                continue
            try:
                size, mtime = _snapshot(path)
            except OSError:
                continue  # vanished or unreadable for now
            prev = self._watch.get(key)
            if prev is None or prev[:2] != (size, mtime):
                self._watch[key] = (size, mtime, now)  # first seen complete-looking at `now`
                if self.settle_s > 0:
                    continue
                prev = self._watch[key]
            if now - prev[2] < self.settle_s or not _readable(path):
                continue
            self._done.add(key)
            self._watch.pop(key, None)
            if self.store is not None:
                fresh = self.store.mark_file(str(path), size, mtime, key)
                if not fresh and self.store.has_verdict(key):
                    continue  # screened before this lane started
            ready.append(
                Arrival(bag_id=key, budget_start_s=prev[2], path=str(path), extra={"lane": {"file": key}})
            )
        return ready

    def __iter__(self) -> Iterator[Arrival]:
        produced = 0
        last_new = time.monotonic()
        while not self.stop.is_set():
            for arrival in self._poll():
                yield arrival
                produced += 1
                last_new = time.monotonic()
                if self.max_bags is not None and produced >= self.max_bags:
                    return
            if self._watch:
                last_new = time.monotonic()
            if self.idle_exit_s is not None and time.monotonic() - last_new > self.idle_exit_s:
                return
            self.stop.wait(self.poll_s)
