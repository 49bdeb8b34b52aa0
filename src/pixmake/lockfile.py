"""pixmake.lock: one self-contained entry per asset, sorted, no timestamps, written atomically.

```json
{
  "assets": {
    "hero": {
      "derived": [{"bytes": 9, "hash": "…", "key": "…", "path": "…", "source": 0, "step": {…}}],
      "key": "…",
      "candidates": [[{"bytes": 9, "hash": "…", "height": 1024, "width": 1024}], …],
      "chosen": 0,
      "approved": ["…"],
      "outputs": [{"bytes": 9, "hash": "…", "height": 1024, "path": "site/hero.webp", …}],
      "record": {"cost_usd": 0.0, "placeholder": true, "provider": "placeholder", …},
      "request": {"model": "openai:1@2", "prompt": "…", "references": [{"hash": "…", …}], …}
    }
  },
  "version": 1
}
```
Every entry spans many lines whose unchanged parts separate the changes of neighbouring
entries, so two branches that changed different assets merge without a conflict. A large lock
is written in parts, each a file of this format, that `pixmake.lock` lists (see lockparts).

`candidates` (the images to choose from, each a list of `results` images) and `chosen` (the
index of the outputs among them) are written only when there is more than one; `approved`
(the output hashes someone approved) only once one was: an entry without them is exactly
as it was before they existed.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from pixmake.confine import RESERVED, Confinement, lexical
from pixmake.errors import LockfileError, PixmakeWarning
from pixmake.fsutil import write_atomic
from pixmake.lockparts import LOCK_NAME as LOCK_NAME
from pixmake.lockparts import (
    PARTS_DIR,
    PARTS_VERSION,
    digits_of,
    index_text,
    is_part,
    layout,
    part_name,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.spec.asset import Asset

LOCK_VERSION = 1


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


class ImageRecord(TypedDict):
    """An image as a candidate: an output record without its path."""

    hash: str
    bytes: int
    width: int
    height: int


class LockEntry(TypedDict):
    key: str
    request: dict[str, Any]
    outputs: list[OutputRecord]
    derived: list[DerivedRecord]
    record: dict[str, Any]
    candidates: NotRequired[list[list[ImageRecord]]]
    chosen: NotRequired[int]
    approved: NotRequired[list[str]]


def image_record(output: Mapping[str, Any]) -> ImageRecord:
    return {
        "hash": output["hash"],
        "bytes": output["bytes"],
        "width": output["width"],
        "height": output["height"],
    }


def flagged_outputs(entry: Mapping[str, Any] | None) -> list[str]:
    """The output paths whose image Runware's content check flagged (record `nsfw`)."""
    if not entry:
        return []
    nsfw = entry.get("record", {}).get("nsfw")
    if not isinstance(nsfw, dict):
        return []
    return [o["path"] for o in entry["outputs"] if nsfw.get(o["hash"]) is True]


def candidates_of(entry: Mapping[str, Any]) -> list[list[ImageRecord]]:
    """The entry's candidates; its outputs alone when it records none."""
    found = entry.get("candidates")
    if found:
        return [list(c) for c in found]
    return [[image_record(o) for o in entry["outputs"]]]


