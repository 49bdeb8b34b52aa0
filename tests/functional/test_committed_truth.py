"""The project's own files are a source of content: in a fresh clone (no `.pixmake/`), what
the lock records on disk is moved, restored and derived from, never generated again.
(Issue 11; git's history as a source is in test_teammate_day.py.)"""

from __future__ import annotations

import shutil

from tests.conftest import Project

SPEC = (
    "version: 1\ndefaults: {provider: placeholder}\nassets:\n"
    "  hero:\n    prompt: a hero\n    out: hero.png\n"
    "    derive: [{resize: 64, out: small/hero.webp}]\n"
    "  logo: {prompt: a logo, out: logo.png}\n"
)


def _fresh_clone(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    assert project.build()["generated"] == 2
    shutil.rmtree(project.root / ".pixmake")


def test_a_renamed_output_is_moved_free(project: Project) -> None:
    _fresh_clone(project)
    original = project.read("hero.png")
    project.gen({"pixmake.yaml": SPEC.replace("out: hero.png", "out: art/hero.png")})
    summary = project.build()
    assert summary["generated"] == 0, summary
    assert project.read("art/hero.png") == original
    assert not (project.root / "hero.png").exists()


def test_a_deleted_or_changed_derived_file_is_derived_from_the_committed_original(
    project: Project,
) -> None:
    _fresh_clone(project)
    (project.root / "small/hero.webp").unlink()
    summary = project.build()
    assert (summary["generated"], summary["failed"]) == (0, 0), summary
    assert (project.root / "small/hero.webp").is_file()
    shutil.rmtree(project.root / ".pixmake")
    project.gen({"pixmake.yaml": SPEC.replace("resize: 64", "resize: 32")})
    summary = project.build()
    assert (summary["generated"], summary["failed"]) == (0, 0), summary
    assert project.lock()["assets"]["hero"]["derived"][0]["width"] == 32


def test_a_hand_edited_file_is_never_taken_for_the_locked_one(project: Project) -> None:
    _fresh_clone(project)
    edited = bytearray(project.read("hero.png"))
    edited[-5] ^= 0xFF
    (project.root / "hero.png").write_bytes(bytes(edited))
    project.gen({"pixmake.yaml": SPEC.replace("out: hero.png", "out: art/hero.png")})
    status = project.status()["hero"]
    assert status["state"] == "modified"  # the edit is protected, and not the locked content
    assert "the store does not have it: it must be generated again" in status["reasons"]
    summary = project.build()
    assert (summary["generated"], summary["restored"]) == (0, 0), summary
    assert not (project.root / "art/hero.png").exists()
    assert project.read("hero.png") == bytes(edited)
