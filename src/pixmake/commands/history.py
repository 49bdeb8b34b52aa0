"""`pixmake history`: every image an asset has had, numbered so that `pixmake pick` takes one.

```
the lock's entry: its candidates (1..N, as `pick ID K` takes them), the output among them
      ──▶ the entries builds on this machine replaced (.pixmake/earlier.jsonl), newest first
      ──▶ the store's action cache: the images of its earlier requests (keys from git)
      ──▶ git: each committed version of pixmake.lock, newest first, with its date
```
An image is listed once, where it is found first, with the request that made it and the
date of the oldest commit that records it (none while it is not committed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.errors import UsageError
from pixmake.githistory import GitHistory
from pixmake.lockfile import candidates_of, image_record
from pixmake.session import open_session

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pixmake.lockfile import ImageRecord
    from pixmake.session import Session

_REQUEST = ("provider", "model", "quality", "width", "height", "prompt")


@dataclass(slots=True)
class HistoryImage:
    """One image (the `results` images of one candidate) an asset has had."""

    number: int
    images: list[ImageRecord]
    key: str
    request: dict[str, Any]
    record: dict[str, Any]
    source: str  # "lock", "store" or "git"
    current: bool = False
    approved: bool = False
    date: str | None = None  # the oldest commit recording it; None while uncommitted
    commit: str | None = None
    available: bool = True  # in the store, the project's files or git

    @property
    def hash(self) -> str:
        return self.images[0]["hash"]

    @property
    def cost_usd(self) -> float | None:
        cost = self.record.get("cost_usd")
        return float(cost) if isinstance(cost, int | float) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "hash": self.hash,
            "images": self.images,
            "key": self.key,
            "request": self.request,
            "cost_usd": self.cost_usd,
            "date": self.date,
            "commit": self.commit,
            "source": self.source,
            "current": self.current,
            "approved": self.approved,
            "available": self.available,
        }


@dataclass(slots=True)
class _Found:
    items: list[HistoryImage] = field(default_factory=list)
    seen: dict[tuple[str, ...], HistoryImage] = field(default_factory=dict)

    def add(
        self,
        images: list[ImageRecord],
        entry: Mapping[str, Any],
        source: str,
        commit: str | None = None,
        date: str | None = None,
    ) -> None:
        hashes = tuple(i["hash"] for i in images)
        known = self.seen.get(hashes)
        if known is not None:
            if date is not None:
                known.date, known.commit = date, commit  # an older commit: read newest first
            return
        request = entry.get("request", {})
        item = HistoryImage(
            number=len(self.items) + 1,
            images=[image_record(i) for i in images],
            key=str(entry.get("key", "")),
            request={k: request.get(k) for k in _REQUEST},
            record=dict(entry.get("record", {})),
            source=source,
            date=date,
            commit=commit,
        )
        self.items.append(item)
        self.seen[hashes] = item


def history(
    root: Path, asset_id: str, *, profile: str | None = None, provider: str | None = None
) -> list[HistoryImage]:
    """Every image the asset has had, numbered from 1 (its candidates first). Writes nothing.

    Raises:
        UsageError: no asset has that id, in the spec or the lock.
    """
    session = open_session(root, profile=profile, provider=provider)
    return images_of(session, asset_id)


def images_of(session: Session, asset_id: str) -> list[HistoryImage]:
    """The history of `asset_id` as this session sees it (see `history`)."""
    entry = session.lock.entries.get(asset_id)
    if entry is None and asset_id not in session.project.assets:
        raise UsageError(
            f"no asset `{asset_id}` in pixmake.yaml or pixmake.lock\n"
            "  fix: `pixmake status --all` lists the asset ids"
        )
    found = _Found()
    if entry is not None:
        for candidate in candidates_of(entry):
            found.add(candidate, entry, "lock")
    for earlier in session.store.earlier(asset_id):  # replaced here, committed or not
        for candidate in candidates_of(earlier):
            found.add(candidate, earlier, "store")
    git = GitHistory(session.root)
    try:
        committed = _committed(git, asset_id)
        keys = [e["key"] for _, _, e in committed]
        for key in dict.fromkeys(([entry["key"]] if entry else []) + keys):
            cached = session.store.get_action(key)
            if cached is not None:
                made = {"key": key, "request": _request_of(key, entry, committed), **cached}
                for candidate in cached.get("candidates") or [cached["outputs"]]:
                    found.add(candidate, made, "store")
        for commit, date, old in committed:
            for candidate in candidates_of(old):
                found.add(candidate, old, "git", commit, date)
    finally:
        git.close()
    _mark(session, entry, found.items)
    return found.items


def _committed(git: GitHistory, asset_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The asset's entry in each committed version of the lock: (commit, date, entry)."""
    dates = git.lock_dates()
    found = []
    for lock in git.lock_versions():
        old = lock.entry(asset_id)
        if old is not None:
            found.append((lock.commit, dates.get(lock.commit), dict(old)))
    return found


def _request_of(
    key: str, entry: Mapping[str, Any] | None, committed: list[tuple[str, str | None, Any]]
) -> dict[str, Any]:
    for candidate in [entry, *(e for _, _, e in committed)]:
        if candidate is not None and candidate["key"] == key:
            return dict(candidate["request"])
    return {}


def _mark(session: Session, entry: Mapping[str, Any] | None, items: list[HistoryImage]) -> None:
    from pixmake.sources import ContentSources

    current = [o["hash"] for o in entry["outputs"]] if entry else []
    approved = set(entry.get("approved", [])) if entry else set()
    sources = ContentSources(session.root, session.store, session.lock, session.files)
    try:
        for item in items:
            hashes = [i["hash"] for i in item.images]
            item.current = hashes == current
            item.approved = all(h in approved for h in hashes)
            item.available = all(sources.available(h) for h in hashes)
    finally:
        sources.close()
