"""Known image models: ids, aliases, what each accepts, and a price table for estimates.

Sources, each model's facts from Runware's own pages where they say them:
- GPT Image 1 (`openai:1@1`): https://runware.ai/docs/models/openai-gpt-image-1 (and its
  `schema.json`); prompt length from https://runware.ai/docs/en/providers/openai; prices are
  OpenAI's list prices as restated in RUNWARE_API.md §7.1 (the page shows only "1k: $0.167").
- GPT Image 1 Mini (`openai:1@2`): https://runware.ai/docs/models/openai-gpt-image-1-mini (the
  sizes; the page shows no price). Its prompt length is not documented (the OpenAI provider
  page names GPT Image 1 only): GPT Image 1's is applied. Prices are OpenAI's list prices for
  gpt-image-1-mini as restated in RUNWARE_API.md §7.1, not Runware's.
- GPT Image 1.5 (`openai:4@1`): https://runware.ai/docs/models/openai-gpt-image-1-5 (`.md` and
  `schema.json`): the three sizes (width and height together), and a price for each size at
  low, medium and high quality ("input costs ... added on top of output costs"). Quality
  `auto` is not priced there, and is refused: whether Runware takes it is not documented.
- GPT Image 2 (`openai:gpt-image@2`), GPT Image 2.5 Flare (`openai:gpt-image@2.5-flare`) and
  Sunburst (`openai:gpt-image@2.5-sunburst`): ids and request fields from Runware's SDK
  (`runware-sdk` 1.8.0, `runware/types/task_map.py`: `settings`, no `providerSettings`);
  `settings.quality` from https://runware.ai/docs/models/openai-gpt-image-2-5-flare/guides/quality-levels
  ("four [levels] came across from GPT Image 2, and 2.5 adds two above them"; the names of
  the levels are not in the stored copy). No page giving these three's request fields, sizes
  or prices was found; Sunburst's guides page only describes it:
  https://runware.ai/docs/models/openai-gpt-image-2-5-sunburst/guides

Where a fact is not documented, the model lists it in `unknown` and pixmake applies its own
generic rule instead (named in `UNKNOWN_RULES`), for Runware to accept or refuse; the README's
model table says so. Runware reports the real cost of every task (`includeCost`), which is
what the lockfile records; `quality: auto` has no fixed price: it is estimated at the `high`
price, an upper bound.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("opaque", "transparent", "auto")
FORMATS = ("png", "jpg", "webp")
LOSSY_FORMATS = frozenset({"jpg", "webp"})
ALPHA_FORMATS = frozenset({"png", "webp"})
EXTENSIONS = {"png": (".png",), "jpg": (".jpg", ".jpeg"), "webp": (".webp",)}
OUTPUT_QUALITY_RANGE = (20, 99)
MAX_RESULTS = 20
# Sizes a model's page does not give: any width and height up to pixmake's own bound (what
# its image checks are built for), for Runware to accept or refuse.
ANY_SIZE = (16, 4096, 1)

# A Runware model id (AIR): `provider:name@version`, each part names or numbers, as Runware
# writes them: `openai:1@1`, `openai:4@1`, `openai:gpt-image@2`, `openai:gpt-image@2.5-sunburst`,
# `runware:100@1`, `civitai:4384@128713`.
_PART = r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?"
_AIR = re.compile(rf"^{_PART}:{_PART}@{_PART}$")
AIR_SHAPE = "provider:name@version"
AIR_FORM = f"{AIR_SHAPE}, e.g. openai:gpt-image@2 or runware:100@1"

UNKNOWN_RULES = {
    "sizes": f"any size up to {ANY_SIZE[1]}x{ANY_SIZE[1]}",
    "qualities": "low, medium, high or auto, sent as they are",
    "backgrounds": "transparent, opaque or auto, sent as they are",
    "max_references": "16, OpenAI's limit for the images of an edit",
    "prompt_length": "1 to 32,000 characters, OpenAI's limit",
    "prices": "no estimate before the build; the lock records what Runware charged",
}

Size = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What one model accepts. `sizes` empty means any size within `size_range` in steps.

    `quality_at` and `background_at` are where the task carries the setting
    (`providerSettings.openai.quality`, `settings.quality`), or None when it is not sent.
    `unknown` names the facts no Runware page documents (see `UNKNOWN_RULES`)."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    sizes: tuple[Size, ...] = ()
    size_range: tuple[int, int, int] = (128, 2048, 64)
    qualities: tuple[str, ...] = QUALITIES
    backgrounds: tuple[str, ...] = BACKGROUNDS
    quality_at: str | None = None
    background_at: str | None = None
    max_references: int = 16
    prompt_length: tuple[int, int] = (1, 32000)
    max_results: int = MAX_RESULTS
    prices: dict[tuple[str, Size], float] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()
    source: str = ""

    def size_ok(self, size: Size) -> bool:
        if self.sizes:
            return size in self.sizes
        low, high, step = self.size_range
        return all(low <= v <= high and v % step == 0 for v in size)

    def sizes_text(self) -> str:
        if self.sizes:
            return ", ".join(f"{w}x{h}" for w, h in self.sizes)
        low, high, step = self.size_range
        steps = f" in steps of {step}" if step > 1 else ""
        return f"width and height from {low} to {high}{steps}"

    def price(self, quality: str, size: Size) -> float | None:
        """Estimated USD per image, or None when the catalog has no price for this model."""
        if not self.prices:
            return None
        return self.prices.get(("high" if quality == "auto" else quality, size))

    def wire_settings(self, quality: str, background: str) -> dict[str, Any]:
        """The task's objects that carry quality and background, e.g.
        `{"providerSettings": {"openai": {"quality": "low", "background": "opaque"}}}`."""
        found: dict[str, Any] = {}
        for path, value in ((self.quality_at, quality), (self.background_at, background)):
            if path is None:
                continue
            *parents, name = path.split(".")
            target = found
            for parent in parents:
                target = target.setdefault(parent, {})
            target[name] = value
        return found


_GPT_SIZES: tuple[Size, ...] = ((1024, 1024), (1536, 1024), (1024, 1536))


def _table(
    low: tuple[float, ...], medium: tuple[float, ...], high: tuple[float, ...]
) -> dict[tuple[str, Size], float]:
    """Prices per quality for 1024x1024, 1536x1024 and 1024x1536 (one figure for both
    when only two are given)."""
    table: dict[tuple[str, Size], float] = {}
    for quality, prices in (("low", low), ("medium", medium), ("high", high)):
        square, wide, tall = (*prices, prices[-1])[:3]
        table[(quality, (1024, 1024))] = square
        table[(quality, (1536, 1024))] = wide
        table[(quality, (1024, 1536))] = tall
    return table


_OPENAI = "providerSettings.openai."
_GPT2_UNKNOWN = frozenset({"sizes", "qualities", "max_references", "prompt_length", "prices"})


def _gpt_image_2(air: str, name: str, alias: str, source: str) -> ModelInfo:
    """GPT Image 2 and 2.5: `settings.quality`, no background setting Runware documents, so
    none is sent (opaque and auto leave it to the model; transparent is refused)."""
    return ModelInfo(
        id=air,
        name=name,
        aliases=(alias,),
        size_range=ANY_SIZE,
        backgrounds=("opaque", "auto"),
        quality_at="settings.quality",
        unknown=_GPT2_UNKNOWN,
        source=source,
    )


MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo(
            id="openai:1@1",
            name="GPT Image 1",
            aliases=("gpt-image-1",),
            sizes=_GPT_SIZES,
            quality_at=_OPENAI + "quality",
            background_at=_OPENAI + "background",
            prices=_table((0.011, 0.016), (0.042, 0.063), (0.167, 0.25)),
            unknown=frozenset({"max_references"}),
            source="https://runware.ai/docs/models/openai-gpt-image-1",
        ),
        ModelInfo(
            id="openai:1@2",
            name="GPT Image 1 Mini",
            aliases=("gpt-image-1-mini",),
            sizes=_GPT_SIZES,
            quality_at=_OPENAI + "quality",
            background_at=_OPENAI + "background",
            prices=_table((0.005, 0.006), (0.011, 0.015), (0.036, 0.052)),
            unknown=frozenset({"max_references", "prompt_length"}),
            source="https://runware.ai/docs/models/openai-gpt-image-1-mini",
        ),
        ModelInfo(
            id="openai:4@1",
            name="GPT Image 1.5",
            aliases=("gpt-image-1.5",),
            sizes=_GPT_SIZES,
            qualities=("low", "medium", "high"),  # the page prices these three, not auto
            quality_at=_OPENAI + "quality",
            background_at=_OPENAI + "background",
            prices=_table((0.009, 0.013, 0.013), (0.034, 0.05, 0.051), (0.133, 0.199, 0.20)),
            unknown=frozenset({"backgrounds", "max_references", "prompt_length"}),
            source="https://runware.ai/docs/models/openai-gpt-image-1-5",
        ),
        _gpt_image_2(
            "openai:gpt-image@2",
            "GPT Image 2",
            "gpt-image-2",
            "runware-sdk task_map.py OpenaiGptImage2Params",
        ),
        _gpt_image_2(
            "openai:gpt-image@2.5-flare",
            "GPT Image 2.5 Flare",
            "gpt-image-2.5-flare",
            "https://runware.ai/docs/models/openai-gpt-image-2-5-flare/guides/quality-levels",
        ),
        _gpt_image_2(
            "openai:gpt-image@2.5-sunburst",
            "GPT Image 2.5 Sunburst",
            "gpt-image-2.5-sunburst",
            "runware-sdk task_map.py OpenaiGptImage25SunburstParams",
        ),
    )
}
ALIASES: dict[str, str] = {alias: m.id for m in MODELS.values() for alias in m.aliases}


def is_model_id(name: str) -> bool:
    """Whether `name` has the form of a Runware model id (AIR), known to the catalog or not."""
    return _AIR.match(name) is not None


def resolve_model(name: str) -> ModelInfo | None:
    """The model for an alias or a Runware model id (AIR); None when it is neither."""
    model_id = ALIASES.get(name, name)
    known = MODELS.get(model_id)
    if known is not None:
        return known
    if is_model_id(name):
        # Another Runware model: accepted with the generic rules of imageInference.
        return ModelInfo(id=name, name=name, max_references=16, prompt_length=(2, 3000))
    return None


def suggestions(name: str) -> list[str]:
    """Known aliases and ids close to a name that is neither (for "did you mean")."""
    known = [*ALIASES, *MODELS]
    lowered = name.strip().lower()
    exact = [k for k in known if k == lowered]
    return exact or difflib.get_close_matches(lowered, known, n=3, cutoff=0.6)


def known_model_names() -> str:
    return ", ".join(sorted(ALIASES) + sorted(MODELS))


def parse_size(text: str) -> Size | None:
    match = re.fullmatch(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))