def action_outputs(outputs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Output records as the action cache keeps them: what a request made, without the
    project paths it was written to (another asset, or a renamed one, may use it)."""
    return [{k: v for k, v in o.items() if k != "path"} for o in outputs]


def action_value(
    outputs: Iterable[Mapping[str, Any]],
    record: dict[str, Any],
    candidates: list[list[ImageRecord]],
    chosen: int,
) -> dict[str, Any]:
    """What the action cache keeps for a request: its outputs (without paths) and record,
    and its candidates when there is more than one, so a restore brings every one."""
    value: dict[str, Any] = {"outputs": action_outputs(outputs), "record": record}
    if len(candidates) > 1:
        value["candidates"] = candidates
        value["chosen"] = chosen
    return value


def make_entry(
    asset: Asset,
    key: str,
    ref_hashes: list[str | None],
    outputs: list[OutputRecord],
    derived: list[DerivedRecord],
    record: dict[str, Any],
    *,
    candidates: list[list[ImageRecord]] | None = None,
    chosen: int = 0,
    approved: Iterable[str] = (),
) -> LockEntry:
    """The lock entry of an asset: its request as resolved, its outputs, the provider record;
    its candidates when there is more than one (`chosen` is the outputs' index among them),
    and the output hashes approved."""
    references = [
        {"ref": ref.text(), "hash": digest, **({"pin": ref.pin} if ref.pin else {})}
        for ref, digest in zip(asset.references, ref_hashes, strict=True)
    ]
    entry: LockEntry = {
        "key": key,
        "request": {**asset.settings(), "references": references},
        "outputs": outputs,
        "derived": derived,
        "record": record,
    }
    if candidates is not None and len(candidates) > 1:
        entry["candidates"] = candidates
        entry["chosen"] = chosen
    hashes = sorted(set(approved))
    if hashes:
        entry["approved"] = hashes
    return entry


_HEAD = '{\n  "assets": {\n'
_TAIL = '\n  },\n  "version": 1\n}\n'
_EMPTY = '{\n  "assets": {},\n  "version": 1\n}\n'
_PLAIN_KEYS = re.compile(r"[A-Za-z0-9_.@+=/ -]+(?:\n[A-Za-z0-9_.@+=/ -]+)*\Z")
_END = "\n    }"  # an entry's closing line
_TOP_KEY = re.compile(r'\n      "key": "([^"\\]*)"')  # an entry's own key, as pixmake writes it
HASH_FIELD = re.compile(r'"hash"\s*:\s*"([^"\\]*)"')  # every content hash an entry's text names
_PATH_FIELD = re.compile(r'"(?:path|ref)": "([^"\\]*)"')  # a record's path, a reference's
_SEPARATOR = '\n    },\n    "'  # an entry's end and the next one's start: unique, since JSON
# strings cannot hold a raw newline and nothing else closes at this indentation


class Entries(MutableMapping[str, LockEntry]):
    """The lock's entries, parsed only when read, and written back from their original text
    when untouched: a build that changes one asset of 10,000 re-serialises one entry.

    A damaged entry (see `entry_problem`) is reported once, as a warning, and is absent: it
    cannot be read, iterating skips it, and its text is written back as it was read until a
    new entry replaces it. Iterating checks only the entries not yet looked up (orphans, for
    the planner), so that a lookup by `in` on the fast path stays a text search.

    Entries are values: replace an entry, never change one in place.
    """

    def __init__(self, parsed: dict[str, LockEntry] | None = None) -> None:
        self._parsed: dict[str, LockEntry] = dict(parsed or {})
        self._raw: dict[str, str] = {}
        self._damaged: dict[str, str] = {}  # id -> its text in the file, kept as it was
        self._asked: set[str] = set()
        self._by_key: dict[str, str] | None = None  # request key -> id, see with_key
        self._by_hash: dict[str, list[str]] | None = None  # content hash -> ids, see with_hash
        self._digits = 0  # of the parts' names, when read from parts (see lockparts)

    @classmethod
    def from_raw(cls, raw: dict[str, str]) -> Entries:
        entries = cls()
        entries._raw = raw
        return entries

    @classmethod
    def joined(cls, parts: dict[str, Entries]) -> Entries:
        """The entries of a lock's parts, by part name, as one. An id in two parts (a hand
        edit) is taken from the part it belongs in, reported."""
        entries = cls()
        entries._digits = max((digits_of(name) for name in parts), default=0)
        for name, part in parts.items():
            held = entries._raw.keys() | entries._parsed.keys()
            for key in (part._raw.keys() | part._parsed.keys()) & held:
                home = part_name(key, entries._digits)
                kept = name if home == name else "the part read before it"
                warnings.warn(
                    f"{name}: entry {key} is in another part too; the one in {kept} is used "
                    f"(its place is {home}: the next write puts it there alone)",
                    PixmakeWarning,
                    stacklevel=2,
                )
                loser = part if home != name else entries
                loser._raw.pop(key, None)
                loser._parsed.pop(key, None)
            entries._raw.update(part._raw)
            entries._parsed.update(part._parsed)
            entries._damaged.update(part._damaged)
        return entries

    def source(self, key: str) -> str:
        """The file that holds (or will hold) the entry of `key`."""
        return part_name(key, self._digits)

    @classmethod
    def from_values(cls, values: dict[str, Any], source: str = LOCK_NAME) -> Entries:
        """Entries from parsed JSON values; damaged ones are reported now and kept as text."""
        entries = cls()
        for key, value in values.items():
            if _usable(key, value, lambda _key: source):
                entries._parsed[key] = value
            else:
                entries._damaged[key] = _dumps(value)
        return entries

    def __getitem__(self, key: str) -> LockEntry:
        entry = self._parsed.get(key)
        if entry is None:
            raw = self._raw.get(key)
            if raw is None:
                raise KeyError(key)
            entry = _parse_entry(key, raw, self.source)
            if entry is None:
                self._damaged[key] = "{" + self._raw.pop(key) + _END
                raise KeyError(key)
            self._parsed[key] = entry
        return entry

    def __setitem__(self, key: str, value: LockEntry) -> None:
        if self._by_key is not None:  # the indexes grow; what they have that is gone is
            self._by_key[value["key"]] = key  # checked when it is looked up
        if self._by_hash is not None:
            for digest in entry_hashes(value):
                self._by_hash.setdefault(digest, []).append(key)
        self._raw[key] = _dumps(value)[1 : -len(_END)]  # kept as its text in the file: a
        self._parsed.pop(key, None)  # build of 100,000 assets holds 1 KB each, not a tree
        self._damaged.pop(key, None)

    def __delitem__(self, key: str) -> None:
        found = self._parsed.pop(key, None) is not None
        if self._raw.pop(key, None) is None and not found:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._asked.add(key)
        return key in self._raw or key in self._parsed

    def __iter__(self) -> Iterator[str]:
        yield from (key for key in list(self._raw) if self._checked(key))
        yield from (k for k in self._parsed if k not in self._raw)

    def besides(self, ids: Iterable[str]) -> list[str]:
        """The ids of usable entries not among `ids`, sorted; as iterating, with the others
        set apart first (in C, not one by one)."""
        others = (self._raw.keys() | self._parsed.keys()).difference(ids)
        return sorted(key for key in others if key in self._parsed or self._checked(key))

    def _checked(self, key: str) -> bool:
        """Whether the raw entry of `key` is usable: one looked up already, or parsed now
        (and kept: reading it next costs nothing); a damaged one is set apart."""
        if key in self._asked or key in self._parsed:
            return True
        entry = _parse_entry(key, self._raw[key], self.source)
        if entry is not None:
            self._parsed[key] = entry
            return True
        self._damaged[key] = "{" + self._raw.pop(key) + _END
        return False

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> Entries:
        other = Entries(self._parsed)
        other._raw = dict(self._raw)
        other._damaged = dict(self._damaged)
        other._digits = self._digits
        return other

    def with_key(self, request_key: str) -> LockEntry | None:
        """A usable entry made by that request key (an asset renamed since, for one). The
        entries are indexed by key once, from their text (a search, not a parse)."""
        if self._by_key is None:
            index = {entry["key"]: asset_id for asset_id, entry in self._parsed.items()}
            for asset_id, raw in self._raw.items():
                found = _TOP_KEY.search(raw)
                if found is not None and asset_id not in self._parsed:
                    index.setdefault(found.group(1), asset_id)
            self._by_key = index
        owner = self._by_key.get(request_key)
        entry = self.get(owner) if owner is not None else None
        return entry if entry is not None and entry["key"] == request_key else None

    def with_hash(self, digest: str) -> list[tuple[str, LockEntry]]:
        """Each (path, usable entry) that records content `digest` at that path, as an
        output or a derived file. Indexed once from the entries' text (a search, not a
        parse); only the entries that mention it are parsed."""
        if self._by_hash is None:
            index: dict[str, list[str]] = {}
            for asset_id, entry in self._parsed.items():
                for found in entry_hashes(entry):
                    index.setdefault(found, []).append(asset_id)
            for asset_id, raw in self._raw.items():
                if asset_id not in self._parsed:
                    for found in set(HASH_FIELD.findall(raw)):
                        index.setdefault(found, []).append(asset_id)
            self._by_hash = index
        places = []
        for asset_id in dict.fromkeys(self._by_hash.get(digest, ())):
            found_entry = self.get(asset_id)
            if found_entry is not None:
                places += [
                    (r["path"], found_entry) for r in _records(found_entry) if r["hash"] == digest
                ]
        return places

    def named_paths(self) -> Iterator[str]:
        """Every output, derived file and reference path the entries name, entry by entry,
        found in their text (a search, not a parse: a hint for reading ahead, which checks
        each path itself). The entries are taken now; the search runs as it is iterated."""
        texts = list(self._raw.values())
        parsed = [
            [r["path"] for r in _records(e)]
            + [r.get("ref", "") for r in e["request"].get("references", [])]
            for e in self._parsed.values()
        ]

        def search() -> Iterator[str]:
            for paths in parsed:
                yield from paths
            for text in texts:
                yield from _PATH_FIELD.findall(text)

        return search()

    def damaged(self, key: str) -> bool:
        """Whether the file holds an entry for `key` that was reported damaged and ignored."""
        return key in self._damaged

    def written(self) -> list[str]:
        """Every id the file keeps, damaged ones included, sorted."""
        return sorted({*self._raw, *self._parsed, *self._damaged})

    def text(self, key: str) -> str:
        """The entry as it stands in the file, indented for its place there."""
        raw = self._raw.get(key)
        if raw is not None:
            return "{" + raw + _END
        damaged = self._damaged.get(key)
        if damaged is not None:
            return damaged
        return _dumps(self._parsed[key])


def _records(entry: LockEntry) -> list[OutputRecord]:
    return [*entry["outputs"], *entry.get("derived", [])]


def entry_hashes(entry: LockEntry) -> set[str]:
    """The content hashes an entry records (its outputs and derived files)."""
    return {record["hash"] for record in _records(entry)}


def _dumps(value: Any) -> str:
    dumped = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return dumped.replace("\n", "\n    ")


@dataclass(slots=True)
class Lock:
    """The parsed lockfile; `entries` maps asset id to its entry."""

    entries: Entries = field(default_factory=Entries)

    def __post_init__(self) -> None:
        if not isinstance(self.entries, Entries):
            self.entries = Entries(self.entries)

    def dumps(self) -> str:
        """Every entry in one file's text."""
        return self._text(self.entries.written())

    def files(self) -> Iterator[tuple[str, str]]:
        """Each file as it is written, (name relative to the project, text), made one at a
        time: the lock alone, or its parts and then `pixmake.lock`, which lists them."""
        files = layout(self.entries.written())
        if not files or list(files) == [LOCK_NAME]:
            yield LOCK_NAME, self._text(files.get(LOCK_NAME, []))
            return
        for name, ids in files.items():
            yield name, self._text(ids)
        yield LOCK_NAME, index_text(files)

    def _text(self, ids: list[str]) -> str:
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


