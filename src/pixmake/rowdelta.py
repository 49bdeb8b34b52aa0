"""A table edit's changed rows, planned beside the remembered fresh answer.

```
status record (every asset fresh) + for each CSV table: its lines' digests, and for each
                                     series over it, each row's asset by its id, outputs
                                     and references (its "shape")
next run: every input verifies but some tables ──▶ the lines whose digest differs
      ──▶ those rows resolved and planned alone (only their lock parts read)
      ──▶ the answer: the record's ids, fresh, with those rows' plans in their place
```
Exact, or not at all: any other input changed, a table whose row count or header changed,
a table that a render also reads as a template (`{% include %}`) or an asset refers to as a
file (its every line is an input of those assets), a changed row whose id, outputs or
references changed (they are checked against every other asset only by the whole spec), a
render that reads `data`, an asset another one refers to or that refers to one, a journal
with events, or a question only the whole lock answers (another entry with the new request
key, a price learned from the lock when the record learned none) — and the whole plan is
made, as it would have been. The tests' oracle (PIXMAKE_NO_TRACE=1) compares both.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

import xxhash

from pixmake.estimates import Estimator
from pixmake.lockfile import Entries, read_some

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from pixmake.filestat import FileHasher
    from pixmake.lockfile import Lock
    from pixmake.planner import Plan
    from pixmake.project import Project
    from pixmake.session import Session
    from pixmake.spec.asset import Asset
    from pixmake.spec.tables import Row

MAX_CHANGED = 1000  # rows; beyond it the whole plan costs about as much, and says the same


class Unanswered(Exception):
    """A question some rows cannot answer alone: the whole plan is made instead."""


# -- the record, made with the fresh answer --------------------------------------------------


def record(project: Project, plan: Plan, files: FileHasher, lock: Lock) -> dict[str, Any]:
    """What a later run needs to plan only a table edit's changed rows: each CSV table's
    line digests, each series' row shapes, every request key's digest, the assets that
    others refer to, and the prices learned from the lock (None when no asset needed them:
    they were not learned). Empty when some render read `data` (then every row depends on
    every table). A table read as a template too, or referred to as a file, is left out:
    an edit of any of its rows changes the assets that read it so. Costs one read of each
    table, and a digest of each row."""
    if any("data" in names for names in project.lookups.values()):
        return {}
    from pixmake.spec.resolve import normalise

    by_decl: dict[str, list[Asset]] = {}
    referred: set[str] = set()
    as_files = set(project.templates)  # files read whole, not by row
    for asset in project.assets.values():
        by_decl.setdefault(asset.decl, []).append(asset)
        for ref in asset.references:
            if ref.kind == "asset":
                referred.add(ref.value)
            elif ref.kind == "file":
                as_files.add(ref.value)
    decls: dict[str, list[str]] = {}  # table path -> the series over it (by any name)
    for name, rel in project.spec.data.items():
        norm = normalise(rel)
        if norm is not None:
            decls.setdefault(norm, []).extend(
                d for d, decl in project.spec.assets.items() if decl.for_each == name
            )
    tables = {}
    for rel, series in decls.items():
        lines = _lines(project.root, rel, files) if series and rel not in as_files else None
        shapes = [by_decl.get(decl, []) for decl in series]
        if lines is not None and all(len(s) == len(lines) - 1 for s in shapes):  # a row
            # made no asset, or a line is blank: rows and lines are not one to one
            made = [
                (d, array("Q", map(shape, s)).tobytes())
                for d, s in zip(series, shapes, strict=True)
            ]
            tables[rel] = (_digests(lines).tobytes(), made)
    keys = sorted({_key(p.key) for p in plan.assets.values() if p.key is not None})
    priced = any(asset.provider != "placeholder" for asset in project.assets.values())
    return {
        "tables": tables,
        "keys": array("Q", keys).tobytes(),
        "referred": sorted(referred),
        "prices": Estimator(lock.entries).learned() if priced else None,
    }


def _lines(root: Path, rel: str, files: FileHasher) -> list[str] | None:
    """A plain CSV's lines (tables.plain_lines), read now: None if it is not one, or if it is
    not what `files` hashed (it changed since: nothing to vouch for)."""
    from pixmake.errors import PixmakeError
    from pixmake.spec.tables import plain_lines, read_text

    if not rel.endswith(".csv") or files.confine.regular(rel, "data table") is not None:
        return None
    try:
        found = files.hash(rel)
        data = (root / rel).read_bytes()
        if found is None or xxhash.xxh3_128_hexdigest(data) != found[0]:
            return None
        return plain_lines(read_text(root, rel, data))
    except (OSError, PixmakeError):
        return None


def shape(asset: Asset) -> int:
    """What the whole spec checks of an asset against the others: its id, every path it
    writes, and its references."""
    refs = "\0".join(f"{r.kind}:{r.value}:{r.pin}" for r in asset.references)
    text = "\n".join((asset.id, "\0".join(asset.all_outputs()), refs))
    return int(xxhash.xxh3_64_intdigest(text.encode()))


def _digests(lines: list[str]) -> array[int]:
    digest = xxhash.xxh3_64_intdigest
    return array("Q", [digest(line.encode()) for line in lines])


def _key(key: str) -> int:
    return int(xxhash.xxh3_64_intdigest(key.encode()))


# -- the plan of the changed rows ------------------------------------------------------------


def plan_changed(session: Session, remembered: dict[str, Any]) -> Plan | None:
    """The plan, if only tables the record has changed, and only in rows it can plan alone;
    else None (make the whole plan)."""
    from pixmake.errors import PixmakeError

    series = remembered.get("rows")
    if not isinstance(series, dict) or not series.get("tables"):
        return None
    tables: dict[str, Any] = series["tables"]
    try:
        changed = _changed_files(remembered.get("inputs", ()), session.files, tables.keys())
    except PixmakeError:  # a path that leads outside now: the whole plan says so
        return None
    if not changed or session.store.read_journal():
        return None
    only: dict[str, list[tuple[int, Row]]] = {}
    shapes: dict[str, array[int]] = {}  # each series' row shapes, by row index
    for rel in changed:
        rows = _changed_rows(session, rel, tables[rel][0])
        if rows is None:
            return None
        for decl, shape_bytes in tables[rel][1]:
            shapes[decl] = array("Q")
            shapes[decl].frombytes(shape_bytes)
            only[decl] = rows
    try:
        return _plan(session, only, shapes, series, remembered.get("ids", []))
    except Unanswered:
        return None


def _changed_files(
    inputs: Iterable[tuple[str, str | None]], files: FileHasher, tables: Any
) -> list[str]:
    """The tables among the inputs that changed; empty if anything else did."""
    changed = []
    for rel, expected in inputs:
        found = files.hash(rel)
        if (found[0] if found is not None else None) != expected:
            if rel not in tables:
                return []
            changed.append(rel)
    return changed


def _changed_rows(session: Session, rel: str, digest_bytes: bytes) -> list[tuple[int, Row]] | None:
    """The rows (index, row) of the table whose lines changed, parsed as a whole read would
    parse them; None if the header, the number of lines or the format changed."""
    from pixmake.errors import SpecError
    from pixmake.spec.tables import rows_at

    lines = _lines(session.root, rel, session.files)
    old = array("Q")
    old.frombytes(digest_bytes)
    if lines is None or len(lines) != len(old):
        return None
    new = _digests(lines)
    if new[0] != old[0]:
        return None  # the header: every row's names
    numbers = [n for n in range(1, len(new)) if new[n] != old[n]]
    if len(numbers) > MAX_CHANGED:
        return None
    try:
        return rows_at(lines, numbers, rel)
    except SpecError:
        return None  # a blank or malformed row: the whole spec says what is wrong


def _plan(
    session: Session,
    only: dict[str, list[tuple[int, Row]]],
    shapes: dict[str, array[int]],
    series: dict[str, Any],
    fresh: list[str],
) -> Plan | None:
    from pixmake import planner
    from pixmake.errors import SpecError
    from pixmake.lockfile import Lock
    from pixmake.project import load_rows

    try:
        project = load_rows(
            session.root,
            only,
            profile=session.profile,
            provider=session.provider,
            files=session.files,
            trace=session.trace,
        )
    except SpecError:
        return None  # the whole spec says what is wrong, with every other problem
    if any("data" in names for names in project.lookups.values()):
        return None
    referred = set(series.get("referred", ()))
    prices = series.get("prices")
    made: dict[str, list[Asset]] = {}
    for asset in project.assets.values():
        made.setdefault(asset.decl, []).append(asset)
        if asset.id in referred or any(r.kind == "asset" for r in asset.references):
            return None
        if prices is None and asset.provider != "placeholder":
            return None  # its estimate: what the whole lock teaches, not learned
    for decl, rows in only.items():
        assets = made.get(decl, [])
        if len(assets) != len(rows):
            return None
        for asset, (index, _) in zip(assets, rows, strict=True):
            if shapes[decl][index] != shape(asset):
                return None  # its id, outputs or references: the whole spec checks them
    ids = list(project.assets)
    lock = Lock(SomeEntries(session.root, ids, series.get("keys", b"")))
    result = planner.plan(
        project, lock, session.store, session.files,
        memory=None, remote=session.remote_for(project.spec), orphans=False,
        prices=prices or {},
    )  # fmt: skip
    whole = planner.Plan.all_fresh(fresh)
    for asset_id in ids:
        if asset_id not in whole.assets:
            return None
        whole.assets[asset_id] = result.assets[asset_id]
    whole.remembered = len(whole.order) - len(ids)
    return whole


# -- the lock, in parts ----------------------------------------------------------------------


class SomeEntries(Entries):
    """The lock's entries of some assets: the files that hold them are read, no other. A
    question about any other entry, or about them all, raises Unanswered; a request key is
    looked for among the digests of every entry's key (one found: Unanswered)."""

    def __init__(self, root: Path, ids: list[str], keys: bytes) -> None:
        super().__init__()
        read, self._files = read_some(root, ids)
        self._raw, self._parsed, self._damaged = read._raw, read._parsed, read._damaged
        self._digits = read._digits
        self._keys = array("Q")
        self._keys.frombytes(keys)

    def _mine(self, key: object) -> None:
        if not isinstance(key, str) or self.source(key) not in self._files:
            raise Unanswered(key)

    def __getitem__(self, key: str) -> Any:
        self._mine(key)
        try:
            return super().__getitem__(key)
        except KeyError:  # every asset had its entry: one elsewhere is a hand edit's
            raise Unanswered(key) from None

    def __contains__(self, key: object) -> bool:
        self._mine(key)
        if not super().__contains__(key):
            raise Unanswered(key)
        return True

    def damaged(self, key: str) -> bool:
        self._mine(key)
        return super().damaged(key)

    def text(self, key: str) -> str:
        self._mine(key)
        return super().text(key)

    def with_key(self, request_key: str) -> Any:
        wanted = _key(request_key)
        at = bisect_left(self._keys, wanted)
        if at < len(self._keys) and self._keys[at] == wanted:
            raise Unanswered(request_key)
        return None

    def with_hash(self, digest: str) -> Any:
        raise Unanswered(digest)

    def __iter__(self) -> Iterator[str]:
        raise Unanswered("every entry")

    def besides(self, ids: Iterable[str]) -> list[str]:
        raise Unanswered("every entry")

    def written(self) -> list[str]:
        raise Unanswered("every entry")

    def __len__(self) -> int:
        raise Unanswered("every entry")

    def copy(self) -> Entries:
        raise Unanswered("every entry")
