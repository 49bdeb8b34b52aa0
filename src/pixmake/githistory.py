"""Git's object database, read through git's own command line: committed content by path,
and the history of `pixmake.lock`, which says what each committed path held.

A fresh clone holds every image its history ever committed, even those its working tree no
longer has. This module reads them, and nothing else, with `git log` (which commits changed
`pixmake.lock`) and one `git cat-file --batch` process (the blob at a commit and a path). It
is started on the first question only, and every question is about a path inside the
project: content outside it is never asked for. Without git, or outside a repository (a
tarball of the project), every answer is "not there".
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from pixmake.errors import LockfileError
from pixmake.lockfile import (
    HASH_FIELD,
    committed_by_id,
    committed_entries,
    committed_entry,
    entry_hashes,
    listed_parts,
    usable_entry,
)
from pixmake.lockparts import LOCK_NAME, PARTS_DIR, digits_of, part_name

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pixmake.lockfile import LockEntry

MAX_BLOB = 256 * 1024 * 1024  # larger than any image a provider returns: not ours
_CHUNK = 1024 * 1024


def _environ() -> dict[str, str]:
    env = dict(os.environ)
    env.update(LC_ALL="C", GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")
    return env


@dataclass(slots=True)
class GitHistory:
    root: Path
    _prefix: str | None = field(default=None, init=False)  # the project's folder in the repo
    _known: bool = field(default=False, init=False)
    _batch: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _commits: list[str] | None = field(default=None, init=False)

    def _git(self, *args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.root,
                env=_environ(),
                capture_output=True,
                check=False,
            )
        except OSError:  # no git on this machine
            return None
        return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None

    def prefix(self) -> str | None:
        """The project's folder inside its repository ("" at the top), None without one."""
        if not self._known:
            self._known = True
            found = self._git("rev-parse", "--show-prefix")
            self._prefix = found.strip() if found is not None else None
        return self._prefix

    def commit(self, rev: str) -> str | None:
        """The commit that `rev` names, None when it names none (or there is no repository)."""
        if self.prefix() is None or rev.startswith("-") or "\n" in rev:
            return None
        found = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        return found.strip() if found else None

    def lock_commits(self) -> list[str]:
        """The commits that changed `pixmake.lock`, newest first (asked once)."""
        if self._commits is None:
            found = None
            if self.prefix() is not None:  # a path after `--` is relative to the folder
                found = self._git(
                    "log", "--full-history", "--format=%H", "--", LOCK_NAME, PARTS_DIR
                )
            self._commits = found.split() if found else []
        return self._commits

    def lock_dates(self) -> dict[str, str]:
        """The committer date (ISO 8601) of each commit that changed `pixmake.lock`."""
        found = None
        if self.prefix() is not None:
            found = self._git(
                "log", "--full-history", "--format=%H %cI", "--", LOCK_NAME, PARTS_DIR
            )
        return dict(line.split(" ", 1) for line in (found or "").splitlines() if " " in line)

    def lock_versions(self) -> Iterator[CommittedLock]:
        """Each committed version of the lock, newest first, read lazily."""
        for commit in self.lock_commits():
            lock = self.lock_at(commit)
            if lock is not None:
                yield lock

    def lock_at(self, commit: str) -> CommittedLock | None:
        """The lock as `commit` has it; None when it has no `pixmake.lock`."""
        data = self.blob(commit, LOCK_NAME)
        if data is None:
            return None
        return CommittedLock(self, commit, data.decode("utf-8", "replace"))

    def blob(self, rev: str, rel: str, *, unless: set[bytes] | None = None) -> bytes | None:
        """The content of project path `rel` at `rev`, if that is a file of git's. With
        `unless`: None for a blob whose object id it holds (read already), and the id of
        one read is added to it."""
        prefix = self.prefix()
        if prefix is None or "\n" in rel or "\n" in rev:
            return None
        batch = self._process()
        if batch is None:
            return None
        stdin, stdout = batch.stdin, batch.stdout
        assert stdin is not None
        assert stdout is not None
        try:
            stdin.write(f"{rev}:{prefix}{rel}\n".encode())
            stdin.flush()
            header = stdout.readline().split()
            if len(header) != 3:  # "<name> missing", or "ambiguous"
                return None
            size = int(header[2])
            if header[1] != b"blob" or size > MAX_BLOB or (unless and header[0] in unless):
                _skip(stdout, size + 1)
                return None
            if unless is not None:
                unless.add(header[0])
            data = stdout.read(size)
            stdout.read(1)  # the newline after each object
        except (OSError, ValueError):  # git went away: no more answers from it
            self.close()
            self._prefix = None
            return None
        return data if len(data) == size else None

    def _process(self) -> subprocess.Popen[bytes] | None:
        if self._batch is None:
            try:
                self._batch = subprocess.Popen(
                    ["git", "cat-file", "--batch"],
                    cwd=self.root,
                    env=_environ(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:
                self._prefix = None
                return None
        return self._batch

    def close(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            for stream in (batch.stdin, batch.stdout):
                if stream is not None:
                    stream.close()
            batch.wait()


@dataclass(slots=True)
class LockHistory:
    """What the committed versions of `pixmake.lock` record, found as far as asked.

    Each version is read once, newest first, and only when the versions read so far do not
    answer. Of each entry not seen in a newer version, its text is kept by its request key,
    and the content hashes it mentions are indexed (a text search); an entry is parsed, and
    checked as the lock's are, only when it is asked for.
    """

    git: GitHistory
    _versions: Iterator[CommittedLock] | None = None
    _read: set[bytes] = field(default_factory=set)  # the part blobs read: each one once
    _by_key: dict[str, tuple[str, str | LockEntry | None]] = field(default_factory=dict)
    _by_hash: dict[str, list[str]] = field(default_factory=dict)  # hash -> request keys

    def places(self, digest: str) -> Iterator[tuple[str, str]]:
        """Each (commit, path) that a committed lock records with that content hash."""
        seen = 0
        while True:
            keys = self._by_hash.get(digest, [])
            for key in keys[seen:]:
                commit, entry = self._entry(key)
                for record in (*entry["outputs"], *entry.get("derived", [])) if entry else ():
                    if record["hash"] == digest:
                        yield commit, record["path"]
            seen = len(keys)
            if not self._read_version():
                return

    def with_key(self, key: str) -> LockEntry | None:
        """The newest committed entry made by request `key`."""
        while key not in self._by_key and self._read_version():
            pass
        return self._entry(key)[1] if key in self._by_key else None

    def _entry(self, key: str) -> tuple[str, LockEntry | None]:
        commit, item = self._by_key[key]
        if isinstance(item, str):
            item = usable_entry(item)
            self._by_key[key] = (commit, item)
        return commit, item

    def _read_version(self) -> bool:
        if self._versions is None:
            self._versions = self.git.lock_versions()
        version = next(self._versions, None)
        if version is None:
            return False
        for text in version.texts(self._read):
            for key, item in committed_entries(text):
                if key in self._by_key:
                    continue
                self._by_key[key] = (version.commit, item)
                hashes = HASH_FIELD.findall(item) if isinstance(item, str) else entry_hashes(item)
                for digest in set(hashes):
                    self._by_hash.setdefault(digest, []).append(key)
        return True


@dataclass(slots=True)
class CommittedLock:
    """`pixmake.lock` as one commit has it, read quietly (a damaged entry is absent): its
    own entries, or those of the parts it lists (see lockparts), each part read when asked."""

    git: GitHistory
    commit: str
    text: str  # pixmake.lock's
    parts: list[str] | None = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.parts = listed_parts(self.text)
        except LockfileError:  # a list this pixmake cannot read: no entries
            self.parts = []

    def texts(self, unless: set[bytes] | None = None) -> Iterator[str]:
        """The text of each file that holds entries; with `unless`, as GitHistory.blob."""
        if self.parts is None:
            yield self.text
            return
        for name in self.parts:
            data = self.git.blob(self.commit, name, unless=unless)
            if data is not None:
                yield data.decode("utf-8", "replace")

    def entry(self, asset_id: str) -> LockEntry | None:
        """The usable entry of `asset_id` (only its part is read)."""
        if self.parts is None:
            return committed_entry(self.text, asset_id)
        if not self.parts:
            return None
        name = part_name(asset_id, digits_of(self.parts[0]))
        data = self.git.blob(self.commit, name) if name in self.parts else None
        return committed_entry(data.decode("utf-8", "replace"), asset_id) if data else None

    def by_id(self) -> dict[str, str | LockEntry]:
        """Every entry by asset id, as `committed_by_id` reads them."""
        found: dict[str, str | LockEntry] = {}
        for text in self.texts():
            found.update(committed_by_id(text))
        return found


def _skip(stream: IO[bytes], size: int) -> None:
    while size > 0:
        chunk = stream.read(min(size, _CHUNK))
        if not chunk:
            return
        size -= len(chunk)
