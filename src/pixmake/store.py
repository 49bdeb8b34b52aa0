"""Local state in `.pixmake/` (never committed): plain files, readable without writing.

```
.pixmake/
  objects/ab/<hash>        every image ever produced, by content hash (xxh3-128)
  tmp/                     images arriving from a provider, until checked (staging.py)
  actions/ab/<key>.json    action cache: request key -> outputs; derive key -> derived output
  trace.marshal            what earlier runs worked out, with their inputs (trace.py)
  journal.jsonl            append-only: finished assets (and, for paid providers, submitted tasks)
  run.lock                 held by the process that writes
```
An interrupted run loses nothing: each finished asset is in `objects/` and then in the journal
before the lockfile is compacted from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import warnings
from typing import TYPE_CHECKING, Any

from pixmake.errors import PixmakeWarning, StateError
from pixmake.filestat import hash_file
from pixmake.fsutil import copy_atomic, describe_os_error, remove_temps, write_atomic
from pixmake.hashing import content_hash
from pixmake.lockfile import valid_entry
from pixmake.staging import Staging

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from pixmake.staging import StagedImage

STATE_DIR = ".pixmake"
EARLIER = "earlier.jsonl"  # replaced lock entries, for `pixmake history`
_STAT_VERSION = 1


class Store:
    """The content store, action cache and journal of one project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / STATE_DIR
        self.scratch = self.dir / "tmp"  # every temp file of a run holding run.lock
        self._journal: Any = None

    def ensure_dir(self) -> None:
        """Create .pixmake/, ignored by git even where `pixmake init` was never run."""
        if not self.dir.is_dir():
            self.dir.mkdir(exist_ok=True)
            (self.dir / ".gitignore").write_text("# local state of pixmake\n*\n")

    # -- objects ----------------------------------------------------------------------------

    def object_path(self, digest: str) -> Path:
        return self.dir / "objects" / digest[:2] / digest

    def has_object(self, digest: str) -> bool:
        return self.object_path(digest).is_file()

    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        digest = digest or content_hash(data)
        target = self.object_path(digest)
        if not target.exists():
            write_atomic(target, data, scratch=self.scratch)
        return digest

    def put_file(self, path: Path, digest: str | None = None) -> str:
        """Keep a copy of a project file (before it is overwritten, or when it is accepted)."""
        digest = digest or hash_file(path)
        target = self.object_path(digest)
        if not target.exists():
            copy_atomic(path, target, scratch=self.scratch)
        return digest

    def adopt(self, image: StagedImage) -> str:
        """Move a staged image into the objects (or drop it, if they hold it already)."""
        target = self.object_path(image.digest)
        if target.exists():
            os.unlink(image.path)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(image.path, target)
        return image.digest

    def staging(self) -> Staging:
        """Where providers write incoming images: on the objects' file system, so that
        adopting one is a rename."""
        return Staging(self.scratch)

    def clear_temps(self, now: float) -> None:
        """Remove the temp files a killed run left (call only while holding `run.lock`): all
        of `tmp/`; those of older versions in the project root and `objects/`; and those of
        the trace, written without `run.lock`, once they are an hour old (`now`: time.time())."""
        self.staging().clear()
        remove_temps(self.root)
        remove_temps(self.dir, older_than=now - 3600)
        objects = self.dir / "objects"
        if objects.is_dir():
            for sub in objects.iterdir():
                remove_temps(sub)

    def read_object(self, digest: str) -> bytes:
        return self.object_path(digest).read_bytes()

    def restore(self, digest: str, dest: Path) -> os.stat_result:
        """Copy an object to a project path atomically; returns the new file's stat."""
        return copy_atomic(self.object_path(digest), dest, scratch=self.scratch)

    def objects(self) -> Iterator[Path]:
        base = self.dir / "objects"
        if base.is_dir():
            for sub in base.iterdir():
                if sub.is_dir():
                    yield from (p for p in sub.iterdir() if not p.name.startswith("."))

    # -- action cache -----------------------------------------------------------------------

    def _action_path(self, key: str) -> Path:
        return self.dir / "actions" / key[:2] / f"{key}.json"

    def get_action(self, key: str) -> dict[str, Any] | None:
        """The cached result of a request key, if every object it names is still stored."""
        try:
            value: dict[str, Any] = json.loads(self._action_path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not all(self.has_object(o["hash"]) for o in value.get("outputs", [])):
            return None
        return value

    def put_action(self, key: str, value: dict[str, Any]) -> None:
        data = json.dumps(value, sort_keys=True).encode()
        write_atomic(self._action_path(key), data, scratch=self.scratch)

    def actions(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        base = self.dir / "actions"
        if not base.is_dir():
            return
        for sub in base.iterdir():
            for path in sub.glob("*.json"):
                try:
                    yield path, json.loads(path.read_text(encoding="utf-8"))
                except (json.JSONDecodeError, UnicodeDecodeError):
                    yield path, {}

    # -- journal ----------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path:
        return self.dir / "journal.jsonl"

    # -- earlier entries ----------------------------------------------------------------------

    def keep_earlier(self, asset_id: str, entry: Mapping[str, Any]) -> None:
        """Note an asset's lock entry that a newer one replaces, for `pixmake history` (its
        images stay in the objects). Local and disposable, like the rest of `.pixmake/`."""
        self.ensure_dir()
        line = json.dumps({"id": asset_id, "entry": entry}, sort_keys=True).encode() + b"\n"
        with open(self.dir / EARLIER, "ab") as handle:
            handle.write(line)

    def earlier(self, asset_id: str) -> list[dict[str, Any]]:
        """The asset's replaced entries, newest first; a line that cannot be read is skipped."""
        try:
            lines = (self.dir / EARLIER).read_bytes().splitlines()
        except OSError:
            return []
        found = []
        for line in reversed(lines):
            try:
                event = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                continue
            if not isinstance(event, dict) or event.get("id") != asset_id:
                continue
            entry = event.get("entry")
            if isinstance(entry, dict) and valid_entry(entry):
                found.append(entry)
        return found

    def append_journal(self, event: dict[str, Any]) -> None:
        """Append one event. It reaches the OS before this returns: safe against SIGKILL.
        `sync_journal` makes it safe against power loss too."""
        if self._journal is None:
            self.ensure_dir()
            self._journal = open(self.journal_path, "ab")  # noqa: SIM115 - kept open for the run
            if self._journal.tell() and not _ends_with_newline(self.journal_path):
                self._journal.write(b"\n")  # a line torn by a killed run must not swallow ours
        self._journal.write(json.dumps(event, sort_keys=True).encode() + b"\n")
        self._journal.flush()

    def sync_journal(self) -> None:
        journal = self._journal
        if journal is not None:
            os.fsync(journal.fileno())

    def read_journal(self, *, slim: bool = False) -> list[dict[str, Any]]:
        """The journal's usable events, in order. `slim`: a `done` event's entry is cut to its
        key (what the tasks need of it), so that reading a 100,000-asset build's journal holds
        one entry at a time, not all of them."""
        try:
            handle = self.journal_path.open("rb")
        except FileNotFoundError:
            return []
        events = []
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    if line.endswith(b"\n"):  # the last line torn by a crash is expected
                        self._damaged(number, "not a JSON line")
                    continue  # the work it described is done again
                problem = _journal_problem(event)
                if problem is not None:
                    self._damaged(number, problem)
                    continue
                if slim and event.get("t") == "done":
                    event = {**event, "entry": {"key": event["entry"]["key"]}}
                events.append(event)
        return events

    def _damaged(self, number: int, problem: str) -> None:
        warnings.warn(
            f"{STATE_DIR}/journal.jsonl:{number}: {problem}; the line is skipped "
            "(the work it recorded is done again, free if the store has it)",
            PixmakeWarning,
            stacklevel=3,
        )

    def rewrite_journal(self, keep: list[dict[str, Any]]) -> None:
        """Replace the journal by the events that must outlive compaction."""
        self.close_journal()
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                self.journal_path.unlink()
            return
        data = b"".join(json.dumps(e, sort_keys=True).encode() + b"\n" for e in keep)
        write_atomic(self.journal_path, data, scratch=self.scratch)

    def close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- uploads ------------------------------------------------------------------------------

    def uploads(self) -> Uploads:
        return Uploads(self.dir / "uploads.json")

    # -- exclusive access -------------------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held by any command that writes outputs, the lockfile or the journal."""
        try:
            self.ensure_dir()
            handle = open(self.dir / "run.lock", "a+")  # noqa: SIM115 - held for the block
        except OSError as exc:
            raise StateError(describe_os_error(exc, self.root)) from None
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateError(
                    f"another pixmake is writing to {self.root} (it holds {STATE_DIR}/run.lock)\n"
                    "  fix: wait for it to finish, or stop it"
                ) from None
            yield
        finally:
            self.close_journal()
            handle.close()


class Uploads:
    """Reference images uploaded to a provider: content hash -> image UUID, with its age.

    Runware deletes an upload 30 days after its last use, so an entry older than
    `max_age` seconds is uploaded again rather than trusted.
    """

    def __init__(self, path: Path, max_age: float = 25 * 86400) -> None:
        self.path = path
        self.max_age = max_age
        try:
            self._known: dict[str, list[Any]] = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            self._known = {}

    def get(self, digest: str) -> str | None:
        entry = self._known.get(digest)
        if entry is None or time.time() - float(entry[1]) > self.max_age:
            return None
        return str(entry[0])

    def put(self, digest: str, image_uuid: str) -> None:
        self._known[digest] = [image_uuid, round(time.time())]
        write_atomic(self.path, json.dumps(self._known, sort_keys=True).encode())


def _journal_problem(event: Any) -> str | None:
    """Why a journal event cannot be used, or None when its fields have the right types."""
    if not isinstance(event, dict):
        return "not an object"
    kind = event.get("t")
    if kind == "task":
        if not isinstance(event.get("key"), str) or not isinstance(event.get("id"), str):
            return "a task without a string `key` and `id`"
        if not isinstance(event.get("task"), dict):
            return "a task whose `task` is not an object"
        return None
    if kind == "done":
        entry = event.get("entry")
        if not isinstance(event.get("id"), str):
            return "a finished asset without a string `id`"
        if not isinstance(event.get("task", ""), str):
            return "a finished asset whose `task` is not a string"
        if not valid_entry(entry):
            return f"`{event['id']}`'s entry is not a valid lock entry"
        return None
    if kind == "task_end":
        return None if isinstance(event.get("key"), str) else "a task end without a string `key`"
    return f"unknown event type {kind!r}"


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
