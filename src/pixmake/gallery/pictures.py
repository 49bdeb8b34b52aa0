"""The gallery's pictures: thumbnails, previews and difference images, cached by content hash.

```
.pixmake/thumbs/ab/<hash>-256.webp         made once per image content and size (Pillow)
.pixmake/thumbs/ab/<before>-<after>-diff…   the difference of two contents
.pixmake/thumbs/sizes.json                 name -> [width, height], so a page needs no decode
DIR/pictures/<name>                        hard links (or copies) of those the page shows
```
A picture is asked for with `want`, which says where its source can be found (a path, or a
function that finds one: git is asked only for a picture not made before); `make` makes the
missing ones, in worker processes when there are many, and puts every wanted one in DIR.
"""

from __future__ import annotations

import contextlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

from pixmake.fsutil import write_atomic
from pixmake.imaging import ImageReadError, difference, preview

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    Source = Callable[[], "Path | None"]

THUMB_SIDE = 256
PREVIEW_SIDE = 1024
PICTURES = "pictures"
_SIZES = "sizes.json"
_IN_PROCESS = 24  # fewer missing pictures than this are made without starting workers


@dataclass(slots=True)
class Picture:
    """One picture of the page: its file in DIR (relative), width and height, or why none."""

    src: str | None = None
    width: int = 0
    height: int = 0
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.src is None:
            return {"problem": self.problem}
        return {"src": self.src, "w": self.width, "h": self.height}


@dataclass(slots=True)
class _Job:
    name: str
    sources: tuple[Source, ...]
    side: int
    picture: Picture


@dataclass(slots=True)
class Pictures:
    """The pictures of one gallery: `cache` is .pixmake/thumbs, `out` the gallery's folder."""

    cache: Path
    out: Path
    made: int = 0
    _sizes: dict[str, list[int]] = field(default_factory=dict)
    _changed: bool = False
    _wanted: dict[str, Picture] = field(default_factory=dict)
    _jobs: list[_Job] = field(default_factory=list)

    def __post_init__(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            sizes = json.loads((self.cache / _SIZES).read_text(encoding="utf-8"))
            if isinstance(sizes, dict):
                self._sizes = sizes

    def want(self, digest: str, source: Source, side: int = THUMB_SIDE) -> Picture:
        """The picture of content `digest` at most `side` pixels on a side."""
        return self._want(f"{digest}-{side}.webp", (source,), side)

    def want_difference(
        self, before: tuple[str, Source], after: tuple[str, Source], side: int = PREVIEW_SIDE
    ) -> Picture:
        """The difference image of two contents, as big as `after`'s preview."""
        return self._want(f"{before[0]}-{after[0]}-diff{side}.webp", (before[1], after[1]), side)

    def _want(self, name: str, sources: tuple[Source, ...], side: int) -> Picture:
        picture = self._wanted.get(name)
        if picture is not None:
            return picture
        picture = self._wanted[name] = Picture(f"{PICTURES}/{name}")
        size = self._sizes.get(name)
        if size is not None and self._cached(name).is_file():
            picture.width, picture.height = size
        else:
            self._jobs.append(_Job(name, sources, side, picture))
        return picture

    def _cached(self, name: str) -> Path:
        return self.cache / name[:2] / name

    def make(self) -> None:
        """Make every missing picture, then link each wanted one into DIR/pictures and remove
        those no longer wanted from there."""
        work = []
        for job in self._jobs:
            paths = [source() for source in job.sources]
            if None in paths:
                self._failed(job, "the image is not available")
            else:
                work.append((str(self._cached(job.name)), [str(p) for p in paths], job.side))
        jobs = [j for j in self._jobs if j.picture.src is not None]
        for job, (width, height, problem) in zip(jobs, self._run(work), strict=True):
            if problem is not None:
                self._failed(job, problem)
            else:
                job.picture.width, job.picture.height = width, height
                self._sizes[job.name] = [width, height]
                self._changed = True
                self.made += 1
        self._jobs.clear()
        if self._changed:
            data = json.dumps(self._sizes, separators=(",", ":")).encode()
            write_atomic(self.cache / _SIZES, data)
            self._changed = False
        self._place()

    def _failed(self, job: _Job, problem: str) -> None:
        job.picture.src = None
        job.picture.problem = problem
        del self._wanted[job.name]

    @staticmethod
    def _run(work: list[tuple[str, list[str], int]]) -> list[tuple[int, int, str | None]]:
        if len(work) < _IN_PROCESS or (os.cpu_count() or 1) < 2:
            return [_make(*item) for item in work]
        # NOTE: spawn, not fork: a forked child of a process with threads can deadlock.
        with ProcessPoolExecutor(
            max_workers=os.cpu_count(), mp_context=get_context("spawn")
        ) as pool:
            return list(pool.map(_make, *zip(*work, strict=True), chunksize=8))

    def _place(self) -> None:
        folder = self.out / PICTURES
        folder.mkdir(parents=True, exist_ok=True)
        present = set(os.listdir(folder))
        for name in present - set(self._wanted):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
        for name in set(self._wanted) - present:
            source, target = self._cached(name), folder / name
            try:
                os.link(source, target)
            except OSError:  # another file system, or one without hard links
                write_atomic(target, source.read_bytes())


def _make(target: str, sources: list[str], side: int) -> tuple[int, int, str | None]:
    """Make one picture from its source files; (width, height, None) or (0, 0, problem)."""
    from pathlib import Path

    try:
        if len(sources) == 2:
            data, width, height = difference(Path(sources[0]), Path(sources[1]), side)
        else:
            data, width, height = preview(Path(sources[0]), side)
    except ImageReadError as exc:
        return 0, 0, f"the file {exc}"
    except OSError as exc:
        return 0, 0, f"the file cannot be read: {exc.strerror or exc}"
    write_atomic(target, data)
    return width, height, None
