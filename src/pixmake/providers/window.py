"""Adaptive concurrency: how many tasks may be in flight to a provider now (`concurrency: auto`).

```
start ─▶ +1 per success, and per task accepted until the first decrease ─▶ 429/503, or
         latency x`latency_factor` ─▶ x`decrease`
           ▲                                                                           │
           └─ +1 per success back to just below the level that failed; that level  ◀─┘
              again after `probe_rounds` windows of successes, and past it +1 per window
```
A window that is not full (fewer tasks to send than it allows) does not grow. One decrease per
round: a signal from a task admitted before the last decrease is not counted again. Retry-After
holds every new admission until it has passed. A task's latency runs from the provider's
answer to its submission (`Lease.accepted`), or from its admission when there was none.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """The controller's constants: every default of `concurrency: auto`, in one place."""

    # An account that takes fewer answers the first tasks with a few 429s (not charged; the
    # refused tasks are sent again once there is room). From 4, one that takes 24 was reached
    # only after three rounds of results.
    start: int = 8
    ceiling: int = 32
    floor: int = 1
    # Not halving: the limit is found again at every probe, so a probe that fails should cost
    # one shallow dip, not half the window for the rounds it takes to climb back (a 429 is
    # not charged, and Retry-After still holds every admission when the server asks for it).
    decrease: float = 0.7
    probe_rounds: int = 16
    latency_factor: float = 2.0
    latency_forget: float = 1.25  # the baseline rises this much after a latency decrease


class Window:
    """An asyncio semaphore whose size follows the provider's answers (AIMD).

    Example:
        lease = await window.lease()
        ...  # submit; on a 429: `await lease.busy(retry_after)` releases and re-admits
        lease.done()  # the task finished: its latency counts, and the window may grow
    """

    def __init__(
        self,
        policy: WindowPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.policy = policy or WindowPolicy()
        self._clock = clock
        self._sleep = sleep
        self._size = max(self.policy.floor, min(self.policy.start, self.policy.ceiling))
        self._in_use = 0
        self._full = False  # filled since it last grew
        self._failed_at: int | None = None  # in use when the last overload came
        self._starting = True  # until the first shrink, an accepted task grows it too
        self._credit = 0
        self._decreased = -1.0
        self._paused_until = 0.0
        self._smoothed: float | None = None
        self._baseline: float | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._watchers: list[Callable[[int], None]] = []

    @property
    def size(self) -> int:
        return self._size

    @property
    def in_use(self) -> int:
        return self._in_use

    def watch(self, callback: Callable[[int], None]) -> None:
        """Call `callback(size)` now and whenever the size changes."""
        self._watchers.append(callback)
        callback(self._size)

    async def lease(self) -> Lease:
        """A place in the window, once there is one (and any Retry-After has passed)."""
        return Lease(self, await self._acquire())

    async def _acquire(self) -> float:
        while True:
            pause = self._paused_until - self._clock()
            if pause > 0:
                await self._sleep(pause)
                continue
            if self._in_use < self._size:
                self._in_use += 1
                self._full = self._full or self._in_use >= self._size
                return self._clock()
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _release(self) -> None:
        self._in_use -= 1
        self._wake()

    def _wake(self) -> None:
        free = self._size - self._in_use
        for waiter in self._waiters[: max(0, free)]:
            if not waiter.done():
                waiter.set_result(None)

    def _succeeded(self, admitted: float, started: float) -> None:
        latency = self._clock() - started
        if self._slower(latency) and admitted > self._decreased:
            self._shrink(self._size)
            assert self._baseline is not None
            self._baseline *= self.policy.latency_forget
        elif self._full or self._waiters:
            # Tasks waiting for a place mean the window is what holds them back, even if the
            # places freed a moment ago are not taken yet: tasks found done by one poll each
            # count, not only the first of them.
            self._grow()
        self._release()

    def _slower(self, latency: float) -> bool:
        """Whether the smoothed latency rose past `latency_factor` times the best seen."""
        smoothed = latency if self._smoothed is None else 0.8 * self._smoothed + 0.2 * latency
        self._smoothed = smoothed
        self._baseline = smoothed if self._baseline is None else min(self._baseline, smoothed)
        return smoothed > self.policy.latency_factor * self._baseline

    def _overloaded(self, admitted: float, retry_after: float | None) -> bool:
        """Shrink for a 429/503; False when the window cannot shrink (it is at its floor)."""
        if retry_after is not None:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
        if admitted <= self._decreased:
            return True  # this round was counted already
        if self._size <= self.policy.floor and self._in_use <= self.policy.floor:
            return False
        self._failed_at = self._in_use
        self._shrink(self._in_use)
        return True

    def _accepted(self) -> None:
        """Until the window first shrinks, a task the provider accepted grows it as a success
        does: the limit is found in as many answers to submissions (milliseconds) as it
        would take results (a task's whole duration) to find otherwise."""
        if self._starting and (self._full or self._waiters):
            self._grow()

    def _shrink(self, level: int) -> None:
        self._starting = False
        self._decreased = self._clock()
        self._credit = 0
        self._full = False
        size = int(min(self._size, level) * self.policy.decrease)
        self._resize(max(self.policy.floor, size))

    def _grow(self) -> None:
        policy = self.policy
        failed = self._failed_at
        if failed is None or self._size < failed - 1:
            self._resize(min(self._size + 1, policy.ceiling))
            return
        # Just below the level that failed, wait longer before trying it again; past it,
        # the limit has moved: the usual additive increase, +1 per window of successes.
        rounds = policy.probe_rounds if self._size == failed - 1 else 1
        self._credit += 1
        if self._credit >= self._size * rounds:
            self._credit = 0
            self._resize(min(self._size + 1, policy.ceiling))

    def _resize(self, size: int) -> None:
        if size == self._size:
            return
        if size > self._size:
            self._full = False
        self._size = size
        self._wake()
        for callback in self._watchers:
            callback(size)


class Lease:
    """One task's place in a window, from before its submission until its result."""

    def __init__(self, window: Window, admitted: float) -> None:
        self._window = window
        self._admitted = admitted
        self._started = admitted  # where its latency is measured from
        self._held = True

    def accepted(self) -> None:
        """The provider accepted the task: its latency runs from now. From admission it would
        also count the caller's own work before the request went out (a journal write, a busy
        event loop), and a client short of CPU would shrink the window as if the provider
        were overloaded."""
        if self._held:
            self._started = self._window._clock()
            self._window._accepted()

    async def busy(self, retry_after: float | None) -> bool:
        """The provider answered 429/503: shrink the window, give the place back and wait
        for a new one. False when the window is at its floor (the caller backs off itself)."""
        if not self._window._overloaded(self._admitted, retry_after):
            return False
        self.release()
        self._admitted = self._started = await self._window._acquire()
        self._held = True
        return True

    def done(self) -> None:
        """The task finished: its latency counts, and the place is given back."""
        if self._held:
            self._held = False
            self._window._succeeded(self._admitted, self._started)

    def release(self) -> None:
        """Give the place back, with no signal (a failure that says nothing about load)."""
        if self._held:
            self._held = False
            self._window._release()
