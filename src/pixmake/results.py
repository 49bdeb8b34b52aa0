"""What a build is asked to do, and what it did (kept light: the no-op path imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class BuildOptions:
    jobs: int = 4
    fail_fast: bool = False
    max_cost: float | None = None
    max_new: int | None = None


@dataclass(slots=True)
class BuildResult:
    generated: int = 0
    restored: int = 0
    derived: int = 0  # derived files written, whichever action wrote them
    fresh: int = 0
    failed: int = 0
    skipped: int = 0
    cost_usd: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)
    skips: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    pushed: int = 0  # requests whose images and entry went to the remote cache

    def to_json(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "restored": self.restored,
            "derived": self.derived,
            "fresh": self.fresh,
            "failed": self.failed,
            "skipped": self.skipped,
            "cost_usd": round(self.cost_usd, 6),
            "interrupted": self.interrupted,
            "pushed": self.pushed,
        }

    @property
    def ok(self) -> bool:
        return not (self.failed or self.skipped or self.interrupted)
