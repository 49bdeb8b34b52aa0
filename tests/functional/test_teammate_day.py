"""A teammate's day in a fresh `git clone` with no API key (issue 11): everything the project
or its git history holds is free. Built against the fake Runware server; after each step its
ledger is unchanged, nothing is generated and every committed file is as committed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, git, serve_fake

KEY = "sk-teammate-0123456789abcdef"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
SPEC = (
    f"version: 1\n{FAST}assets:\n"
    "  hero:\n    prompt: a brave hero\n    out: art/hero.png\n"
    "    derive: [{resize: 64, out: small/hero.webp}]\n"
    "  card:\n    prompt: a card showing the hero\n    out: art/card.png\n"
    '    references: ["asset:hero"]\n'
    "  logo: {prompt: a logo, out: art/logo.png}\n"
)


@pytest.fixture
def fake(git_identity: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def _committed(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in git(root, "ls-files").split()}


class Teammate:
    """The clone, with the fake server's ledger and the committed bytes to compare with."""

    def __init__(self, project: Project, fake: FakeRunware) -> None:
        self.project, self.fake = project, fake
        self.charges = fake.charges()
        self.root = project.root

    def build(self) -> dict[str, object]:
        result = self.project.run("build", "--json")
        assert result.code == 0, result.err
        summary: dict[str, object] = result.last_json()
        assert summary["generated"] == 0, summary
        assert self.fake.charges() == self.charges  # nothing paid
        return summary

    def status(self) -> dict[str, dict[str, object]]:
        result = self.project.run("status", "--json")
        assert result.code == 0, result.err
        return {a["id"]: a for a in result.json()["assets"]}

    def spec(self, old: str, new: str) -> None:
        text = (self.root / "pixmake.yaml").read_text()
        assert old in text
        (self.root / "pixmake.yaml").write_text(text.replace(old, new))


@pytest.fixture
def clone(
    fake: FakeRunware,
    project: Project,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Teammate, dict[str, bytes]]:
    """Upstream: v1 built and committed, then the hero's prompt changed, built, committed.
    Returns the teammate's clone (no key) and the bytes v1 committed."""
    upstream = tmp_path_factory.mktemp("upstream")
    git(upstream, "init", "-q")
    (upstream / "pixmake.yaml").write_text(SPEC.replace("a brave hero", "a hero"))
    assert project.run("-C", str(upstream), "build").code == 0
    _commit(upstream, "v1")
    first = _committed(upstream)
    (upstream / "pixmake.yaml").write_text(SPEC)
    assert project.run("-C", str(upstream), "build").code == 0
    _commit(upstream, "v2")
    project.root.rmdir()
    subprocess.run(["git", "clone", "-q", str(upstream), str(project.root)], check=True)
    monkeypatch.delenv("RUNWARE_API_KEY")
    return Teammate(project, fake), first


def test_check_in_a_fresh_clone_passes_and_writes_nothing(
    clone: tuple[Teammate, dict[str, bytes]],
) -> None:
    mate, _ = clone
    committed = _committed(mate.root)
    result = mate.project.run("check")
    assert result.code == 0, result.err
    assert git(mate.root, "status", "--porcelain", "--ignored") == ""
    assert _committed(mate.root) == committed


def test_a_prompt_reverted_brings_back_the_earlier_commits_image(
    clone: tuple[Teammate, dict[str, bytes]],
) -> None:
    mate, first = clone
    mate.spec("a brave hero", "a hero")
    status = mate.status()
    assert "made before" in " ".join(status["hero"]["reasons"]), status["hero"]
    mate.build()
    for rel in ("art/hero.png", "small/hero.webp", "art/card.png"):
        assert (mate.root / rel).read_bytes() == first[rel], rel
    assert mate.project.run("check").code == 0


def test_a_deleted_original_is_restored_from_git(
    clone: tuple[Teammate, dict[str, bytes]],
) -> None:
    mate, _ = clone
    committed = _committed(mate.root)
    (mate.root / "art/hero.png").unlink()
    (mate.root / "small/hero.webp").unlink()
    summary = mate.build()
    assert summary["restored"] == 1, summary
    assert _committed(mate.root) == committed


def test_a_teammates_day_costs_nothing(clone: tuple[Teammate, dict[str, bytes]]) -> None:
    mate, _ = clone
    committed = _committed(mate.root)

    def unchanged(*changed: str) -> None:
        """Every committed file still at its path is as committed, but the spec, the lock
        and those the step changes on purpose."""
        for rel, data in committed.items():
            if rel not in ("pixmake.yaml", "pixmake.lock", *changed):
                path = mate.root / rel
                assert not path.exists() or path.read_bytes() == data, rel

    mate.spec("out: art/logo.png", "out: brand/logo.png")  # rename an output
    mate.build()
    assert (mate.root / "brand/logo.png").read_bytes() == committed["art/logo.png"]
    unchanged()

    mate.spec("  hero:", "  key-art:")  # rename a referenced asset
    mate.spec("asset:hero", "asset:key-art")
    mate.build()
    unchanged()
    assert (mate.root / "art/card.png").is_file()

    mate.spec("resize: 64", "resize: 48")  # change a derive step
    mate.build()
    unchanged("small/hero.webp")

    (mate.root / "small/hero.webp").unlink()  # delete a derived file
    mate.build()
    assert (mate.root / "small/hero.webp").is_file()
    unchanged("small/hero.webp")

    (mate.root / "art/hero.png").unlink()  # delete an original, with .pixmake/ gone too
    shutil.rmtree(mate.root / ".pixmake")
    mate.build()
    assert (mate.root / "art/hero.png").read_bytes() == committed["art/hero.png"]
    unchanged("small/hero.webp")
    assert mate.project.run("check").code != 0  # the lock changed: not what was committed