def _parse_entry(key: str, raw: str, source: Callable[[str], str]) -> LockEntry | None:
    """The entry from its text in the file; None (reported) if it is damaged. `source`
    names the file of an entry, asked only to report one."""
    text = "{" + raw + _END
    try:
        entry, end = _SCAN(text, 0)  # json.loads less its wrappers: 10,000 entries a run
    except (StopIteration, ValueError):
        end = -1
    if end != len(text):  # not JSON, or more after it: json.loads says what is wrong
        try:
            entry = json.loads(text)
        except json.JSONDecodeError as exc:
            _warn_damaged(key, f"not valid JSON ({exc.msg})", source(key))
            return None
    return entry if _usable(key, entry, source) else None


# What json.loads calls, on a text that starts with `{`.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _usable(key: str, entry: Any, source: Callable[[str], str]) -> bool:
    """Whether the entry can be used; a damaged one is reported. An entry naming a path
    outside the project is refused outright (see check_paths)."""
    problem = entry_problem(entry)
    if problem is not None:
        _warn_damaged(key, problem, source(key))
        return False
    if _escaping_path(entry) is not None:
        check_paths(key, entry, source(key))
    return True


def _warn_damaged(key: str, problem: str, source: str) -> None:
    warnings.warn(f"{source}: entry {key}: {problem}; ignored", PixmakeWarning, stacklevel=2)


