"""`pixmake cost`: what pixmake.lock says was spent, by series, model and quality.

```
pixmake.lock ──▶ each entry's record (`cost_usd`, what Runware charged for its request)
             ──▶ its series (the declaration in pixmake.yaml that made the asset; the asset id
                 itself once it is no longer declared), its model and its quality
--since REV  ──▶ only the entries whose record differs from REV's pixmake.lock (or that it
                 does not have): what was spent since REV, on a branch say
```
Placeholder records cost nothing and are counted apart; a record without a cost is counted
as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.errors import UsageError
from pixmake.estimates import images_of, paid_cost
from pixmake.githistory import GitHistory
from pixmake.lockfile import LOCK_NAME, usable_entry
from pixmake.session import open_session

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.lockfile import LockEntry


@dataclass(slots=True)
class CostRow:
    """What the lock records as spent on one series, model and quality."""

    series: str
    model: str
    quality: str
    assets: int = 0
    images: int = 0
    cost_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "model": self.model,
            "quality": self.quality,
            "assets": self.assets,
            "images": self.images,
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass(slots=True)
class CostReport:
    rows: list[CostRow] = field(default_factory=list)
    placeholder: int = 0  # entries made by the placeholder provider, free
    unknown: list[str] = field(default_factory=list)  # paid entries recording no cost
    since: str | None = None  # the commit compared with
    note: str | None = None

    @property
    def total_usd(self) -> float:
        return sum(r.cost_usd for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [r.to_json() for r in self.rows],
            "total_usd": round(self.total_usd, 6),
            "assets": sum(r.assets for r in self.rows),
            "placeholder": self.placeholder,
            "unknown": self.unknown,
            "since": self.since,
            "note": self.note,
        }


def cost(root: Path, since: str | None = None, **kw: Any) -> CostReport:
    """What the lock's entries (those changed since `since`, when given) say was spent.

    Raises:
        UsageError: `since` names no commit, or the project is not in a git repository.
    """
    session = open_session(root, **kw)
    report = CostReport()
    earlier: dict[str, str | LockEntry] | None = None
    if since is not None:
        earlier, report.since, report.note = _earlier(GitHistory(root), since)
    decls = {a.id: a.decl for a in session.project.assets.values()}
    rows: dict[tuple[str, str, str], CostRow] = {}
    entries = session.lock.entries
    for asset_id in sorted(entries):
        entry = entries.get(asset_id)
        if entry is None or (earlier is not None and not _changed(entry, earlier.get(asset_id))):
            continue
        request, record = entry["request"], entry["record"]
        if record.get("placeholder"):
            report.placeholder += 1
            continue
        spent = paid_cost(record)
        if spent is None:
            report.unknown.append(asset_id)
            continue
        series = decls.get(asset_id, asset_id)
        group = (series, str(request.get("model")), str(request.get("quality")))
        row = rows.setdefault(group, CostRow(*group))
        row.assets += 1
        row.images += images_of(request)
        row.cost_usd += spent
    report.rows = [rows[k] for k in sorted(rows)]
    return report


def _changed(entry: LockEntry, before: str | LockEntry | None) -> bool:
    """Whether the entry's record is new since the earlier one (a new request was paid for)."""
    old = usable_entry(before) if before is not None else None
    return old is None or old.get("record") != entry["record"]


def _earlier(
    git: GitHistory, rev: str
) -> tuple[dict[str, str | LockEntry], str | None, str | None]:
    if git.prefix() is None:
        raise UsageError(
            f"--since {rev}: the project is not in a git repository\n"
            "  fix: run `pixmake cost` without --since for everything the lock records"
        )
    commit = git.commit(rev)
    if commit is None:
        raise UsageError(
            f"--since {rev}: no such commit\n"
            "  fix: name a commit, branch or tag (`git log --oneline` lists them)"
        )
    lock = git.lock_at(commit)
    try:
        if lock is None:
            return {}, commit, f"{LOCK_NAME} is not in {rev}: every entry is new since {rev}"
        return lock.by_id(), commit, None
    finally:
        git.close()
