"""The live display of a build on a terminal: a bar, done/total, in flight, spent, and ETA.

Only `ConsoleReporter` imports this, and only for a terminal: rich stays out of every other
path. The ETA is the time the finished assets took on average, times those left; between two
events it counts down. The clock is injected, so tests need no sleeping.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import RenderableType


class LiveDisplay:
    """The bar at the bottom of a terminal, with lines printed above it."""

    def __init__(
        self,
        stream: TextIO,
        *,
        color: bool,
        clock: Callable[[], float] = time.monotonic,
        console: Console | None = None,
    ) -> None:
        self.console = console or Console(
            file=stream,
            force_terminal=True,
            color_system="auto" if color else None,
            highlight=False,
        )
        self.clock = clock
        self.total = 0
        self.done = 0
        self.spent_usd = 0.0
        self.estimate_usd: float | None = None
        self.in_flight: set[str] = set()
        self.windows: dict[str, int] = {}  # provider -> its `concurrency: auto` window
        self._began = self._last = 0.0
        self._live: Live | None = None
        self._stream = stream

    def begin(self, total: int, estimate_usd: float | None) -> None:
        self.total, self.estimate_usd = total, estimate_usd
        self._began = self._last = self.clock()
        self._live = Live(
            get_renderable=self.render,
            console=self.console,
            transient=True,
            refresh_per_second=4,
            redirect_stdout=False,
            # NOTE: a warning printed during the build goes above the bar, not through it.
            redirect_stderr=self._stream is sys.stderr,
        )
        self._live.start(refresh=True)

    def started(self, asset_id: str) -> None:
        self.in_flight.add(asset_id)
        self._refresh()

    def ended(self, asset_id: str, cost_usd: float) -> None:
        self.in_flight.discard(asset_id)
        self.done += 1
        self.spent_usd += cost_usd
        self._last = self.clock()
        self._refresh()

    def window(self, provider: str, size: int) -> None:
        self.windows[provider] = size
        self._refresh()

    def print(self, text: str, style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, emoji=False, soft_wrap=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def eta(self) -> float | None:
        """Seconds left, from the pace of the assets finished so far; None before the first."""
        if not self.done or self.done >= self.total:
            return None
        pace = (self._last - self._began) / self.done
        return max(0.0, self._began + pace * self.total - self.clock())

    def render(self) -> RenderableType:
        facts = " · ".join(self._facts())
        # NOTE: the facts come first: on a narrow terminal the bar shrinks, then goes.
        bar = min(30, self.console.width - len(facts) - 1)
        grid = Table.grid(padding=(0, 1))
        text = Text(facts, no_wrap=True, overflow="ellipsis")
        if bar < 10:
            grid.add_row(text)
            return grid
        grid.add_row(
            ProgressBar(
                total=max(self.total, 1),
                completed=self.done,
                width=bar,
                complete_style="cyan",
                finished_style="green",
            ),
            text,
        )
        return grid

    def _facts(self) -> list[str]:
        spent = f"{self.spent_usd:.4f} USD spent"
        if self.estimate_usd:
            spent += f" of ~{self.estimate_usd:.4f}"
        eta = self.eta()
        windows = "".join(f" (window {size})" for _, size in sorted(self.windows.items()))
        return [
            f"{self.done}/{self.total}",
            f"{len(self.in_flight)} in flight{windows}",
            spent,
            "ETA " + ("--" if eta is None else _duration(eta)),
        ]

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
