"""Where content is found by its hash: the store's objects, then the project's own files.

```
digest ──▶ .pixmake/objects/ ──miss──▶ a file the lock records with that hash, hashed now
                                         │ verified
                                         └──▶ copied into the store (hashed again as copied)
```
A fresh clone has no `.pixmake/`, but it has every committed output: an output renamed in
the spec, an original whose derived file was deleted or whose derive step changed, are all
on disk under the paths the lock gives them. Each candidate is used only if its content has
the hash sought, so a hand-edited file is never taken for the locked one. (Issue 11 adds
git's object database behind these two.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.lockfile import action_outputs

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.filestat import FileHasher
    from pixmake.lockfile import Lock, LockEntry
    from pixmake.store import Store


@dataclass(slots=True)
class ContentSources:
    root: Path
    store: Store
    lock: Lock
    hasher: FileHasher
    _index: dict[str, list[str]] | None = field(default=None, init=False)

    def action(self, key: str) -> dict[str, Any] | None:
        """The cached result of a request key: the store's action cache, else any lock entry
        made by that request (an asset renamed: its old entry is still in the lock) whose
        outputs some source has. Nothing is written."""
        cached = self.store.get_action(key)
        if cached is not None:
            return cached
        found = self.lock.entries.with_key(key)
        if found is None or not all(self.available(o["hash"]) for o in found["outputs"]):
            return None
        return {
            "outputs": action_outputs(found["outputs"]),
            "record": dict(found.get("record", {})),
        }

    def available(self, digest: str) -> bool:
        """Whether the content can be had without generating it (nothing is written)."""
        return self.store.has_object(digest) or self._on_disk(digest) is not None

    def ensure(self, digest: str) -> bool:
        """Make the store hold the content, from a project file if need be; False if no
        source has it."""
        if self.store.has_object(digest):
            return True
        rel = self._on_disk(digest)
        if rel is None:
            return False
        return self.store.put_file(self.root / rel) == digest  # hashed again as copied

    def _on_disk(self, digest: str) -> str | None:
        for rel in self._paths().get(digest, ()):
            found = self.hasher.hash(rel)
            if found is not None and found[0] == digest:
                return rel
        return None

    def _paths(self) -> dict[str, list[str]]:
        """Hash -> the project paths the lock records with it; read on the first miss only."""
        if self._index is None:
            index: dict[str, list[str]] = {}
            for entry in self._entries():
                for record in (*entry["outputs"], *entry.get("derived", [])):
                    index.setdefault(record["hash"], []).append(record["path"])
            self._index = index
        return self._index

    def _entries(self) -> list[LockEntry]:
        """Every usable lock entry (a damaged one is absent: `get` gives None)."""
        found = (self.lock.entries.get(asset_id) for asset_id in list(self.lock.entries))
        return [entry for entry in found if entry is not None]
