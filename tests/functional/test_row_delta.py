"""A table edit of a few rows is planned by planning those rows alone (rowdelta.py), beside the
trace's fresh answer: the same answer as the whole plan with nothing remembered, or, where the
rows cannot answer alone, the whole plan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import pixmake
from pixmake.lockparts import TEST_PART_SIZE
from pixmake.trace import DISABLE
from tests.conftest import Project

ROWS = ["sword,short sword", "shield,round shield", "potion,health potion", "bow,long bow"]


def _table(project: Project, rows: list[str]) -> None:
    project.gen({"data/items.csv": "slug,name\n" + "\n".join(rows) + "\n"})


def _answer(root: Path, *, trace: bool, provider: str | None = "placeholder") -> tuple[Any, ...]:
    """`status` (each asset's plan, as --json has it), and `check`, as the library gives them."""
    saved = os.environ.pop(DISABLE, None)
    if not trace:
        os.environ[DISABLE] = "1"
    try:
        try:
            plan = pixmake.status(root, provider=provider)
        except pixmake.SpecError as exc:
            return ("spec error", str(exc)), -1
        states = [plan.assets[i].to_json() for i in plan.order]
        problems = pixmake.check(root, provider=provider)
        return (states, problems), plan.remembered
    finally:
        os.environ.pop(DISABLE, None)
        if saved is not None:
            os.environ[DISABLE] = saved


def _built(icons: Project) -> Project:
    _table(icons, ROWS)
    icons.build()
    assert icons.run("status", "--provider", "placeholder").code == 0  # the fresh answer
    return icons


def test_one_changed_row_is_planned_alone_with_the_whole_plans_answer(icons: Project) -> None:
    _built(icons)
    _table(icons, [ROWS[0], "shield,kite shield", *ROWS[2:]])
    warm, remembered = _answer(icons.root, trace=True)
    cold, _ = _answer(icons.root, trace=False)
    assert warm == cold
    assert remembered == len(ROWS) - 1  # the other rows: from the fresh answer
    states = {s["id"]: s for s in warm[0]}
    assert states["icon-shield"]["state"] == "changed"
    assert "{+kite+}" in states["icon-shield"]["reasons"][0]
    assert [p.split(":")[:2] for p in warm[1]] == [["changed", " icon-shield"]]  # check
    again, remembered = _answer(icons.root, trace=True)  # the record is as it was: again alone
    assert (again, remembered) == (cold, len(ROWS) - 1)
    icons.build()
    assert _answer(icons.root, trace=True)[0] == _answer(icons.root, trace=False)[0]


def test_a_lock_in_parts_is_read_only_where_the_changed_rows_are(
    icons: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_PART_SIZE, "1")
    _built(icons)
    assert len(list((icons.root / "pixmake.lock.d").iterdir())) > 1
    _table(icons, [*ROWS[:3], "bow,short bow"])
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == len(ROWS) - 1


# Edits the changed rows cannot answer alone: each gives the whole plan's answer.
WHOLE = {
    # its id, then its output: the whole spec checks them against every other asset's
    "a row's id": [ROWS[0], "kite,round shield", *ROWS[2:]],
    "a row added": [*ROWS, "axe,battle axe"],
    "a blank line": [ROWS[0], "", *ROWS[1:3]],
    "the header": None,
    "a malformed row": [ROWS[0], "shield,round,shield", *ROWS[2:]],
}


@pytest.mark.parametrize("edit", list(WHOLE))
def test_what_rows_cannot_answer_alone_the_whole_plan_answers(icons: Project, edit: str) -> None:
    _built(icons)
    rows = WHOLE[edit]
    if rows is None:
        icons.gen({"data/items.csv": "slug,name ,\n" + "\n".join(f"{r}," for r in ROWS) + "\n"})
    else:
        _table(icons, rows)
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered <= 0  # -1: no plan, but the spec's problems


@pytest.mark.parametrize("store", [True, False], ids=["in the store", "only in the lock"])
def test_a_request_made_before_is_restored(icons: Project, store: bool) -> None:
    """The same request as another row's: the store has it, or only the whole lock does (the
    changed rows' lock part does not: the whole plan is made)."""
    import shutil

    _built(icons)
    if not store:
        shutil.rmtree(icons.root / ".pixmake/actions")
    _table(icons, [ROWS[0], "shield,short sword", *ROWS[2:]])
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == (len(ROWS) - 1 if store else 0)
    states = {s["id"]: s for s in warm[0]}
    assert states["icon-shield"]["action"] == "restore"


def test_a_reference_switched_to_another_assets_output_is_refused(icons: Project) -> None:
    """Issue 9's third case: only the whole spec knows `icons/sword.png` is an output."""
    icons.gen({"pixmake.yaml": icons.read("pixmake.yaml").decode().replace(
        "references: [refs/style.png]", "references: ['{{ item.ref }}']")})  # fmt: skip
    rows = [f"{r},refs/style.png" for r in ROWS]
    icons.gen({"data/items.csv": "slug,name,ref\n" + "\n".join(rows) + "\n"})
    icons.build()
    icons.run("status", "--provider", "placeholder")
    rows[1] = rows[1].replace("refs/style.png", "icons/sword.png")
    icons.gen({"data/items.csv": "slug,name,ref\n" + "\n".join(rows) + "\n"})
    warm, _ = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert warm[0] == "spec error"
    assert "icons/sword.png" in warm[1]


def test_a_template_that_reads_data_makes_every_row_depend_on_the_table(
    icons: Project,
) -> None:
    icons.gen({"prompts/icon.j2": "A {{ item.name }} icon, one of {{ data['items'] | length }}"})
    _built(icons)
    _table(icons, [ROWS[0], "shield,kite shield", *ROWS[2:]])
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == 0


def test_another_edit_beside_the_table_makes_the_whole_plan(icons: Project) -> None:
    _built(icons)
    _table(icons, [ROWS[0], "shield,kite shield", *ROWS[2:]])
    icons.gen({"prompts/icon.j2": "An {{ item.name }} icon, palette {{ palette }}\n"})
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == 0


def test_a_render_that_reads_data_in_one_row_only_depends_on_the_table(icons: Project) -> None:
    """The first row's prompt reads the third row, through an include only the first row
    renders: an edit of the third changes the first."""
    icons.gen(
        {
            "prompts/icon.j2": "A {{ item.name }} icon"
            "{% if index == 0 %}{% include 'prompts/beside.j2' %}{% endif %}",
            "prompts/beside.j2": ", beside {{ data['items'][2].name }}",
        }
    )
    _built(icons)
    _table(icons, [*ROWS[:2], "potion,mana potion", ROWS[3]])
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == 0
    assert {s["id"] for s in warm[0] if s["state"] == "changed"} == {"icon-sword", "icon-potion"}


def test_a_header_renamed_with_every_row_as_it_was(icons: Project) -> None:
    _built(icons)
    icons.gen({"data/items.csv": "slug,title\n" + "\n".join(ROWS) + "\n"})
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered <= 0


def test_an_entry_moved_by_hand_to_another_part(
    icons: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole lock finds an entry in a part it does not belong in; the changed rows' own
    part does not have it, so they do not answer alone."""
    import json

    from pixmake.lockparts import part_name

    monkeypatch.setenv(TEST_PART_SIZE, "1")
    _built(icons)
    digits = len(next((icons.root / "pixmake.lock.d").iterdir()).stem)
    home = icons.root / part_name("icon-shield", digits)
    other = next(p for p in (icons.root / "pixmake.lock.d").iterdir() if p != home)
    moved = json.loads(home.read_text())
    entry = moved["assets"].pop("icon-shield")
    away = json.loads(other.read_text())
    away["assets"]["icon-shield"] = entry
    home.write_text(json.dumps(moved, indent=2))
    other.write_text(json.dumps(away, indent=2))
    assert icons.status()["icon-shield"]["state"] == "fresh"  # the fresh answer, recorded
    _table(icons, [ROWS[0], "shield,kite shield", *ROWS[2:]])
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == 0
    assert {s["id"]: s for s in warm[0]}["icon-shield"]["state"] == "changed"


# The table read whole, as a file, by an asset: every one of its lines is an input of that asset.
AS_FILE = {
    "a reference": "  hero:\n    prompt: a hero\n    references: [data/items.csv]\n"
    "    out: hero.png\n",
    "an include": "  hero:\n    prompt: \"a hero {% include 'data/items.csv' %}\"\n"
    "    out: hero.png\n",
    "the series' own include": None,
}


@pytest.mark.parametrize("use", list(AS_FILE))
def test_a_table_read_as_a_file_too_is_not_planned_by_its_rows(icons: Project, use: str) -> None:
    hero = AS_FILE[use]
    if hero is None:
        icons.gen(
            {"prompts/icon.j2": "A {{ item.name }} icon, one of {% include 'data/items.csv' %}"}
        )
    else:
        icons.gen({"pixmake.yaml": icons.read("pixmake.yaml").decode() + hero})
    _built(icons)
    _table(icons, [ROWS[0], "shield,kite shield", *ROWS[2:]])
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == 0
    changed = {s["id"] for s in warm[0] if s["state"] == "changed"}
    assert changed == (
        {"icon-shield", "hero"} if hero else {f"icon-{r.split(',')[0]}" for r in ROWS}
    )


@pytest.mark.filterwarnings("ignore:pixmake.lock. entry ghost")
def test_a_row_that_needs_a_price_the_record_did_not_learn(icons: Project) -> None:
    """Every asset was the placeholder's, so the record learned no price; a row now asks
    Runware, and only the whole lock knows what it charged (here in an entry ignored as
    damaged, of an asset long gone: it still teaches its price)."""
    spec = icons.read("pixmake.yaml").decode()
    spec = spec.replace("  quality: low\n", "  quality: low\n  provider: placeholder\n")
    spec = spec.replace(
        "  for_each: items\n", "  for_each: items\n    provider: '{{ item.provider }}'\n"
    )
    icons.gen({"pixmake.yaml": spec})
    rows = [f"{r},placeholder" for r in ROWS]
    icons.gen({"data/items.csv": "slug,name,provider\n" + "\n".join(rows) + "\n"})
    assert icons.run("build").code == 0
    ghost = (
        '    "ghost": {\n      "key": "k",\n      "record": {\n        "cost_usd": 0.5,\n'
        '        "provider": "runware"\n      },\n      "request": {\n        "height": 1024,\n'
        '        "model": "openai:1@2",\n        "quality": "low",\n        "width": 1024\n'
        "      }\n    },\n"
    )
    lock = icons.read("pixmake.lock").decode()
    icons.gen({"pixmake.lock": lock.replace('  "assets": {\n', '  "assets": {\n' + ghost, 1)})
    assert icons.run("status").code == 0  # the fresh answer, recorded
    rows[1] = rows[1].replace("placeholder", "runware")
    icons.gen({"data/items.csv": "slug,name,provider\n" + "\n".join(rows) + "\n"})
    warm, remembered = _answer(icons.root, trace=True, provider=None)
    assert warm == _answer(icons.root, trace=False, provider=None)[0]
    assert remembered == 0
    shield = {s["id"]: s for s in warm[0]}["icon-shield"]
    assert (shield["estimated_cost_usd"], shield["estimate_source"]) == (0.5, "lock")


@pytest.mark.filterwarnings("ignore:pixmake.lock.d/.* entry icon-s0 is in another part")
def test_an_entry_in_two_parts_it_does_not_belong_in(
    icons: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole lock takes the copy in the part it reads first; the changed rows read only
    one of the two (the other changed row's part): they do not answer."""
    import json

    from pixmake.lockparts import part_name

    monkeypatch.setenv(TEST_PART_SIZE, "1")
    slugs = [f"s{i}" for i in range(12)]
    rows = [f"{s},thing {s}" for s in slugs]
    _table(icons, rows)
    icons.build()
    parts = icons.root / "pixmake.lock.d"
    digits = len(next(parts.iterdir()).stem)
    home = {s: part_name(f"icon-{s}", digits) for s in slugs}
    others = sorted({h for h in home.values() if h != home["s0"]})
    last = others[-1]  # read by the changed rows (s0's, and another's)
    first = others[0]  # read only by the whole lock, before `last`
    edited = next(s for s in slugs if home[s] == last)
    entry = json.loads((icons.root / home["s0"]).read_text())
    moved = entry["assets"].pop("icon-s0")
    (icons.root / home["s0"]).write_text(json.dumps(entry, indent=2))
    for part, prompt in ((first, moved["request"]["prompt"]), (last, "an older prompt")):
        data = json.loads((icons.root / part).read_text())
        data["assets"]["icon-s0"] = {**moved, "request": {**moved["request"], "prompt": prompt}}
        (icons.root / part).write_text(json.dumps(data, indent=2))
    assert icons.status()["icon-s0"]["state"] == "fresh"  # the fresh answer, recorded
    rows[0] = "s0,new s0"
    rows[slugs.index(edited)] = f"{edited},new {edited}"
    _table(icons, rows)
    warm, remembered = _answer(icons.root, trace=True)
    assert warm == _answer(icons.root, trace=False)[0]
    assert remembered == 0
    reason = {s["id"]: s for s in warm[0]}["icon-s0"]["reasons"][0]
    assert reason.startswith("prompt changed: A [-thing-] {+new+} s0")  # the first part's


def test_the_library_takes_the_project_as_text_too(
    icons: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pixmake.status(".")`, as a caller in the project would write it."""
    _built(icons)
    monkeypatch.chdir(icons.root)
    plan = pixmake.status(".", provider="placeholder")
    assert plan.remembered == len(ROWS)
    assert pixmake.check(".", provider="placeholder") == []
