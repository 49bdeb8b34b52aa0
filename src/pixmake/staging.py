"""Incoming images: written to a temp file in `.pixmake/tmp/`, hashed on the way in, bounded.

```
provider ──chunks──▶ Receiver (temp file, xxh3-128, size bound) ──▶ StagedImage(path, digest)
                                                                      │ executor checks it
                                        Store.adopt: renamed into objects/ ◀──┘  (or discarded)
```
A transfer that fails or outgrows its bound leaves no file behind. Files left by a killed
build are removed when the next build opens the staging area (it holds `run.lock`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import xxhash

from pixmake.errors import ImageTooLargeError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

_PREFIX = ".incoming-"


@dataclass(frozen=True, slots=True)
class StagedImage:
    """One image, whole, in a temp file of the staging area: its content hash and size."""

    path: Path
    digest: str
    size: int


class Receiver:
    """One image being written: `write` chunks, then `finish`. Used through `Staging.receive`."""

    def __init__(self, handle: BinaryIO, path: Path, limit: int | None) -> None:
        self._handle = handle
        self._path = path
        self._limit = limit
        self._hasher = xxhash.xxh3_128()
        self.size = 0

    def expect(self, size: int) -> None:
        """Refuse at once an image announced as `size` bytes, if that is past the limit."""
        if self._limit is not None and size > self._limit:
            raise ImageTooLargeError(
                f"the image is {_size(size)}, more than the {_size(self._limit)} limit; "
                "it was not downloaded"
            )

    def write(self, chunk: bytes) -> None:
        """Append a chunk. Raises ImageTooLargeError past the limit (nothing more is written)."""
        self.size += len(chunk)
        if self._limit is not None and self.size > self._limit:
            raise ImageTooLargeError(
                f"the image is larger than the {_size(self._limit)} limit; its transfer was "
                "stopped and nothing was kept"
            )
        self._hasher.update(chunk)
        self._handle.write(chunk)

    def finish(self) -> StagedImage:
        self._handle.close()
        return StagedImage(self._path, str(self._hasher.hexdigest()), self.size)


class Staging:
    """The temp files of incoming images, in one directory on the store's file system."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def clear(self) -> None:
        """Remove what an interrupted build left (call only while holding `run.lock`)."""
        if self.directory.is_dir():
            for path in self.directory.iterdir():  # incoming images, and _atomic's temp files
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    path.unlink()

    @contextlib.contextmanager
    def receive(self, limit: int | None = None) -> Iterator[Receiver]:
        """A Receiver for one image of at most `limit` bytes. If the block raises, or ends
        without `finish`, the temp file is removed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=_PREFIX)
        path = self.directory / os.path.basename(name)
        handle = os.fdopen(fd, "wb")
        receiver = Receiver(handle, path, limit)
        finished = False
        try:
            yield receiver
            finished = handle.closed
        finally:
            if not finished:
                handle.close()
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def put(self, data: bytes) -> StagedImage:
        """Stage bytes a provider already holds (an image drawn or decoded in memory)."""
        with self.receive() as receiver:
            receiver.write(data)
            return receiver.finish()

    def discard(self, images: Iterable[StagedImage]) -> None:
        """Remove staged images that were not adopted into the store."""
        for image in images:
            with contextlib.suppress(FileNotFoundError):
                image.path.unlink()


def _size(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
