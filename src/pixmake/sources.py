"""Where content is found by its hash: the store's objects, the project's files, git, the remote.

```
digest ──▶ .pixmake/objects/ ──miss──▶ a file the lock records with that hash, hashed now
                                  └─miss──▶ git: the blob of a path that pixmake.lock records
                                            with that hash, at HEAD, then in each commit
                                            that changed pixmake.lock, newest first
                                        └─miss──▶ the remote cache, if one is configured
           each candidate verified by its hash, then copied into the store
```
A fresh clone has no `.pixmake/`, but it has every committed output: an output renamed in
the spec, an original whose derived file was deleted or whose derive step changed, are all
on disk under the paths the lock gives them; a deleted one, and every image an earlier
commit had (a prompt reverted), are in git. Each candidate is used only if its content has
the hash sought, so a hand-edited file is never taken for the locked one. Git is asked only
when the store and the working tree have nothing, that is, when the answer would otherwise
be a paid generation, and a request key is looked up there in the lock's own history. The
remote cache (remote.py) is asked last, for the same reason: it is the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.hashing import content_hash
from pixmake.lockfile import action_value, candidates_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from pixmake.filestat import FileHasher
    from pixmake.githistory import GitHistory, LockHistory
    from pixmake.lockfile import Lock, LockEntry
    from pixmake.remote import Remote
    from pixmake.store import Store


@dataclass(slots=True)
class ContentSources:
    root: Path
    store: Store
    lock: Lock
    hasher: FileHasher
    remote: Remote | None = None
    # Called once, before the remote is first asked (the planner's prefetch of every key).
    ahead: Callable[[], object] | None = None
    _found: dict[str, tuple[str, str] | None] = field(default_factory=dict, init=False)
    _git_history: tuple[GitHistory, LockHistory] | None = field(default=None, init=False)

    @property
    def _git(self) -> GitHistory:
        return self._git_and_lock()[0]

    @property
    def _history(self) -> LockHistory:
        return self._git_and_lock()[1]

    def _git_and_lock(self) -> tuple[GitHistory, LockHistory]:
        """Git and the lock's history in it, made when first asked (most runs never ask)."""
        if self._git_history is None:
            from pixmake.githistory import GitHistory, LockHistory

            git = GitHistory(self.root)
            self._git_history = git, LockHistory(git)
        return self._git_history

    def _remote(self) -> Remote | None:
        if self.ahead is not None and self.remote is not None:
            ahead, self.ahead = self.ahead, None
            ahead()
        return self.remote

    def close(self) -> None:
        """Stop the git process, if one was started."""
        if self._git_history is not None:
            self._git_history[0].close()

    def action(self, key: str) -> dict[str, Any] | None:
        """The cached result of a request key: the store's action cache, else any lock entry
        made by that request (an asset renamed: its old entry is still in the lock), else the
        newest entry an earlier commit's lock has with it (a prompt reverted), else the
        remote's entry, if some source has all its outputs. Nothing is written."""
        cached = self.store.get_action(key)
        if cached is not None:
            return cached
        found = self.lock.entries.with_key(key)
        if found is not None and all(self.available(o["hash"]) for o in found["outputs"]):
            return cached_value(found)
        entry = self._history.with_key(key)  # its outputs are indexed with it
        if entry is not None and all(self.available(o["hash"]) for o in entry["outputs"]):
            return cached_value(entry)
        remote = self._remote()
        shared = remote.lookup_action(key) if remote is not None else None
        if shared is not None and all(self.available(o["hash"]) for o in shared["outputs"]):
            return shared
        return None

    def available(self, digest: str) -> bool:
        """Whether the content can be had without generating it (nothing is written)."""
        return (
            self.store.has_object(digest)
            or self._on_disk(digest) is not None
            or self._in_git(digest) is not None
            or ((remote := self._remote()) is not None and remote.has_object(digest))
        )

    def ensure(self, digest: str, *, remote: bool = True) -> bool:
        """Make the store hold the content, from a project file, git or (unless `remote` is
        False) the remote if need be; False if no source has it."""
        if self.store.has_object(digest):
            return True
        rel = self._on_disk(digest)
        if rel is not None and self.store.put_file(self.root / rel) == digest:  # hashed again
            return True
        place = self._in_git(digest)
        data = self._git.blob(*place) if place is not None else None
        if data is None or content_hash(data) != digest:
            data = self.remote.get_object(digest) if remote and self.remote else None  # verified
        if data is None:
            return False
        self.store.put_bytes(data, digest)
        return True

    def known(self, digest: str) -> bool:
        """Whether the content is pixmake's: in the store, or a file the lock records with
        it (git is not asked)."""
        return self.store.has_object(digest) or self._on_disk(digest) is not None

    # -- git ------------------------------------------------------------------------------

    def _in_git(self, digest: str) -> tuple[str, str] | None:
        """A (commit, path) whose blob in git has that content, verified."""
        if digest not in self._found:
            self._found[digest] = next(
                (
                    place
                    for place in self._git_candidates(digest)
                    if (data := self._git.blob(*place)) is not None and content_hash(data) == digest
                ),
                None,
            )
        return self._found[digest]

    def _git_candidates(self, digest: str) -> Iterator[tuple[str, str]]:
        """HEAD's blob of each path the current lock records with it, then each (commit,
        path) that a committed lock records with it, newest first."""
        for rel in self._lock_paths(digest):
            yield "HEAD", rel
        yield from self._history.places(digest)

    def _on_disk(self, digest: str) -> str | None:
        for rel in self._lock_paths(digest):
            found = self.hasher.hash(rel)
            if found is not None and found[0] == digest:
                return rel
        return None

    def _lock_paths(self, digest: str) -> list[str]:
        """The project paths the lock records with that content."""
        return [path for path, _ in self.lock.entries.with_hash(digest)]


def cached_value(entry: LockEntry) -> dict[str, Any]:
    """An action-cache value (a remote's entry too) from a lock entry, with its candidates."""
    record = dict(entry.get("record", {}))
    return action_value(entry["outputs"], record, candidates_of(entry), entry.get("chosen", 0))
