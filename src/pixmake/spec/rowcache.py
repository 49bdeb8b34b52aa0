"""Rendered assets from the last run, so that a series whose rows did not change is not
rendered again: editing one row of 10,000 renders one asset.

```
.pixmake/resolve.marshal = {version, templates: {path: stat},
                            decls: {name: (decl_fp, {row_fp: the asset as a plain tuple})}}
.pixmake/spec.marshal    = {version, written_ns, spec: (stat of pixmake.yaml, pickled values)}
decl_fp = hash(the declaration, its merged settings, vars, options, template stats
               [+ the data tables' stats if a template mentions `data`])
row_fp  = hash(the row's values [+ its position if a template mentions `index`])
```
A miss anywhere renders that row (or that declaration) again, as if there were no cache.
"""

from __future__ import annotations

import marshal
import os
import pickle
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import xxhash

from pixmake import __version__
from pixmake.snapshot import RACY_NS

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.snapshot import Stat
    from pixmake.spec.asset import Asset

NAME = "resolve.marshal"
SPEC_NAME = "spec.marshal"
VERSION = f"{__version__}/2"  # the pixmake release and this file's format (2: plain values)

Row = tuple[Any, ...]
RowMap = dict[str, Row]


@dataclass(slots=True)
class RowCache:
    """What the last run rendered (`old`) and what this run rendered or reused (`new`)."""

    templates: dict[str, Stat] = field(default_factory=dict)
    old: dict[str, tuple[str, RowMap]] = field(default_factory=dict)
    new: dict[str, tuple[str, RowMap]] = field(default_factory=dict)
    rendered: int = 0
    spec: tuple[Any, ...] | None = None  # (stat of pixmake.yaml, Spec, LineMap, problems)
    spec_changed: bool = False
    written_ns: int = 0

    def cached_spec(self, spec_stat: Stat) -> tuple[Any, ...] | None:
        """The validated spec of last time, if pixmake.yaml is unchanged (and not racily)."""
        if self.spec is None or spec_stat is None or self.spec[0] != spec_stat:
            return None
        if spec_stat[1] >= self.written_ns - RACY_NS:
            return None
        return self.spec[1:]

    def rows(self, decl: str, decl_fp: str) -> RowMap:
        found = self.old.get(decl)
        return found[1] if found is not None and found[0] == decl_fp else {}

    @property
    def changed(self) -> bool:
        return (
            self.rendered > 0
            or self.spec_changed
            or set(self.old) != set(self.new)
            or any(
                self.old[name][0] != fp for name, (fp, _) in self.new.items() if name in self.old
            )
        )


class Series(NamedTuple):
    """A declaration over a data table: what an incremental run needs to match its rows."""

    table: str  # the table's path in the project
    var: str  # the loop variable (`as:`)
    uses_index: bool  # the row's position is part of its fingerprint
    uses_data: bool  # a template mentions `data`: any table change may change every asset


def fingerprint(*parts: Any) -> str:
    return str(xxhash.xxh3_64_hexdigest(repr(parts).encode()))


def row_fp(extra: dict[str, Any], position: int | None) -> str:
    """A row's fingerprint: its loop variables (not `index`) and, if it matters, its position."""
    return fingerprint([(k, v) for k, v in extra.items() if k != "index"], position)


def mentions(texts: list[str], word: str) -> bool:
    return any(word in text for text in texts)


def to_row(asset: Asset) -> Row:
    """An asset as plain data for marshal (origin and line are added back when read)."""
    return (
        asset.id,
        asset.provider,
        asset.model,
        asset.prompt,
        asset.width,
        asset.height,
        asset.quality,
        asset.background,
        asset.format,
        asset.output_quality,
        asset.results,
        tuple((r.kind, r.value, r.pin) for r in asset.references),
        asset.outputs,
        tuple((d.path, d.source, d.format, d.crop, d.resize, d.quality) for d in asset.derived),
        asset.decl,
    )


def from_row(row: Row, origin: str | None, line: int | None) -> Asset:
    from pixmake.spec.asset import Asset, Derived, Reference

    references = tuple(Reference(*r) for r in row[11])
    derived = tuple(Derived(*d) for d in row[13])
    return Asset(
        id=row[0],
        provider=row[1],
        model=row[2],
        prompt=row[3],
        width=row[4],
        height=row[5],
        quality=row[6],
        background=row[7],
        format=row[8],
        output_quality=row[9],
        results=row[10],
        references=references,
        outputs=row[12],
        derived=derived,
        decl=row[14],
        origin=origin,
        line=line,
    )


def load(state_dir: Path, *, rows: bool = True) -> RowCache:
    """The cache; with `rows=False` only the validated spec (for an incremental run)."""
    cache = RowCache()
    data = _read(os.path.join(state_dir, SPEC_NAME))
    if data is not None and data.get("spec") is not None:
        spec_stat, pickled = data["spec"]
        try:
            cache.spec = (spec_stat, *pickle.loads(pickled))
            cache.written_ns = int(data["written_ns"])
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
            cache.spec = None
    data = _read(os.path.join(state_dir, NAME)) if rows else None
    if data is not None:
        cache.templates, cache.old = data["templates"], data["decls"]
    return cache


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            data = marshal.loads(handle.read())  # load(file) reads in tiny pieces: 5x slower
    except (FileNotFoundError, NotADirectoryError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    return data


def save(state_dir: Path, cache: RowCache, templates: dict[str, Stat]) -> None:
    from pixmake.fsutil import write_atomic

    now = time.time_ns()
    if cache.spec_changed and cache.spec is not None:
        pickled = pickle.dumps(cache.spec[1:], pickle.HIGHEST_PROTOCOL)
        spec = {"version": VERSION, "written_ns": now, "spec": (cache.spec[0], pickled)}
        write_atomic(os.path.join(state_dir, SPEC_NAME), marshal.dumps(spec))
    data = {"version": VERSION, "templates": templates, "decls": cache.new}
    write_atomic(os.path.join(state_dir, NAME), marshal.dumps(data))
