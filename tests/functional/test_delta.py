"""The incremental path (delta.py): after a data table changed, only its changed rows are
resolved and planned, and the answer is exactly the full plan's."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import pytest

from pixmake import api, snapshot
from pixmake.errors import SpecError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.conftest import Project

SPEC = """\
version: 1
defaults: {model: gpt-image-1-mini, quality: low, provider: placeholder}
data:
  items: data/items.csv
assets:
  hero:
    prompt: a hero banner
    size: 1536x1024
    out: hero.png
  "icon-{{ item.slug }}":
    for_each: items
    prompt: "A {{ item.name }} icon{{ ', number ' ~ index if item.numbered == 'yes' else '' }}"
    quality: "{{ item.quality }}"
    references: ["{{ item.ref }}"]
    out: "icons/{{ item.slug }}.png"
"""
HEADER = "slug,name,quality,ref,numbered\n"
ROWS = [
    "sword,short sword,low,refs/a.png,no",
    "shield,round shield,low,refs/a.png,no",
    "potion,health potion,medium,refs/b.png,no",
    "bow,long bow,low,refs/b.png,no",
    "axe,war axe,low,refs/a.png,no",
]
PLACEHOLDER = {"provider": "placeholder"}


def _csv(rows: list[str]) -> str:
    """The table of these rows, under the usual header unless the first row is a header."""
    header = "" if rows and rows[0].startswith("slug,") else HEADER
    return header + "".join(r + "\n" for r in rows)


def _age(project: Project) -> None:
    """Move every file 10 s into the past, so that nothing is racily clean."""
    past = time.time_ns() - 10_000_000_000
    for path in project.root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(past, past))


@pytest.fixture
def series(project: Project) -> Project:
    project.gen(
        {
            "pixmake.yaml": SPEC,
            "data/items.csv": _csv(ROWS),
            "refs/a.png": b"reference a",
            "refs/b.png": b"reference b",
        }
    )
    project.build()
    _age(project)
    assert (
        project.run("status", "--provider", "placeholder").code == 0
    )  # the full path, which writes the snapshot
    return project


def _plan(project: Project, incremental: bool) -> tuple[Any, api.Session | None]:
    """The plan as (id, state, action, reasons) in order, or the spec error's text."""
    try:
        session = api.open_session(project.root, incremental=incremental, **PLACEHOLDER)
    except SpecError as exc:
        return str(exc), None
    plan = session.plan()
    items = [(i, plan.assets[i].state, plan.assets[i].action, plan.assets[i].reasons)
             for i in plan.order]  # fmt: skip
    return items, session


