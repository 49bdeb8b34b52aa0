"""File content hashes trusted by stat, with one racy rule measured from the time of the stat.

```
record = (size, mtime_ns, inode, ctime_ns, content hash, checked_ns)   checked_ns: when taken
trusted  <=>  the file's (size, mtime_ns, inode, ctime_ns) equal the record's
              and max(mtime_ns, ctime_ns) < checked_ns - TICK_NS   (not racily clean)
```
The ctime is in the signature because an edit that restores the mtime (`touch -r`, `cp -p`,
an editor or a sync tool keeping timestamps, as the trace's oracle test does) still moves the
ctime, which no user program can set back; git trusts the ctime in the same way.
A file can change again within its filesystem's timestamp tick and keep its size and times
(git's "racily clean" index entries). A record whose mtime or ctime lies within a tick of the
moment its stat was taken cannot vouch for the content: that file is hashed again, and
`settle` re-reads such files once a tick has passed, so that the run after a build trusts
their stat.
Only the standard library and xxhash are imported here: the no-op path runs on it.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import xxhash

from pixmake.confine import Confinement

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from pixmake.readahead import ReadAhead

# Coarse filesystems (FAT, some network mounts) tick in seconds; local ones in jiffies. A tick
# this wide is safe for both and only costs a re-hash of files written in the last two seconds.
TICK_NS = 2_000_000_000
_CHUNK = 1 << 20

Stat = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns
Record = tuple[int, int, int, int, str, int]  # the Stat, content hash, checked_ns


def clock() -> int:
    """The wall clock of stats, in ns: tests replace `pixmake.filestat.now`."""
    return now()


now: Callable[[], int] = time.time_ns


def stat(path: str | os.PathLike[str]) -> Stat | None:
    """(size, mtime_ns, inode, ctime_ns) of a regular file, or None when there is none."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat_module.S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def hash_file(path: str | os.PathLike[str]) -> str:
    hasher = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return str(hasher.hexdigest())


def trusted(record: Record, found: Stat) -> bool:
    """Whether a record vouches for a file whose stat is `found` now."""
    return record[:4] == found and not _racy(record, record[5])


def _racy(record: Record, taken: int) -> bool:
    """Whether the file may have changed within a tick of `taken` and kept its stat."""
    return max(record[1], record[3]) >= taken - TICK_NS


