"""pixmake.lock: one self-contained entry per asset, sorted, no timestamps, written atomically.

```json
{
  "assets": {
    "hero": {
      "derived": [{"bytes": 9, "hash": "…", "key": "…", "path": "…", "source": 0, "step": {…}}],
      "key": "…",
      "outputs": [{"bytes": 9, "hash": "…", "height": 1024, "path": "site/hero.webp", …}],
      "record": {"cost_usd": 0.0, "placeholder": true, "provider": "placeholder", …},
      "request": {"model": "openai:1@2", "prompt": "…", "references": [{"hash": "…", …}], …}
    }
  },
  "version": 1
}
```
Every entry spans many lines whose unchanged parts separate the changes of neighbouring
entries, so two branches that changed different assets merge without a conflict.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from pixmake.confine import RESERVED, lexical
from pixmake.errors import LockfileError
from pixmake.fsutil import write_atomic

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.spec.asset import Asset

LOCK_VERSION = 1
LOCK_NAME = "pixmake.lock"


class OutputRecord(TypedDict):
    path: str
    hash: str
    bytes: int
    width: int
    height: int


class DerivedRecord(OutputRecord):
    key: str
    source: int
    step: dict[str, Any]


class LockEntry(TypedDict):
    key: str
    request: dict[str, Any]
    outputs: list[OutputRecord]
    derived: list[DerivedRecord]
    record: dict[str, Any]


def make_entry(
    asset: Asset,
    key: str,
    ref_hashes: list[str | None],
    outputs: list[OutputRecord],
    derived: list[DerivedRecord],
    record: dict[str, Any],
) -> LockEntry:
    """The lock entry of an asset: its request as resolved, its outputs, the provider record."""
    references = [
        {"ref": ref.text(), "hash": digest, **({"pin": ref.pin} if ref.pin else {})}
        for ref, digest in zip(asset.references, ref_hashes, strict=True)
    ]
    return {
        "key": key,
        "request": {**asset.settings(), "references": references},
        "outputs": outputs,
        "derived": derived,
        "record": record,
    }


_HEAD = '{\n  "assets": {\n'
_TAIL = '\n  },\n  "version": 1\n}\n'
_EMPTY = '{\n  "assets": {},\n  "version": 1\n}\n'
_PLAIN_KEYS = re.compile(r"[A-Za-z0-9_.@+=/ -]+(?:\n[A-Za-z0-9_.@+=/ -]+)*\Z")
_END = "\n    }"  # an entry's closing line
_SEPARATOR = '\n    },\n    "'  # an entry's end and the next one's start: unique, since JSON
# strings cannot hold a raw newline and nothing else closes at this indentation


class Entries(MutableMapping[str, LockEntry]):
    """The lock's entries, parsed only when read, and written back from their original text
    when untouched: a build that changes one asset of 10,000 re-serialises one entry.

    Entries are values: replace an entry, never change one in place.
    """

    def __init__(self, parsed: dict[str, LockEntry] | None = None) -> None:
        self._parsed: dict[str, LockEntry] = dict(parsed or {})
        self._raw: dict[str, str] = {}

    @classmethod
    def from_raw(cls, raw: dict[str, str]) -> Entries:
        entries = cls()
        entries._raw = raw
        return entries

    def __getitem__(self, key: str) -> LockEntry:
        entry = self._parsed.get(key)
        if entry is None:
            entry = _parse_entry(key, self.text(key))
            self._parsed[key] = entry
        return entry

    def __setitem__(self, key: str, value: LockEntry) -> None:
        self._parsed[key] = value
        self._raw.pop(key, None)

    def __delitem__(self, key: str) -> None:
        found = self._parsed.pop(key, None) is not None
        if self._raw.pop(key, None) is None and not found:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._raw or key in self._parsed

    def __iter__(self) -> Iterator[str]:
        yield from self._raw
        yield from (k for k in self._parsed if k not in self._raw)

    def __len__(self) -> int:
        return len(self._raw) + sum(1 for k in self._parsed if k not in self._raw)

    def copy(self) -> Entries:
        other = Entries(self._parsed)
        other._raw = dict(self._raw)
        return other

    def text(self, key: str) -> str:
        """The entry as it stands in the file, indented for its place there."""
        raw = self._raw.get(key)
        if raw is not None:
            return "{" + raw + _END
        dumped = json.dumps(self._parsed[key], indent=2, sort_keys=True, ensure_ascii=False)
        return dumped.replace("\n", "\n    ")


@dataclass(slots=True)
class Lock:
    """The parsed lockfile; `entries` maps asset id to its entry."""

    entries: Entries = field(default_factory=Entries)

    def __post_init__(self) -> None:
        if not isinstance(self.entries, Entries):
            self.entries = Entries(self.entries)

    def dumps(self) -> str:
        ids = sorted(self.entries)
        if not ids:
            return _EMPTY
        raw, text = self.entries._raw, self.entries.text
        parts = [
            '    "' + i + '": {' + raw[i] + _END if i in raw else f"    {_key(i)}: {text(i)}"
            for i in ids
        ]  # the raw entries (most of them) as they were read: keys plain, text verbatim
        return _HEAD + ",\n".join(parts) + _TAIL


def _key(asset_id: str) -> str:
    return json.dumps(asset_id, ensure_ascii=False)


def _index(text: str) -> dict[str, str] | None:
    """Each entry's text between its `{` and its closing line (see Entries.text), if the file
    is exactly as pixmake writes it; else None."""
    if text == _EMPTY:
        return {}
    if not (text.startswith(_HEAD + '    "') and text.endswith(_END + _TAIL)):
        return None
    pieces = text[len(_HEAD) + 5 : -len(_TAIL) - len(_END)].split(_SEPARATOR)
    try:  # each piece is `KEY": {ENTRY`; split and paired in C
        raw = dict(piece.split('": {', 1) for piece in pieces)
    except ValueError:
        return None
    # Splitting on the separator and joining again gives back the same text, as long as no
    # key needs escaping in JSON: then the entries are exactly the file's.
    keys = list(raw)
    if len(keys) != len(pieces) or keys != sorted(keys) or not _PLAIN_KEYS.match("\n".join(keys)):
        return None  # formatted by hand, or keys with escapes: read it the slow way
    return raw


def _parse_entry(key: str, raw: str) -> LockEntry:
    try:
        entry = json.loads(raw)
    except json.JSONDecodeError:
        entry = None
    if not valid_entry(entry):
        raise LockfileError(
            f"{LOCK_NAME}: the entry of `{key}` is damaged\n"
            "  fix: restore it from version control, or delete that entry and rebuild"
        )
    check_paths(key, entry)
    result: LockEntry = entry
    return result


def check_paths(key: str, entry: Any, source: str = LOCK_NAME) -> None:
    """Refuse an entry naming an output outside the project (or in pixmake's own files): a
    hand-edited lock must not make prune, gc or build delete or replace anything there."""
    for record in [*entry["outputs"], *entry.get("derived", [])]:
        path = record.get("path") if isinstance(record, dict) else None
        if not (lexical(path) and str(path).split("/")[0] not in RESERVED):
            shown = path if isinstance(path, str) else json.dumps(path)
            raise LockfileError(
                f"{source}: the entry of `{key}` names `{shown}`, a path outside the project "
                "(or one of pixmake's own)\n  fix: restore the file from version control, "
                "or delete that entry, then build again"
            )


def read_lock(root: Path) -> Lock:
    path = root / LOCK_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock()
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{LOCK_NAME}: cannot read: {exc}") from None
    return parse_lock(text)


def parse_lock(text: str) -> Lock:
    raw = _index(text)
    if raw is not None:
        return Lock(Entries.from_raw(raw))
    if "\n<<<<<<< " in "\n" + text:
        line = ("\n" + text).split("\n<<<<<<< ")[0].count("\n") + 1
        raise LockfileError(
            f"{LOCK_NAME}:{line}: unresolved merge conflict\n"
            "  fix: keep either side of each conflicting entry (or delete the entry), "
            "then run `pixmake build`: outputs already in the store are restored without cost"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockfileError(
            f"{LOCK_NAME}:{exc.lineno}: invalid JSON: {exc.msg}\n"
            "  fix: restore it from version control (`git checkout pixmake.lock`)"
        ) from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise LockfileError(
            f"{LOCK_NAME}: unsupported lockfile version {version!r} (this pixmake reads "
            f"{LOCK_VERSION})\n  fix: upgrade pixmake, or restore the file from version control"
        )
    assets = data.get("assets")
    if not isinstance(assets, dict):
        raise LockfileError(f"{LOCK_NAME}: `assets` must be a mapping")
    for name, entry in assets.items():
        if not valid_entry(entry):
            raise LockfileError(
                f"{LOCK_NAME}: the entry of `{name}` is damaged\n"
                "  fix: restore it from version control, or delete that entry and rebuild"
            )
        check_paths(name, entry)
    return Lock(Entries(assets))


def valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("key"), str)
        and isinstance(entry.get("request"), dict)
        and isinstance(entry.get("outputs"), list)
        and isinstance(entry.get("derived", []), list)
        and isinstance(entry.get("record", {}), dict)
        and all(isinstance(o, dict) and "path" in o and "hash" in o for o in entry["outputs"])
    )


def write_lock(root: Path, lock: Lock, *, fsync: bool = True, scratch: Path | None = None) -> bool:
    """Write the lockfile atomically if its content changed. Returns whether it wrote."""
    text = lock.dumps()
    path = root / LOCK_NAME
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_atomic(path, text.encode("utf-8"), fsync=fsync, scratch=scratch)
    return True
