"""The no-op path: all fresh from the trace's `status` record, and never once anything changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ICONS_CSV, Project


def _age(root: Path) -> None:
    """Move every file's mtime 10 s into the past: nothing is racily clean any more."""
    past = time.time_ns() - 10_000_000_000
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(past, past))


def _settled(project: Project) -> None:
    project.build()
    _age(project.root)
    assert project.run("status", "--provider", "placeholder").code == 0  # records the answer
    assert (project.root / ".pixmake/trace.marshal").is_file()


def _imports(root: Path, *args: str) -> tuple[str, set[str]]:
    code = (
        "import sys, json; from pixmake.cli import main; code = main(sys.argv[1:]); "
        "print(json.dumps(sorted(m for m, v in sys.modules.items() if v and m.split('.')[0] in "
        "('pydantic', 'jinja2', 'yaml', 'asyncio', 'PIL', 'httpx') or m == 'pixmake.project')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "-C", str(root), *args], capture_output=True, text=True
    )
    lines = done.stdout.strip().splitlines()
    return "\n".join(lines[:-1]), set(json.loads(lines[-1]))


def test_a_no_op_loads_nothing_heavy(icons: Project) -> None:
    _settled(icons)
    for command in (["status"], ["check"], ["build"], ["plan"], ["status", "--json"]):
        out, heavy = _imports(icons.root, *command, "--provider", "placeholder")
        assert heavy == set(), (command, heavy)
        assert "fresh" in out or '"fresh"' in out
    out, _ = _imports(icons.root, "status", "--json", "--provider", "placeholder")
    assert [a["state"] for a in json.loads(out)["assets"]] == ["fresh"] * 3
    out, _ = _imports(icons.root, "build", "--json", "--provider", "placeholder")
    assert json.loads(out.splitlines()[-1])["fresh"] == 3


def test_other_options_take_the_full_path(icons: Project) -> None:
    _settled(icons)
    _, heavy = _imports(icons.root, "status")  # the spec's provider, not the one recorded
    assert "pixmake.project" in heavy  # the spec was resolved...
    assert "pydantic" not in heavy  # ...from the cached, validated spec: pydantic not needed


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "data/items.csv").write_text(ICONS_CSV.replace("round", "kite")),
        lambda root: (root / "prompts/icon.j2").write_text("A {{ item.name }}, so"),
        lambda root: (root / "refs/style.png").write_bytes(b"another reference"),
        lambda root: (root / "icons/sword.png").write_bytes(b"edited"),
        lambda root: (root / "icons/64/potion.png").unlink(),
        lambda root: (root / "pixmake.lock").write_text('{"version": 1, "assets": {}}'),
        lambda root: (root / ".pixmake/journal.jsonl").write_text(""),
        lambda root: (root / "pixmake.yaml").write_text(
            (root / "pixmake.yaml").read_text().replace("quality: low", "quality: high")
        ),
    ],
)
def test_any_change_leaves_the_fast_path(icons: Project, change: object) -> None:
    _settled(icons)
    change(icons.root)  # type: ignore[operator]
    _, heavy = _imports(icons.root, "check", "--provider", "placeholder")
    assert "pixmake.project" in heavy  # the spec was resolved: the full (or incremental) plan
    if (icons.root / ".pixmake/journal.jsonl").exists():
        return  # an empty journal holds nothing: the full plan rightly finds all fresh
    assert {a["state"] for a in icons.status().values()} != {"fresh"}
    assert icons.run("check", "--provider", "placeholder").code == 1


def test_same_size_rewrite_in_the_same_tick_is_not_trusted(icons: Project) -> None:
    icons.build()
    assert icons.run("status", "--provider", "placeholder").code == 0
    # Immediately, same size: the stat may be identical, so the snapshot must not vouch for it.
    (icons.root / "data/items.csv").write_text(ICONS_CSV.replace("round", "ROUND"))
    assert icons.status()["icon-shield"]["state"] == "changed"


def test_after_a_build_one_status_records_the_answer(icons: Project) -> None:
    icons.build()  # outputs and the lock were written just now: racily clean, checked by
    out, heavy = _imports(icons.root, "status", "--provider", "placeholder")  # content
    assert "pixmake.project" in heavy
    out, heavy = _imports(icons.root, "status", "--provider", "placeholder")
    assert heavy == set()
    assert "3 fresh" in out


def test_an_edit_in_the_tick_of_a_write_is_seen_however_late(
    icons: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pixmake import filestat

    icons.build()
    path = icons.root / "icons/sword.png"
    before = path.stat()
    with path.open("r+b") as handle:  # same size, same inode, the old mtime put back
        handle.seek(before.st_size - 1)
        handle.write(b"\x00" if path.read_bytes()[-1:] != b"\x00" else b"\x01")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    later = time.time_ns() + 100 * filestat.TICK_NS  # the next run, long after the build
    monkeypatch.setattr(filestat, "now", lambda: later)
    assert icons.status()["icon-sword"]["state"] == "modified"
    assert icons.run("check", "--provider", "placeholder").code == 1


def test_a_racily_clean_output_is_checked_by_content(icons: Project) -> None:
    _age(icons.root)
    icons.build()
    path = icons.root / "icons/sword.png"
    before = path.stat()
    with path.open("r+b") as handle:  # same size, same inode, and the old mtime put back:
        handle.seek(before.st_size - 1)  # only the content tells the difference
        handle.write(b"\x00" if path.read_bytes()[-1:] != b"\x00" else b"\x01")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    _, heavy = _imports(icons.root, "status", "--provider", "placeholder")
    assert "pixmake.project" in heavy
    assert icons.status()["icon-sword"]["state"] == "modified"
