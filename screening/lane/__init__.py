"""The live lane: belt and scanner model, scheduler with a hard 10-s deadline, hot folder, DICOM receiver.

When the 10-second budget starts (the definition every latency number in this project uses):
the budget of a bag starts when the bag's **tail passes the scanner's imaging plane**, i.e. the
instant the scanner has emitted the bag's last CT slice or X-ray line and the complete image
exists. At 0.3 m/s a 0.6 m bag takes 2 s to pass the plane; that time is not counted, and the
lane uses it to receive and assemble the leading part of the bag (and to keep the workers warm).
The verdict latency is measured from that instant to the moment the verdict is committed to the
audit store. A bag whose verdict is not committed within the budget gets ``review`` with reason
``deadline``, even when its worker is still busy (that worker is killed and replaced). For files
(hot folder, DICOM receiver) the budget starts when the file is first seen complete (size and time
stable, file readable), which also charges the settle time to the bag.

Pieces: :mod:`~screening.lane.belt` (belt, scanner stream, assembler), :mod:`~screening.lane.scheduler`
(bounded queue, worker processes, watchdog), :mod:`~screening.lane.sources` (simulated belt, hot folder),
:mod:`~screening.lane.dicom_scp` (C-STORE receiver), :mod:`~screening.lane.lane` (the loop),
:mod:`~screening.lane.live` (terminal view). Heavy modules are imported lazily.
"""

from __future__ import annotations

__all__ = ["BUDGET_START"]

#: One-line statement of when the verdict budget starts (shown in ``screening run --help``).
BUDGET_START = "the budget starts when the bag's tail passes the imaging plane (its scan is complete)"
