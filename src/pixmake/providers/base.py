"""The provider interface: a fully resolved request in, staged image files and a record out.

The executor sees only `ImageProvider` and never a wire format. A provider writes each image
through the `Staging` area it is handed (a temp file in `.pixmake/tmp/`, hashed on the way in);
the executor checks the files and moves them into the store. A provider that is paid keeps
its tasks in the `TaskJournal` the executor hands it, so a crashed build resumes instead of
paying twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.staging import StagedImage, Staging


@dataclass(frozen=True, slots=True)
class RequestReference:
    """A reference as the provider needs it: a URL, or local bytes at `path` with their hash."""

    kind: str  # "url" or "file" (an upstream asset's output is a file too)
    value: str  # the URL, or the project-relative path
    hash: str | None = None
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Everything that determines the image, plus the ids that say which asset it is for."""

    asset_id: str
    key: str
    model: str
    prompt: str
    width: int
    height: int
    quality: str
    background: str
    format: str
    output_quality: int | None
    results: int
    references: tuple[RequestReference, ...] = ()
    safety: str = "none"  # Runware's content check: none, fast or full
    on_flag: str = "fail"  # a flagged image fails the request, or is kept
    ttl: int | None = None  # seconds an image URL lives, when the provider has one
    block: bool = False  # Runware checks the prompt and references first, and refuses if flagged


@dataclass(slots=True)
class GenerationResult:
    """The images (one per result, in order, staged as files) and what the provider says about
    them. The executor owns the files from here on."""

    images: list[StagedImage]
    record: dict[str, Any] = field(default_factory=dict)
    cost_usd: float = 0.0


class TaskJournal(Protocol):
    """Where a paid provider records a task before sending it, and finds it again after a crash."""

    def submitted(self, key: str) -> dict[str, Any] | None:
        """The last task recorded for this request key and not yet finished, if any."""

    async def record(self, key: str, asset_id: str, task: dict[str, Any]) -> None:
        """Record, durably, that a task is about to be sent (before it is)."""

    def finished(self, key: str) -> None:
        """The task for this key ended without images (refused or failed): forget it."""

    def remote_done(self, key: str) -> None:
        """The provider's remote work for this key is over (only downloading is left):
        another task may be sent in its place."""


class ImageProvider(Protocol):
    """One async method is the whole contract."""

    name: str
    paid: bool
    trusted: bool  # False: every image is decoded and checked before it is stored

    async def generate(
        self, request: GenerationRequest, tasks: TaskJournal, staging: Staging
    ) -> GenerationResult:
        """Return `request.results` images in `request.format` at the requested size, each
        written through `staging`. If it raises, it leaves no staged file behind."""
        ...

    async def aclose(self) -> None: ...