def test_a_committed_hand_edit_is_modified_and_never_overwritten(
    clone: tuple[Teammate, dict[str, bytes]],
) -> None:
    mate, _ = clone
    edited = bytearray((mate.root / "art/logo.png").read_bytes())
    edited[-5] ^= 0xFF
    (mate.root / "art/logo.png").write_bytes(bytes(edited))
    _commit(mate.root, "a hand edit")
    assert mate.status()["logo"]["state"] == "modified"
    result = mate.project.run("build", "--json")
    assert result.last_json()["generated"] == 0
    assert mate.fake.charges() == mate.charges
    assert (mate.root / "art/logo.png").read_bytes() == bytes(edited)


def test_without_git_the_working_tree_is_still_a_source(
    clone: tuple[Teammate, dict[str, bytes]],
) -> None:
    mate, _ = clone
    shutil.rmtree(mate.root / ".git")  # a tarball of the project
    mate.spec("out: art/logo.png", "out: brand/logo.png")
    mate.spec("resize: 64", "resize: 48")
    mate.build()
    shutil.rmtree(mate.root / ".pixmake")
    (mate.root / "art/hero.png").unlink()  # only git had another copy: now it must be paid
    refused = mate.project.run("build")
    assert refused.code == 2
    assert "RUNWARE_API_KEY" in refused.err


def test_a_committed_hand_edit_deleted_brings_back_the_locked_image_not_the_edit(
    clone: tuple[Teammate, dict[str, bytes]],
) -> None:
    mate, _ = clone
    locked = (mate.root / "art/logo.png").read_bytes()
    edited = bytearray(locked)
    edited[-5] ^= 0xFF
    (mate.root / "art/logo.png").write_bytes(bytes(edited))
    _commit(mate.root, "a hand edit, never accepted")  # HEAD's blob is not the locked image
    (mate.root / "art/logo.png").unlink()
    mate.build()
    assert (mate.root / "art/logo.png").read_bytes() == locked


def test_a_project_in_a_folder_of_its_repository(
    project: Project, tmp_path_factory: pytest.TempPathFactory, fake: FakeRunware
) -> None:
    upstream = tmp_path_factory.mktemp("monorepo")
    git(upstream, "init", "-q")
    game = upstream / "games" / "quest"
    game.mkdir(parents=True)
    (game / "pixmake.yaml").write_text(SPEC.replace("a brave hero", "a hero"))
    assert project.run("-C", str(game), "build").code == 0
    _commit(upstream, "v1")
    first = (game / "art/hero.png").read_bytes()
    (game / "pixmake.yaml").write_text(SPEC)
    assert project.run("-C", str(game), "build").code == 0
    _commit(upstream, "v2")
    clone = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(upstream), str(clone)], check=True)
    charges = fake.charges()
    root = clone / "games" / "quest"
    (root / "pixmake.yaml").write_text(SPEC.replace("a brave hero", "a hero"))
    result = project.run("-C", str(root), "build", "--json", "--provider", "runware")
    assert result.code == 0, result.err
    assert result.last_json()["generated"] == 0
    assert (root / "art/hero.png").read_bytes() == first
    assert fake.charges() == charges


def test_the_side_a_merge_dropped_is_still_a_source(
    project: Project, git_identity: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two branches built different images; the merge kept one side. git's default history
    simplification hides the other side's commits: pixmake reads them all (--full-history)."""
    upstream = tmp_path_factory.mktemp("merged")
    spec = "version: 1\ndefaults: {provider: placeholder}\nvars: {c: base}\nassets:\n"
    spec += "  x: {prompt: 'a {{ c }} fox', out: x.png}\n"
    git(upstream, "init", "-q", "-b", "main")

    def build(colour: str, message: str) -> None:
        (upstream / "pixmake.yaml").write_text(spec.replace("c: base", f"c: {colour}"))
        assert project.run("-C", str(upstream), "build").code == 0
        _commit(upstream, message)

    build("base", "base")
    git(upstream, "checkout", "-q", "-b", "feat")
    build("theirs", "theirs")
    git(upstream, "checkout", "-q", "main")
    build("ours", "ours")
    subprocess.run(["git", "merge", "-q", "feat"], cwd=upstream, capture_output=True)
    git(upstream, "checkout", "--theirs", "--", "pixmake.yaml", "pixmake.lock", "x.png")
    _commit(upstream, "merge, keeping theirs")
    project.root.rmdir()
    subprocess.run(["git", "clone", "-q", str(upstream), str(project.root)], check=True)
    (project.root / "pixmake.yaml").write_text(spec.replace("c: base", "c: ours"))
    status = project.status()["x"]
    assert "made before" in " ".join(status["reasons"]), status
    summary = project.build()
    assert (summary["generated"], summary["restored"]) == (0, 1), summary
