"""`pixmake gallery`: one static page of every asset, grouped by series, with before and after.

```
plan + lock ──▶ one card per asset (state, request, cost, references, reasons)
REV's lock (git) ──▶ the assets whose output differs since REV: before, after, difference
Pictures ──▶ thumbnails and previews made once per content (.pixmake/thumbs) ──▶ DIR/pictures/
page ──▶ DIR/index.html, its data inside: opens from file:// with no server
```
The project is only read: what is written is DIR, the picture cache and the trace (.pixmake/),
and the store, which keeps an earlier image read from git for the next time.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pixmake import __version__, catalog
from pixmake.commands.approve import approved
from pixmake.confine import Confinement
from pixmake.errors import UsageError
from pixmake.fsutil import write_atomic
from pixmake.gallery.page import GENERATOR, render_page
from pixmake.gallery.pictures import PREVIEW_SIDE, Picture, Pictures
from pixmake.githistory import GitHistory
from pixmake.hashing import content_hash
from pixmake.lockfile import LOCK_NAME, flagged_outputs
from pixmake.planner import STATES
from pixmake.session import open_session
from pixmake.store import STATE_DIR

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.gallery.pictures import Source
    from pixmake.githistory import CommittedLock
    from pixmake.lockfile import LockEntry
    from pixmake.planner import AssetPlan
    from pixmake.session import Session
    from pixmake.spec.asset import Asset

DEFAULT_DIR = f"{STATE_DIR}/gallery"
REMOVED_SERIES = "(no longer in pixmake.yaml)"
_STATE_FOLDERS = (["objects"], ["actions"], ["tmp"], ["thumbs"])  # of .pixmake/: never a gallery's


@dataclass(slots=True)
class GalleryResult:
    """What `gallery` wrote: the page, how many assets it shows, which changed since REV."""

    index: Path
    assets: int
    changed: list[str] = field(default_factory=list)
    since: str | None = None  # the commit compared with
    note: str | None = None  # why nothing is compared, when nothing is
    pictures_made: int = 0


def gallery(
    root: Path,
    targets: list[str] | None = None,
    *,
    out: str | None = None,
    since: str | None = "HEAD",
    profile: str | None = None,
    provider: str | None = None,
) -> GalleryResult:
    """Write the gallery of every asset (or of the targets and their upstream assets) to
    `out` (relative to the project; `.pixmake/gallery` by default) and return what it shows.

    `since` is the revision whose pixmake.lock the outputs are compared with (None: none).

    Raises:
        UsageError: `out` is outside the project, one of pixmake's own folders, or a folder
        that holds something other than an earlier gallery; `since` names no commit.
    """
    folder = _folder(root, out or DEFAULT_DIR)
    session = open_session(root, profile=profile, provider=provider)
    plan = session.plan()
    session.remember(plan)
    # NOTE: in the spec's order (a series' rows as in its table), not the plan's
    ids = [*session.project.assets, *(i for i in plan.order if i not in session.project.assets)]
    if targets:
        chosen = session.project.graph.select(targets)
        ids = [i for i in ids if i in chosen]
    git = GitHistory(root)
    try:
        earlier = _Earlier.read(git, since)
        cards = _Cards(session, git, earlier, Pictures(session.store.dir / "thumbs", folder))
        assets = [cards.card(plan.assets[i]) for i in ids]
        cards.pictures.make()
    finally:
        git.close()
    data = {
        "project": root.name,
        "generator": f"{GENERATOR} {__version__}",
        "states": list(STATES),
        "since": {"rev": since, "commit": earlier.commit, "note": earlier.note},
        "assets": assets,
    }
    index = folder / "index.html"
    write_atomic(index, render_page(data).encode("utf-8"))
    changed = [a["id"] for a in assets if a["since"] and a["since"]["change"] == "changed"]
    return GalleryResult(
        index, len(assets), changed, earlier.commit, earlier.note, cards.pictures.made
    )


def _folder(root: Path, out: str) -> Path:
    """The gallery's folder: inside the project, not pixmake's state or git's, and new,
    empty or an earlier gallery (its pictures/ is pruned: nothing else may be lost)."""
    path = os.path.normpath(os.path.join(root, out))
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    fix = f"  fix: give -o a folder inside the project, such as {DEFAULT_DIR} (the default)"
    if rel == ".." or rel.startswith("../"):
        raise UsageError(f"-o {out}: outside the project\n{fix}")
    parts = rel.split("/")
    if parts[0] == ".git" or (parts[0] == STATE_DIR and parts[1:2] in ([], *_STATE_FOLDERS)):
        raise UsageError(f"-o {out}: a folder of git's or pixmake's own\n{fix}")
    problem = Confinement(root).problem(rel, "-o") if rel != "." else None
    if problem is not None:
        raise UsageError(f"{problem}\n{fix}")
    target = root / rel
    if target.exists() and not target.is_dir():
        raise UsageError(f"-o {out}: a file, not a folder\n{fix}")
    index = target / "index.html"
    ours = index.is_file() and GENERATOR.encode() in index.read_bytes()[:4096]
    if target.is_dir() and any(target.iterdir()) and not ours:
        raise UsageError(
            f"-o {out}: the folder holds files that are not a pixmake gallery\n"
            "  fix: give -o a new or empty folder (a gallery there is replaced)"
        )
    return target


@dataclass(slots=True)
class _Earlier:
    """The lock entries of an earlier commit, to compare outputs with."""

    commit: str | None = None
    lock: CommittedLock | None = None
    note: str | None = None

    def entry(self, asset_id: str) -> LockEntry | None:
        return self.lock.entry(asset_id) if self.lock is not None else None

    @classmethod
    def read(cls, git: GitHistory, rev: str | None) -> _Earlier:
        if rev is None:
            return cls(note="not compared with any commit")
        if git.prefix() is None:
            return cls(note="not in a git repository: no before and after to show")
        commit = git.commit(rev)
        if commit is None and rev == "HEAD":
            return cls(note="nothing committed yet: no before and after to show")
        if commit is None:
            raise UsageError(
                f"--since {rev}: no such commit\n"
                "  fix: name a commit, branch or tag (`git log --oneline` lists them)"
            )
        lock = git.lock_at(commit)
        if lock is None:
            return cls(commit, note=f"{LOCK_NAME} is not in {rev}: every image is new since {rev}")
        return cls(commit, lock)


@dataclass(slots=True)
class _Cards:
    """Each asset's card: what the page shows of it, its pictures asked for."""

    session: Session
    git: GitHistory
    earlier: _Earlier
    pictures: Pictures

    def card(self, item: AssetPlan) -> dict[str, Any]:
        asset = self.session.project.assets.get(item.id)
        entry = self.session.lock.entries.get(item.id)
        if asset is not None:
            settings = asset.settings()
            references: list[tuple[str, str, str]] = [
                (r.kind, r.text(), r.value) for r in asset.references
            ]
            paths = list(asset.all_outputs())
        else:  # orphaned: the lock says all there is
            settings = dict(entry["request"]) if entry else {}
            texts = [str(r.get("ref", "")) for r in settings.get("references", [])]
            references = [_kind_of(t) for t in texts]
            paths = [o["path"] for o in entry["outputs"]] if entry else []
        record = entry.get("record", {}) if entry else {}
        current = self._current(paths[0] if paths else None, entry)
        thumb = self.pictures.want(*current) if current else None
        return {
            "id": item.id,
            "series": asset.decl if asset else REMOVED_SERIES,
            "origin": _origin(asset),
            "state": item.state,
            "action": item.action,
            "reasons": item.reasons if item.state != "fresh" else [],
            "model": _model_name(settings.get("model")),
            "model_id": settings.get("model"),
            "quality": settings.get("quality"),
            "size": f"{settings.get('width')}x{settings.get('height')}" if settings else None,
            "transparent": settings.get("background") != "opaque",
            "cost": record.get("cost_usd"),
            "placeholder": bool(record.get("placeholder")),
            "approved": entry is not None and approved(entry),
            "flagged": flagged_outputs(entry),
            "estimate": _estimate(item),
            "prompt": settings.get("prompt", ""),
            "refs": [self._reference(*r) for r in references],
            "outputs": [self._output(p) for p in paths],
            "thumb": thumb or Picture(problem="no image yet"),
            "since": self._since(item.id, current),
        }

    def _current(self, rel: str | None, entry: LockEntry | None) -> tuple[str, Source] | None:
        """The content hash of the asset's first output as it is now, and where to read it:
        the file on disk, or the store when the file is missing."""
        found = self.session.files.hash(rel) if rel else None
        if rel is not None and found is not None:
            path = self.session.root / rel
            return found[0], lambda: path
        digest = entry["outputs"][0]["hash"] if entry else None
        if digest is not None and self.session.store.has_object(digest):
            stored = self.session.store.object_path(digest)
            return digest, lambda: stored
        return None

    def _since(self, asset_id: str, current: tuple[str, Source] | None) -> dict[str, Any] | None:
        if self.earlier.commit is None:
            return None
        entry = self.earlier.entry(asset_id)
        if entry is None:
            return {"change": "new"}
        output = entry["outputs"][0]
        if current is not None and output["hash"] == current[0]:
            return None
        before = (output["hash"], self._earlier_source(output["hash"], output["path"]))
        result: dict[str, Any] = {"change": "changed"}
        result["before"] = self.pictures.want(*before, side=PREVIEW_SIDE)
        result["before_thumb"] = self.pictures.want(*before)
        if current is not None:
            result["after"] = self.pictures.want(*current, side=PREVIEW_SIDE)
            result["diff"] = self.pictures.want_difference(before, current)
        return result

    def _earlier_source(self, digest: str, rel: str) -> Source:
        """Where the earlier image is: the store, or git's blob at the commit (verified by
        its hash, then kept in the store)."""
        store, git, commit = self.session.store, self.git, self.earlier.commit

        def find() -> Path | None:
            if not store.has_object(digest):
                data = git.blob(commit, rel) if commit else None
                if data is None or content_hash(data) != digest:
                    return None
                store.ensure_dir()
                store.put_bytes(data, digest)
            return store.object_path(digest)

        return find

    def _reference(self, kind: str, text: str, value: str) -> dict[str, Any]:
        if kind == "asset":
            return {"kind": kind, "text": text, "target": value}
        if kind == "file":
            return {"kind": kind, "text": text, "href": self._href(value)}
        safe = value.startswith(("https://", "http://"))
        return {"kind": kind, "text": text, "href": value if safe else None}

    def _output(self, rel: str) -> dict[str, Any]:
        present = self.session.files.hash(rel) is not None
        return {"path": rel, "href": self._href(rel) if present else None}

    def _href(self, rel: str) -> str:
        """A project path as the page, in the gallery's folder, links to it."""
        folder = self.pictures.out.relative_to(self.session.root).as_posix()
        up = "" if folder == "." else "../" * (folder.count("/") + 1)
        return quote(posixpath.normpath(up + rel) if up else rel)


def _estimate(item: AssetPlan) -> float | str | None:
    """What generating it would cost: None when nothing is to generate."""
    if item.action != "generate":
        return None
    return "unknown" if item.estimate_usd is None else round(item.estimate_usd, 6)


def _kind_of(text: str) -> tuple[str, str, str]:
    if text.startswith("asset:"):
        return "asset", text, text.removeprefix("asset:")
    if "://" in text:
        return "url", text, text
    return "file", text, text


def _origin(asset: Asset | None) -> str | None:
    if asset is None:
        return None
    return asset.origin or (f"pixmake.yaml:{asset.line}" if asset.line else None)


def _model_name(model: Any) -> str | None:
    info = catalog.MODELS.get(model) if isinstance(model, str) else None
    return info.name if info else model
