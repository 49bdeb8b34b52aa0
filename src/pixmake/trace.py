"""The one memory of earlier runs: each step's result with every input it read.

```
.pixmake/trace.marshal = {version, sections: {name: marshal bytes}}    (written atomically)
  files   path -> filestat.Record                 (size, mtime, inode, ctime, hash, checked)
  spec    the validated pixmake.yaml               inputs: its content hash
  decls   declaration -> rendered rows            inputs: the template files read or looked for,
                                                   the names the renders looked up (row keys)
  plans   asset id -> its fresh plan               inputs: the asset, its references' hashes,
                                                   its lock entry's text, its outputs' hashes
  status  the whole answer when all was fresh      inputs: every file the answer read
```
A step's record is reused only while every input it names still verifies: a file by its
content hash (through filestat's records, so an unchanged stat costs no read), a file looked
for and not found by its absence, a value by its hash, which is part of the record's key.
Sections are marshalled on their own and loaded on first use, so the no-op path reads
`files` and `status` only. Deleting `.pixmake/` only costs time. With PIXMAKE_NO_TRACE=1
nothing is read from or written to the trace: that is the oracle the tests compare with.
"""

from __future__ import annotations

import marshal
import os
from typing import TYPE_CHECKING, Any

import xxhash

from pixmake import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.filestat import FileHasher

NAME = "trace.marshal"
VERSION = f"{__version__}/trace-9"  # 2: file records hold the ctime; 3: candidates; 4: cache;
# 5: assets carry their safety check and ttl; 6: rows keep their digest, entries' text digests;
# 7: assets carry safety.block; 8: the fresh answer records tables by line (rowdelta.py);
# 9: not a table read as a file too, and prices as None when none were learned
DISABLE = "PIXMAKE_NO_TRACE"

# The trace remembers a series' renders, and the plan of each fresh asset, up to this many
# (`decls` and `plans`). Beyond it a record costs more memory (about 1 KB an asset, held
# twice while it is written) than it saves time: every run renders and compares.
REMEMBERED_ROWS = 100_000

Inputs = tuple[tuple[str, str | None], ...]  # (project path, content hash or None for absent)


def digest(value: Any) -> str:
    """A short hash of a plain value: its marshal form at version 2, which has no references
    between objects, so equal values give equal bytes; its repr if marshal cannot take it."""
    try:
        data = marshal.dumps(value, 2)
    except ValueError:
        data = b"repr:" + repr(value).encode()
    return str(xxhash.xxh3_64_hexdigest(data))


def text_digest(text: str) -> str:
    """A short hash of a text (digest's, without marshal's copy of it)."""
    return str(xxhash.xxh3_64_hexdigest(text.encode()))


def verify(inputs: Inputs, files: FileHasher) -> bool:
    """Whether every file input is as recorded."""
    for rel, expected in inputs:
        found = files.hash(rel)
        if (found[0] if found is not None else None) != expected:
            return False
    return True


class Trace:
    """Sections of step records, read on first use and written back when changed.
    `recording` False: a command that writes nothing back (check) makes no new records."""

    enabled = True
    recording = True

    def __init__(self, state_dir: Path | str) -> None:
        self.path = os.path.join(state_dir, NAME)
        self._raw: dict[str, bytes] | None = None
        self._loaded: dict[str, Any] = {}
        self._dirty: set[str] = set()

    def _sections(self) -> dict[str, bytes]:
        if self._raw is None:
            self._raw = {}
            try:
                with open(self.path, "rb") as handle:
                    data = marshal.loads(handle.read())
            except (OSError, EOFError, ValueError, TypeError):
                data = None
            if isinstance(data, dict) and data.get("version") == VERSION:
                sections = data.get("sections")
                if isinstance(sections, dict):
                    self._raw = sections
        return self._raw

    def section(self, name: str) -> dict[str, Any]:
        """A section to read and change in place (then `touch` it)."""
        found = self._loaded.get(name)
        if found is None:
            raw = self._sections().get(name)
            try:
                found = marshal.loads(raw) if raw is not None else {}
            except (EOFError, ValueError, TypeError):
                found = {}
            if not isinstance(found, dict):
                found = {}
            self._loaded[name] = found
        return found

    def replace(self, name: str, value: dict[str, Any]) -> None:
        self._loaded[name] = value
        self._dirty.add(name)

    def touch(self, name: str) -> None:
        self._dirty.add(name)

    def save(self) -> None:
        """Write the changed sections (with the others as they were read) atomically."""
        if not self._dirty:
            return
        from pixmake.fsutil import write_atomic

        sections = dict(self._sections())
        for name in self._dirty:
            sections[name] = marshal.dumps(self._loaded[name])
        write_atomic(self.path, marshal.dumps({"version": VERSION, "sections": sections}))
        self._dirty.clear()


class NoTrace(Trace):
    """Remembers nothing: every step runs as on a fresh clone (the tests' oracle)."""

    enabled = False
    recording = False

    def section(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._loaded.setdefault(name, {})
        return found

    def replace(self, name: str, value: dict[str, Any]) -> None:
        self._loaded[name] = value

    def touch(self, name: str) -> None:
        pass

    def save(self) -> None:
        pass


def open_trace(state_dir: Path | str) -> Trace:
    if os.environ.get(DISABLE):
        return NoTrace(state_dir)
    return Trace(state_dir)