def check_paths(key: str, entry: Any, source: str = LOCK_NAME) -> None:
    """Refuse an entry naming an output outside the project (or in pixmake's own files): a
    hand-edited lock must not make prune, gc or build delete or replace anything there."""
    path = _escaping_path(entry)
    if path is not None:
        raise LockfileError(
            f"{source}: the entry of `{key}` names `{path}`, a path outside the project "
            "(or one of pixmake's own)\n  fix: restore the file from version control, "
            "or delete that entry, then build again"
        )


def _escaping_path(entry: Any) -> str | None:
    for record in [*entry["outputs"], *entry.get("derived", [])]:
        path = record.get("path") if isinstance(record, dict) else None
        if not (lexical(path) and str(path).split("/")[0] not in RESERVED):
            return path if isinstance(path, str) else json.dumps(path)
    return None


def committed_entries(text: str) -> Iterator[tuple[str, str | LockEntry]]:
    """The entries of a lock as an earlier commit had it, read quietly, each as (its request
    key, its text): `usable_entry` parses one when it is needed. A lock not as pixmake writes
    it is parsed whole (its usable entries, parsed); one that cannot be read (a conflict,
    another format) has none."""
    pieces = _index(text)
    if pieces is not None:
        for piece in pieces.values():
            found = _TOP_KEY.search(piece)
            if found is not None:
                yield found.group(1), piece
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return
    assets = data.get("assets") if isinstance(data, dict) else None
    if isinstance(assets, dict) and data.get("version") == LOCK_VERSION:
        for entry in assets.values():
            if _quietly_usable(entry):
                yield entry["key"], entry


