"""The incremental path: when the only inputs changed since the last all-fresh run are data
tables, just their changed rows are resolved and planned. Every other asset is fresh by the
snapshot's proof (snapshot.py), without being rendered, hashed or compared with the lock.

```
applies  <=>  a snapshot of this pixmake and these options, no journal, every output unchanged,
              and every changed source is a data table that the snapshot lists: one iterated
              only by declarations whose templates do not mention `data`, in a project without
              `asset:` references
resolve  =    rows whose fingerprint (rowcache.row_fp) the snapshot does not know
gone     =    assets whose row fingerprint is no longer in their table
kept     =    every other asset of the snapshot: fresh
```
Anything else (or any doubt: an unreadable table, two equal rows) and the full plan runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake import snapshot
from pixmake.errors import SpecError
from pixmake.spec.rowcache import row_fp
from pixmake.spec.tables import csv_rows_at, line_digests, read_table, read_text

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.snapshot import Stat
    from pixmake.spec.tables import Digests, Row


@dataclass(slots=True)
class Delta:
    """What changed since the snapshot, by table row."""

    document: dict[str, Any]  # the snapshot
    kept: set[str]  # asset ids fresh by the snapshot's proof
    only: dict[str, list[int]]  # declaration -> positions of the rows to resolve
    gone: list[str]  # ids of assets whose rows are no longer there
    tables: dict[str, dict[int, Row]]  # the changed tables' rows read (at least those to resolve)
    table_stats: dict[str, Stat]  # their stats, taken before reading them
    fingerprints: dict[str, list[str]] = field(default_factory=dict)  # declaration -> row fps
    digests: dict[str, Digests | None] = field(default_factory=dict)  # table -> line digests

    def kept_outputs(self) -> dict[str, str]:
        """Output path -> the kept asset writing it."""
        return {
            path: asset_id
            for asset_id, outputs in self.document["assets"]
            if asset_id in self.kept
            for path, _ in outputs
        }

    def rows_after(
        self, resolved: dict[str, tuple[str, str]]
    ) -> dict[str, tuple[list[str], list[str]]]:
        """The snapshot's `rows` once the resolved assets (id -> (declaration, row fp)) are in."""
        rows: dict[str, tuple[list[str], list[str]]] = dict(self.document["rows"])
        made = {(decl, fp): asset_id for asset_id, (decl, fp) in resolved.items()}
        for decl, fps in self.fingerprints.items():
            old = dict(zip(*self.document["rows"][decl], strict=True))
            rows[decl] = (fps, [old.get(fp) or made[(decl, fp)] for fp in fps])
        return rows


def compute(root: Path, options: dict[str, Any]) -> Delta | None:
    """The rows to resolve if only data tables changed since the snapshot, else None."""
    document = snapshot.load(root, options)
    if document is None:
        return None
    changed = snapshot.changed_sources(root, document)
    tables = document.get("tables") or {}
    if not changed or any(rel not in tables for rel in changed):
        return None
    if not snapshot.outputs_unchanged(root, document):
        return None
    delta = Delta(document, set(), {}, [], {}, {})
    for rel in changed:
        delta.table_stats[rel] = snapshot.stat(root / rel)
        try:
            count = _read(root, rel, document.get("lines", {}).get(rel), delta)
        except SpecError:
            return None  # the full path reports it, with every other problem
        rows = delta.tables[rel]
        for decl, var, uses_index in tables[rel]:
            if count is None:  # every row read: fingerprint them all
                fps = [""] * len(rows)
            else:  # only the rows whose lines changed: the others' fingerprints are as they were
                known = document["rows"].get(decl)
                if known is None or len(known[0]) != count:
                    return None
                fps = list(known[0])
            for i, row in rows.items():
                fps[i] = row_fp({var: row.values}, i if uses_index else None)
            if len(set(fps)) != len(fps):
                return None  # equal rows make one id twice: the full path reports it
            old = dict(zip(*document["rows"].get(decl, ((), ())), strict=True))
            delta.fingerprints[decl] = fps
            delta.only[decl] = [i for i, fp in enumerate(fps) if fp not in old]
            present = set(fps)
            delta.gone += [asset_id for fp, asset_id in old.items() if fp not in present]
    gone = set(delta.gone)
    delta.kept = {asset_id for asset_id, _ in document["assets"] if asset_id not in gone}
    return delta


def _read(root: Path, rel: str, old: Any, delta: Delta) -> int | None:
    """Read a changed table into `delta`. When it is a CSV whose rows are its lines, with the
    same header and number of rows as last time, only the rows whose lines changed are parsed,
    and the number of rows is returned; else every row is read, and None."""
    text = read_text(root, rel) if rel.lower().endswith(".csv") else None
    digests = line_digests(text) if text is not None else None
    if text is not None and digests is not None and old is not None:
        header, lines = old
        if header == digests[0] and len(lines) == len(digests[1]):
            changed = [i for i, (a, b) in enumerate(zip(lines, digests[1], strict=True)) if a != b]
            rows = csv_rows_at(text, rel, changed)
            if rows is not None:
                delta.tables[rel], delta.digests[rel] = rows, digests
                return len(lines)
    table = read_table(root, rel)
    delta.tables[rel], delta.digests[rel] = dict(enumerate(table.rows)), table.digests
    return None
