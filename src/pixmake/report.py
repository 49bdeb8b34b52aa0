"""Reporters: the executor and the commands talk to one of these, never to print().

`ConsoleReporter` writes plain lines (and a one-line progress counter on a terminal);
`JsonReporter` writes one JSON object per event and the summary as the last line.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from pixmake.results import BuildResult

_VERBS = {"generate": "generated", "restore": "restored", "derive": "derived"}


class Reporter(Protocol):
    def start(self, work: int, estimate_usd: float | None) -> None: ...
    def started(self, asset_id: str, action: str) -> None: ...
    def finished(self, asset_id: str, action: str) -> None: ...
    def failed(self, asset_id: str, message: str) -> None: ...
    def skipped(self, asset_id: str, reason: str) -> None: ...
    def summary(self, result: BuildResult) -> None: ...


class ConsoleReporter:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.total = 0
        self.done = 0
        self.tty = self.err.isatty()

    def start(self, work: int, estimate_usd: float | None) -> None:
        self.total = work
        if work == 0:
            return
        cost = f", estimated {estimate_usd:.3f} USD" if estimate_usd else ""
        if estimate_usd is None:
            cost = ", cost unknown (a model with no known price)"
        self.out.write(f"{work} asset{'s' if work != 1 else ''} to build{cost}\n")

    def started(self, asset_id: str, action: str) -> None:
        self._progress(f"generating {asset_id}")

    def finished(self, asset_id: str, action: str) -> None:
        self.done += 1
        self._line(f"{_VERBS.get(action, action)} {asset_id}")

    def failed(self, asset_id: str, message: str) -> None:
        self.done += 1
        self._line(f"FAILED {asset_id}: {message}", self.err)

    def skipped(self, asset_id: str, reason: str) -> None:
        self.done += 1
        self._line(f"skipped {asset_id}: {reason}", self.err)

    def summary(self, result: BuildResult) -> None:
        self._clear()
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
        parts.append(f"{result.cost_usd:.4f} USD")
        prefix = "interrupted: kept " if result.interrupted else ""
        self.out.write(prefix + ", ".join(parts) + "\n")
        self.out.flush()

    def _line(self, text: str, stream: TextIO | None = None) -> None:
        self._clear()
        counter = f"[{self.done}/{self.total}] " if self.total else ""
        (stream or self.out).write(counter + text + "\n")
        (stream or self.out).flush()

    def _progress(self, text: str) -> None:
        if self.tty:
            self.err.write(f"\r\x1b[K[{self.done}/{self.total}] {text}")
            self.err.flush()

    def _clear(self) -> None:
        if self.tty:
            self.err.write("\r\x1b[K")


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

    def finished(self, asset_id: str, action: str) -> None:
        self._emit({"event": "finished", "id": asset_id, "action": action})

    def failed(self, asset_id: str, message: str) -> None:
        self._emit({"event": "failed", "id": asset_id, "message": message})

    def skipped(self, asset_id: str, reason: str) -> None:
        self._emit({"event": "skipped", "id": asset_id, "reason": reason})

    def summary(self, result: BuildResult) -> None:
        self._emit(result.to_json())
        self.out.flush()
