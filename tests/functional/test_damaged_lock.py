"""A damaged pixmake.lock entry is reported once, treated as absent, and never deletes anything."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Project

SPEC = """\
version: 1
assets:
  hero:
    prompt: a hero
    out: hero.png
  logo:
    prompt: a logo
    out: logo.png
"""


def _damage(entry: dict[str, Any], how: str) -> Any:
    output = entry["outputs"][0]
    damaged: dict[str, Any] = {
        "path null": dict(entry, outputs=[dict(output, path=None)]),
        "hash not a string": dict(entry, outputs=[dict(output, hash=12)]),
        "outputs a dict": dict(entry, outputs=output),
        "outputs empty": dict(entry, outputs=[]),
        "output a list": dict(entry, outputs=[["hero.png"]]),
        "entry a list": [entry],
        "key missing": {k: v for k, v in entry.items() if k != "key"},
        "record a string": dict(entry, record="placeholder"),
        "width a string": dict(entry, outputs=[dict(output, width="8")]),
    }
    return damaged[how]


PROBLEMS = {
    "path null": "`outputs[0].path` must be a string, not null",
    "hash not a string": "`outputs[0].hash` must be a string, not an integer",
    "outputs a dict": "`outputs` must be a list, not an object",
    "outputs empty": "`outputs` must list at least one output, not none",
    "output a list": "`outputs[0]` must be an object, not a list",
    "entry a list": "must be an object, not a list",
    "key missing": "`key` is missing",
    "record a string": "`record` must be an object, not a string",
    "width a string": "`outputs[0].width` must be an integer, not a string",
}


def _write_lock(project: Project, lock: dict[str, Any], canonical: bool) -> None:
    indent = 2 if canonical else None  # pixmake's own layout (read lazily) or by hand
    text = json.dumps(lock, indent=indent, sort_keys=canonical, ensure_ascii=False)
    (project.root / "pixmake.lock").write_text(text + "\n" if canonical else text)


@pytest.mark.parametrize("canonical", [True, False], ids=["as-written", "hand-formatted"])
@pytest.mark.parametrize("how", sorted(PROBLEMS))
def test_a_damaged_entry_is_reported_once_and_rebuilt(
    project: Project, how: str, canonical: bool
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    assert project.build()["generated"] == 2
    lock = project.lock()
    good = lock["assets"]["hero"]
    lock["assets"]["hero"] = _damage(good, how)
    _write_lock(project, lock, canonical)
    warning = f"warning: pixmake.lock: entry hero: {PROBLEMS[how]}; ignored"
    for command in (["status"], ["plan"], ["check"], ["prune", "--dry-run"], ["prune"]):
        result = project.run(*command, "--provider", "placeholder")
        assert result.code in (0, 1), (command, result.err)
        assert "Traceback" not in result.err
        assert result.err.count(warning) == 1, (command, result.err)
        assert (project.root / "hero.png").exists()
    assert project.status()["hero"]["state"] == "new"
    assert project.status()["hero"]["reasons"][0] == (
        "its entry in pixmake.lock is damaged and ignored (see the warning)"
    )
    assert project.status()["logo"]["state"] == "fresh"
    summary = project.build()
    assert summary["restored"] + summary["generated"] == 1
    assert project.lock()["assets"]["hero"] == good  # the fresh entry replaced the damaged one
    result = project.run("status", "--provider", "placeholder")
    assert result.code == 0
    assert "warning" not in result.err


@pytest.mark.parametrize("canonical", [True, False], ids=["as-written", "hand-formatted"])
def test_a_damaged_orphan_is_not_pruned_and_its_files_are_kept(
    project: Project, canonical: bool
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    assert project.build()["generated"] == 2
    lock = project.lock()
    lock["assets"]["hero"] = _damage(lock["assets"]["hero"], "path null")
    _write_lock(project, lock, canonical)
    project.gen({"pixmake.yaml": SPEC.split("  logo:")[0]})  # hero only: logo is an orphan
    lock = project.lock()
    lock["assets"]["hero"], lock["assets"]["logo"] = lock["assets"]["logo"], lock["assets"]["hero"]
    lock["assets"] = dict(sorted(lock["assets"].items()))
    _write_lock(project, lock, canonical)  # now hero is fine and logo (orphaned) is damaged
    result = project.run("prune", "--dry-run")
    assert result.code == 0, result.err
    assert "logo" not in result.out
    assert "warning: pixmake.lock: entry logo: `outputs[0].path` must be a string" in result.err
    result = project.run("prune")
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert (project.root / "logo.png").exists()
    assert (project.root / "hero.png").exists()
    assert project.lock()["assets"]["logo"] == lock["assets"]["logo"]  # kept, never deleted


def test_a_damaged_entry_leaves_the_rest_of_the_lock_working(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    assert project.build()["generated"] == 2
    (project.root / "logo.png").unlink()
    lock = project.lock()
    lock["assets"]["hero"]["outputs"] = None
    _write_lock(project, lock, canonical=True)
    states = project.status()
    assert states["hero"]["state"] == "new"
    assert states["logo"]["state"] == "missing"
    summary = project.build()
    assert summary["restored"] == 2  # both from the store, at no cost
    assert summary["generated"] == 0
