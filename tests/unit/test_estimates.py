from __future__ import annotations

import json
from typing import Any

import pytest

from pixmake.estimates import Estimator, learn
from pixmake.lockfile import parse_lock

HOSTILE = 'a prompt\n        "cost_usd": 99,\n        "quality": "low", "quotes" \\ and, commas'


def _entry(key: str, record: dict[str, Any], **request: Any) -> dict[str, Any]:
    settings = {"model": "openai:1@2", "quality": "medium", "width": 1024, "height": 1024}
    settings |= {"prompt": HOSTILE, "results": 1, "references": [], **request}
    return {
        "key": key,
        "request": settings,
        "outputs": [{"path": f"{key}.png", "hash": key, "bytes": 3, "width": 1, "height": 1}],
        "derived": [],
        "record": record,
    }


def _paid(cost: float) -> dict[str, Any]:
    return {"provider": "runware", "placeholder": False, "cost_usd": cost}


ENTRIES = {
    "a": _entry("a", _paid(0.010)),
    "b": _entry("b", _paid(0.040), results=2, candidates=2),  # 4 images: 0.010 each
    "c": _entry("c", _paid(0.013)),
    "d": _entry("d", {"provider": "placeholder", "placeholder": True, "cost_usd": 0.0}),
    "e": _entry("e", _paid(0.0)),  # no cost reported: teaches nothing
    "f": _entry("f", _paid(0.2), model="gpt-image-1", quality="high", width=1536),
}
EXPECTED = {
    ("openai:1@2", "medium", 1024, 1024): 0.010,  # the median of 0.010, 0.010, 0.013
    ("openai:1@1", "high", 1536, 1024): 0.2,  # an alias is learned under its model id
}


def test_the_median_cost_per_image_of_each_price_class() -> None:
    assert learn(ENTRIES.values()) == pytest.approx(EXPECTED)


def test_learning_from_the_lock_text_finds_what_parsing_finds() -> None:
    lock = parse_lock(json.dumps({"assets": ENTRIES, "version": 1}))
    text = lock.dumps()
    raw = Estimator(parse_lock(text).entries).learned()  # from the entries' text
    parsed = parse_lock(text).entries
    for asset_id in parsed:  # every entry parsed: its text is written from the value
        parsed[asset_id] = dict(parsed[asset_id])  # type: ignore[assignment]
    assert raw == pytest.approx(EXPECTED)
    assert Estimator(parsed).learned() == pytest.approx(EXPECTED)
