"""The no-op fast path: when nothing changed by stat since the last plan found every asset
fresh, the answer is "all fresh" again, without loading the spec, Jinja or pydantic.

```
.pixmake/snapshot.json = {version, options, sources: {path: stat}, assets: [[id, [stat, ...]]]}
valid  <=>  same pixmake and options, every source (pixmake.yaml, data tables, templates,
            reference files, pixmake.lock; no journal) has the same (size, mtime_ns, inode),
            and every output too
```
Anything else, and the full plan runs (and writes a new snapshot when all is fresh again).
Only the standard library is imported here: this runs before everything else.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from pixmake import __version__

if TYPE_CHECKING:
    from pathlib import Path

_NAME = "snapshot.json"
# A file changed within this long of being recorded may keep its (size, mtime, inode):
# timestamps move in coarse ticks. Such "racily clean" records are not trusted (as in git).
RACY_NS = 100_000_000
_JOURNAL = "journal.jsonl"
Stat = list[int] | None


def stat(path: str | os.PathLike[str]) -> Stat:
    """(size, mtime_ns, inode), or None when the file does not exist."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def fresh_ids(root: Path, options: dict[str, Any]) -> list[str] | None:
    """The asset ids (in plan order) if the snapshot proves them all fresh, else None."""
    state = os.path.join(root, ".pixmake")
    try:
        with open(os.path.join(state, _NAME), encoding="utf-8") as handle:
            snapshot = json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, NotADirectoryError):
        return None
    if snapshot.get("version") != __version__ or snapshot.get("options") != options:
        return None
    if os.path.exists(os.path.join(state, _JOURNAL)):
        return None
    base = str(root)
    racy = int(snapshot["written_ns"]) - RACY_NS
    for rel, expected in snapshot["sources"].items():
        if stat(os.path.join(base, rel)) != expected or (expected and expected[1] >= racy):
            return None
    ids = []
    for asset_id, outputs in snapshot["assets"]:
        for rel, expected in outputs:
            if stat(os.path.join(base, rel)) != expected or expected[1] >= racy:
                return None
        ids.append(asset_id)
    return ids


def write(
    root: Path,
    options: dict[str, Any],
    sources: dict[str, Stat],
    assets: list[tuple[str, list[tuple[str, Stat]]]],
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
    }
    write_atomic(os.path.join(root, ".pixmake", _NAME), json.dumps(document).encode())
