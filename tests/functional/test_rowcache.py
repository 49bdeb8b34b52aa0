"""Rows rendered last time are reused, and never when something they depend on changed."""

from __future__ import annotations

from pathlib import Path

from pixmake.project import load_project
from pixmake.spec import rowcache
from tests.conftest import ICONS_CSV, Project


def _rendered(root: Path) -> int:
    cache = rowcache.load(root / ".pixmake")
    load_project(root, provider="placeholder", cache=cache)
    return cache.rendered


def test_editing_one_row_renders_one_asset(icons: Project) -> None:
    icons.build()
    assert _rendered(icons.root) == 0
    icons.gen({"data/items.csv": ICONS_CSV.replace("round", "kite")})
    assert _rendered(icons.root) == 1
    assert icons.status()["icon-shield"]["state"] == "changed"


def test_a_template_edit_renders_again(icons: Project) -> None:
    icons.build()
    icons.gen({"prompts/icon.j2": "A {{ item.name }}, in {{ palette }}"})
    assert _rendered(icons.root) == 3
    assert {a["state"] for a in icons.status().values()} == {"changed"}


def test_templates_that_read_other_rows_or_positions(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets:\n"
            "  'a-{{ item.k }}': {for_each: t, prompt: '{{ item.k }} of {{ data.t | length }}', "
            "out: 'a/{{ item.k }}.png'}\n"
            "  'b-{{ item.k }}': {for_each: t, prompt: '{{ item.k }} at {{ index }}', "
            "out: 'b/{{ item.k }}.png'}\n",
            "t.csv": "k\nx\ny\n",
        }
    )
    project.build()
    project.gen({"t.csv": "k\nw\nx\ny\n"})  # a new first row
    states = project.status()
    assert states["a-x"]["state"] == "changed"  # "x of 2" became "x of 3"
    assert states["b-x"]["state"] == "changed"  # "x at 0" became "x at 1"
    assert states["a-w"]["state"] == "new"


def test_a_deleted_reference_is_still_an_error(icons: Project) -> None:
    icons.build()
    (icons.root / "refs/style.png").unlink()
    result = icons.run("status", "--provider", "placeholder")
    assert result.code == 2
    assert "reference file `refs/style.png` does not exist" in result.err


def test_check_writes_no_cache(icons: Project) -> None:
    icons.build()
    cache = icons.root / ".pixmake" / rowcache.NAME
    cache.unlink()
    assert icons.run("check", "--provider", "placeholder").code == 0
    assert not cache.exists()


def test_an_immediate_same_size_spec_edit_is_seen(icons: Project) -> None:
    icons.build()
    assert icons.run("status", "--provider", "placeholder").code == 0  # caches the spec
    spec = icons.root / "pixmake.yaml"
    spec.write_text(spec.read_text().replace("forest green", "forest GREEN"))
    assert {a["state"] for a in icons.status().values()} == {"changed"}
