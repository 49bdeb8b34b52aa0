"""The staging area: temp files that are hashed on the way in and never outlive a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixmake.errors import ImageTooLargeError
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
