"""A fully resolved asset: every template rendered, every setting checked and normalised.

These are values: nothing changes one after it is made (they are not frozen only because
frozen dataclasses are slow to build, and 10,000 are rebuilt from the render cache per run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pixmake.trace import digest

RefKind = Literal["file", "url", "asset"]


@dataclass(slots=True)
class Reference:
    """A reference image: a project file, a URL, or another asset's (first) output."""

    kind: RefKind
    value: str
    pin: str | None = None

    def text(self) -> str:
        return f"asset:{self.value}" if self.kind == "asset" else self.value


@dataclass(slots=True)
class Derived:
    """One local post-processing step from a generated image to another file."""

    path: str
    source: int
    format: str
    crop: tuple[int, ...] | None = None
    resize: tuple[int, ...] | None = None
    quality: int | None = None

    def params(self) -> dict[str, Any]:
        """What determines the derived bytes besides the source image (not the path)."""
        return {
            "crop": list(self.crop) if self.crop else None,
            "format": self.format,
            "quality": self.quality,
            "resize": list(self.resize) if self.resize else None,
        }


@dataclass(slots=True)
class Asset:
    """One image (or `results` images) to generate, and the files made from it."""

    id: str
    provider: str
    model: str
    prompt: str
    width: int
    height: int
    quality: str
    background: str
    format: str
    output_quality: int | None
    results: int
    references: tuple[Reference, ...]
    outputs: tuple[str, ...]
    derived: tuple[Derived, ...]
    decl: str
    origin: str | None
    line: int | None
    candidates: int = 1
    # Not in the key (they do not change the image): Runware's content check (none, fast,
    # full), what a flagged image does (fail, keep), how long its URL lives, and whether the
    # request is checked (and refused if flagged) before generating.
    safety: str = "none"
    on_flag: str = "fail"
    ttl: int | None = None
    block: bool = False
    _plain: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    _digest: str | None = field(default=None, repr=False, compare=False)

    def settings(self) -> dict[str, Any]:
        """The generation settings, as recorded in the key and the lockfile."""
        return {
            "provider": self.provider,
            "model": self.model,
            "prompt": self.prompt,
            "width": self.width,
            "height": self.height,
            "quality": self.quality,
            "background": self.background,
            "format": self.format,
            "output_quality": self.output_quality,
            "results": self.results,
            # Only when asked: the keys of every request without candidates stay as they were.
            **({"candidates": self.candidates} if self.candidates > 1 else {}),
        }

    def to_tuple(self) -> tuple[Any, ...]:
        """The asset as plain data for marshal (origin and line are given back when read):
        made once, or the row it was made from."""
        if self._plain is None:
            self._plain = self._make_tuple()
        return self._plain

    def digest(self) -> str:
        """A short hash of `to_tuple()` (trace.digest): made once, or kept with the row."""
        if self._digest is None:
            self._digest = digest(self.to_tuple())
        return self._digest

    def _make_tuple(self) -> tuple[Any, ...]:
        return (
            self.id, self.provider, self.model, self.prompt, self.width, self.height,
            self.quality, self.background, self.format, self.output_quality, self.results,
            tuple((r.kind, r.value, r.pin) for r in self.references),
            self.outputs,
            tuple((d.path, d.source, d.format, d.crop, d.resize, d.quality) for d in self.derived),
            self.decl, self.candidates, self.safety, self.on_flag, self.ttl, self.block,
        )  # fmt: skip

    @classmethod
    def from_tuple(
        cls, row: tuple[Any, ...], origin: str | None, line: int | None, known: str | None = None
    ) -> Asset:
        """The asset `to_tuple` gave `row`; `known`: the row's digest, if it was kept."""
        # NOTE: positional, and lists for the (mostly one-item) references: 10,000 a run.
        r = row
        return cls(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
            tuple([Reference(*ref) for ref in r[11]]),
            tuple(r[12]),
            tuple([Derived(*d) for d in r[13]]),
            r[14],
            origin,
            line,
            r[15],
            r[16],
            r[17],
            r[18],
            r[19],
            row,
            known,
        )  # fmt: skip

    @property
    def images(self) -> int:
        """How many images one request asks for: `results` for each candidate."""
        return self.results * self.candidates

    def all_outputs(self) -> tuple[str, ...]:
        if not self.derived:
            return self.outputs
        return self.outputs + tuple(d.path for d in self.derived)
