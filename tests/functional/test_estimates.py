"""Estimates that learn from the costs pixmake.lock records, and `pixmake cost`, against the fake
Runware server (whose `price_scale` makes an account's real costs differ from the list prices)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, copy_example, git

KEY = "sk-test-estimates"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
SCALE = 0.8  # this account pays 80 % of the list prices: the price table is 25 % too high


@pytest.fixture
def discounted(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with FakeRunware(api_key=KEY, price_scale=SCALE) as server:
        monkeypatch.setenv("RUNWARE_BASE_URL", server.url)
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        yield server


def _hundred(project: Project, season: int) -> None:
    """100 assets over two models, four qualities and three sizes."""
    classes = itertools.cycle(
        itertools.product(
            ("gpt-image-1-mini", "gpt-image-1"),
            ("low", "medium", "high", "auto"),
            ("1024x1024", "1536x1024", "1024x1536"),
        )
    )
    lines = []
    for i, (model, quality, size) in zip(range(100), classes, strict=False):
        results = 2 if i % 10 == 0 else 1
        lines.append(
            f"  a{i}: {{prompt: 'season {season} item {i}', model: {model}, quality: {quality},"
            f" size: {size}, results: {results}, out: a{i}.png}}\n"
        )
    project.gen({"pixmake.yaml": f"version: 1\n{FAST}assets:\n" + "".join(lines)})


def _plan(project: Project, *args: str) -> dict[str, Any]:
    result = project.run("plan", "--json", *args)
    assert result.code == 0, result.err
    document: dict[str, Any] = result.json()
    return document


def _build(project: Project, fake: FakeRunware, *args: str) -> float:
    """What the build was charged, by the fake's ledger."""
    before = fake.total_cost()
    result = project.run("build", "-j", "8", "--json", *args)
    assert result.code == 0, result.err
    return fake.total_cost() - before


def _off(estimate: float, charged: float) -> float:
    return abs(estimate - charged) / charged


def test_a_hundred_assets_are_estimated_within_ten_percent(
    discounted: FakeRunware, project: Project
) -> None:
    _hundred(project, 1)
    first = _plan(project)
    assert {a["estimate_source"] for a in first["assets"]} == {"price table"}
    charged = _build(project, discounted)
    assert _off(first["estimated_cost_usd"], charged) == pytest.approx(0.25)  # list prices

    _hundred(project, 2)  # every prompt changes: 100 new requests, of the same price classes
    second = _plan(project)
    assert {a["estimate_source"] for a in second["assets"]} == {"lock"}
    charged = _build(project, discounted)
    assert _off(second["estimated_cost_usd"], charged) <= 0.10
    assert second["estimated_cost_usd"] == pytest.approx(charged)


def test_a_price_class_the_lock_has_not_paid_for_is_estimated_from_the_table(
    discounted: FakeRunware, project: Project
) -> None:
    spec = "version: 1\n" + FAST + "defaults: {model: gpt-image-1-mini, quality: low}\nassets:\n"
    project.gen({"pixmake.yaml": spec + "  a: {prompt: one, out: a.png}\n"})
    _build(project, discounted)
    project.gen(
        {
            "pixmake.yaml": spec + "  a: {prompt: one, out: a.png}\n"
            "  b: {prompt: two, out: b.png}\n"
            "  c: {prompt: three, quality: high, out: c.png}\n"
        }
    )
    assets = {a["id"]: a for a in _plan(project)["assets"]}
    assert assets["b"]["estimate_source"] == "lock"
    assert assets["b"]["estimated_cost_usd"] == pytest.approx(0.005 * SCALE)
    assert assets["c"]["estimate_source"] == "price table"
    assert assets["c"]["estimated_cost_usd"] == pytest.approx(0.036)
    text = project.run("plan").out
    assert "~0.004 USD (lock)" in text
    assert "~0.036 USD (table)" in text
    assert "(1 from costs in pixmake.lock, 1 from the price table)" in text
    explained = project.run("explain", "b").out
    assert "estimated cost: 0.0040 USD (what Runware charged" in explained


def test_placeholder_records_teach_nothing(project: Project) -> None:
    project.gen(
        {"pixmake.yaml": "version: 1\ndefaults: {model: gpt-image-1-mini, quality: low}\n"
         "assets:\n  a: {prompt: one, out: a.png}\n"}
    )  # fmt: skip
    project.build()  # the placeholder provider: recorded at $0
    (item,) = _plan(project, "--provider", "runware")["assets"]
    assert item["estimate_source"] == "price table"
    assert item["estimated_cost_usd"] == pytest.approx(0.005)


@pytest.mark.parametrize("example", ["website", "game-icons", "labels"])
def test_seed_examples_are_estimated_within_ten_percent(
    discounted: FakeRunware, project: Project, example: str
) -> None:
    copy_example(example, project.root)
    with (project.root / "pixmake.yaml").open("a") as spec:
        spec.write(FAST)
    first = _plan(project)["estimated_cost_usd"]
    charged = _build(project, discounted)
    assert _off(first, charged) == pytest.approx(0.25)  # the price table, at list prices

    again = _plan(project, "--reroll", "*")  # a new image of every request: paid again
    assert {a["estimate_source"] for a in again["assets"] if a["action"] == "generate"} == {"lock"}
    charged = _build(project, discounted, "--reroll", "*")
    assert _off(again["estimated_cost_usd"], charged) <= 0.10


def test_cost_reports_what_the_lock_says_was_spent(
    discounted: FakeRunware, project: Project, git_identity: None
) -> None:
    copy_example("website", project.root)
    with (project.root / "pixmake.yaml").open("a") as spec:
        spec.write(FAST)
    spent = _build(project, discounted)
    report = project.run("cost", "--json").json()
    assert report["total_usd"] == pytest.approx(spent)
    rows = {(r["series"], r["quality"]): r for r in report["rows"]}
    assert rows[("hero", "medium")]["cost_usd"] == pytest.approx(0.015 * SCALE)
    thumbs = rows[("thumb-{{ topic }}", "medium")]
    assert (thumbs["assets"], thumbs["images"]) == (4, 4)
    assert thumbs["cost_usd"] == pytest.approx(4 * 0.011 * SCALE)
    text = project.run("cost").out
    assert f"spent: {spent:.4f} USD on 5 assets" in text

    (project.root / ".gitignore").write_text(".pixmake/\n")  # the example's ignores the lock
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "first")
    spec_path = project.root / "pixmake.yaml"
    spec_path.write_text(spec_path.read_text().replace("music", "dance"))
    on_branch = _build(project, discounted)
    since = project.run("cost", "--since", "main", "--json").json()
    assert since["total_usd"] == pytest.approx(on_branch)
    assert [(r["series"], r["assets"]) for r in since["rows"]] == [("thumb-{{ topic }}", 1)]
    assert since["since"] == git(project.root, "rev-parse", "main").strip()
    assert since["note"] is None
    assert "spent since main: 0.0088 USD on 1 asset\n" in project.run("cost", "--since", "main").out


def test_cost_since_a_commit_that_does_not_exist(project: Project, git_identity: None) -> None:
    project.gen({"pixmake.yaml": "version: 1\nassets:\n  a: {prompt: one, out: a.png}\n"})
    git(project.root, "init", "-q", "-b", "main")
    refused = project.run("cost", "--since", "nowhere")
    assert refused.code == 2
    assert "--since nowhere: no such commit" in refused.err
    assert "fix: " in refused.err
    assert "Traceback" not in refused.err