def committed_by_id(text: str) -> dict[str, str | LockEntry]:
    """Each asset's entry in a lock as an earlier commit had it, by asset id, read quietly as
    `committed_entries` reads them (`usable_entry` parses one)."""
    pieces = _index(text)
    if pieces is not None:
        return dict(pieces)  # keys needing no escape in JSON: as they are
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    assets = data.get("assets") if isinstance(data, dict) else None
    if not isinstance(assets, dict) or data.get("version") != LOCK_VERSION:
        return {}
    return {str(k): e for k, e in assets.items() if _quietly_usable(e)}


def committed_entry(text: str, asset_id: str) -> LockEntry | None:
    """The usable entry of `asset_id` in a lock as an earlier commit had it, read quietly."""
    pieces = _index(text)
    if pieces is not None:
        piece = pieces.get(asset_id)
        return usable_entry(piece) if piece is not None else None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    assets = data.get("assets") if isinstance(data, dict) else None
    if not isinstance(assets, dict) or data.get("version") != LOCK_VERSION:
        return None
    entry = assets.get(asset_id)
    return entry if entry is not None and _quietly_usable(entry) else None


def usable_entry(item: str | LockEntry) -> LockEntry | None:
    """An entry from `committed_entries`, parsed; None if it is damaged or names a path
    outside the project (nothing is reported: it is not the project's lock)."""
    if not isinstance(item, str):
        return item
    try:
        entry = json.loads("{" + item + _END)
    except json.JSONDecodeError:
        return None
    return entry if _quietly_usable(entry) else None


def _quietly_usable(entry: Any) -> bool:
    return entry_problem(entry) is None and _escaping_path(entry) is None


def read_lock(root: Path, before: Callable[[str], object] | None = None) -> Lock:
    """The lock of the project at `root`: `pixmake.lock`, and the parts it lists if it is
    split (see lockparts). No file: an empty lock. `before(name)` is called before each file
    is read (the session hashes it then: a file changed after that is seen as changed)."""
    if before is not None:
        before(LOCK_NAME)
    text = _read_text(root, LOCK_NAME)
    if text is None:
        return Lock()
    parts = listed_parts(text)
    if parts is None:
        return parse_lock(text)
    confinement = Confinement(root)
    locks = {name: _read_part(root, name, confinement, before) for name in parts}
    return Lock(Entries.joined(locks))


def read_some(root: Path, ids: Iterable[str]) -> tuple[Entries, set[str]]:
    """The entries of these asset ids, read from only the files that hold them (the lock
    alone, or some of its parts), and the names of those files: an entry they have for an
    id that belongs in them is the one read_lock's has. One they lack may be elsewhere (a
    hand edit): an entry found in a part it does not belong in is left out, since read_lock
    may find another in a part not read here."""
    text = _read_text(root, LOCK_NAME)
    if text is None:
        return Entries(), {LOCK_NAME}
    parts = listed_parts(text)
    if parts is None:
        return parse_lock(text).entries, {LOCK_NAME}
    digits = digits_of(parts[0]) if parts else 0
    wanted = {part_name(i, digits) for i in ids}
    confinement = Confinement(root)
    locks = {name: _read_part(root, name, confinement) for name in parts if name in wanted}
    for name, part in locks.items():
        for key in [*part._raw, *part._parsed, *part._damaged]:
            if part_name(key, digits) != name:
                part._raw.pop(key, None)
                part._parsed.pop(key, None)
                part._damaged.pop(key, None)
    entries = Entries.joined(locks)
    entries._digits = digits
    return entries, wanted


