"""In-process fakes for the provider interface (the Runware wire fake is pixmake.testing)."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from typing import Any

from pixmake.errors import ProviderRejectedError
from pixmake.providers.base import GenerationRequest, GenerationResult, TaskJournal
from pixmake.providers.placeholder import draw
from pixmake.staging import Staging
from pixmake.testing.fake_runware import FakeRunware


@dataclass
class FakeProvider:
    """Draws like the placeholder, counts its calls, and fails or interrupts on request."""

    name: str = "placeholder"
    paid: bool = False
    trusted: bool = False
    fail: set[str] = field(default_factory=set)
    interrupt_after: int | None = None
    cost: float = 0.0
    calls: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def generate(
        self, request: GenerationRequest, tasks: TaskJournal, staging: Staging
    ) -> GenerationResult:
        self.calls.append(request.asset_id)
        if request.asset_id in self.fail:
            raise ProviderRejectedError(f"refused {request.asset_id}")
        if self.interrupt_after is not None and len(self.calls) > self.interrupt_after:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, delivered to this process
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        for _ in range(3):
            await asyncio.sleep(0)  # let other assets start, as a network call would
        self.in_flight -= 1
        images = [staging.put(draw(request, i)) for i in range(request.results)]
        return GenerationResult(images, {"fake": True}, self.cost)

    async def aclose(self) -> None:
        return None

    def factory(self, name: str, *context: Any) -> Any:
        return self


def make_request(**changes: Any) -> GenerationRequest:
    """A GenerationRequest for GPT Image 1 Mini, 1024x1024 PNG, with `changes` applied."""
    fields: dict[str, Any] = {
        "asset_id": "hero", "key": "k" * 32, "model": "openai:1@2", "prompt": "a red fox",
        "width": 1024, "height": 1024, "quality": "low", "background": "opaque",
        "format": "png", "output_quality": None, "results": 1,
    }  # fmt: skip
    fields.update(changes)
    return GenerationRequest(**fields)


class CtrlCAtFirstPoll(FakeRunware):
    """Tasks stay processing; the first poll is answered after a Ctrl-C reaches the build."""

    interrupted = False

    def handle(self, tasks: list[Any], authorised: bool) -> tuple[int, dict[str, Any]]:
        answer = super().handle(tasks, authorised)
        polls = [t for t in tasks if isinstance(t, dict) and t.get("taskType") == "getResponse"]
        if polls and not self.interrupted:
            self.interrupted = True
            signal.raise_signal(signal.SIGINT)
        return answer
