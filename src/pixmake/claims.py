"""Claims on the remote cache: before paying for a request, a machine says so, and the others
wait for its result instead of paying for it too.

```
<remote>/claims/ab/<key>.<n>.json   generation n of the claim on a request key:
                                    {"owner", "host", "pid", "until"} (a lease end, epoch s)
```
A claim is a chain of write-once objects, each made by an exclusive create (S3's
`If-None-Match: *`, a hard link on a file system), never overwritten or deleted:

```
read .0, .1, ... up to the first missing, n ──▶ none, or the last one's lease ran out
      │ a live one (another machine's)                  │
      ▼                                                 ▼
wait: poll the action entry ◀── lost the race ── create n+1 (exclusive) ──▶ held
```
Of two machines that find generation n expired, exactly one creates n+1: the other's
create fails and it reads on. A delete and a new create would be racy (between one
machine's delete and its create, another's create lands, and both think they hold it), and
an overwrite conditional on an ETag (`If-Match`) is not something every fsspec backend can
do. The holder renews its lease the same way, by writing the next generation; one that
finds it taken has been taken over (it was thought dead) and goes on regardless. A holder
whose generation fails writes a released generation, so the waiters need not wait for the
lease; an interrupted build releases the claims of tasks it had not sent yet (waiting for
the provider), and leaves the lease of a task it sent to run out, since its own journal
collects that task.

Claims are only about other machines: on one machine the journal (tasks.py) says what was
sent. A backend that ignores exclusive creates is found by a probe, once per build (the
same probe object written twice: the second write must fail); it gives one warning, and
the build goes on without claims.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixmake.errors import PixmakeWarning

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixmake.remote import Remote

LEASE_SECONDS = 600.0  # longer than a generation takes; renewed at a third of it
POLL_SECONDS = 2.0  # how often a waiting machine reads the action entry again


def now() -> float:
    """Wall-clock seconds: leases are compared across machines."""
    return time.time()


async def wait(seconds: float) -> None:
    """The pause between two polls of a waiting machine (tests replace it)."""
    await asyncio.sleep(seconds)


@dataclass(slots=True)
class Held:
    """A claim this machine holds: its generation and when its lease ends."""

    key: str
    generation: int
    until: float


@dataclass(slots=True)
class Other:
    """Another machine's live claim."""

    key: str
    generation: int
    host: str
    pid: int
    until: float


class Claims:
    """The claims of one build on one remote; every method is safe from several threads and
    returns None once the remote failed (the build then goes on without claims)."""

    def __init__(self, remote: Remote, *, lease: float = LEASE_SECONDS) -> None:
        self.remote = remote
        self.lease = lease
        self.owner = uuid.uuid4().hex
        self._honoured: bool | None = None
        self._lock = threading.Lock()
        self._latest: dict[str, int] = {}  # the newest generation seen of each key
        self._held: dict[str, Held] = {}  # the claims this build holds, by key
        self._closed = False

    def usable(self) -> bool:
        """Whether claims work on this remote: probed once, with one warning if not."""
        with self._lock:
            if self._honoured is None:
                self._honoured = self._probe()
            return self._honoured and self.remote.problem is None

    def claim(self, key: str) -> Held | Other | None:
        """Hold the claim on `key`, or the live claim of another machine that holds it."""
        while True:
            found = self._newest(key)
            if found is None:
                return None
            generation, value = found
            if value is not None and _live(value) and value.get("owner") != self.owner:
                return Other(key, generation, str(value.get("host", "?")),
                             int(value.get("pid", 0)), float(value["until"]))  # fmt: skip
            held = self._write(key, generation + 1, now() + self.lease)
            if isinstance(held, Held):
                with self._lock:
                    closed = self._closed
                    if not closed:
                        self._held[key] = held
                if closed:  # the build was interrupted while this was written
                    self.release(held)
                    return None
                return held
            if held is None:
                return None
            # another machine created that generation first: read on

    def renew(self, held: Held) -> bool | None:
        """Extend the lease; False if another machine has taken the claim over."""
        written = self._write(held.key, held.generation + 1, now() + self.lease)
        if written is None:
            return None
        if isinstance(written, Held):
            held.generation, held.until = written.generation, written.until
            return True
        return False

    def release(self, held: Held) -> None:
        """Give the claim up before its lease ends: the waiters may take it at once."""
        with self._lock:
            if self._held.get(held.key) is held:
                del self._held[held.key]
        self._write(held.key, held.generation + 1, 0.0)

    def close(self, sent: Callable[[str], bool]) -> None:
        """An interrupted build: give up every claim it holds whose task was not sent (nothing
        was paid, nobody need wait for its lease, this machine's next build included), and
        any it makes from now on (a claim being written in a thread when the interrupt came).
        A claim whose task was sent is kept until its lease ends: this machine's journal
        collects the task, and the others should not pay for it meanwhile."""
        with self._lock:
            self._closed = True
            unsent = [h for key, h in self._held.items() if not sent(key)]
        for held in unsent:
            self.release(held)

    async def keep(self, held: Held) -> None:
        """Renew the lease while the generation runs (cancel it when it ends)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if not await asyncio.to_thread(self.renew, held):
                return

    # -- the objects ----------------------------------------------------------------------

    def _newest(self, key: str) -> tuple[int, dict[str, Any] | None] | None:
        """The newest generation of the key's claim and its value ((-1, None): no claim). It
        reads on from the newest seen before: the chain only grows."""
        generation = self._latest.get(key, 0)
        newest, value = generation - 1, None
        while (found := self._read(key, generation)) is not None:
            newest, value, generation = generation, found, generation + 1
        if self.remote.problem is not None:
            return None
        self._latest[key] = max(newest, 0)
        return newest, value

    def _read(self, key: str, generation: int) -> dict[str, Any] | None:
        data = self.remote.read(_path(key, generation))
        if data is None:
            return None
        try:
            value: Any = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            value = {}  # a damaged claim holds nothing: its lease is over
        return value if isinstance(value, dict) else {}

    def _write(self, key: str, generation: int, until: float) -> Held | bool | None:
        """Create that generation: Held if this machine did, False if another did first."""
        value = {"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid()}
        data = json.dumps({**value, "until": round(until, 3)}, sort_keys=True).encode()
        created = self.remote.create(_path(key, generation), data)
        if created is None:
            return None
        self._latest[key] = max(self._latest.get(key, 0), generation)
        return Held(key, generation, until) if created else False

    def _probe(self) -> bool:
        name = f"claims/probe/{self.owner}.json"
        first = self.remote.create(name, b"{}")
        second = self.remote.create(name, b"{}") if first else None
        self.remote.delete(name)
        if first is None or second is None:
            return False  # the remote failed, and said so
        if second:
            warnings.warn(
                f"remote cache {self.remote.shown} ignores conditional writes: two machines "
                "may pay for the same request (claims are off)",
                PixmakeWarning,
                stacklevel=2,
            )
            return False
        return True


def _live(value: dict[str, Any]) -> bool:
    until = value.get("until")
    return isinstance(until, int | float) and until > now()


def _path(key: str, generation: int) -> str:
    return f"claims/{key[:2]}/{key}.{generation}.json"