def _read_part(
    root: Path, name: str, confinement: Confinement, before: Callable[[str], object] | None = None
) -> Entries:
    if confinement.escape(name) is not None:
        raise LockfileError(
            f"{name}: a part of {LOCK_NAME} that points outside the project\n"
            f"  fix: restore {PARTS_DIR} from version control (`git checkout {PARTS_DIR}`)"
        )
    if before is not None:
        before(name)
    part = _read_text(root, name)
    if part is None:
        raise LockfileError(
            f"{LOCK_NAME} lists the part {name}, which is missing: its assets would all "
            f"look new\n  fix: restore it from version control (`git checkout "
            f"{LOCK_NAME} {PARTS_DIR}`), or delete {LOCK_NAME} to start the lock anew"
        )
    return parse_lock(part, name).entries


def _read_text(root: Path, name: str) -> str | None:
    try:
        return (root / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{name}: cannot read: {exc}") from None


def lock_bytes(root: Path) -> Iterator[bytes]:
    """The content of each file of the lock, as it is on disk (unreadable ones skipped)."""
    try:
        data = (root / LOCK_NAME).read_bytes()
    except OSError:
        return
    if len(data) > _INDEX_LIMIT or data.startswith(_HEAD.encode()):
        yield data
        return
    try:
        parts = listed_parts(data.decode("utf-8"))
    except (UnicodeDecodeError, LockfileError):
        parts = None
    if parts is None:
        yield data
        return
    confinement = Confinement(root)
    for name in parts:
        part = _read_bytes(root / name) if confinement.escape(name) is None else None
        if part is not None:
            yield part


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


_INDEX_LIMIT = 1024 * 1024  # a list of parts is far smaller


def listed_parts(text: str) -> list[str] | None:
    """The parts that a `pixmake.lock` lists, when it is split (see lockparts); None when it
    holds the entries itself (or is unreadable: parse_lock says why)."""
    if text.startswith(_HEAD) or text == _EMPTY or "<<<<<<< " in text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "parts" not in data:
        return None
    parts = data["parts"]
    fix = f"  fix: restore it from version control (`git checkout {LOCK_NAME} {PARTS_DIR}`)"
    if data.get("version") != PARTS_VERSION:
        raise LockfileError(
            f"{LOCK_NAME}: unsupported lockfile version {data.get('version')!r} with parts "
            f"(this pixmake reads {PARTS_VERSION})\n{fix}"
        )
    if not (
        isinstance(parts, list)
        and all(isinstance(p, str) and is_part(p) for p in parts)
        and len({len(p) for p in parts}) <= 1
        and parts == sorted(set(parts))
    ):
        raise LockfileError(
            f"{LOCK_NAME}: `parts` must list, sorted, files named "
            f"{PARTS_DIR}/<hex digits>.lock, all with as many digits\n{fix}"
        )
    return list(parts)


def parse_lock(text: str, source: str = LOCK_NAME) -> Lock:
    """The lock in one file's text (`pixmake.lock`, or one of its parts)."""
    if text.startswith("<<<<<<< ") or "\n<<<<<<< " in text:  # before the index: a conflict
        from pixmake.lockconflict import conflict_error

        raise conflict_error(text, source)  # inside one entry splits like a clean file would
    raw = _index(text)
    if raw is not None:
        return Lock(Entries.from_raw(raw))
    fix = f"  fix: restore it from version control (`git checkout {source}`)"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockfileError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}\n{fix}") from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise LockfileError(
            f"{source}: unsupported lockfile version {version!r} (this pixmake reads "
            f"{LOCK_VERSION})\n  fix: upgrade pixmake, or restore the file from version control"
        )
    assets = data.get("assets")
    if not isinstance(assets, dict):
        raise LockfileError(f"{source}: `assets` must be a mapping\n{fix}")
    return Lock(Entries.from_values(assets, source))


def valid_entry(entry: Any) -> bool:
    return entry_problem(entry) is None


_INT = (int,)
_OUTPUT_FIELDS: dict[str, tuple[type, ...]] = {
    "path": (str,), "hash": (str,), "bytes": _INT, "width": _INT, "height": _INT,
}  # fmt: skip
_DERIVED_FIELDS = {**_OUTPUT_FIELDS, "key": (str,), "source": _INT, "step": (dict,)}
_REFERENCE_FIELDS: dict[str, tuple[type, ...]] = {"ref": (str,), "hash": (str, type(None))}
_KINDS = {str: "a string", int: "an integer", dict: "an object", list: "a list",
          type(None): "null", bool: "a boolean", float: "a number"}  # fmt: skip


