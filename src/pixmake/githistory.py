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
import re
import subprocess
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from pixmake.lockfile import LOCK_NAME, committed_entries

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
                found = self._git("log", "--format=%H", "--", LOCK_NAME)
            self._commits = found.split() if found else []
        return self._commits

    def lock_versions(self) -> Iterator[tuple[str, str]]:
        """Each committed version of the lock as (commit, text), newest first, read lazily."""
        for commit in self.lock_commits():
            data = self.blob(commit, LOCK_NAME)
            if data is not None:
                yield commit, data.decode("utf-8", "replace")

    def blob(self, rev: str, rel: str) -> bytes | None:
        """The content of project path `rel` at `rev`, if that is a file of git's."""
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
            if header[1] != b"blob" or size > MAX_BLOB:
                _skip(stdout, size + 1)
                return None
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


_KEY = re.compile(r'"key"\s*:\s*"([^"\\]*)"')  # each request key, and derive keys: a superset
_HASH = re.compile(r'"hash"\s*:\s*"([^"\\]*)"')


@dataclass(slots=True)
class LockHistory:
    """What the committed versions of `pixmake.lock` record, found as far as asked.

    Each version is read once, newest first, and only when the versions read so far do not
    answer; of it only the keys and hashes it mentions are kept (a text search). A version
    that has what is sought is parsed then, and its entries are checked as the lock's are.
    """

    git: GitHistory
    _versions: Iterator[tuple[str, str]] | None = None
    _keys: dict[str, str] = field(default_factory=dict)  # key -> newest commit naming it
    _hashes: dict[str, list[str]] = field(default_factory=dict)  # hash -> commits, newest first
    _parsed: dict[str, dict[str, LockEntry]] = field(default_factory=dict)

    def places(self, digest: str) -> Iterator[tuple[str, str]]:
        """Each (commit, path) that a committed lock records with that content hash."""
        seen = 0
        while True:
            commits = self._hashes.get(digest, [])
            for commit in commits[seen:]:
                for entry in self._entries(commit).values():
                    for record in (*entry["outputs"], *entry.get("derived", [])):
                        if record["hash"] == digest:
                            yield commit, record["path"]
            seen = len(commits)
            if not self._read_version():
                return

    def with_key(self, key: str) -> LockEntry | None:
        """The newest committed entry made by request `key`."""
        while key not in self._keys and self._read_version():
            pass
        commit = self._keys.get(key)
        found = [e for e in self._entries(commit).values() if e["key"] == key] if commit else []
        return found[0] if found else None

    def _read_version(self) -> bool:
        if self._versions is None:
            self._versions = self.git.lock_versions()
        version = next(self._versions, None)
        if version is None:
            return False
        commit, text = version
        for key in _KEY.findall(text):
            self._keys.setdefault(key, commit)
        for digest in set(_HASH.findall(text)):
            self._hashes.setdefault(digest, []).append(commit)
        return True

    def _entries(self, commit: str) -> dict[str, LockEntry]:
        if commit not in self._parsed:
            if len(self._parsed) >= 2:  # a 10,000-asset lock is some 12 MB parsed
                self._parsed.pop(next(iter(self._parsed)))
            data = self.git.blob(commit, LOCK_NAME)
            text = data.decode("utf-8", "replace") if data is not None else ""
            self._parsed[commit] = committed_entries(text)
        return self._parsed[commit]


def _skip(stream: IO[bytes], size: int) -> None:
    while size > 0:
        chunk = stream.read(min(size, _CHUNK))
        if not chunk:
            return
        size -= len(chunk)
