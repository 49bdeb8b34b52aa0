"""Reporters: the executor and the commands talk to one of these, never to print().

`ConsoleReporter` writes plain lines, and on a terminal a live display below them (rich,
imported only then); `JsonReporter` writes one JSON object per event and the summary as the
last line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from pixmake.terminal import color_enabled, is_terminal

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixmake.progress import LiveDisplay
    from pixmake.results import BuildResult

_VERBS = {"generate": "generated", "restore": "restored", "derive": "derived"}


class Reporter(Protocol):
    def start(self, work: int, estimate_usd: float | None) -> None: ...
    def started(self, asset_id: str, action: str) -> None: ...
    # `cost_usd`: what this build spent generating the asset (0 for a restore or a derive).
    def finished(self, asset_id: str, action: str, cost_usd: float = 0.0) -> None: ...
    def failed(self, asset_id: str, message: str) -> None: ...
    def skipped(self, asset_id: str, reason: str) -> None: ...
    # `concurrency: auto`: how many tasks `provider` may have in flight now.
    def window(self, provider: str, size: int) -> None: ...
    def summary(self, result: BuildResult) -> None: ...


class ConsoleReporter:
    """Plain lines on `out` (failures and skips on `err`), and the summary.

    Args:
        quiet: only failures, skips and the summary.
        live: the live display on `err`; by default when `err` is a terminal and not quiet.
        clock: seconds, for the live display's ETA.
    """

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        quiet: bool = False,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.total = 0
        self.done = 0
        self.live = (not quiet and is_terminal(self.err)) if live is None else live
        self._clock = clock
        self._display: LiveDisplay | None = None

    def start(self, work: int, estimate_usd: float | None) -> None:
        self.total = work
        if work == 0:
            return
        cost = f", estimated {estimate_usd:.3f} USD" if estimate_usd else ""
        if estimate_usd is None:
            cost = ", cost unknown (a model with no known price)"
        if not self.quiet:
            self.out.write(f"{work} asset{'s' if work != 1 else ''} to build{cost}\n")
            self.out.flush()
        if self.live:
            from pixmake.progress import LiveDisplay

            self._display = LiveDisplay(self.err, color=color_enabled(self.err), clock=self._clock)
            self._display.begin(work, estimate_usd)

    def started(self, asset_id: str, action: str) -> None:
        if self._display is not None:
            self._display.started(asset_id)

    def finished(self, asset_id: str, action: str, cost_usd: float = 0.0) -> None:
        self._ended(asset_id, cost_usd)
        if not self.quiet:
            self._line(f"{_VERBS.get(action, action)} {asset_id}")

    def failed(self, asset_id: str, message: str) -> None:
        self._ended(asset_id, 0.0)
        self._line(f"FAILED {asset_id}: {message}", self.err, "red")

    def skipped(self, asset_id: str, reason: str) -> None:
        self._ended(asset_id, 0.0)
        self._line(f"skipped {asset_id}: {reason}", self.err, "yellow")

    def window(self, provider: str, size: int) -> None:
        if self._display is not None:
            self._display.window(provider, size)

    def summary(self, result: BuildResult) -> None:
        self.close()
        parts = [
            f"{result.generated} generated",
            f"{result.restored} restored",
            f"{result.derived} derived file{'s' if result.derived != 1 else ''}",
            f"{result.fresh} fresh",
        ]
        if result.failed:
            parts.append(f"{result.failed} failed")
        if result.skipped:
            parts.append(f"{result.skipped} skipped")
        if result.waited:
            parts.append(f"{result.waited} made by another machine")
        if result.other_shards:
            parts.append(f"{result.other_shards} left to other shards")
        parts.append(f"{result.cost_usd:.4f} USD")
        prefix = "interrupted: kept " if result.interrupted else ""
        self.out.write(prefix + ", ".join(parts) + "\n")
        self.out.flush()

    def close(self) -> None:
        """Take the live display off the terminal (the summary does it too)."""
        if self._display is not None:
            self._display.stop()
            self._display = None

    def _ended(self, asset_id: str, cost_usd: float) -> None:
        self.done += 1
        if self._display is not None:
            self._display.ended(asset_id, cost_usd)

    def _line(self, text: str, stream: TextIO | None = None, style: str | None = None) -> None:
        stream = stream or self.out
        counter = f"[{self.done}/{self.total}] " if self.total else ""
        if self._display is not None and (stream is self.err or is_terminal(stream)):
            self._display.print(counter + text, style)  # above the bar
            return
        stream.write(counter + text + "\n")
        stream.flush()


class JsonReporter:
    """One JSON object per line; the last line is the summary."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def _emit(self, event: dict[str, Any]) -> None:
        self.out.write(json.dumps(event, sort_keys=True) + "\n")

    def start(self, work: int, estimate_usd: float | None) -> None:
        estimate = None if estimate_usd is None else round(estimate_usd, 6)
        self._emit({"event": "start", "work": work, "estimated_cost_usd": estimate})

    def started(self, asset_id: str, action: str) -> None:
        return None

    def finished(self, asset_id: str, action: str, cost_usd: float = 0.0) -> None:
        self._emit({"event": "finished", "id": asset_id, "action": action})

    def failed(self, asset_id: str, message: str) -> None:
        self._emit({"event": "failed", "id": asset_id, "message": message})

    def skipped(self, asset_id: str, reason: str) -> None:
        self._emit({"event": "skipped", "id": asset_id, "reason": reason})

    def window(self, provider: str, size: int) -> None:
        self._emit({"event": "window", "provider": provider, "size": size})

    def summary(self, result: BuildResult) -> None:
        self._emit(result.to_json())
        self.out.flush()
