"""Live terminal view of the lane (rich): recent bags with verdict, classes and latency against the budget."""

from __future__ import annotations

import threading
from typing import Any

from screening.lane.stats import BagLine, LaneStats
from screening.scan import BagReport

__all__ = ["LiveView", "PlainView"]

_COLOURS = {"clear": "green", "alarm": "bold red", "review": "yellow"}


class PlainView:
    """One line per bag on stdout (for logs, pipes and tests)."""

    def __init__(self, stats: LaneStats, echo: Any = print) -> None:
        self.stats = stats
        self.echo = echo
        self._lock = threading.Lock()

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, line: BagLine, report: BagReport) -> None:
        classes = ",".join(line.classes) or "-"
        with self._lock:
            self.echo(
                f"{line.bag_id}  {line.verdict:<6}  {classes:<24}  "
                f"{line.latency_s:6.2f} s / {line.budget_s:g} s  {line.reason}",
            )


class LiveView:
    """A rich ``Live`` table refreshed a few times a second.

    Args:
        stats: the lane's running statistics.
        title: heading (source, device, output folder).
        console: a ``rich.console.Console`` (default: stdout).
    """

    def __init__(self, stats: LaneStats, title: str = "screening lane", console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.stats = stats
        self.title = title
        self.console = console or Console()
        self._live = Live(get_renderable=self._render, console=self.console, refresh_per_second=4)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def update(self, line: BagLine, report: BagReport) -> None:
        return None  # the Live refresh thread renders from the stats

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        s = self.stats.snapshot()
        recent = list(self.stats.recent)
        table = Table(title=self.title, expand=True, title_justify="left")
        table.add_column("bag")
        table.add_column("verdict")
        table.add_column("classes")
        table.add_column("latency / budget", justify="right")
        table.add_column("reasons", overflow="ellipsis", no_wrap=True, ratio=1)
        for line in recent:
            over = line.latency_s > line.budget_s
            table.add_row(
                line.bag_id,
                Text(line.verdict, style=_COLOURS.get(line.verdict, "")),
                ", ".join(line.classes) or "-",
                Text(f"{line.latency_s:.2f} / {line.budget_s:g} s", style="red" if over else ""),
                line.reason + (f"  [truth: {', '.join(line.truth) or 'none'}]" if line.truth else ""),
            )
        p50 = "-" if s["latency_p50_s"] is None else f"{s['latency_p50_s']:.2f}"
        p99 = "-" if s["latency_p99_s"] is None else f"{s['latency_p99_s']:.2f}"
        bp = s["events"].get("backpressure", 0)
        footer = Text.assemble(
            f"bags {s['bags']}  ",
            f"({', '.join(f'{k} {v}' for k, v in sorted(s['verdicts'].items())) or '-'})  ",
            f"{s['bags_per_hour']:.0f} bags/h  belt-equivalent {s['belt_equivalent_m_s']:.2f} m/s  ",
            f"latency p50 {p50} s  p99 {p99} s  over budget {s['over_budget']}  ",
            (f"BACK-PRESSURE {bp}" if bp else "back-pressure 0", "bold red" if bp else ""),
            f"  workers recycled {s['events'].get('worker-recycled', 0)}",
        )
        return Group(table, footer)
