"""The journal of paid tasks: durable before a send, and fsynced where it costs least."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from pixmake.store import Store
from pixmake.tasks import INLINE_SYNC_SECONDS, JournalTasks, open_tasks

if TYPE_CHECKING:
    from pathlib import Path


class SlowDisk:
    """A clock and an fsync whose duration a test sets; records the thread each fsync ran on."""

    def __init__(self, store: Store) -> None:
        self.now = 0.0
        self.duration = 0.0
        self.threads: list[int] = []
        self._sync = store.sync_journal
        store.sync_journal = self.sync  # type: ignore[method-assign]

    def clock(self) -> float:
        return self.now

    def sync(self) -> None:
        self._sync()
        self.threads.append(threading.get_ident())
        self.now += self.duration


def test_a_recorded_task_is_in_the_journal_and_open(tmp_path: Path) -> None:
    store = Store(tmp_path)
    tasks = JournalTasks(store)
    asyncio.run(tasks.record("k1", "hero", {"taskUUID": "u1"}))
    assert tasks.submitted("k1") == {"taskUUID": "u1"}
    store.close_journal()
    assert JournalTasks(Store(tmp_path)).submitted("k1") == {"taskUUID": "u1"}  # found again


def test_fast_fsyncs_stay_on_the_loop_and_slow_ones_go_to_a_thread(tmp_path: Path) -> None:
    store = Store(tmp_path)
    disk = SlowDisk(store)
    tasks = JournalTasks(store, clock=disk.clock)
    main = threading.get_ident()

    async def record(n: int) -> None:
        for i in range(n):
            await tasks.record(f"k{i}", f"a{i}", {"taskUUID": f"u{i}"})

    asyncio.run(record(3))
    assert disk.threads == [main] * 3
    disk.duration = 0.05  # a slow disk: this fsync is timed, and the next ones leave the loop
    asyncio.run(record(3))
    assert disk.threads[3] == main
    assert main not in disk.threads[4:]
    assert tasks.synced_in_thread == 2
    disk.duration = 0.0  # fast again: back on the loop once the average falls
    asyncio.run(record(12))
    assert tasks.sync_seconds < INLINE_SYNC_SECONDS
    assert disk.threads[-1] == main
    store.close_journal()


def test_open_tasks_ends_with_done_or_task_end() -> None:
    events = [
        {"t": "task", "key": "a", "id": "x", "task": {"taskUUID": "1"}},
        {"t": "task", "key": "b", "id": "y", "task": {"taskUUID": "2"}},
        {"t": "task", "key": "c", "id": "z", "task": {"taskUUID": "3"}},
        {"t": "done", "id": "x", "entry": {"key": "a"}},
        {"t": "task_end", "key": "b"},
    ]
    assert open_tasks(events) == {"c": {"taskUUID": "3"}}


def test_a_finished_task_is_no_longer_open(tmp_path: Path) -> None:
    store = Store(tmp_path)
    tasks = JournalTasks(store)
    asyncio.run(tasks.record("k", "hero", {"taskUUID": "u"}))
    tasks.finished("k")
    store.close_journal()
    assert tasks.submitted("k") is None
    assert JournalTasks(Store(tmp_path)).submitted("k") is None
