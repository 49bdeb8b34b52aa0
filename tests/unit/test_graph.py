from __future__ import annotations

import pytest

from pixmake.errors import SpecError, UsageError
from pixmake.graph import build_graph
from pixmake.spec.asset import Asset, Reference


def _asset(name: str, *refs: str, out: str | None = None) -> Asset:
    return Asset(
        id=name,
        provider="placeholder",
        model="openai:1@2",
        prompt="p",
        width=1024,
        height=1024,
        quality="low",
        background="opaque",
        format="png",
        output_quality=None,
        results=1,
        references=tuple(Reference("asset", r) for r in refs),
        outputs=(out or f"{name}.png",),
        derived=(),
        decl=name,
        origin=None,
        line=1,
    )


def _assets(*items: Asset) -> dict[str, Asset]:
    return {a.id: a for a in items}


def test_order_puts_upstream_first_and_ties_by_id() -> None:
    graph = build_graph(_assets(_asset("z"), _asset("b", "z"), _asset("a")), "p.yaml")
    assert graph.order.index("z") < graph.order.index("b")
    assert graph.upstream["b"] == ("z",)


def test_select_by_glob_brings_upstream_along() -> None:
    graph = build_graph(
        _assets(_asset("hero"), _asset("icon-a", "hero"), _asset("icon-b"), _asset("other")),
        "p.yaml",
    )
    assert graph.select(["icon-*"]) == {"icon-a", "icon-b", "hero"}
    assert graph.select(["hero"]) == {"hero"}
    with pytest.raises(UsageError):
        graph.select(["nope"])


def test_cycle_prints_the_chain() -> None:
    with pytest.raises(SpecError) as caught:
        build_graph(_assets(_asset("a", "b"), _asset("b", "a")), "p.yaml")
    message = str(caught.value)
    assert "reference cycle: " in message
    assert "a -> b -> a" in message or "b -> a -> b" in message


def test_unknown_reference_and_shared_outputs() -> None:
    with pytest.raises(SpecError) as caught:
        build_graph(
            _assets(_asset("a", "ghost"), _asset("b", out="x.png"), _asset("c", out="x.png")),
            "p.yaml",
        )
    message = str(caught.value)
    assert "`asset:ghost` names no asset" in message
    assert "`x.png` is written by both `b` and `c`" in message
