"""A rich progress bar that degrades to nothing when output is not a terminal (logs, tests)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(description: str, total: int, completed: int = 0) -> Iterator[Callable[[], None]]:
    """Yield an ``advance()`` callable; draws a rich bar on a terminal, prints every 10 % otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
        ) as prog:
            task = prog.add_task(description, total=total, completed=completed)
            yield lambda: prog.advance(task)
        return
    state = {"n": completed}
    step = max(1, total // 10)

    def advance() -> None:
        state["n"] += 1
        if state["n"] % step == 0 or state["n"] == total:
            print(f"{description}: {state['n']}/{total}", file=sys.stderr, flush=True)

    yield advance
