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


def _rewrite_keeping_stat(path: Path, data: bytes) -> None:
    """Other bytes of the same size, with the mtime put back: as within one coarse tick."""
    st = path.stat()
    with open(path, "r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_an_old_stat_vouches_for_the_content(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    clock.ns = path.stat().st_mtime_ns + TICK_NS + 1
    first = FileHasher(tmp_path)
    digest, size = first.hash("f.bin") or ("", 0)
    assert size == 3
    _rewrite_keeping_stat(path, b"two")
    # The stat is trusted: the file is not read again (this is what makes a no-op fast).
    assert FileHasher(tmp_path, dict(first.records)).hash("f.bin") == (digest, 3)
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1))
    again = FileHasher(tmp_path, dict(first.records)).hash("f.bin")
    assert again is not None
    assert again[0] != digest
    assert FileHasher(tmp_path).hash("missing") is None


def test_a_stat_taken_within_a_tick_of_the_mtime_is_checked_by_content(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    clock.ns = path.stat().st_mtime_ns + TICK_NS - 1  # the file changed just before the stat
    first = FileHasher(tmp_path)
    digest = (first.hash("f.bin") or ("",))[0]
    _rewrite_keeping_stat(path, b"two")
    clock.ns += 10 * TICK_NS  # however much later the next run comes
    again = FileHasher(tmp_path, dict(first.records)).hash("f.bin")
    assert again is not None
    assert again[0] != digest


def test_settle_makes_a_racy_record_trusted_or_drops_it(tmp_path: Path, clock: Clock) -> None:
    same, edited = tmp_path / "same.bin", tmp_path / "edited.bin"
    same.write_bytes(b"one")
    edited.write_bytes(b"one")
    clock.ns = max(same.stat().st_mtime_ns, edited.stat().st_mtime_ns)
    files = FileHasher(tmp_path)
    old = (files.hash("edited.bin") or ("",))[0]
    files.hash("same.bin")
    _rewrite_keeping_stat(edited, b"two")
    clock.ns += TICK_NS + 1
    files.settle()
    assert filestat.trusted(files.records["same.bin"], filestat.stat(same) or (0, 0, 0))
    assert "edited.bin" not in files.records
    later = FileHasher(tmp_path, dict(files.records)).hash("edited.bin")
    assert later is not None
    assert later[0] != old
