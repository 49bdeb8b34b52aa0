"""The staging area: temp files that are hashed on the way in and never outlive a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pixmake.errors import ImageTooLargeError
from pixmake.fsutil import FILE_MODE, TempFiles, write_atomic
from pixmake.hashing import content_hash
from pixmake.staging import Staging
from pixmake.store import Store


def test_a_received_image_is_hashed_and_adopted_by_a_rename(tmp_path: Path) -> None:
    store = Store(tmp_path)
    staging = store.staging()
    with staging.receive(limit=10) as receiver:
        receiver.write(b"abc")
        receiver.write(b"def")
        image = receiver.finish()
    assert (image.digest, image.size) == (content_hash(b"abcdef"), 6)
    assert store.adopt(image) == image.digest
    assert store.read_object(image.digest) == b"abcdef"
    assert list(staging.directory.iterdir()) == []
    again = staging.put(b"abcdef")
    store.adopt(again)  # already stored: the staged copy is dropped
    assert list(staging.directory.iterdir()) == []


def _receive(staging: Staging, limit: int | None, *chunks: bytes, fail: bool = False) -> None:
    with staging.receive(limit) as receiver:
        for chunk in chunks:
            receiver.write(chunk)
        if fail:
            raise RuntimeError("connection lost")


def test_over_the_limit_or_failing_leaves_no_file(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "tmp")
    with pytest.raises(ImageTooLargeError, match="than the 4 bytes limit"):
        _receive(staging, 4, b"abc", b"de")
    with pytest.raises(RuntimeError):
        _receive(staging, None, b"abc", fail=True)
    _receive(staging, None, b"never finished")
    with staging.receive(4) as receiver, pytest.raises(ImageTooLargeError, match="not downloaded"):
        receiver.expect(5)
    assert list(staging.directory.iterdir()) == []


def test_clear_removes_what_a_killed_build_left(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "tmp")
    left = staging.put(b"half an image")
    staging.clear()
    assert not left.path.exists()


def test_temp_files_made_ahead_are_taken_and_those_left_are_removed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    scratch = store.scratch
    with TempFiles(scratch, ahead=3) as ahead:
        assert ahead.wait(timeout=30)
        made = set(os.listdir(scratch))
        assert len(made) == 3
        with store.staging().receive() as receiver:
            receiver.write(b"image")
            image = receiver.finish()
        assert image.path.name in made  # a file made ahead, not a new one
        stat = write_atomic(tmp_path / "out" / "a.png", b"output", scratch=scratch)
        assert stat.st_mode & 0o777 == FILE_MODE  # not the 0600 of a temp file
        assert store.adopt(image) == content_hash(b"image")
    assert (tmp_path / "out" / "a.png").read_bytes() == b"output"
    assert os.listdir(scratch) == []


def test_a_temp_file_made_ahead_and_removed_meanwhile_is_skipped(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    with TempFiles(scratch, ahead=2) as ahead:
        assert ahead.wait(timeout=30)
        for name in os.listdir(scratch):
            os.unlink(scratch / name)  # another program cleaning up
        write_atomic(tmp_path / "a.txt", b"still written", scratch=scratch)
    assert (tmp_path / "a.txt").read_bytes() == b"still written"
    assert os.listdir(scratch) == []
