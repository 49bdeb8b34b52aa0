from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from pixmake.errors import LockfileError, PixmakeWarning
from pixmake.lockfile import (
    Lock,
    committed_entries,
    entry_problem,
    parse_lock,
    read_lock,
    usable_entry,
    write_lock,
)

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
        ('{"version": 1, "assets": []}', "`assets` must be a mapping"),
    ],
)
def test_bad_lockfiles_are_explained(text: str, words: str) -> None:
    with pytest.raises(LockfileError) as caught:
        parse_lock(text)
    assert words in str(caught.value)
    assert "fix:" in str(caught.value)


DIFF3_CONFLICTS = """\
{
  "assets": {
<<<<<<< HEAD
    "a": {
      "key": "1"
    },
||||||| base
    "b": {
      "key": "0"
    },
=======
    "c": {
      "key": "2"
    },
>>>>>>> other
    "d": {
<<<<<<< HEAD
      "key": "3",
=======
      "key": "4",
>>>>>>> other
      "outputs": [
        {
          "path": "d one.png"
        }
      ]
    }
  },
  "version": 1
}
"""


def test_every_merge_conflict_is_named_with_the_ids_of_each_side() -> None:
    with pytest.raises(LockfileError) as caught:
        parse_lock(DIFF3_CONFLICTS)
    assert str(caught.value).splitlines()[:3] == [
        "pixmake.lock: 2 unresolved merge conflicts",
        "pixmake.lock:3: ours (HEAD) has `a`, theirs (other) has `c`",
        "pixmake.lock:17: ours (HEAD) has `d`, theirs (other) has `d`",
    ]
    assert "`git checkout --theirs -- pixmake.lock 'd one.png'` (or `--ours`)" in str(caught.value)


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


def test_a_damaged_entry_is_reported_once_when_read_and_is_absent() -> None:
    damaged = GOLDEN.replace('"key": "k1"', '"key": 1', 1)
    lock = parse_lock(damaged)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert lock.entries.get("a") is None
        assert "a" not in lock.entries
        assert list(lock.entries) == ["b"]
    assert [str(w.message) for w in caught] == [
        "pixmake.lock: entry a: `key` must be a string, not an integer; ignored"
    ]
    assert lock.entries["b"]["key"] == "k1"
    assert lock.dumps() == damaged  # kept as it was read until replaced
    lock.entries["a"] = dict(ENTRY)  # type: ignore[assignment]
    assert lock.dumps() == GOLDEN


def test_a_damaged_entry_of_a_hand_formatted_lock_is_absent_and_kept() -> None:
    data = json.loads(GOLDEN)
    data["assets"]["a"]["outputs"][0]["path"] = None
    with pytest.warns(PixmakeWarning, match=r"entry a: `outputs\[0\].path` must be a string"):
        lock = parse_lock(json.dumps(data))
    assert list(lock.entries) == ["b"]
    assert json.loads(lock.dumps()) == data


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ([1], "must be an object, not a list"),
        ({**ENTRY, "key": None}, "`key` must be a string, not null"),
        ({k: v for k, v in ENTRY.items() if k != "outputs"}, "`outputs` is missing"),
        ({**ENTRY, "outputs": {}}, "`outputs` must be a list, not an object"),
        ({**ENTRY, "outputs": []}, "`outputs` must list at least one output"),
        ({**ENTRY, "outputs": ["a.png"]}, "`outputs[0]` must be an object, not a string"),
        ({**ENTRY, "outputs": [{"path": "a.png", "hash": 5}]},
         "`outputs[0].hash` must be a string"),
        ({**ENTRY, "outputs": [{**ENTRY["outputs"][0], "width": True}]},  # type: ignore[dict-item]
         "`outputs[0].width` must be an integer, not a boolean"),
        ({**ENTRY, "derived": [{"path": "b.png"}]}, "`derived[0].hash` is missing"),
        ({**ENTRY, "record": []}, "`record` must be an object, not a list"),
        ({**ENTRY, "request": {"references": [{"ref": 1}]}},
         "`request.references[0].ref` must be a string, not an integer"),
        ({**ENTRY, "request": {"references": "x"}}, "`request.references` must be a list"),
    ],
)  # fmt: skip
def test_entry_problem_names_the_field_and_the_type(entry: object, problem: str) -> None:
    found = entry_problem(entry)
    assert found is not None
    assert found.startswith(problem)
    assert entry_problem(ENTRY) is None