def entry_problem(entry: Any) -> str | None:
    """What makes a lock entry unusable, naming the field and the type it must have (as
    pixmake writes it: see make_entry); None if nothing does. Only the shape is checked:
    whether its paths are allowed is check_paths's question. An entry in the shape pixmake
    writes most (no candidates or approvals) is recognised in one pass; any other is checked
    field by field, as `detailed_entry_problem` does."""
    if _plain_entry(entry):
        return None
    return detailed_entry_problem(entry)


def _plain_entry(entry: Any) -> bool:
    """Whether the entry has exactly the types of make_entry's (True says it is usable;
    False only that the detailed check must tell)."""
    if type(entry) is not dict or "candidates" in entry or "chosen" in entry:
        return False
    request, outputs = entry.get("request"), entry.get("outputs")
    derived, record = entry.get("derived", _NONE), entry.get("record", _NO_RECORD)
    if (
        type(entry.get("key")) is not str
        or type(request) is not dict
        or type(outputs) is not list
        or not outputs
        or type(derived) is not list
        or type(record) is not dict
        or "approved" in entry
    ):
        return False
    references = request.get("references", _NONE)
    if type(references) is not list:
        return False
    for ref in references:
        if type(ref) is not dict or type(ref.get("ref")) is not str or "hash" not in ref:
            return False
        if ref["hash"] is not None and type(ref["hash"]) is not str:
            return False
    for out in outputs:
        if not _plain_image(out):
            return False
    for made in derived:
        if (
            not _plain_image(made)
            or type(made.get("key")) is not str
            or type(made.get("source")) is not int
            or type(made.get("step")) is not dict
        ):
            return False
    return True


def _plain_image(record: Any) -> bool:
    return (
        type(record) is dict
        and type(record.get("path")) is str
        and type(record.get("hash")) is str
        and type(record.get("bytes")) is int
        and type(record.get("width")) is int
        and type(record.get("height")) is int
    )


_NONE: list[Any] = []  # never changed: an absent list
_NO_RECORD: dict[str, Any] = {}  # never changed: an absent record


def detailed_entry_problem(entry: Any) -> str | None:
    """entry_problem, field by field: the first field whose type is wrong, named."""
    if not isinstance(entry, dict):
        return f"must be an object, not {_kind(entry)}"
    top: dict[str, tuple[type, ...]] = {"key": (str,), "request": (dict,), "outputs": (list,)}
    problem = _fields_problem(entry, top, "")
    problem = problem or _fields_problem(entry, {"derived": (list,), "record": (dict,)}, "", False)
    if problem:
        return problem
    if not entry["outputs"]:
        return "`outputs` must list at least one output, not none"  # every asset has one
    references = entry["request"].get("references", [])
    if not isinstance(references, list):
        return f"`request.references` must be a list, not {_kind(references)}"
    checks = [
        *((f"request.references[{i}]", r, _REFERENCE_FIELDS) for i, r in enumerate(references)),
        *((f"outputs[{i}]", o, _OUTPUT_FIELDS) for i, o in enumerate(entry["outputs"])),
        *((f"derived[{i}]", d, _DERIVED_FIELDS) for i, d in enumerate(entry.get("derived", []))),
    ]
    for where, record, fields in checks:
        if not isinstance(record, dict):
            return f"`{where}` must be an object, not {_kind(record)}"
        problem = _fields_problem(record, fields, where + ".")
        if problem:
            return problem
    return _choices_problem(entry)


_IMAGE_FIELDS: dict[str, tuple[type, ...]] = {
    k: v for k, v in _OUTPUT_FIELDS.items() if k != "path"
}