EDITS: dict[str, Callable[[list[str]], list[str]]] = {
    "one value": lambda rows: [rows[0], rows[1].replace("round", "kite"), *rows[2:]],
    "a row added": lambda rows: [*rows, "mace,iron mace,low,refs/a.png,no"],
    "a row removed": lambda rows: [rows[0], *rows[2:]],
    "rows reordered": lambda rows: list(reversed(rows)),
    "an id renamed": lambda rows: [rows[0].replace("sword,", "sabre,"), *rows[1:]],
    "a row repeated": lambda rows: [*rows, rows[0]],
    "an id made twice": lambda rows: [*rows, "sword,other sword,low,refs/a.png,no"],
    "an output taken": lambda rows: [*rows, "../hero,hero,low,refs/a.png,no"],
    "another asset referenced": lambda rows: [*rows, "mace,iron mace,low,asset:hero,no"],
    "a bad value": lambda rows: [rows[0].replace(",low,", ",ultra,"), *rows[1:]],
    "a missing reference": lambda rows: [rows[0].replace("refs/a.png", "refs/zz.png"), *rows[1:]],
    "the position now used": lambda rows: [rows[0].replace(",no", ",yes"), *rows[1:]],
    "nothing, only touched": lambda rows: rows,
    "a quoted value": lambda rows: [
        rows[0].replace("short sword", '"short, sharp sword"'),
        *rows[1:],
    ],
    "a column renamed": lambda rows: ["slug,title,quality,ref,numbered", *rows],  # a header
    "two rows' values swapped": lambda rows: [rows[1], rows[0], *rows[2:]],
    "a blank line": lambda rows: [rows[0], "", *rows[1:]],
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_the_incremental_plan_is_the_full_plan(series: Project, edit: str) -> None:
    (series.root / "data/items.csv").write_text(_csv(EDITS[edit](ROWS)))
    incremental, session = _plan(series, incremental=True)
    full, _ = _plan(series, incremental=False)
    assert incremental == full
    if isinstance(full, str):
        assert session is None
        return
    # Nothing would be gained by going back to the full path for an ordinary edit.
    fallback = edit in ("another asset referenced", "an output taken", "a row repeated")
    assert (session is not None and session.delta is None) == fallback, edit


def test_only_the_changed_lines_of_a_csv_are_parsed(series: Project) -> None:
    rows = [ROWS[0], ROWS[1], ROWS[2].replace("health", "mana"), *ROWS[3:]]
    (series.root / "data/items.csv").write_text(_csv(rows))
    session = api.open_session(series.root, incremental=True, **PLACEHOLDER)
    assert session.delta is not None
    assert list(session.delta.tables["data/items.csv"]) == [2]  # the others were not parsed
    assert list(session.project.assets) == ["icon-potion"]
    full, _ = _plan(series, incremental=False)
    assert _plan(series, incremental=True)[0] == full


def test_only_the_changed_rows_are_resolved(series: Project) -> None:
    rows = [
        ROWS[0],
        ROWS[1].replace("round", "kite"),
        *ROWS[2:],
        "mace,iron mace,low,refs/a.png,no",
    ]
    (series.root / "data/items.csv").write_text(_csv(rows))
    session = api.open_session(series.root, incremental=True, **PLACEHOLDER)
    assert session.delta is not None
    assert sorted(session.project.assets) == ["icon-mace", "icon-shield"]
    assert session.delta.kept == {"hero", "icon-sword", "icon-potion", "icon-bow", "icon-axe"}
    session.plan()
    assert list(session.lock.entries._parsed) == ["icon-shield"]  # no other entry read


def test_a_build_after_an_edit_leaves_a_snapshot_for_the_next_run(
    series: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files written just before the snapshot are racily clean; as if the clock had moved on:
    monkeypatch.setattr(snapshot, "RACY_NS", 0)
    csv = series.root / "data/items.csv"
    csv.write_text(_csv([ROWS[0], ROWS[1].replace("round", "kite"), *ROWS[2:]]))
    summary = series.build()
    assert (summary["generated"], summary["fresh"]) == (1, 5)
    assert snapshot.fresh_ids(series.root, {"profile": None, **PLACEHOLDER}) is not None
    assert {a["state"] for a in series.status().values()} == {"fresh"}
    # the next edit goes the incremental way again, and reverting it restores for free
    csv.write_text(_csv(ROWS))
    session = api.open_session(series.root, incremental=True, **PLACEHOLDER)
    assert session.delta is not None
    assert list(session.project.assets) == ["icon-shield"]
    summary = series.build()
    assert (summary["generated"], summary["restored"], summary["fresh"]) == (0, 1, 5)
    assert series.status()["icon-shield"]["state"] == "fresh"
    full, _ = _plan(series, incremental=False)
    assert {state for _, state, _, _ in full} == {"fresh"}


def test_check_on_the_incremental_path_writes_nothing(series: Project) -> None:
    (series.root / "data/items.csv").write_text(_csv([ROWS[0].replace("short", "long"), *ROWS[1:]]))
    before = series.tree()
    result = series.run("check", "--provider", "placeholder")
    assert result.code == 1
    assert "changed: icon-sword: prompt changed" in result.out
    assert series.tree() == before


def test_a_template_that_reads_data_disables_it(project: Project) -> None:
    spec = SPEC.replace(
        "A {{ item.name }} icon", "A {{ item.name }} of {{ data['items'] | length }}"
    )
    project.gen(
        {
            "pixmake.yaml": spec,
            "data/items.csv": _csv(ROWS),
            "refs/a.png": b"a",
            "refs/b.png": b"b",
        }
    )
    project.build()
    _age(project)
    assert project.run("status", "--provider", "placeholder").code == 0
    (project.root / "data/items.csv").write_text(_csv([*ROWS, "mace,iron mace,low,refs/a.png,no"]))
    incremental, session = _plan(project, incremental=True)
    assert session is not None
    assert session.delta is None
    changed = [i for i, state, _, _ in incremental if state != "fresh"]
    assert changed == [
        "icon-axe",
        "icon-bow",
        "icon-mace",
        "icon-potion",
        "icon-shield",
        "icon-sword",
    ]
