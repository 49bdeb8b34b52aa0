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
    assert lock.entries._raw  # indexed, not parsed
    changed = dict(ENTRY, key="k2")
    lock.entries["b"] = changed  # type: ignore[assignment]
    text = lock.dumps()
    assert text == GOLDEN.replace('"key": "k1"', '"key": "k2"', 2).replace(
        '"key": "k2"', '"key": "k1"', 1
    )
    full = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert text == full  # the same bytes a full canonical dump gives
    assert "a" not in lock.entries._parsed  # `a` was never parsed


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


def _many() -> str:
    lock = Lock({f"icon-{i:03d}": dict(ENTRY, key=f"k{i}") for i in range(30)})  # type: ignore[misc]
    return lock.dumps()


def _replace(entries: object) -> None:
    entries["icon-007"] = dict(ENTRY, key="new7")  # type: ignore[index]
    entries["icon-000"] = dict(ENTRY, key="new0")  # type: ignore[index]
    entries["icon-029"] = dict(ENTRY, key="new29")  # type: ignore[index]


def _add(entries: object) -> None:
    entries["icon-0155"] = dict(ENTRY, key="added")  # type: ignore[index]


def _delete(entries: object) -> None:
    del entries["icon-013"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("change", [_replace, _add, _delete, lambda entries: None])
def test_an_unindexed_lock_reads_and_writes_as_an_indexed_one(change: object) -> None:
    text = _many()
    indexed, unindexed = parse_lock(text), parse_lock(text, unindexed=True)
    assert unindexed.entries._text is not None
    assert unindexed.entries["icon-012"] == indexed.entries["icon-012"]
    assert "icon-012" in unindexed.entries
    assert "icon-99" not in unindexed.entries
    assert "icon-01" not in unindexed.entries  # a prefix of a key is not a key
    assert unindexed.entries.get("icon-99") is None
    assert list(unindexed.entries._parsed) == ["icon-012"]  # only what was asked for
    for lock in (indexed, unindexed):
        change(lock.entries)  # type: ignore[operator]
    assert unindexed.dumps() == indexed.dumps()
    assert dict(unindexed.entries) == dict(indexed.entries)
    assert len(unindexed.entries) == len(indexed.entries)


def test_replacing_entries_of_an_unindexed_lock_splices_the_text(tmp_path: Path) -> None:
    text = _many()
    (tmp_path / "pixmake.lock").write_text(text)
    lock = read_lock(tmp_path, unindexed=True)
    assert write_lock(tmp_path, lock) is False  # untouched: nothing written
    _replace(lock.entries)
    assert write_lock(tmp_path, lock) is True
    assert lock.entries._text is not None  # never indexed
    written = (tmp_path / "pixmake.lock").read_text()
    assert json.loads(written)["assets"]["icon-007"]["key"] == "new7"
    assert written == json.dumps(json.loads(written), indent=2, sort_keys=True) + "\n"


def test_a_key_that_needs_escaping_indexes_an_unindexed_lock() -> None:
    lock = parse_lock(_many(), unindexed=True)
    assert 'odd"key' not in lock.entries
    assert lock.entries._text is None
