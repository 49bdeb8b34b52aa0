"""Reading ahead (readahead.py): a helper process hashes the files a run will ask for; the run
gets what it would have found hashing each file itself. The clock is injected: a record's
time of stat tells who took it (the helper's is the moment it was started)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

from pixmake import filestat
from pixmake.errors import SpecError
from pixmake.filestat import TICK_NS, FileHasher

if TYPE_CHECKING:
    from pathlib import Path

STARTED, ASKED = 10 * TICK_NS, 20 * TICK_NS  # the clock when the helper starts; when asked


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root, outside = tmp_path / "project", tmp_path / "outside"
    (root / "icons").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"outside")
    (root / "icons/a.png").write_bytes(b"a" * 3000)
    (root / "icons/b.png").write_bytes(b"b")
    (root / "icons/folder.png").mkdir()
    (root / "icons/in.png").symlink_to(root / "icons/a.png")
    (root / "icons/out.png").symlink_to(outside / "secret.png")
    (root / "linked").symlink_to(outside)
    return root


PATHS = ["icons/a.png", "icons/b.png", "icons/missing.png", "icons/folder.png",
         "icons/in.png", "linked/secret.png", "../outside/secret.png", "/etc/hostname"]  # fmt: skip


def _answers(files: FileHasher, paths: list[str]) -> list[object]:
    found: list[object] = []
    for rel in paths:
        try:
            found.append(files.hash(rel))
        except SpecError as exc:
            found.append(str(exc))
    return found


def test_reading_ahead_gives_what_hashing_in_place_gives(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([STARTED, *[ASKED] * 100])
    monkeypatch.setattr(filestat, "now", lambda: next(clock))
    ahead = FileHasher(project)
    ahead.read_ahead(["icons/out.png", *PATHS, "icons/a.png"])
    ahead.wait_ahead()
    answers = _answers(ahead, ["icons/out.png", *PATHS])
    ahead.stop_ahead()
    monkeypatch.setattr(filestat, "now", lambda: ASKED)
    assert answers == _answers(FileHasher(project), ["icons/out.png", *PATHS])
    assert "outside the project" in str(answers[0])
    # the regular files inside were read by the helper; the symlink, by the run
    assert ahead.records["icons/a.png"][5] == STARTED
    assert ahead.records["icons/b.png"][5] == STARTED
    assert ahead.records["icons/in.png"][5] == ASKED


def test_the_helpers_records_are_as_recent_as_its_start(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed within a tick of the helper's start is checked by content next time,
    however late the helper really took its stat."""
    changed = filestat.stat(project / "icons/b.png")
    assert changed is not None
    monkeypatch.setattr(filestat, "now", lambda: max(changed[1], changed[3]) + TICK_NS - 1)
    ahead = FileHasher(project)
    ahead.read_ahead(["icons/b.png"])
    ahead.wait_ahead()
    monkeypatch.setattr(filestat, "now", lambda: max(changed[1], changed[3]) + 100 * TICK_NS)
    assert ahead.hash("icons/b.png") == (filestat.hash_file(project / "icons/b.png"), 1)
    ahead.stop_ahead()
    assert not filestat.trusted(ahead.records["icons/b.png"], changed)


def test_without_a_helper_the_run_hashes_every_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(project / "no-such-python"))
    monkeypatch.setattr(filestat, "now", lambda: ASKED)
    ahead = FileHasher(project)
    ahead.read_ahead(PATHS)
    ahead.wait_ahead()
    assert _answers(ahead, PATHS) == _answers(FileHasher(project), PATHS)
    ahead.stop_ahead()


def test_a_file_written_by_the_run_is_never_answered_by_the_helper(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filestat, "now", lambda: ASKED)
    ahead = FileHasher(project)
    ahead.read_ahead(["icons/b.png"])
    ahead.wait_ahead()
    path = project / "icons/b.png"
    path.write_bytes(b"new content")
    ahead.remember("icons/b.png", path.stat(), filestat.hash_file(path))
    ahead.forget("icons/b.png")
    assert ahead.hash("icons/b.png") == (filestat.hash_file(path), len(b"new content"))
    ahead.stop_ahead()
