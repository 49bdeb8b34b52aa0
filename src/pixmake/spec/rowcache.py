"""Rendered assets from the last run, so that a series whose rows did not change is not
rendered again: editing one row of 10,000 renders one asset.

```
.pixmake/resolve.pickle = {version, templates: {path: stat},
                           decls: {name: (decl_fp, {row_fp: Asset})}}
decl_fp = hash(the declaration, its merged settings, vars, options, template stats
               [+ the data tables' stats if a template mentions `data`])
row_fp  = hash(the row's values [+ its position if a template mentions `index`])
```
A miss anywhere renders that row (or that declaration) again, as if there were no cache.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import xxhash

from pixmake import __version__
from pixmake.snapshot import RACY_NS

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.snapshot import Stat
    from pixmake.spec.asset import Asset

NAME = "resolve.pickle"

RowMap = dict[str, "Asset"]


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


def fingerprint(*parts: Any) -> str:
    return str(xxhash.xxh3_64_hexdigest(repr(parts).encode()))


def mentions(texts: list[str], word: str) -> bool:
    return any(word in text for text in texts)


def load(state_dir: Path) -> RowCache:
    try:
        with open(os.path.join(state_dir, NAME), "rb") as handle:
            data = pickle.load(handle)
    except (FileNotFoundError, NotADirectoryError, pickle.UnpicklingError, EOFError,
            AttributeError, ImportError, TypeError, ValueError):  # fmt: skip
        return RowCache()
    if not isinstance(data, dict) or data.get("version") != __version__:
        return RowCache()
    return RowCache(
        templates=data["templates"],
        old=data["decls"],
        spec=data.get("spec"),
        written_ns=int(data.get("written_ns", 0)),
    )


def save(state_dir: Path, cache: RowCache, templates: dict[str, Stat]) -> None:
    from pixmake.fsutil import write_atomic

    data = {
        "version": __version__,
        "written_ns": time.time_ns(),
        "templates": templates,
        "decls": cache.new,
        "spec": cache.spec,
    }
    write_atomic(os.path.join(state_dir, NAME), pickle.dumps(data, pickle.HIGHEST_PROTOCOL))
