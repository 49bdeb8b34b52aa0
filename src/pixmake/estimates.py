"""Estimates that learn: what Runware charged for the same model, quality and size, as the lock
records it, and the catalog's price table where the lock has no such record.

```
asset to generate ──▶ placeholder provider?                        ──▶ 0, "placeholder"
                  ──▶ the lock's paid records of its price class    ──▶ median per image, "lock"
                      (model, quality, width, height)
                  ──▶ catalog.py's price table                      ──▶ list price, "price table"
                  ──▶ none of them                                  ──▶ unknown (None)
```
A record's cost is per request: it is divided by the images the request asked for (`results`
for each candidate). Placeholder records and records without a cost are left out. The lock is
read for this only when an estimate is first asked for (a plan with nothing to generate reads
none of its entries), and from each entry's text, by a search for the few fields it needs, not
a parse: `status` with one new asset in 10,000 stays as fast as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake import catalog

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from pixmake.lockfile import Entries
    from pixmake.spec.asset import Asset

LOCK = "lock"
TABLE = "price table"
PLACEHOLDER = "placeholder"

PriceClass = tuple[str, str, int, int]  # model id, quality, width, height
# The fields of an entry's `request` and `record` that estimates need, as pixmake writes them:
# each on its own line, indented for its place (a JSON string holds no raw newline, so no
# prompt can look like one).
_REQUEST = re.compile(r'\n        "(model|quality|width|height|results|candidates)": ([^\n]*)')
_RECORD = re.compile(r'\n        "(cost_usd|placeholder)": ([^\n]*)')


@dataclass(frozen=True, slots=True)
class Estimate:
    """USD for one request (None: no known price) and where the figure came from."""

    usd: float | None
    source: str | None


def price_class(request: Mapping[str, Any]) -> PriceClass | None:
    """The (model id, quality, width, height) of a request as the lock records it."""
    model, quality = request.get("model"), request.get("quality")
    width, height = request.get("width"), request.get("height")
    if not isinstance(model, str) or not isinstance(quality, str):
        return None
    if not isinstance(width, int) or not isinstance(height, int):
        return None
    return catalog.ALIASES.get(model, model), quality, width, height


def images_of(request: Mapping[str, Any]) -> int:
    """How many images a recorded request asked for: `results` for each candidate."""
    results, candidates = request.get("results", 1), request.get("candidates", 1)
    if not isinstance(results, int) or not isinstance(candidates, int):
        return 1
    return max(results, 1) * max(candidates, 1)


def paid_cost(record: Mapping[str, Any]) -> float | None:
    """What a provider record says was charged; None for a placeholder or no figure."""
    cost = record.get("cost_usd")
    if record.get("placeholder") or isinstance(cost, bool) or not isinstance(cost, int | float):
        return None
    return float(cost) if cost > 0 else None


@dataclass(slots=True)
class Estimator:
    """Estimates of requests, learned from `entries` (a lock's, or any entries alike)."""

    entries: Entries
    _learned: dict[PriceClass, float] | None = field(default=None, init=False)

    @classmethod
    def knowing(cls, entries: Entries, learned: dict[PriceClass, float]) -> Estimator:
        """An estimator that has learned already (from the same entries: see learned)."""
        estimator = cls(entries)
        estimator._learned = learned
        return estimator

    def estimate(self, asset: Asset) -> Estimate:
        if asset.provider == "placeholder":
            return Estimate(0.0, PLACEHOLDER)
        settings = {**asset.settings(), "model": asset.model}
        found = price_class(settings)
        per_image = self.learned().get(found) if found is not None else None
        if per_image is not None:
            return Estimate(per_image * asset.images, LOCK)
        model = catalog.resolve_model(asset.model)
        price = model.price(asset.quality, (asset.width, asset.height)) if model else None
        if price is None:
            return Estimate(None, None)
        return Estimate(price * asset.images, TABLE)

    def learned(self) -> dict[PriceClass, float]:
        """The median cost per image of each price class the entries have paid records of."""
        if self._learned is None:
            texts = (self.entries.text(i) for i in self.entries.written())
            self._learned = learn(_fields(text) for text in texts)
        return self._learned


def _fields(text: str) -> dict[str, Any]:
    """The `request` and `record` fields estimates need, found in an entry's text."""
    parts: dict[str, dict[str, Any]] = {"request": {}, "record": {}}
    for section, names in (("request", _REQUEST), ("record", _RECORD)):
        start = text.find(f'\n      "{section}": {{')
        end = text.find("\n      }", start)
        if start < 0 or end < 0:
            continue
        for name, value in names.findall(text, start, end):
            parts[section][name] = _scalar(value.removesuffix(","))
    return parts


def _scalar(text: str) -> Any:
    """A JSON number, name or plain string (one with no escapes); None for anything else."""
    if text.startswith('"'):
        return text[1:-1] if text.endswith('"') and "\\" not in text else None
    if text in _NAMES:
        return _NAMES[text]
    try:
        return float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:  # damaged: it teaches nothing
        return None


_NAMES = {"true": True, "false": False, "null": None}


def learn(entries: Iterable[Mapping[str, Any]]) -> dict[PriceClass, float]:
    """The median cost per image of each price class among these entries' paid records."""
    costs: dict[PriceClass, list[float]] = {}
    for entry in entries:
        request, record = entry.get("request"), entry.get("record")
        if not isinstance(request, dict) or not isinstance(record, dict):
            continue
        found, cost = price_class(request), paid_cost(record)
        if found is not None and cost is not None:
            costs.setdefault(found, []).append(cost / images_of(request))
    import statistics  # here: the no-op path imports this module, and needs none of it

    return {k: statistics.median(v) for k, v in costs.items()}
