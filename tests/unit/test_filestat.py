"""filestat: a recorded hash is trusted by stat only when the stat was taken a tick after the
file's mtime; the clock is injected, so nothing here depends on the machine's speed."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from pixmake import filestat
from pixmake.filestat import TICK_NS, FileHasher

if TYPE_CHECKING:
    from pathlib import Path


class Clock:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(filestat, "now", fake)
    return fake


def _rewrite_keeping_mtime(path: Path, data: bytes) -> None:
    """Other bytes of the same size, with the mtime put back (`touch -r`, `cp -p`)."""
    st = path.stat()
    with open(path, "r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _changed(path: Path) -> int:
    st = path.stat()
    return max(st.st_mtime_ns, st.st_ctime_ns)


def _no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: object) -> str:
        raise AssertionError(f"{path} was read: its stat should have vouched for it")

    monkeypatch.setattr(filestat, "hash_file", refuse)


def test_an_old_stat_vouches_for_the_content(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    clock.ns = _changed(path) + TICK_NS + 1
    first = FileHasher(tmp_path)
    digest, size = first.hash("f.bin") or ("", 0)
    assert size == 3
    with monkeypatch.context() as patch:  # trusted: not read again (what makes a no-op fast)
        _no_reading(patch)
        assert FileHasher(tmp_path, dict(first.records)).hash("f.bin") == (digest, 3)
    assert FileHasher(tmp_path).hash("missing") is None


def test_an_edit_that_puts_the_mtime_back_is_seen_by_its_ctime(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    clock.ns = _changed(path) + TICK_NS + 1
    first = FileHasher(tmp_path)
    digest = (first.hash("f.bin") or ("",))[0]
    _rewrite_keeping_mtime(path, b"two")
    clock.ns = _changed(path) + 10 * TICK_NS
    again = FileHasher(tmp_path, dict(first.records)).hash("f.bin")
    assert again is not None
    assert again[0] != digest


def _racy_record(path: Path, digest: str, taken: int) -> filestat.Record:
    """A record of the file's exact stat, as if its content had been `digest` when the stat
    was taken at `taken`: what a change within one coarse tick, keeping every time, leaves."""
    found = filestat.stat(path)
    assert found is not None
    return (*found, digest, taken)


def test_a_stat_taken_within_a_tick_of_the_change_is_checked_by_content(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"two")
    racy = _racy_record(path, "the-old-content", _changed(path) + TICK_NS - 1)
    clock.ns = _changed(path) + 100 * TICK_NS  # however much later the next run comes
    again = FileHasher(tmp_path, {"f.bin": racy}).hash("f.bin")
    assert again is not None
    assert again[0] == filestat.hash_file(path)
    old = _racy_record(path, "the-old-content", _changed(path) + TICK_NS + 1)
    with monkeypatch.context() as patch:  # a tick later: that record is trusted
        _no_reading(patch)
        assert FileHasher(tmp_path, {"f.bin": old}).hash("f.bin") == ("the-old-content", 3)


def test_settle_makes_a_racy_record_trusted_or_drops_it(tmp_path: Path, clock: Clock) -> None:
    same, edited = tmp_path / "same.bin", tmp_path / "edited.bin"
    same.write_bytes(b"one")
    edited.write_bytes(b"two")
    taken = max(_changed(same), _changed(edited))
    files = FileHasher(
        tmp_path,
        {
            "same.bin": _racy_record(same, filestat.hash_file(same), taken),
            "edited.bin": _racy_record(edited, "the-old-content", taken),
        },
    )
    clock.ns = taken + TICK_NS + 1
    files.settle()
    assert filestat.trusted(files.records["same.bin"], filestat.stat(same) or (0, 0, 0, 0))
    assert "edited.bin" not in files.records


def test_a_symlink_is_hashed_by_its_target_and_refused_outside_the_project(
    tmp_path: Path,
) -> None:
    from pixmake.errors import SpecError
    from pixmake.filestat import hash_file

    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "refs").mkdir(parents=True)
    outside.mkdir()
    (project / "refs/a.png").write_bytes(b"inside")
    (outside / "b.png").write_bytes(b"outside")
    (project / "refs/in.png").symlink_to(project / "refs/a.png")
    (project / "refs/out.png").symlink_to(outside / "b.png")
    files = FileHasher(project)
    found = files.hash("refs/in.png")
    assert found == (hash_file(project / "refs/a.png"), len(b"inside"))
    with pytest.raises(SpecError, match="outside the project"):
        files.hash("refs/out.png")


def test_renewing_a_racy_record_is_no_news_but_a_trusted_one_is(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    clock.ns = _changed(path) + 1  # within a tick of the write
    first = FileHasher(tmp_path)
    digest = (first.hash("f.bin") or ("",))[0]
    assert first.changed  # a first record: the trace is written
    again = FileHasher(tmp_path, dict(first.records))
    assert again.hash("f.bin") == (digest, 3)  # still racy: read again
    assert not again.changed  # the same racy record renewed: nothing to write back
    path.write_bytes(b"two")
    edited = FileHasher(tmp_path, dict(first.records))
    assert edited.hash("f.bin") != (digest, 3)
    assert edited.changed  # other content: news, racy or not
    clock.ns = _changed(path) + TICK_NS + 1
    later = FileHasher(tmp_path, dict(edited.records))
    later.hash("f.bin")
    assert later.changed  # a tick later the record vouches: worth keeping
    assert filestat.trusted(later.records["f.bin"], filestat.stat(path) or (0, 0, 0, 0))
