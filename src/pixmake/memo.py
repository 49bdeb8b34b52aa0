"""Per-asset proof of freshness, so a plan after a small change re-checks only what changed.

```
.pixmake/memo.marshal = {version, written_ns, lock: stat of pixmake.lock,
                         assets: {id: (render fp, reference hashes, key, first output hash,
                                       ((path, size, mtime_ns, inode), ...))}}
```
An asset is fresh without reading its lock entry or hashing anything when: the lockfile is
unchanged by stat since the memo was written (and no journal is pending), the asset was
rendered from the same declaration and row, its references hash the same, and each output
has the same (size, mtime_ns, inode) as when it was found fresh (not racily clean).
"""

from __future__ import annotations

import marshal
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake import __version__
from pixmake.snapshot import RACY_NS, Stat

if TYPE_CHECKING:
    from pathlib import Path

NAME = "memo.marshal"
Entry = tuple[str, tuple[str | None, ...], str, str | None, tuple[tuple[Any, ...], ...]]


@dataclass(slots=True)
class Memo:
    assets: dict[str, Entry] = field(default_factory=dict)
    written_ns: int = 0

    def fresh(
        self, asset_id: str, fp: str | None, ref_hashes: list[str | None], outputs: tuple[str, ...]
    ) -> Entry | None:
        """The memo entry if it proves this asset fresh, else None."""
        entry = self.assets.get(asset_id)
        if entry is None or fp is None or entry[0] != fp or list(entry[1]) != ref_hashes:
            return None
        recorded = entry[4]
        if len(recorded) != len(outputs):
            return None
        racy = self.written_ns - RACY_NS
        for (path, size, mtime, inode), expected in zip(recorded, outputs, strict=True):
            if path != expected or mtime >= racy:
                return None
            try:
                st = os.stat(os.path.join(_ROOT[0], path))
            except OSError:
                return None
            if st.st_size != size or st.st_mtime_ns != mtime or st.st_ino != inode:
                return None
        return entry


_ROOT: list[str] = [""]


def load(root: Path, lock_stat: Stat) -> Memo:
    _ROOT[0] = str(root)
    try:
        with open(os.path.join(root, ".pixmake", NAME), "rb") as handle:
            data = marshal.loads(handle.read())  # load(file) reads in tiny pieces: 5x slower
    except (FileNotFoundError, NotADirectoryError, EOFError, ValueError, TypeError):
        return Memo()
    if not isinstance(data, dict) or data.get("version") != __version__:
        return Memo()
    if lock_stat is None or list(data.get("lock") or ()) != lock_stat:
        return Memo()
    return Memo(data["assets"], int(data["written_ns"]))


def save(root: Path, lock_stat: Stat, assets: dict[str, Entry]) -> None:
    from pixmake.fsutil import write_atomic

    data = {
        "version": __version__,
        "written_ns": time.time_ns(),
        "lock": tuple(lock_stat) if lock_stat else None,
        "assets": assets,
    }
    write_atomic(os.path.join(root, ".pixmake", NAME), marshal.dumps(data))
