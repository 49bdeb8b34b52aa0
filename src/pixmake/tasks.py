"""Paid tasks in the journal: each is recorded, durably, before it is sent to the provider.

A crash, a Ctrl-C or a power cut after the send finds the task in the journal, and the next
build polls it instead of paying again. `open_tasks` reads the tasks still unfinished.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixmake.store import Store

# An fsync faster than this is done on the event loop. A thread's round trip costs more than
# a 0.1 ms fsync, and while the loop is busy the thread waits up to the GIL's switch interval
# (5 ms) to hand its result back, which delays the submission and idles a job slot. A slow
# disk's fsync goes to a thread, so that it never stalls the downloads and polls of the others.
INLINE_SYNC_SECONDS = 0.002


def open_tasks(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Paid tasks submitted (or about to be) and not finished: key -> task, in journal order."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event.get("t")
        if kind == "task":
            found[event["key"]] = event
        elif kind == "done":
            found.pop(event["entry"]["key"], None)
            found.pop(event.get("task", ""), None)  # a reroll's
        elif kind == "task_end":
            found.pop(event["key"], None)
    return {key: event["task"] for key, event in found.items()}


class JournalTasks:
    """The executor's TaskJournal: paid tasks recorded in the store's journal, durably."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.perf_counter) -> None:
        self.store = store
        self._open = open_tasks(store.read_journal())
        self._clock = clock
        self.sync_seconds = 0.0  # a moving average of recent fsyncs
        self.synced_in_thread = 0

    def submitted(self, key: str) -> dict[str, Any] | None:
        return self._open.get(key)

    async def record(self, key: str, asset_id: str, task: dict[str, Any]) -> None:
        self.store.append_journal({"t": "task", "key": key, "id": asset_id, "task": task})
        self._open[key] = task
        if self.sync_seconds < INLINE_SYNC_SECONDS:
            self._sync()
        else:
            import asyncio

            self.synced_in_thread += 1
            await asyncio.to_thread(self._sync)

    def finished(self, key: str) -> None:
        self.store.append_journal({"t": "task_end", "key": key})
        self._open.pop(key, None)

    def remote_done(self, key: str) -> None:
        return None  # the executor's per-asset journal frees the job slot

    def _sync(self) -> None:
        start = self._clock()
        self.store.sync_journal()
        self.sync_seconds = 0.7 * self.sync_seconds + 0.3 * (self._clock() - start)
