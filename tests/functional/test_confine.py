"""Confinement: nothing outside the project is read, written or deleted, symlinks followed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, png_bytes, serve_fake

KEY = "sk-live-CONFINE0123456789secret"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
REF = "version: 1\nassets:\n  hero:\n    prompt: a hero\n    references: [REF]\n    out: hero.png\n"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outside")


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/passwd"])
def test_a_reference_symlinked_outside_is_refused_before_any_upload(
    fake: FakeRunware, project: Project, target: str
) -> None:
    project.gen({"pixmake.yaml": REF.replace("REF", "refs/style.png") + FAST})
    (project.root / "refs").mkdir()
    os.symlink(target, project.root / "refs" / "style.png")
    for command in (["build"], ["build", "--json"], ["render", "hero", "--json"]):
        result = project.run(*command)
        assert result.code == 2, result.err
        assert "pixmake.yaml:5: assets.hero.references[0]" in result.err
        assert "reference `refs/style.png` points to" in result.err
        assert f"`{os.path.realpath(target)}`, outside the project" in result.err
        assert "Traceback" not in result.err
        assert KEY not in result.out + result.err
    assert fake.requests == []  # nothing uploaded, nothing submitted
    assert not (project.root / "hero.png").exists()


def test_a_reference_in_a_folder_symlinked_outside_is_refused(
    project: Project, outside: Path
) -> None:
    (outside / "style.png").write_bytes(png_bytes())
    project.gen({"pixmake.yaml": REF.replace("REF", "refs/style.png")})
    os.symlink(outside, project.root / "refs")
    result = project.run("build", "--provider", "placeholder")
    assert result.code == 2
    assert f"`{outside.resolve()}/style.png`, outside the project" in result.err


def test_a_reference_that_is_not_a_regular_file_is_refused(project: Project) -> None:
    project.gen({"pixmake.yaml": REF.replace("REF", "refs/pipe.png")})
    (project.root / "refs").mkdir()
    os.mkfifo(project.root / "refs" / "pipe.png")  # reading it would block forever
    result = project.run("build", "--provider", "placeholder")
    assert result.code == 2
    assert "reference `refs/pipe.png` is not a regular file" in result.err


def test_a_symlink_inside_the_project_to_inside_it_is_allowed(project: Project) -> None:
    project.gen({"pixmake.yaml": REF.replace("REF", "refs/style.png"), "art/s.png": png_bytes()})
    (project.root / "refs").mkdir()
    os.symlink("../art/s.png", project.root / "refs" / "style.png")
    os.symlink("art", project.root / "linked")
    summary = project.build()
    assert summary["failed"] == 0
    assert summary["generated"] == 1
    lock = project.lock()["assets"]["hero"]["request"]["references"]
    assert lock[0]["ref"] == "refs/style.png"
    assert lock[0]["hash"]


def test_a_data_table_symlinked_outside_is_refused(project: Project, outside: Path) -> None:
    (outside / "rows.csv").write_text("name\nroot:x:0:0\n")
    spec = (
        "version: 1\ndata:\n  rows: rows.csv\nassets:\n  icon:\n    series: rows\n"
        "    id: 'icon-{{ row.name }}'\n    prompt: '{{ row.name }}'\n"
        "    out: 'icons/{{ row.name }}.png'\n"
    )
    project.gen({"pixmake.yaml": spec})
    os.symlink(outside / "rows.csv", project.root / "rows.csv")
    for command in ("status", "plan", "build"):
        result = project.run(command, "--provider", "placeholder")
        assert result.code == 2, (command, result.err)
        assert "pixmake.yaml:3: data.rows: data table `rows.csv` points to" in result.err
        assert f"`{(outside / 'rows.csv').resolve()}`, outside the project" in result.err
        assert "root:x" not in result.out + result.err
    assert not (project.root / "icons").exists()


def test_a_template_include_symlinked_outside_is_refused(project: Project, outside: Path) -> None:
    (outside / "secret.j2").write_text("the secret words")
    spec = "version: 1\nassets:\n  hero:\n    prompt: \"{% include 'p/base.j2' %}\"\n"
    project.gen({"pixmake.yaml": spec + "    out: hero.png\n"})
    (project.root / "p").mkdir()
    os.symlink(outside / "secret.j2", project.root / "p" / "base.j2")
    result = project.run("render", "hero", "--provider", "placeholder")
    assert result.code == 2
    assert "template `p/base.j2` points to" in result.err
    assert "outside the project" in result.err
    assert "the secret words" not in result.out + result.err


def test_outputs_under_a_folder_symlinked_outside_are_refused(
    project: Project, outside: Path
) -> None:
    spec = "version: 1\nassets:\n  hero:\n    prompt: a hero\n    out: out/hero.png\n"
    spec += "    derive:\n      - {out: site/hero.webp, resize: 64x64}\n"
    project.gen({"pixmake.yaml": spec, "out/.keep": ""})
    (project.root / "site").symlink_to(outside)
    result = project.run("build", "--provider", "placeholder")
    assert result.code == 2
    assert "output `site/hero.webp` points to" in result.err
    assert f"`{outside.resolve()}/hero.webp`, outside the project" in result.err
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_a_lock_naming_a_path_outside_is_refused_and_nothing_deleted(
    project: Project, outside: Path, how: str
) -> None:
    from pixmake.filestat import hash_file

    victim = outside / "victim.txt"
    victim.write_text("precious")
    spec = "version: 1\nassets:\n  hero:\n    prompt: a hero\n    out: hero.png\n"
    project.gen({"pixmake.yaml": spec})
    assert project.build()["generated"] == 1
    lock = project.lock()
    path = os.path.relpath(victim, project.root) if how == "relative" else str(victim)
    record = {"path": path, "hash": hash_file(victim), "bytes": 8, "width": 1, "height": 1}
    gone = dict(lock["assets"]["hero"], outputs=[record])
    lock["assets"]["gone"] = gone  # pruned: not in the spec any more
    lock["assets"]["hero"] = dict(lock["assets"]["hero"], outputs=[record])  # moved by an edit
    (project.root / "pixmake.lock").write_text(json.dumps(lock, indent=2))
    project.gen({"pixmake.yaml": spec.replace("a hero", "a new hero")})
    for command in (["prune"], ["gc"], ["build", "--provider", "placeholder"], ["status"]):
        result = project.run(*command)
        assert result.code == 2, (command, result.err)
        assert "pixmake.lock: the entry of `" in result.err
        assert f"names `{path}`, a path outside the project" in result.err
        assert "outside the project" in result.err
        assert "fix:" in result.err
        assert "Traceback" not in result.err
        assert victim.read_text() == "precious"


def test_a_lock_path_through_a_symlink_outside_is_never_deleted(
    project: Project, outside: Path
) -> None:
    spec = "version: 1\nassets:\n  hero:\n    prompt: a hero\n    out: out/hero.png\n"
    project.gen({"pixmake.yaml": spec})
    assert project.build()["generated"] == 1
    victim = outside / "hero.png"
    victim.write_bytes((project.root / "out" / "hero.png").read_bytes())
    (project.root / "out" / "hero.png").unlink()
    (project.root / "out").rmdir()
    (project.root / "out").symlink_to(outside)  # the lock's `out/hero.png` now leads outside
    project.gen({"pixmake.yaml": "version: 1\nassets: {}\n"})
    result = project.run("prune")
    assert result.code == 2
    assert "`out/hero.png` points to" in result.err
    assert "outside the project" in result.err
    assert victim.exists()


def test_a_state_folder_symlinked_outside_is_refused(project: Project, outside: Path) -> None:
    spec = "version: 1\nassets:\n  hero:\n    prompt: a hero\n    out: hero.png\n"
    project.gen({"pixmake.yaml": spec})
    (outside / "objects").mkdir()
    (outside / "objects" / "not-pixmakes").write_text("precious")
    (project.root / ".pixmake").symlink_to(outside)
    for command in (["gc"], ["build", "--provider", "placeholder"]):
        result = project.run(*command)
        assert result.code == 2, (command, result.err)
        assert "`.pixmake/journal.jsonl` points to" in result.err
    assert (outside / "objects" / "not-pixmakes").read_text() == "precious"
    assert not (project.root / "hero.png").exists()
