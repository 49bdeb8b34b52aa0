"""The `concurrency: auto` window, driven without a server: a fake clock, no real sleeping."""

from __future__ import annotations

import asyncio

import pytest

from pixmake.providers.window import Lease, Window, WindowPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _window(clock: Clock, **policy: float) -> tuple[Window, list[int]]:
    window = Window(WindowPolicy(**policy), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    sizes: list[int] = []
    window.watch(sizes.append)
    return window, sizes


async def _leases(window: Window, count: int) -> list[Lease]:
    return [await window.lease() for _ in range(count)]


async def _blocked(window: Window) -> asyncio.Task[Lease]:
    waiting = asyncio.create_task(window.lease())
    for _ in range(5):
        await asyncio.sleep(0)
    return waiting


def test_a_full_window_grows_by_one_per_success_until_something_fails() -> None:
    async def main() -> None:
        clock = Clock()
        window, sizes = _window(clock, start=4)
        first = await _leases(window, 4)
        clock.now += 1.0
        for lease in first:  # each success lets the next tasks in, as the executor does
            lease.done()
            await _leases(window, window.size - window.in_use)
        assert window.size == 8  # doubled in one round
        assert sizes == [4, 5, 6, 7, 8]

    asyncio.run(main())


def test_a_window_that_is_not_full_does_not_grow() -> None:
    async def main() -> None:
        clock = Clock()
        window, _ = _window(clock, start=4)
        for _ in range(20):
            lease = await window.lease()
            clock.now += 1.0
            lease.done()
        assert window.size == 4  # never more than one task at once: no reason to allow more

    asyncio.run(main())


def test_tasks_that_finish_together_each_grow_a_window_others_wait_for() -> None:
    async def main() -> None:
        clock = Clock()
        window, sizes = _window(clock, start=4)
        first = await _leases(window, 4)
        waiting = [asyncio.create_task(window.lease()) for _ in range(8)]
        await asyncio.sleep(0)
        clock.now += 1.0
        for lease in first:  # found done by one poll: no waiter runs in between
            lease.done()
        assert window.size == 8
        assert sizes == [4, 5, 6, 7, 8]
        assert len(await asyncio.gather(*waiting[:8])) == 8

    asyncio.run(main())


def test_the_window_never_passes_its_ceiling() -> None:
    async def main() -> None:
        clock = Clock()
        window, _ = _window(clock, start=4, ceiling=6)
        for _ in range(10):
            for lease in await _leases(window, window.size):
                lease.done()
        assert window.size == 6

    asyncio.run(main())


def test_an_overload_shrinks_the_window_once_per_round_and_blocks_new_tasks() -> None:
    async def main() -> None:
        clock = Clock()
        window, sizes = _window(clock, start=8)
        leases = await _leases(window, 8)
        clock.now += 1.0
        first = asyncio.create_task(leases[0].busy(None))
        newcomer = await _blocked(window)
        assert window.size == 5  # 8 in use x 0.7, the default decrease: a dip, not a halving
        assert not first.done()  # 7 in use, 5 allowed: it waits for its place again
        assert not newcomer.done()
        clock.now += 1.0
        second = asyncio.create_task(leases[1].busy(None))  # admitted before the decrease
        await _blocked(window)
        assert window.size == 5  # the same round: not shrunk again
        for lease in leases[2:]:
            lease.release()
        assert await asyncio.wait_for(first, 1) is True
        assert await asyncio.wait_for(second, 1) is True
        await asyncio.wait_for(newcomer, 1)
        assert sizes == [8, 5]

    asyncio.run(main())


def test_after_an_overload_it_climbs_back_fast_then_waits_before_trying_that_level() -> None:
    async def main() -> None:
        clock = Clock()
        window, _ = _window(clock, start=6, probe_rounds=3, decrease=0.5)
        leases = await _leases(window, 6)
        clock.now += 1.0
        retried = asyncio.create_task(leases[0].busy(None))  # failed with 6 in use: size 3
        await asyncio.sleep(0)
        assert window.size == 3
        for lease in leases[1:]:
            lease.release()  # no signal: with the retried task waiting, successes would grow it
        await asyncio.wait_for(retried, 1)
        clock.now += 1.0
        leases[0].done()
        for _ in range(2):  # back to 5, one below the level that failed
            round_ = await _leases(window, window.size)
            clock.now += 1.0
            for lease in round_:
                lease.done()
        assert window.size == 5
        successes = 0
        while window.size == 5:
            round_ = await _leases(window, window.size)
            clock.now += 1.0
            for lease in round_:
                lease.done()
                successes += 1
        assert successes == 5 * 3  # probe_rounds windows of successes
        assert window.size == 6

    asyncio.run(main())


def test_retry_after_holds_every_new_task_until_it_has_passed() -> None:
    async def main() -> None:
        clock = Clock()
        window, _ = _window(clock, start=2)
        lease = await window.lease()
        clock.now = 10.0
        assert await lease.busy(7.5)
        assert clock.slept == [7.5]  # its place again, once Retry-After has passed
        assert clock.now == pytest.approx(17.5)
        lease.done()
        await window.lease()
        assert clock.slept == [7.5]

    asyncio.run(main())


async def _settled(window: Window, clock: Clock, count: int) -> None:
    """Three rounds of `count` tasks of 1 s: the window's baseline latency."""
    for _ in range(3):
        round_ = await _leases(window, count)
        clock.now += 1.0
        for lease in round_:
            lease.done()


def test_rising_latency_shrinks_the_window() -> None:
    async def main() -> None:
        clock = Clock()
        window, _ = _window(clock, start=4, ceiling=4)
        await _settled(window, clock, 4)
        assert window.size == 4
        slow = await _leases(window, 4)
        clock.now += 10.0
        for lease in slow:
            lease.done()
        assert window.size == 2

    asyncio.run(main())


def test_latency_runs_from_the_providers_answer_not_from_admission() -> None:
    """Time spent before the submission was answered (a slow journal write, a busy event
    loop) is the client's own, not the provider's: it does not shrink the window."""

    async def main(accept: bool) -> int:
        clock = Clock()
        window, _ = _window(clock, start=4, ceiling=4)
        for slow in (False, False, False, True):
            round_ = await _leases(window, 4)
            clock.now += 10.0 if slow else 0.0  # admitted, not yet answered
            for lease in round_:
                if accept:
                    lease.accepted()
            clock.now += 1.0  # the provider's own time
            for lease in round_:
                lease.done()
        return window.size

    assert asyncio.run(main(accept=True)) == 4
    assert asyncio.run(main(accept=False)) == 2  # from admission, it looks 11 times slower


def test_a_task_admitted_again_after_an_overload_is_timed_from_then() -> None:
    async def main() -> None:
        clock = Clock()
        window, sizes = _window(clock, start=2, ceiling=2)
        await _settled(window, clock, 2)
        lease = await window.lease()
        clock.now += 50.0  # a slow refusal
        assert await lease.busy(5.0)  # admitted again once Retry-After has passed
        clock.now += 1.0
        lease.done()
        assert sizes == [2, 1, 2]  # the overload's decrease only: its latency was 1 s, not 56

    asyncio.run(main())


def test_at_its_floor_the_window_leaves_the_backoff_to_the_caller() -> None:
    async def main() -> None:
        clock = Clock()
        window, _ = _window(clock, start=1)
        lease = await window.lease()
        assert await lease.busy(None) is False
        assert window.size == 1
        assert window.in_use == 1  # it keeps its place

    asyncio.run(main())


def test_a_lease_given_back_twice_counts_once() -> None:
    async def main() -> None:
        clock = Clock()
        window, _ = _window(clock)
        lease = await window.lease()
        lease.done()
        lease.release()
        lease.done()
        assert window.in_use == 0

    asyncio.run(main())


def test_until_it_first_shrinks_an_accepted_task_grows_the_window() -> None:
    async def main() -> None:
        clock = Clock()
        window, sizes = _window(clock, start=4)
        leases = await _leases(window, 4)
        waiting = [asyncio.create_task(window.lease()) for _ in range(8)]
        await asyncio.sleep(0)
        for lease in leases:  # Runware answered the submissions: no result yet
            lease.accepted()
        assert sizes == [4, 5, 6, 7, 8]
        more = await asyncio.gather(*waiting[:4])
        clock.now += 1.0
        busy = asyncio.create_task(more[0].busy(None))  # the first 429: the start is over
        await asyncio.sleep(0)
        shrunk = window.size
        for lease in more[1:]:
            lease.accepted()
        assert window.size == shrunk  # from now on, only results grow it
        busy.cancel()
        for task in waiting[4:]:
            task.cancel()

    asyncio.run(main())
