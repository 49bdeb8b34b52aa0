"""The Runware provider alone, without the rest of pixmake: N assets, `jobs` at once.

    python bench/runware_alone.py URL N [JOBS]    # prints: ms CPU/asset, µs CPU/wake-up, wall s

Run by `bench/run.py --runware N` against the same fake server as the build, so that the CPU
of a build can be split between the HTTP client and pixmake's own bookkeeping. A second figure
is the CPU of an idle asyncio wake-up on this machine (a 10 ms sleep), which every answer and
every poll costs before any work is done. Images are staged in a temp directory, as a build
stages them, and discarded.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pixmake.providers.base import GenerationRequest
from pixmake.providers.runware import RunwareProvider
from pixmake.staging import Staging


class _Journal:
    """Frees the job slot once Runware is done with the task, as pixmake's executor does."""

    def __init__(self, slot: asyncio.Semaphore) -> None:
        self._slot: asyncio.Semaphore | None = slot

    def release(self) -> None:
        if self._slot is not None:
            self._slot.release()
            self._slot = None

    def submitted(self, key: str) -> dict[str, Any] | None:
        return None

    async def record(self, key: str, asset_id: str, task: dict[str, Any]) -> None:
        return None

    def finished(self, key: str) -> None:
        return None

    def remote_done(self, key: str) -> None:
        self.release()


def _request(i: int) -> GenerationRequest:
    return GenerationRequest(
        asset_id=f"a{i}", key=f"{i:032x}", model="openai:1@2", prompt=f"icon {i}", width=1024,
        height=1024, quality="low", background="opaque", format="png", output_quality=None,
        results=1,
    )  # fmt: skip


async def _generate(url: str, n: int, jobs: int, staging: Staging) -> None:
    provider = RunwareProvider("bench-key", url)
    slots = asyncio.Semaphore(jobs)

    async def one(i: int) -> None:
        await slots.acquire()
        journal = _Journal(slots)
        try:
            result = await provider.generate(_request(i), journal, staging)
            staging.discard(result.images)
        finally:
            journal.release()

    await asyncio.gather(*(one(i) for i in range(n)))
    await provider.aclose()


async def _wakeups(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0.01)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    start, began = _cpu(), time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(_generate(url, n, jobs, Staging(Path(scratch))))
    provider, wall = (_cpu() - start) / n, time.perf_counter() - began
    start = _cpu()
    asyncio.run(_wakeups(200))
    wake = (_cpu() - start) / 200
    print(f"{provider * 1000:.3f} {wake * 1e6:.1f} {wall:.3f}")


if __name__ == "__main__":
    main()