def test_an_earlier_commits_lock_is_read_quietly_and_keeps_only_usable_entries() -> None:
    path = ENTRY["outputs"][0]  # type: ignore[index]
    escaping = {**ENTRY, "key": "k2", "outputs": [{**path, "path": "../../etc/passwd"}]}
    own = {**ENTRY, "key": "k3", "outputs": [{**path, "path": ".git/config"}]}
    damaged = {**ENTRY, "key": "k4", "outputs": [{**path, "hash": None}]}
    assets = {"a": ENTRY, "b": escaping, "c": own, "d": damaged}
    as_written = Lock()
    for asset_id, entry in assets.items():
        as_written.entries[asset_id] = entry  # type: ignore[assignment]
    by_hand = json.dumps({"version": 1, "assets": assets})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is reported of a lock that is not the project's
        for text in (as_written.dumps(), by_hand):
            usable = [usable_entry(item) for _, item in committed_entries(text)]
            assert [e["key"] for e in usable if e is not None] == ["k1"]
        conflicted = GOLDEN.replace('"bytes": 3,', "<<<<<<< HEAD", 1)  # in entry `a`
        usable = [usable_entry(item) for _, item in committed_entries(conflicted)]
        assert usable == [None, parse_lock(GOLDEN).entries["b"]]
        assert list(committed_entries('{"version": 99, "assets": {}}')) == []


def test_entries_are_found_by_the_content_they_record_before_and_after_a_change() -> None:
    lock = parse_lock(GOLDEN)
    assert [(path, entry["key"]) for path, entry in lock.entries.with_hash("h")] == [
        ("a.png", "k1"),
        ("a.png", "k1"),
    ]
    assert lock.entries.with_hash("nothing") == []
    moved = {**ENTRY, "outputs": [{**ENTRY["outputs"][0], "path": "b.png", "hash": "h2"}]}  # type: ignore[dict-item]
    lock.entries["b"] = moved  # type: ignore[assignment]
    assert [path for path, _ in lock.entries.with_hash("h")] == ["a.png"]
    assert [path for path, _ in lock.entries.with_hash("h2")] == ["b.png"]
    del lock.entries["a"]
    assert lock.entries.with_hash("h") == []


CHOSEN = {
    **ENTRY,
    "outputs": [{"path": "a.png", "hash": "h2", "bytes": 4, "width": 1, "height": 1}],
    "candidates": [
        [{"hash": "h", "bytes": 3, "width": 1, "height": 1}],
        [{"hash": "h2", "bytes": 4, "width": 1, "height": 1}],
    ],
    "chosen": 1,
    "approved": ["h2"],
}

GOLDEN_CANDIDATES = """\
{
  "assets": {
    "a": {
      "approved": [
        "h2"
      ],
      "candidates": [
        [
          {
            "bytes": 3,
            "hash": "h",
            "height": 1,
            "width": 1
          }
        ],
        [
          {
            "bytes": 4,
            "hash": "h2",
            "height": 1,
            "width": 1
          }
        ]
      ],
      "chosen": 1,
      "derived": [],
      "key": "k1",
      "outputs": [
        {
          "bytes": 4,
          "hash": "h2",
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


def test_golden_lockfile_bytes_with_candidates_and_approval() -> None:
    assert entry_problem(CHOSEN) is None
    assert Lock({"a": CHOSEN}).dumps() == GOLDEN_CANDIDATES  # type: ignore[dict-item]
    assert parse_lock(GOLDEN_CANDIDATES).dumps() == GOLDEN_CANDIDATES
