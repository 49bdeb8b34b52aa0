"""The no-op fast path: when nothing changed by stat since the last plan found every asset
fresh, the answer is "all fresh" again, without loading the spec, Jinja or pydantic.

```
.pixmake/snapshot.marshal = {version, options, sources: {path: stat}, assets: [[id, [stat, ...]]],
                            tables: {path: [[declaration, loop variable, uses index], ...]},
                            rows: {declaration: ([row fingerprint, ...], [id, ...])},
                            lines: {path: (digest of the header, [digest of each row's line])}}
rows are in the table's order; lines only for a CSV whose rows are its lines (tables.py)
stat   = [size, mtime_ns, inode] (+ content hash, when racily clean: see _same)
valid  <=>  same pixmake and options, every source (pixmake.yaml, data tables, templates,
            reference files, pixmake.lock; no journal) has the same (size, mtime_ns, inode),
            and every output too
```
When only data tables changed, delta.py uses `tables` and `rows` to resolve just the changed
rows. Anything else, and the full plan runs (and writes a new snapshot when all is fresh).
Only the standard library is imported here: this runs before everything else.
"""

from __future__ import annotations

import marshal
import os
import time
from typing import TYPE_CHECKING, Any

from pixmake import __version__

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

_NAME = "snapshot.marshal"  # marshal: read in a third of the time JSON takes
# A file changed within this long of being recorded may keep its (size, mtime, inode):
# timestamps move in coarse ticks. Such "racily clean" records are not trusted (as in git).
RACY_NS = 100_000_000
_JOURNAL = "journal.jsonl"
Stat = list[int] | None
_LOADED: dict[str, tuple[Stat, dict[str, Any]]] = {}  # path -> (its stat, the document)


def stat(path: str | os.PathLike[str]) -> Stat:
    """(size, mtime_ns, inode), or None when the file does not exist."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def load(root: Path, options: dict[str, Any]) -> dict[str, Any] | None:
    """The snapshot, if one was written by this pixmake with these options and no journal
    is pending; whether its stats still hold is for the caller to check."""
    state = os.path.join(root, ".pixmake")
    path = os.path.join(state, _NAME)
    seen = stat(path)
    last = _LOADED.get(path)
    if last is not None and seen is not None and last[0] == seen:
        snapshot = last[1]  # read already by this process (the no-op check, then delta.py)
    else:
        try:
            with open(path, "rb") as handle:
                snapshot = marshal.loads(handle.read())
        except (FileNotFoundError, NotADirectoryError, EOFError, ValueError, TypeError):
            return None
        if not isinstance(snapshot, dict):
            return None
        _LOADED.clear()
        _LOADED[path] = (seen, snapshot)
    if snapshot.get("version") != __version__ or snapshot.get("options") != options:
        return None
    if os.path.exists(os.path.join(state, _JOURNAL)):
        return None
    return snapshot


def _same(path: str, expected: Stat | list[Any], racy: int) -> bool:
    """Whether a file is as recorded: same (size, mtime_ns, inode) and, if that stat is racily
    clean, the same content hash (recorded as a 4th element when known; else not the same)."""
    if expected is None:
        return stat(path) is None
    if stat(path) != list(expected[:3]):
        return False
    if expected[1] < racy:
        return True
    if len(expected) < 4:
        return False
    from pixmake.hashing import hash_file  # xxhash: only for files written just before

    return hash_file(path) == expected[3]


def changed_sources(root: Path, snapshot: dict[str, Any]) -> list[str]:
    """The sources that differ from the snapshot's record of them."""
    base = str(root)
    racy = int(snapshot["written_ns"]) - RACY_NS
    return [
        rel
        for rel, expected in snapshot["sources"].items()
        if not _same(os.path.join(base, rel), expected, racy)
    ]


def outputs_unchanged(root: Path, snapshot: dict[str, Any]) -> bool:
    """Whether every output is as the snapshot recorded it."""
    base = str(root)
    racy = int(snapshot["written_ns"]) - RACY_NS
    for _, outputs in snapshot["assets"]:
        for rel, expected in outputs:
            if not _same(os.path.join(base, rel), expected, racy):
                return False
    return True


def fresh_ids(root: Path, options: dict[str, Any]) -> list[str] | None:
    """The asset ids (in plan order) if the snapshot proves them all fresh, else None."""
    snapshot = load(root, options)
    if snapshot is None or changed_sources(root, snapshot):
        return None
    if not outputs_unchanged(root, snapshot):
        return None
    return [asset_id for asset_id, _ in snapshot["assets"]]


def write(
    root: Path,
    options: dict[str, Any],
    sources: dict[str, Stat],
    assets: list[tuple[str, list[tuple[str, Stat]]]],
    series: Mapping[str, Any] | None = None,
) -> None:
    """Record that every asset is fresh, with the stats that prove it: each taken *before*
    its file was read, so a file changed during the run invalidates the snapshot."""
    from pixmake.fsutil import write_atomic

    document = {
        "written_ns": time.time_ns(),
        "version": __version__,
        "options": options,
        "sources": dict(sorted(sources.items())),
        "assets": assets,
        "tables": {},
        "rows": {},
        "lines": {},
        **(series or {}),  # for delta.py: tables, rows, and lines
    }
    write_atomic(os.path.join(root, ".pixmake", _NAME), marshal.dumps(document))
