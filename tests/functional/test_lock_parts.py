"""A large lock is split into parts (issue 13, part 4): `pixmake.lock` lists them, each part is
an ordinary lock of the entries whose id hashes there, and everything that reads the lock (the
build, the trace, git's history, `cost --since`, `history`, `gallery`, a merge conflict) reads
the parts. The tests split a small lock (PIXMAKE_TEST_LOCK_PART_SIZE); one test splits at the
real size, with synthetic entries."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pixmake.lockfile import Entries, Lock, read_lock, write_lock
from pixmake.lockparts import PART_SIZE, PARTS_DIR, TEST_PART_SIZE, part_name
from tests.conftest import Project, git

ROWS = 40
SPEC = """\
version: 1
defaults: {provider: placeholder, size: 1024x1024}
data:
  rows: rows.csv
assets:
  "label-{{ item.slug }}":
    for_each: rows
    prompt: "A label for {{ item.name }}"
    out: "labels/{{ item.slug }}.png"
  logo: {prompt: a logo, out: logo.png}
"""


def _csv(names: dict[int, str] | None = None, rows: int = ROWS) -> str:
    names = names or {}
    return "slug,name\n" + "".join(f"r{i:03},{names.get(i, f'row {i}')}\n" for i in range(rows))


@pytest.fixture
def split(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A 41-asset project built with parts of at most 8 entries (so 16 parts)."""
    monkeypatch.setenv(TEST_PART_SIZE, "8")
    project.gen({"pixmake.yaml": SPEC, "rows.csv": _csv()})
    assert project.build()["generated"] == ROWS + 1
    return project


def _parts(root: Path) -> dict[str, bytes]:
    return {f"{PARTS_DIR}/{p.name}": p.read_bytes() for p in sorted((root / PARTS_DIR).iterdir())}


def _entries(root: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for data in _parts(root).values():
        found.update(json.loads(data)["assets"])
    return found


def test_a_large_lock_is_written_in_parts_that_pixmake_lock_lists(split: Project) -> None:
    index = split.lock()
    assert index["version"] == 2
    assert index["parts"] == list(_parts(split.root))
    assert len(index["parts"]) == 16  # 41 entries > 8: one hex digit
    entries = _entries(split.root)
    assert sorted(entries) == sorted([f"label-r{i:03}" for i in range(ROWS)] + ["logo"])
    for data in _parts(split.root).values():
        assert json.loads(data)["version"] == 1  # each part is a lock of its own
    assert all(a["state"] == "fresh" for a in split.status().values())
    assert split.run("check").code == 0


def test_one_changed_row_rewrites_one_part(split: Project) -> None:
    before = _parts(split.root)
    split.gen({"rows.csv": _csv({7: "a changed row"})})
    assert split.build()["generated"] == 1
    after = _parts(split.root)
    assert list(after) == list(before)
    assert [name for name in after if after[name] != before[name]] != []
    assert sum(after[name] != before[name] for name in after) == 1


def test_the_layout_depends_on_the_entries_only(split: Project, tmp_path: Path) -> None:
    """The same entries give the same files, in whatever order they were made."""
    lock = read_lock(split.root)
    entries = {k: lock.entries[k] for k in reversed(lock.entries.written())}
    again = tmp_path / "again"
    again.mkdir()
    write_lock(again, Lock(Entries(entries)), fsync=False)
    assert (again / "pixmake.lock").read_bytes() == (split.root / "pixmake.lock").read_bytes()
    assert _parts(again) == _parts(split.root)


def test_an_edited_part_is_seen_by_the_next_status(split: Project) -> None:
    """Every part is an input of the trace's answer: the no-op path must not miss an edit."""
    assert split.status()["logo"]["state"] == "fresh"
    for name, data in _parts(split.root).items():
        part = json.loads(data)
        if "logo" in part["assets"]:
            part["assets"]["logo"]["key"] = "0" * 32
            (split.root / name).write_text(json.dumps(part, indent=2))
    assert split.status()["logo"]["state"] != "fresh"


def test_a_missing_part_is_an_error_that_names_it(split: Project) -> None:
    first = next(iter(_parts(split.root)))
    (split.root / first).unlink()
    result = split.run("status")
    assert result.code == 2
    assert f"pixmake.lock lists the part {first}, which is missing" in result.err
    assert "git checkout pixmake.lock pixmake.lock.d" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "parts", [["../outside.lock"], ["pixmake.lock.d/0.lock", "pixmake.lock.d/00.lock"], "0"]
)
def test_a_hostile_list_of_parts_is_refused(split: Project, parts: object) -> None:
    (split.root / "pixmake.lock").write_text(json.dumps({"parts": parts, "version": 2}))
    result = split.run("status")
    assert result.code == 2
    assert "pixmake.lock: `parts` must list, sorted, files named pixmake.lock.d/" in result.err


