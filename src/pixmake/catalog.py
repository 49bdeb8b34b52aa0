"""Known image models: ids, aliases, what each accepts, and a price table for estimates.

Prices are OpenAI's list prices per image as restated in RUNWARE_API.md §7.1; Runware reports the
real cost of every task (`includeCost`), which is what the lockfile records. `quality: auto` has no
fixed price: it is estimated at the `high` price, an upper bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("opaque", "transparent", "auto")
FORMATS = ("png", "jpg", "webp")
LOSSY_FORMATS = frozenset({"jpg", "webp"})
ALPHA_FORMATS = frozenset({"png", "webp"})
EXTENSIONS = {"png": (".png",), "jpg": (".jpg", ".jpeg"), "webp": (".webp",)}
OUTPUT_QUALITY_RANGE = (20, 99)
MAX_RESULTS = 20

_AIR = re.compile(r"^[a-z0-9][a-z0-9_.-]*:[0-9]+@[0-9]+$")

Size = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What one model accepts. `sizes` empty means any size within `size_range` in steps."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    sizes: tuple[Size, ...] = ()
    size_range: tuple[int, int, int] = (128, 2048, 64)
    openai: bool = False
    max_references: int = 16
    prompt_length: tuple[int, int] = (1, 32000)
    max_results: int = MAX_RESULTS
    prices: dict[tuple[str, Size], float] = field(default_factory=dict)

    def size_ok(self, size: Size) -> bool:
        if self.sizes:
            return size in self.sizes
        low, high, step = self.size_range
        return all(low <= v <= high and v % step == 0 for v in size)

    def sizes_text(self) -> str:
        if self.sizes:
            return ", ".join(f"{w}x{h}" for w, h in self.sizes)
        low, high, step = self.size_range
        return f"width and height from {low} to {high} in steps of {step}"

    def price(self, quality: str, size: Size) -> float | None:
        """Estimated USD per image, or None when the catalog has no price for this model."""
        if not self.prices:
            return None
        return self.prices.get(("high" if quality == "auto" else quality, size))


_GPT_SIZES: tuple[Size, ...] = ((1024, 1024), (1536, 1024), (1024, 1536))


def _table(
    low: tuple[float, float], medium: tuple[float, float], high: tuple[float, float]
) -> dict[tuple[str, Size], float]:
    table: dict[tuple[str, Size], float] = {}
    for quality, (square, wide) in (("low", low), ("medium", medium), ("high", high)):
        table[(quality, (1024, 1024))] = square
        table[(quality, (1536, 1024))] = wide
        table[(quality, (1024, 1536))] = wide
    return table


MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo(
            id="openai:1@1",
            name="GPT Image 1",
            aliases=("gpt-image-1",),
            sizes=_GPT_SIZES,
            openai=True,
            prices=_table((0.011, 0.016), (0.042, 0.063), (0.167, 0.25)),
        ),
        ModelInfo(
            id="openai:1@2",
            name="GPT Image 1 Mini",
            aliases=("gpt-image-1-mini",),
            sizes=_GPT_SIZES,
            openai=True,
            prices=_table((0.005, 0.006), (0.011, 0.015), (0.036, 0.052)),
        ),
    )
}
ALIASES: dict[str, str] = {alias: m.id for m in MODELS.values() for alias in m.aliases}


def resolve_model(name: str) -> ModelInfo | None:
    """The model for an alias or a Runware model id (AIR); None when it is neither."""
    model_id = ALIASES.get(name, name)
    known = MODELS.get(model_id)
    if known is not None:
        return known
    if _AIR.match(name):
        # Another Runware model: accepted with the generic rules of imageInference.
        return ModelInfo(id=name, name=name, max_references=16, prompt_length=(2, 3000))
    return None


def known_model_names() -> str:
    return ", ".join(sorted(ALIASES) + sorted(MODELS))


def parse_size(text: str) -> Size | None:
    match = re.fullmatch(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))
