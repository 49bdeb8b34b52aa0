"""In-process fakes for the provider interface (the Runware wire fake is pixmake.testing)."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

from pixmake.errors import ProviderRejectedError
from pixmake.providers.base import GenerationRequest, GenerationResult, TaskJournal
from pixmake.providers.placeholder import draw


@dataclass
class FakeProvider:
    """Draws like the placeholder, counts its calls, and fails or interrupts on request."""

    name: str = "placeholder"
    paid: bool = False
    trusted: bool = False
    fail: set[str] = field(default_factory=set)
    interrupt_after: int | None = None
    calls: list[str] = field(default_factory=list)

    async def generate(self, request: GenerationRequest, tasks: TaskJournal) -> GenerationResult:
        self.calls.append(request.asset_id)
        if request.asset_id in self.fail:
            raise ProviderRejectedError(f"refused {request.asset_id}")
        if self.interrupt_after is not None and len(self.calls) > self.interrupt_after:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, delivered to this process
        images = [draw(request, i) for i in range(request.results)]
        return GenerationResult(images, {"fake": True}, 0.0)

    async def aclose(self) -> None:
        return None

    def factory(self, name: str, *context: Any) -> Any:
        return self
