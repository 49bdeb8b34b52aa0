"""What `pixmake review` does to the project: the page, the files it may show, the actions.

```
page      gallery(out=.pixmake/review) ──▶ its index.html and pictures/
files     the outputs, derived files and reference files that the spec or the lock records
history   history(ID) ──▶ its images; those in the store may be shown, by content hash
actions   pick(ID, N) · accept([ID]) · approve([ID]) · status/build(reroll=True)
```
Every action is a call of the library function the command line calls, one at a time (a
lock): two clicks never start two builds, and the page is never written during an action.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.confine import RESERVED, Confinement, lexical
from pixmake.errors import PixmakeError
from pixmake.store import STATE_DIR, Store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import TextIO

PAGE_DIR = f"{STATE_DIR}/review"
_HASH = re.compile(r"[0-9a-f]{16,128}")


@dataclass(slots=True)
class Review:
    """The project side of `pixmake review`; the server (server.py) only speaks HTTP.

    Args:
        targets: the assets the page shows (ids or globs, with their upstream ones).
        max_cost: a reroll estimated above it is refused, as `build --max-cost` refuses.
        out: where each action is logged, a line each (and a reroll's build summary).
    """

    root: Path
    targets: list[str] | None = None
    profile: str | None = None
    provider: str | None = None
    max_cost: float | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _files: frozenset[str] | None = None
    _shown: set[str] = field(default_factory=set)  # content hashes a history listed
    _closed: bool = False

    @property
    def busy(self) -> bool:
        """Whether an action (or the page) is under way."""
        return self._lock.locked()

    def close(self) -> None:
        """Wait for the action under way; refuse those asked for after."""
        with self._lock:
            self._closed = True

    @contextmanager
    def _one_at_a_time(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise PixmakeError("pixmake review is stopping: nothing was done")
            yield

    @property
    def _kw(self) -> dict[str, Any]:
        return {"profile": self.profile, "provider": self.provider}

    # -- what may be read ---------------------------------------------------------------------

    def page(self) -> Path:
        """The gallery, written again (the project as it is now): its index.html."""
        from pixmake.commands.gallery import gallery

        with self._one_at_a_time():
            result = gallery(self.root, self.targets, out=PAGE_DIR, **self._kw)
            self._files = self._recorded()
        return result.index

    def picture(self, name: str) -> Path | None:
        """One of the page's own pictures (a file name, no folder), if it exists."""
        if "/" in name or not lexical(name):
            return None
        return self._regular(f"{PAGE_DIR}/pictures/{name}")

    def project_file(self, rel: str) -> Path | None:
        """A project file the spec or the lock records (an output, a derived file, a
        reference), inside the project with every symlink followed; else None."""
        if not lexical(rel) or rel.split("/")[0] in RESERVED:
            return None
        if self._files is None:
            with self._lock:
                self._files = self._recorded()
        return self._regular(rel) if rel in self._files else None

    def stored_image(self, digest: str) -> Path | None:
        """A stored image that a history listed, by its content hash."""
        if digest not in self._shown or not _HASH.fullmatch(digest):
            return None
        store = Store(self.root)
        return store.object_path(digest) if store.has_object(digest) else None

    def _regular(self, rel: str) -> Path | None:
        if Confinement(self.root).regular(rel) is not None:
            return None
        path = self.root / rel
        return path if path.is_file() else None

    def _recorded(self) -> frozenset[str]:
        from pixmake.session import open_session

        session = open_session(self.root, **self._kw)
        paths: set[str] = set()
        try:
            assets = list(session.project.assets.values())
        except PixmakeError:  # the page says what is wrong; until it is fixed, only the lock
            assets = []
        for asset in assets:
            paths.update(asset.all_outputs())
            paths.update(r.value for r in asset.references if r.kind == "file")
        for entry in session.lock.entries.values():
            paths.update(o["path"] for o in entry["outputs"])
            paths.update(d["path"] for d in entry.get("derived", []))
        return frozenset(paths)

    # -- actions ------------------------------------------------------------------------------

    def history(self, asset_id: str) -> dict[str, Any]:
        """`pixmake history ID --json`, each image with the address of its stored picture."""
        from pixmake.commands.history import history

        with self._one_at_a_time():
            items = history(self.root, asset_id, **self._kw)
        store = Store(self.root)
        images = []
        for item in items:
            self._shown.update(i["hash"] for i in item.images)
            shown = store.has_object(item.hash) and _HASH.fullmatch(item.hash)
            images.append({**item.to_json(), "src": f"/api/image/{item.hash}" if shown else None})
        return {"id": asset_id, "images": images}

    def pick(self, asset_id: str, which: str) -> dict[str, Any]:
        from pixmake.commands.pick import pick

        with self._one_at_a_time():
            item = pick(self.root, asset_id, which, **self._kw)
        self._log(f"picked image {item.number} ({item.hash[:12]}) as the output of {asset_id}")
        return {"id": asset_id, "picked": item.to_json()}

    def accept(self, asset_id: str) -> dict[str, Any]:
        from pixmake.commands.accept import accept

        with self._one_at_a_time():
            ids = accept(self.root, [asset_id], **self._kw)
        self._log(f"accepted {asset_id}")
        return {"id": asset_id, "accepted": ids}

    def approve(self, asset_id: str) -> dict[str, Any]:
        from pixmake.commands.approve import approve

        with self._one_at_a_time():
            ids = approve(self.root, [asset_id], **self._kw)
        self._log(f"approved {asset_id}")
        return {"id": asset_id, "approved": ids}

    def reroll(self, asset_id: str, confirm: bool) -> dict[str, Any]:
        """Unconfirmed: what `pixmake plan --reroll ID` says it costs, and whether the key
        it needs is set. Confirmed: `pixmake build --reroll ID` (paid), within max_cost."""
        if not confirm:
            with self._one_at_a_time():
                return self._estimate(asset_id)
        from pixmake.commands.build import build
        from pixmake.report import ConsoleReporter
        from pixmake.results import BuildOptions

        reporter = ConsoleReporter(self.out, self.out, quiet=True, live=False)
        options = BuildOptions(max_cost=self.max_cost)
        with self._one_at_a_time():
            result = build(
                self.root, [asset_id], options=options, reporter=reporter, reroll=True,
                **self._kw,
            )  # fmt: skip
        if result.failures or result.skips:
            which, message = next(iter({**result.failures, **result.skips}.items()))
            where = "" if which == asset_id else f"`{which}`: "
            raise PixmakeError(f"cannot reroll `{asset_id}`: {where}{message}")
        self._log(f"rerolled {asset_id} ({result.cost_usd:.4f} USD)")
        return {"id": asset_id, **result.to_json()}

    def _estimate(self, asset_id: str) -> dict[str, Any]:
        from pixmake.commands.status import status
        from pixmake.project import load_project
        from pixmake.providers.runware import KEY_VARIABLE

        plan = status(self.root, [asset_id], reroll=True, **self._kw)
        project = load_project(self.root, **self._kw)
        sent = [i for i in plan.order if plan.assets[i].action == "generate"]
        providers = sorted({project.assets[i].provider for i in sent if i in project.assets})
        needs_key = "runware" in providers
        return {
            "id": asset_id,
            "estimate_usd": plan.estimated_cost(set(sent)),
            "generate": sent,
            "providers": providers,
            "key_variable": KEY_VARIABLE if needs_key else None,
            "key_set": not needs_key or bool(os.environ.get(KEY_VARIABLE, "").strip()),
            "max_cost": self.max_cost,
        }

    def _log(self, line: str) -> None:
        self.out.write(f"review: {line}\n")
        self.out.flush()
