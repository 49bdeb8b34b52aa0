"""What a build is asked to do, and what it did (kept light: the no-op path imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_JOBS = 4  # assets built at once when `-j` is not given (see Executor._job_count)


@dataclass(slots=True)
class BuildOptions:
    jobs: int | None = None  # None: DEFAULT_JOBS, or more for a provider that takes more
    fail_fast: bool = False
    max_cost: float | None = None
    max_new: int | None = None
    shard: tuple[int, int] | None = None  # (K, N): generate only the keys of share K of N

    def in_shard(self, key: str) -> bool:
        """Whether this build generates the request `key` (always, unless sharded)."""
        return self.shard is None or shard_of(key, self.shard[1]) == self.shard[0]


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
    waited: int = 0  # restored from another machine's generation, after waiting for it
    other_shards: int = 0  # not generated: another shard's share (or upstream of one)

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
            "waited": self.waited,
            "other_shards": self.other_shards,
        }

    @property
    def ok(self) -> bool:
        return not (self.failed or self.skipped or self.interrupted)


def shard_of(key: str, count: int) -> int:
    """The share (1 to `count`) a request key falls in: the same on every machine."""
    return int(key, 16) % count + 1
