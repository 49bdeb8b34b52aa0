from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixmake.errors import LockfileError
from pixmake.lockfile import Lock, parse_lock, read_lock, write_lock

ENTRY = {
    "key": "k1",
    "request": {"prompt": "p", "references": []},
    "outputs": [{"path": "a.png", "hash": "h", "bytes": 3, "width": 1, "height": 1}],
    "derived": [],
    "record": {"provider": "placeholder", "placeholder": True, "cost_usd": 0.0},
}

GOLDEN = """\
{
  "assets": {
    "a": {
      "derived": [],
      "key": "k1",
      "outputs": [
        {
          "bytes": 3,
          "hash": "h",
          "height": 1,
          "path": "a.png",
          "width": 1
        }
      ],
      "record": {
        "cost_usd": 0.0,
        "placeholder": true,
        "provider": "placeholder"
      },
      "request": {
        "prompt": "p",
        "references": []
      }
    },
    "b": {
      "derived": [],
      "key": "k1",
      "outputs": [
        {
          "bytes": 3,
          "hash": "h",
          "height": 1,
          "path": "a.png",
          "width": 1
        }
      ],
      "record": {
        "cost_usd": 0.0,
        "placeholder": true,
        "provider": "placeholder"
      },
      "request": {
        "prompt": "p",
        "references": []
      }
    }
  },
  "version": 1
}
"""


def test_golden_lockfile_bytes() -> None:
    lock = Lock({"b": dict(ENTRY), "a": dict(ENTRY)})  # type: ignore[dict-item]
    assert lock.dumps() == GOLDEN
    assert parse_lock(GOLDEN).dumps() == GOLDEN


def test_written_only_when_changed(tmp_path: Path) -> None:
    lock = Lock({"a": dict(ENTRY)})  # type: ignore[dict-item]
    assert write_lock(tmp_path, lock) is True
    mtime = (tmp_path / "pixmake.lock").stat().st_mtime_ns
    assert write_lock(tmp_path, lock) is False
    assert (tmp_path / "pixmake.lock").stat().st_mtime_ns == mtime
    assert read_lock(tmp_path).entries == lock.entries
    assert list(tmp_path.iterdir()) == [tmp_path / "pixmake.lock"]  # no temp files left


def test_missing_lockfile_is_empty(tmp_path: Path) -> None:
    assert read_lock(tmp_path).entries == {}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"version": 1, "assets": {\n<<<<<<< HEAD\n', "pixmake.lock:2: unresolved merge conflict"),
        ('{"version": 1,', "invalid JSON"),
        ('{"version": 2, "assets": {}}', "unsupported lockfile version 2"),
        ('{"version": 1, "assets": {"a": {"key": 1}}}', "the entry of `a` is damaged"),
    ],
)
def test_bad_lockfiles_are_explained(text: str, words: str) -> None:
    with pytest.raises(LockfileError) as caught:
        parse_lock(text)
    assert words in str(caught.value)
    assert "fix:" in str(caught.value)


def test_untouched_entries_are_written_back_as_they_were() -> None:
    lock = parse_lock(GOLDEN)
    changed = dict(ENTRY, key="k2")
    lock.entries["b"] = changed  # type: ignore[assignment]
    text = lock.dumps()
    assert text == GOLDEN.replace('"key": "k1"', '"key": "k2"', 2).replace(
        '"key": "k2"', '"key": "k1"', 1
    )
    full = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert text == full  # the same bytes a full canonical dump gives


def test_an_entry_never_read_is_never_parsed() -> None:
    damaged = GOLDEN.replace('"key": "k1"', '"key": 1', 1)  # the entry of `a`
    lock = parse_lock(damaged)
    lock.entries["b"] = dict(ENTRY, key="k2")  # type: ignore[assignment]
    text = lock.dumps()  # `a` is written back as it was read: no error, since never parsed
    assert text == damaged.replace('"key": "k1"', '"key": "k2"', 1)


def test_hand_formatted_lockfile_is_read_and_rewritten_canonically() -> None:
    compact = json.dumps(json.loads(GOLDEN))
    lock = parse_lock(compact)
    assert lock.dumps() == GOLDEN


def test_a_damaged_entry_is_reported_when_read() -> None:
    lock = parse_lock(GOLDEN.replace('"key": "k1"', '"key": 1', 1))
    with pytest.raises(LockfileError, match="the entry of `a` is damaged"):
        lock.entries["a"]
    assert lock.entries["b"]["key"] == "k1"
    del lock.entries["a"]
    assert list(lock.entries) == ["b"]
