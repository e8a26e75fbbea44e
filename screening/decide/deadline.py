"""The 10-second verdict budget: when it starts, how much is left, and whether a bag missed it.

Definition (shared with ``screening/lane/__init__.py``): the budget of a bag starts when its **tail passes
the scanner's imaging plane**, i.e. the instant the scanner has emitted the bag's last CT slice or X-ray
line and the complete image exists. The verdict latency is the time from that instant to the moment the
verdict is committed (to the audit store, when there is one). Work done while the bag is still being
scanned (receiving and assembling the leading part) is free; everything after the tail counts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_BUDGET_S", "Deadline", "tail_out_time"]

#: Mission requirement: every bag gets a verdict within this many seconds.
DEFAULT_BUDGET_S = 10.0


def tail_out_time(head_in_s: float, bag_length_m: float, belt_speed_m_s: float) -> float:
    """When the bag's tail passes the imaging plane.

    Args:
        head_in_s: clock time (s) at which the bag's leading edge reaches the imaging plane.
        bag_length_m: bag length along the belt, metres (> 0).
        belt_speed_m_s: belt speed, metres per second (> 0).

    Returns:
        Clock time in seconds at which the budget starts.

    Raises:
        ValueError: non-positive length or speed.
    """
    if bag_length_m <= 0 or belt_speed_m_s <= 0:
        raise ValueError(
            f"bag length and belt speed must be > 0; got {bag_length_m} m and {belt_speed_m_s} m/s"
        )
    return head_in_s + bag_length_m / belt_speed_m_s


@dataclass(frozen=True)
class Deadline:
    """A bag's verdict budget on one monotonic clock.

    Attributes:
        start_s: clock time the budget started (tail past the imaging plane), seconds.
        budget_s: allowed seconds from ``start_s`` to the verdict.
    """

    start_s: float
    budget_s: float = DEFAULT_BUDGET_S

    @property
    def due_s(self) -> float:
        """Clock time by which the verdict must exist."""
        return self.start_s + self.budget_s

    def remaining(self, now_s: float) -> float:
        """Seconds left (negative once missed)."""
        return self.due_s - now_s

    def expired(self, now_s: float) -> bool:
        return now_s > self.due_s

    def latency(self, now_s: float) -> float:
        """Seconds since the budget started."""
        return now_s - self.start_s