def test_a_part_that_is_a_symlink_out_of_the_project_is_refused(
    split: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    first = next(iter(_parts(split.root)))
    shutil.copy(split.root / first, outside / "part.lock")
    (split.root / first).unlink()
    (split.root / first).symlink_to(outside / "part.lock")
    result = split.run("status")
    assert result.code == 2
    assert "outside the project" in result.err


def test_a_lock_that_shrinks_is_one_file_again(split: Project) -> None:
    split.gen({"rows.csv": _csv(rows=3)})
    assert split.run("prune").code == 0
    assert not (split.root / PARTS_DIR).exists()
    assert sorted(split.lock()["assets"]) == ["label-r000", "label-r001", "label-r002", "logo"]


def test_a_stranger_file_in_the_parts_folder_is_left_alone(split: Project) -> None:
    (split.root / PARTS_DIR / "notes.txt").write_text("mine")
    split.gen({"rows.csv": _csv(rows=3)})
    assert split.run("prune").code == 0
    assert (split.root / PARTS_DIR / "notes.txt").read_text() == "mine"
    assert not any((split.root / PARTS_DIR).glob("*.lock"))


def test_git_history_of_parts_restores_an_earlier_image_for_free(
    split: Project, git_identity: None
) -> None:
    root = split.root
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    first = split.read("labels/r007.png")
    split.gen({"rows.csv": _csv({7: "a changed row"}, rows=ROWS + 1)})
    assert split.build()["generated"] == 2
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v2")
    shutil.rmtree(root / ".pixmake")  # a fresh clone: only git knows the first image
    cost = split.run("cost", "--since", "HEAD~1", "--json")
    assert cost.code == 0, cost.err
    assert cost.json()["placeholder"] == 1, cost.out  # the new row; r007's record is as was
    history = split.run("history", "label-r007", "--json")
    assert history.code == 0, history.err
    assert len(history.json()["images"]) == 2, history.out
    split.gen({"rows.csv": _csv(rows=ROWS + 1)})
    summary = split.build()
    assert (summary["generated"], summary["restored"]) == (0, 1), summary
    assert split.read("labels/r007.png") == first


def _merged(split: Project, theirs: str, ours: str, *, prune: bool = False) -> int:
    """The project committed, then `rows.csv` changed and built on a branch (theirs) and on
    main (ours; pruned instead with `prune`), each committed, then main merges the branch.
    Returns git merge's exit code."""
    root = split.root
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    for branch, rows in (("other", theirs), ("main", ours)):
        git(root, "checkout", "-q", *(["-b", branch] if branch == "other" else [branch]))
        split.gen({"rows.csv": rows})
        command = "prune" if prune and branch == "main" else "build"
        assert split.run(command, "--provider", "placeholder").code == 0
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", branch)
    return subprocess.run(["git", "merge", "-q", "--no-edit", "other"], cwd=root).returncode


def test_a_conflict_in_a_part_names_the_part(split: Project, git_identity: None) -> None:
    root = split.root
    assert _merged(split, _csv({7: "theirs"}), _csv({7: "ours"})) != 0
    git(root, "checkout", "--ours", "--", "rows.csv")
    conflicted = git(root, "diff", "--name-only", "--diff-filter=U").split()
    part = next(name for name in conflicted if name.startswith(PARTS_DIR))
    result = split.run("status")
    assert result.code == 2
    assert f"{part}:" in result.err
    assert "unresolved merge conflict" in result.err
    assert f"git checkout --theirs -- {part}" in result.err


def test_a_lock_splits_at_the_real_size(tmp_path: Path) -> None:
    """PART_SIZE entries are one file; one more splits them into 16 parts of about 1/16."""
    output = {"path": "a.png", "hash": "h", "bytes": 1, "width": 1, "height": 1}
    entry = {"key": "k", "request": {}, "outputs": [output], "derived": [], "record": {}}
    entries = {f"a{i:05}": {**entry, "key": f"k{i}"} for i in range(PART_SIZE)}  # one path:
    # a lock is not checked for outputs shared
    write_lock(tmp_path, Lock(Entries(entries)), fsync=False)  # type: ignore[arg-type]
    assert not (tmp_path / PARTS_DIR).exists()
    entries["z"] = {**entry, "key": "kz"}
    write_lock(tmp_path, Lock(Entries(entries)), fsync=False)  # type: ignore[arg-type]
    sizes = [len(json.loads(p.read_text())["assets"]) for p in (tmp_path / PARTS_DIR).iterdir()]
    assert len(sizes) == 16
    assert sum(sizes) == PART_SIZE + 1
    assert max(sizes) < PART_SIZE / 16 * 1.2
    assert sorted(read_lock(tmp_path).entries) == sorted(entries)


def test_branches_that_changed_different_rows_merge_cleanly(
    split: Project, git_identity: None
) -> None:
    assert _merged(split, _csv({3: "theirs"}), _csv({30: "ours"})) == 0  # no conflict
    split.gen({"rows.csv": _csv({3: "theirs", 30: "ours"})})
    status = split.status()
    assert all(a["state"] == "fresh" for a in status.values()), status


def test_branches_that_changed_neighbouring_rows_of_one_part_merge_cleanly(
    split: Project, git_identity: None
) -> None:
    """Two entries next to each other in one part, each changed on its own branch: git's
    merge of the part's lines keeps both."""
    part = part_name("label-r001", 1)
    assert part_name("label-r003", 1) == part  # neighbours there: r002 hashes elsewhere
    assert part_name("label-r002", 1) != part
    assert _merged(split, _csv({1: "theirs"}), _csv({3: "ours"})) == 0  # no conflict
    merged = json.loads((split.root / part).read_text())["assets"]
    assert merged["label-r001"]["request"]["prompt"] == "A label for theirs"
    assert merged["label-r003"]["request"]["prompt"] == "A label for ours"
    split.gen({"rows.csv": _csv({1: "theirs", 3: "ours"})})
    status = split.status()
    assert all(a["state"] == "fresh" for a in status.values()), status


def test_a_part_left_out_of_the_list_is_never_written_over(split: Project) -> None:
    """A list taken from one side of a merge (or edited) leaves a part unread: a build must
    not replace it, or remove it, with what it holds lost."""
    assert split.run("approve", "*").code == 0
    index = split.lock()
    dropped = index["parts"].pop()
    (split.root / "pixmake.lock").write_text(json.dumps(index, indent=2))
    held = (split.root / dropped).read_bytes()
    result = split.run("build", "--provider", "placeholder")
    assert result.code == 2
    assert f"{dropped} is not listed in pixmake.lock, and holds what this lock does not" in (
        result.err
    )
    assert f'add "{dropped}" to the `parts` list in pixmake.lock' in result.err
    assert (split.root / dropped).read_bytes() == held
    assert not (split.root / ".pixmake/journal.jsonl").exists()  # nothing was done
    index["parts"] = sorted([*index["parts"], dropped])
    (split.root / "pixmake.lock").write_text(json.dumps(index, indent=2))
    assert split.run("check", "--approved").code == 0  # nothing was lost


def test_a_conflict_in_the_list_of_parts_says_so(split: Project, git_identity: None) -> None:
    more, fewer = _csv(rows=ROWS + 100), _csv(rows=20)  # 256 parts on one side, fewer on one
    assert _merged(split, more, fewer, prune=True) != 0
    git(split.root, "checkout", "--ours", "--", "rows.csv")
    result = split.run("status")
    assert result.code == 2
    assert "pixmake.lock: unresolved merge conflict in its list of parts" in result.err
    assert "ls pixmake.lock.d" in result.err


@pytest.mark.parametrize("size", ["abc", "0", "-3"])
def test_a_bad_test_part_size_is_ignored(
    project: Project, monkeypatch: pytest.MonkeyPatch, size: str
) -> None:
    monkeypatch.setenv(TEST_PART_SIZE, size)
    project.gen({"pixmake.yaml": SPEC, "rows.csv": _csv(rows=3)})
    assert project.build()["generated"] == 4
    assert not (project.root / PARTS_DIR).exists()
