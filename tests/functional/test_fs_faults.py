"""File-system faults are errors that name the path, the cause and the fix, never tracebacks;
the other assets go on, and nothing paid for is lost or paid again.

Root ignores permission bits, so faults are injected where the kernel would raise them: at
the rename that puts a file in place (`os.replace`), or at `mkdir`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pixmake import diskspace
from pixmake.fsutil import write_atomic
from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, serve_fake

KEY = "sk-live-FSFAULTS0123456789secret"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
SPEC = (
    "version: 1\n" + FAST + "assets:\n"
    "  a: {prompt: pa, out: locked/a.png}\n"
    "  b: {prompt: pb, out: open/b.png}\n"
    "  c: {prompt: pc, out: open/c.png}\n"
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _fail_replace(
    monkeypatch: pytest.MonkeyPatch, code: int, when: Callable[[str], bool]
) -> list[str]:
    """Make `os.replace` onto a destination for which `when` holds raise errno `code`."""
    real = os.replace
    refused: list[str] = []

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if when(os.fspath(dst)):
            refused.append(os.fspath(dst))
            raise OSError(code, os.strerror(code), os.fspath(dst))
        real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return refused


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text, text
    assert "this is a bug" not in text, text


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.EACCES, "make locked writable"),
        (errno.EROFS, "read-only"),
        (errno.ENOSPC, "free some disk space"),
    ],
)
def test_an_output_that_cannot_be_written_fails_alone_and_the_rerun_is_free(
    fake: FakeRunware, project: Project, monkeypatch: pytest.MonkeyPatch, code: int, fix: str
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    with monkeypatch.context() as patch:
        refused = _fail_replace(patch, code, lambda dst: "/locked/" in dst)
        result = project.run("build")
    assert refused
    assert result.code == 1
    _no_traceback(result.err + result.out)
    assert f"cannot write locked/a.png: {os.strerror(code)}" in result.out + result.err
    assert fix in result.out + result.err
    assert (project.root / "open/b.png").is_file()
    assert (project.root / "open/c.png").is_file()
    assert set(project.lock()["assets"]) == {"b", "c"}
    assert len(fake.charges()) == 3  # a was paid for, and its image is kept

    again = project.run("build", "--json")
    assert again.code == 0, again.err
    summary = again.last_json()
    assert (summary["generated"], summary["restored"]) == (0, 1)
    assert len(fake.charges()) == 3
    assert set(fake.charges().values()) == {1}
    assert (project.root / "locked/a.png").is_file()


def test_an_output_path_that_is_a_folder_or_under_a_file(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n"
            "  a: {prompt: pa, out: a.png}\n"
            "  b: {prompt: pb, out: icons/b.png}\n"
            "  c: {prompt: pc, out: c.png}\n",
            "icons": "a file where a folder should be",
        }
    )
    (project.root / "a.png").mkdir()
    result = project.run("build", "--provider", "placeholder")
    assert result.code == 1
    text = result.out + result.err
    _no_traceback(text)
    assert "cannot write a.png" in text
    assert "a folder is in the way" in text
    assert "cannot write icons" in text
    assert "icons is a file, not a folder" in text
    assert (project.root / "c.png").is_file()
    assert set(project.lock()["assets"]) == {"c"}


def test_a_lock_that_cannot_be_written_keeps_the_work_for_the_next_run(
    fake: FakeRunware, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    with monkeypatch.context() as patch:
        _fail_replace(patch, errno.EPERM, lambda dst: dst.endswith("pixmake.lock"))
        result = project.run("build", "--json")
    assert result.code == 1
    _no_traceback(result.err)
    assert "cannot write pixmake.lock: Operation not permitted" in result.err
    assert "the next run writes it into pixmake.lock" in result.err
    assert result.last_json()["generated"] == 3  # the summary is still printed
    assert not (project.root / "pixmake.lock").exists()

    again = project.run("build", "--json")
    assert again.code == 0, again.err
    assert set(project.lock()["assets"]) == {"a", "b", "c"}
    assert len(fake.charges()) == 3
    assert set(fake.charges().values()) == {1}


def test_a_project_whose_state_folder_cannot_be_made_is_refused_before_anything(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.gen({"pixmake.yaml": "version: 1\nassets:\n  a: {prompt: pa, out: a.png}\n"})
    real = os.mkdir

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(path).endswith(".pixmake"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    result = project.run("build", "--provider", "placeholder")
    assert result.code == 2
    _no_traceback(result.err)
    assert "cannot write .pixmake: Permission denied" in result.err
    assert "fix: make . writable" in result.err
    assert not (project.root / "a.png").exists()


def test_a_full_disk_is_found_before_anything_is_paid(
    fake: FakeRunware, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    seen: list[Path] = []

    def free(path: Path) -> int:
        seen.append(path)
        return 20 << 20  # 20 MiB: less than three 1024x1024 PNGs written twice, plus margin

    monkeypatch.setattr(diskspace, "free_bytes", free)
    result = project.run("build")
    assert result.code == 1
    _no_traceback(result.err)
    assert "not enough free disk space for 3 paid images" in result.err
    assert "nothing was sent" in result.err
    assert seen == [project.root / ".pixmake"]
    assert fake.charges() == {}

    one = project.run("build", "--max-new", "1", "--json")  # one image fits
    assert one.last_json()["generated"] == 1, one.err
    assert len(fake.charges()) == 1


def test_the_placeholder_is_not_held_back_by_the_disk_check(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    monkeypatch.setattr(diskspace, "free_bytes", lambda path: 0)
    assert project.build()["generated"] == 3


def test_temp_files_are_made_in_the_state_folder_and_a_killed_runs_are_removed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    state = project.root / ".pixmake"
    left = [
        project.root / ".pixmake-k1ll3d.tmp",  # an older version's, beside the lock
        state / "tmp" / ".pixmake-abc.tmp",
        state / "tmp" / ".incoming-def",
        next((state / "objects").iterdir()) / ".pixmake-ghi.tmp",
        state / ".pixmake-old.tmp",  # the trace's, written without run.lock: once an hour old
    ]
    for path in left:
        path.write_bytes(b"x" * 100)
    os.utime(left[-1], (1, 1))
    recent = state / ".pixmake-recent.tmp"
    recent.write_bytes(b"a trace being written right now")

    dirs: list[str] = []
    real = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        dirs.append(os.path.relpath(kwargs["dir"], project.root))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    project.gen({"pixmake.yaml": SPEC.replace("pa", "pa2")})
    assert project.build()["generated"] == 1
    assert dirs
    assert all(d.startswith(".pixmake") for d in dirs), dirs
    assert not [p for p in left if p.exists()]
    assert recent.exists()
    assert not list(project.root.glob(".pixmake-*"))


def test_a_rename_across_file_systems_falls_back_to_a_temp_file_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch, dest = tmp_path / "scratch", tmp_path / "mount" / "out.png"
    real = os.replace

    def replace(src: Any, dst: Any) -> None:
        if os.path.dirname(os.fspath(src)) == str(scratch):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), os.fspath(src))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_atomic(dest, b"content", scratch=scratch)
    assert dest.read_bytes() == b"content"
    assert os.listdir(scratch) == []
    assert os.listdir(dest.parent) == ["out.png"]


def test_outputs_and_the_lock_get_the_mode_of_the_umask(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n  a:\n    prompt: pa\n    out: site/a.png\n"
            "    derive: [{resize: 64, out: site/a.webp}]\n"
        }
    )
    project.build()
    mask = os.umask(0o022)
    os.umask(mask)
    assert 0o666 & ~mask != 0o600, "the test needs a umask that lets others read (022)"
    for rel in ("site/a.png", "site/a.webp", "pixmake.lock"):
        assert (project.root / rel).stat().st_mode & 0o777 == 0o666 & ~mask, rel


def test_an_existing_file_keeps_its_mode(project: Project) -> None:
    spec = "version: 1\nassets:\n  a:\n    prompt: pa\n    out: site/a.png\n"
    project.gen({"pixmake.yaml": spec})
    project.build()
    for rel in ("site/a.png", "pixmake.lock"):
        (project.root / rel).chmod(0o640)
    project.gen({"pixmake.yaml": spec.replace("pa", "pb")})
    assert project.build()["generated"] == 1
    for rel in ("site/a.png", "pixmake.lock"):
        assert (project.root / rel).stat().st_mode & 0o777 == 0o640, rel


def test_a_folder_removed_between_two_writes_is_made_again(tmp_path: Path) -> None:
    scratch, dest = tmp_path / "scratch", tmp_path / "out" / "a.png"
    write_atomic(dest, b"one", scratch=scratch)
    import shutil

    shutil.rmtree(tmp_path / "out")
    shutil.rmtree(scratch)
    write_atomic(dest, b"two", scratch=scratch)
    assert dest.read_bytes() == b"two"