def _choices_problem(entry: dict[str, Any]) -> str | None:
    """What is wrong with the entry's `candidates`, `chosen` and `approved`, if anything."""
    optional: dict[str, tuple[type, ...]] = {
        "candidates": (list,),
        "chosen": _INT,
        "approved": (list,),
    }
    problem = _fields_problem(entry, optional, "", False)
    if problem:
        return problem
    if not all(isinstance(h, str) for h in entry.get("approved", [])):
        return "`approved` must list hashes (strings)"
    if "candidates" not in entry:
        return "`chosen` without `candidates`" if "chosen" in entry else None
    candidates = entry["candidates"]
    for i, candidate in enumerate(candidates):
        if not isinstance(candidate, list) or len(candidate) != len(entry["outputs"]):
            return f"`candidates[{i}]` must list {len(entry['outputs'])} images"
        for j, image in enumerate(candidate):
            if not isinstance(image, dict):
                return f"`candidates[{i}][{j}]` must be an object, not {_kind(image)}"
            problem = _fields_problem(image, _IMAGE_FIELDS, f"candidates[{i}][{j}].")
            if problem:
                return problem
    chosen = entry.get("chosen")
    if not isinstance(chosen, int) or not 0 <= chosen < len(candidates):
        return f"`chosen` must be the index of one of the {len(candidates)} candidates"
    if [c["hash"] for c in candidates[chosen]] != [o["hash"] for o in entry["outputs"]]:
        return f"`candidates[{chosen}]` (chosen) is not the outputs"
    return None


def _fields_problem(
    record: dict[str, Any], fields: dict[str, tuple[type, ...]], prefix: str, required: bool = True
) -> str | None:
    for name, kinds in fields.items():
        if name not in record:
            if required:
                return f"`{prefix}{name}` is missing"
            continue
        value = record[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            wanted = " or ".join(_KINDS[k] for k in kinds)
            return f"`{prefix}{name}` must be {wanted}, not {_kind(value)}"
    return None


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def write_lock(root: Path, lock: Lock, *, fsync: bool = True, scratch: Path | None = None) -> bool:
    """Write the lock's files atomically where their content changed: the parts first, then
    `pixmake.lock`, which lists them, then parts no longer listed are removed (so that an
    interrupted write leaves a list whose parts all exist). Returns whether it wrote."""
    refuse_losing_unlisted(root, lock)
    written = set()
    wrote = False
    for name, text in lock.files():
        written.add(name)
        if name != LOCK_NAME:
            _parts_folder(root)
        if _read_quietly(root / name) == text:
            continue
        write_atomic(root / name, text.encode("utf-8"), fsync=fsync, scratch=scratch)
        wrote = True
    folder = root / PARTS_DIR
    if folder.is_dir() and not folder.is_symlink():
        for child in folder.iterdir():
            name = f"{PARTS_DIR}/{child.name}"
            if is_part(name) and name not in written:
                child.unlink()
                wrote = True
        if not any(folder.iterdir()):
            folder.rmdir()
    return wrote


def refuse_losing_unlisted(root: Path, lock: Lock) -> None:
    """A part in the folder that `pixmake.lock` does not list (its list was taken from one
    side of a merge, or edited) is not read; refuse to write over it, or remove it, while it
    holds an entry this lock does not have as it is there. A build asks before it starts
    (what it would do for those assets would be done without their entries)."""
    folder = root / PARTS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return
    try:
        listed = set(listed_parts(_read_quietly(root / LOCK_NAME) or "") or ())
    except LockfileError:
        listed = set()
    held: set[str] | None = None
    for child in sorted(folder.iterdir()):
        name = f"{PARTS_DIR}/{child.name}"
        if not is_part(name) or name in listed:
            continue
        held = set(lock.entries.written()) if held is None else held
        text = _read_quietly(child) or ""
        pieces = _index(text)
        if pieces is None:
            lost = [] if not text.strip() else ["(its entries)"]
        else:
            lost = [
                i for i, raw in pieces.items()
                if i not in held or lock.entries.text(i) != "{" + raw + _END
            ]  # fmt: skip
        if lost:
            shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
            raise LockfileError(
                f"{name} is not listed in {LOCK_NAME}, and holds what this lock does not "
                f'({shown}): writing the lock would lose it\n  fix: add "{name}" to the '
                f"`parts` list in {LOCK_NAME} (after a merge: list every file in {PARTS_DIR}/),"
                f" then run the command again; or delete {name} if what it holds is stale"
            )


def _parts_folder(root: Path) -> None:
    folder = root / PARTS_DIR
    if folder.is_symlink() or Confinement(root).escape(PARTS_DIR) is not None:
        raise LockfileError(
            f"{PARTS_DIR} is a symlink: pixmake writes the parts of its lock only into a "
            f"folder of the project itself\n  fix: replace the symlink `{PARTS_DIR}` by the "
            "folder it points to (move the folder there), then build again"
        )
    folder.mkdir(exist_ok=True)


def _read_quietly(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
