"""Atomic file writes: a temp file in the same directory, then a rename. Readers see the old
file or the new one, never half of one, and a crash leaves no partial file behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def write_atomic(path: Path | str, data: bytes, *, fsync: bool = False) -> os.stat_result:
    """Write `data` to `path` (creating its directory); `fsync` also makes it durable."""
    return _atomic(path, lambda handle: handle.write(data), fsync)


def copy_atomic(source: Path | str, path: Path | str) -> os.stat_result:
    """Copy the file `source` to `path` atomically."""
    with open(source, "rb") as src:
        return _atomic(path, lambda handle: shutil.copyfileobj(src, handle, 1 << 20), False)


_KNOWN_DIRS: set[str] = set()


def _atomic(path: Path | str, fill: object, fsync: bool) -> os.stat_result:
    directory = os.path.dirname(os.path.abspath(path))
    if directory not in _KNOWN_DIRS:  # one mkdir per directory and process, not per file
        os.makedirs(directory, exist_ok=True)
        _KNOWN_DIRS.add(directory)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pixmake-", suffix=".tmp")
    except FileNotFoundError:  # removed since we made it
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pixmake-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)  # type: ignore[operator]
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return os.stat(path)