@dataclass(slots=True)
class FileHasher:
    """Content hashes of project files, each computed at most once per run.

    `records` are those of earlier runs (from the trace) and this one; `changed` tells whether
    any record was added or replaced, so the trace is written only when it has news.
    """

    root: Path | str
    records: dict[str, Record] = field(default_factory=dict)
    changed: bool = False
    _seen: dict[str, tuple[str, int] | None] = field(default_factory=dict)
    confine: Confinement = field(init=False)
    _prefix: str = field(init=False)  # the root and a slash: project paths join by `+`
    _ahead: ReadAhead | None = None

    def __post_init__(self) -> None:
        self.confine = Confinement(self.root)
        self._prefix = os.path.join(self.root, "")

    def hash(self, rel: str) -> tuple[str, int] | None:
        """(content hash, size) of a project file, or None when it does not exist.
        Raises SpecError when the path, symlinks followed, leads outside the project."""
        if rel in self._seen:
            return self._seen[rel]
        result = self._hash(rel)
        self._seen[rel] = result
        return result

    def _hash(self, rel: str) -> tuple[str, int] | None:
        path = self._prefix + rel
        if self._ahead is not None:
            ahead = self._ahead.take(rel)
            if ahead is not None and self.confine.folder_inside(rel):  # a regular file
                stat_, digest, taken = ahead
                self._record(rel, stat_, digest, taken)
                return digest, stat_[0]
        taken = now()
        found = self._stat(rel, path)
        if found is None:
            return None
        record = self.records.get(rel)
        # NOTE: `trusted` inlined: this runs for every file of every run
        if (
            record is not None
            and record[:4] == found
            and max(found[1], found[3]) < record[5] - TICK_NS
        ):
            return record[4], found[0]
        digest = hash_file(path)
        self._record(rel, found, digest, taken)
        return digest, found[0]

    def _stat(self, rel: str, path: str) -> Stat | None:
        """stat() of a regular file confined to the project: one lstat, a realpath only for
        a symlink (or once per directory)."""
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            self.confine.require(rel)  # nothing there, but perhaps under a folder outside
            return None
        if stat_module.S_ISREG(st.st_mode) and self.confine.folder_inside(rel):
            return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
        self.confine.require(rel, st=st)
        if stat_module.S_ISLNK(st.st_mode):
            return stat(path)
        if not stat_module.S_ISREG(st.st_mode):
            return None
        return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)

    def _record(self, rel: str, found: Stat, digest: str, taken: int) -> None:
        record = (*found, digest, taken)
        before = self.records.get(rel)
        self.records[rel] = record
        # NOTE: a racy record vouches for nothing, so one that only renews a racy record of
        # the same stat and content is no news: the trace is not rewritten for it (a run
        # within a tick of an edit would rewrite all of it every time).
        if before is None or before[:5] != record[:5] or not _racy(record, taken):
            self.changed = True

    def read_ahead(self, paths: Iterable[str]) -> None:
        """Have a helper process hash those of `paths` this hasher has no record of, so
        that reading them overlaps the run's other work until it asks for them
        (readahead.py). Only while the run writes nothing: `stop_ahead` before it does."""
        from pixmake.confine import lexical
        from pixmake.readahead import ReadAhead

        def wanted(rel: str) -> bool:  # on the helper's thread: lookups, and a cached check
            return (
                rel not in self.records
                and rel not in self._seen
                and lexical(rel)
                and self.confine.folder_inside(rel)
            )

        if self._ahead is None:
            self._ahead = ReadAhead(self._prefix, paths, wanted, clock())
            self._ahead.start()

    def regular_ahead(self, rel: str) -> bool:
        """Whether reading ahead found `rel` a regular file in a folder inside the project,
        not a symlink: then it does not lead outside (confine.py), with no stat of its own."""
        return self._ahead is not None and self._ahead.regular(rel)

    def wait_ahead(self) -> None:
        """Wait until the helper reading ahead has answered for every path it was given."""
        if self._ahead is not None:
            self._ahead.wait()

    def stop_ahead(self) -> None:
        """Stop reading ahead (what was found and not asked for is dropped)."""
        if self._ahead is not None:
            self._ahead.stop()
            self._ahead = None

    def remember(self, rel: str, st: os.stat_result, digest: str) -> None:
        """Record the hash of a file this run just wrote (its stat taken after the write)."""
        if self._ahead is not None:
            self._ahead.take(rel)  # read before the write: never to be used
        self._record(rel, (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns), digest, clock())
        self._seen[rel] = (digest, st.st_size)

    def seen(self) -> tuple[tuple[str, str | None], ...]:
        """Every file hashed or looked for in this run, with its hash (None: not there)."""
        return tuple((rel, found[0] if found else None) for rel, found in self._seen.items())

    def forget(self, rel: str) -> None:
        self._seen.pop(rel, None)
        if self._ahead is not None:
            self._ahead.take(rel)

    def settle(self) -> None:
        """Re-read the files whose records are racily clean but whose mtime is now a tick
        old: if they still hash the same, their stat can vouch for them from now on."""
        self.stop_ahead()
        taken = clock()
        for rel, record in list(self.records.items()):
            if not _racy(record, record[5]) or _racy(record, taken):
                continue
            path = os.path.join(self.root, rel)
            found = stat(path)
            if found is None or found != record[:4]:
                self.records.pop(rel)
                self.changed = True
                continue
            digest = hash_file(path)
            if digest == record[4]:
                self._record(rel, found, digest, taken)
            else:  # changed in place since: the next run finds it by content
                self.records.pop(rel)
                self.changed = True
