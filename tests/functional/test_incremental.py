"""The promises of issue 2, as a user would try them: only what changed is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Project, copy_example


def test_first_build_generates_everything_and_second_build_nothing(icons: Project) -> None:
    first = icons.build()
    assert first["generated"] == 3
    assert first["failed"] == 0
    assert (icons.root / "icons/64/sword.png").is_file()
    assert (icons.root / ".pixmake/.gitignore").read_text().endswith("*\n")  # ignored by git
    second = icons.build()
    assert second == {**second, "generated": 0, "restored": 0, "derived": 0, "fresh": 3}


def test_changing_one_row_changes_exactly_that_asset(icons: Project) -> None:
    icons.build()
    icons.gen({"data/items.csv": icons.read("data/items.csv").decode().replace("round", "kite")})
    states = icons.status()
    assert states["icon-shield"]["state"] == "changed"
    assert {k: v["state"] for k, v in states.items() if k != "icon-shield"} == {
        "icon-sword": "fresh",
        "icon-potion": "fresh",
    }
    reason = states["icon-shield"]["reasons"][0]
    assert "[-round-]" in reason
    assert "{+kite+}" in reason
    explained = icons.run("explain", "icon-shield", "--provider", "placeholder", "--json").json()
    assert explained["changes"] == [
        {
            "field": "prompt",
            "old": "A round shield icon, palette forest green",
            "new": "A kite shield icon, palette forest green",
        }
    ]
    summary = icons.build()
    assert (summary["generated"], summary["fresh"]) == (1, 2)


def test_template_edit_with_same_rendered_prompt_generates_nothing(icons: Project) -> None:
    icons.build()
    icons.gen(
        {"prompts/icon.j2": "{# reworded comment #}A {{ item.name }} icon, palette {{ palette }}"}
    )
    assert {a["state"] for a in icons.status().values()} == {"fresh"}
    assert icons.build()["generated"] == 0


def test_renaming_an_output_moves_it_without_generating(icons: Project) -> None:
    icons.build()
    before = icons.read("icons/sword.png")
    icons.gen(
        {
            "pixmake.yaml": icons.read("pixmake.yaml")
            .decode()
            .replace('out: "icons/{{ item.slug }}.png"', 'out: "art/{{ item.slug }}.png"')
        }
    )
    summary = icons.build()
    assert (summary["generated"], summary["restored"]) == (0, 3)
    assert icons.read("art/sword.png") == before
    assert not (icons.root / "icons/sword.png").exists()  # moved, and kept in the store
    assert icons.lock()["assets"]["icon-sword"]["outputs"][0]["path"] == "art/sword.png"


def test_renaming_an_asset_restores_without_generating(icons: Project) -> None:
    icons.build()
    icons.gen({"pixmake.yaml": icons.read("pixmake.yaml").decode().replace('"icon-', '"item-')})
    summary = icons.build()
    assert (summary["generated"], summary["restored"], summary["skipped"]) == (0, 3, 0)
    assert icons.status()["icon-sword"]["state"] == "orphaned"
    assert icons.run("prune").code == 0
    assert set(icons.lock()["assets"]) == {"item-sword", "item-shield", "item-potion"}
    assert (icons.root / "icons/sword.png").is_file()  # still item-sword's output


def test_reverting_an_edit_restores_from_the_store(icons: Project) -> None:
    icons.build()
    original = icons.read("icons/potion.png")
    csv = icons.read("data/items.csv").decode()
    icons.gen({"data/items.csv": csv.replace("health", "mana")})
    assert icons.build()["generated"] == 1
    assert icons.read("icons/potion.png") != original
    icons.gen({"data/items.csv": csv})
    summary = icons.build()
    assert (summary["generated"], summary["restored"]) == (0, 1)
    assert icons.read("icons/potion.png") == original


def test_deleted_outputs_are_restored_without_generating(icons: Project) -> None:
    icons.build()
    original = icons.read("icons/sword.png")
    (icons.root / "icons/sword.png").unlink()
    (icons.root / "icons/64/shield.png").unlink()
    states = icons.status()
    assert states["icon-sword"]["state"] == "missing"
    assert states["icon-shield"]["state"] == "missing"
    summary = icons.build()
    assert (summary["generated"], summary["restored"]) == (0, 2)
    assert icons.read("icons/sword.png") == original


def test_hand_edited_output_is_not_overwritten_without_force(icons: Project) -> None:
    icons.build()
    edited = icons.read("icons/sword.png") + b"edited"
    icons.gen({"icons/sword.png": edited})
    assert icons.status()["icon-sword"]["state"] == "modified"
    summary = icons.build()
    assert summary["skipped"] == 1
    assert icons.read("icons/sword.png") == edited
    # a prompt change does not overwrite it either
    icons.gen({"data/items.csv": ICONS_CSV_EDITED})
    assert icons.status()["icon-sword"]["state"] == "modified"
    assert icons.run("build", "--provider", "placeholder").code == 1
    assert icons.read("icons/sword.png") == edited


def test_force_restores_the_locked_output(icons: Project) -> None:
    icons.build()
    original = icons.read("icons/sword.png")
    icons.gen({"icons/sword.png": b"not an image"})
    summary = icons.build("--force")
    assert (summary["restored"], summary["generated"]) == (1, 0)
    assert icons.read("icons/sword.png") == original


def test_accept_records_the_hand_edit(icons: Project) -> None:
    icons.build()
    from tests.conftest import png_bytes

    edited = png_bytes((1024, 1024), (1, 2, 3))
    icons.gen({"icons/sword.png": edited})
    result = icons.run("accept", "icon-sword", "--provider", "placeholder")
    assert result.code == 0, result.err
    entry = icons.lock()["assets"]["icon-sword"]
    assert entry["record"]["accepted"] is True
    # the derived size came from the old image: it is derived again, for free
    assert icons.status()["icon-sword"]["state"] == "changed"
    summary = icons.build()
    assert (summary["generated"], summary["derived"]) == (0, 1)
    assert icons.read("icons/sword.png") == edited
    assert {a["state"] for a in icons.status().values()} == {"fresh"}


def test_untracked_existing_output_is_never_overwritten(icons: Project) -> None:
    icons.gen({"icons/sword.png": b"a file the user made"})
    summary = icons.build()
    assert summary["skipped"] == 1
    assert icons.read("icons/sword.png") == b"a file the user made"
    assert "pixmake did not write it" in " ".join(icons.status()["icon-sword"]["reasons"])


def test_check_exit_codes_and_writes_nothing(icons: Project) -> None:
    assert icons.run("check", "--provider", "placeholder").code == 1
    icons.build()
    assert icons.run("check", "--provider", "placeholder").code == 0
    icons.gen({"data/items.csv": ICONS_CSV_EDITED})
    before = icons.tree()
    result = icons.run("check", "--provider", "placeholder")
    assert result.code == 1
    assert "icon-sword" in result.out
    assert icons.tree() == before


ICONS_CSV_EDITED = "slug,name\nsword,long sword\nshield,round shield\npotion,health potion\n"


def test_check_after_each_kind_of_change(icons: Project) -> None:
    icons.build()
    (icons.root / "icons/64/potion.png").unlink()
    assert icons.run("check", "--provider", "placeholder").code == 1
    icons.build()
    assert icons.run("check", "--provider", "placeholder").code == 0
    icons.gen({"icons/shield.png": b"edited"})
    assert icons.run("check", "--provider", "placeholder").code == 1


def test_two_builds_of_the_same_state_give_byte_identical_lockfiles(icons: Project) -> None:
    icons.build()
    first = icons.read("pixmake.lock")
    (icons.root / "pixmake.lock").unlink()
    (icons.root / "icons/sword.png").unlink()
    icons.build()
    assert icons.read("pixmake.lock") == first


def test_profiles_override_defaults(icons: Project) -> None:
    spec = icons.read("pixmake.yaml").decode()
    icons.gen(
        {"pixmake.yaml": spec.replace("assets:", "profiles:\n  final: {quality: high}\nassets:")}
    )
    icons.build()
    result = icons.run("status", "--provider", "placeholder", "--profile", "final", "--json")
    states = {a["id"]: a for a in result.json()["assets"]}
    assert states["icon-sword"]["state"] == "changed"
    assert "quality: 'low' -> 'high'" in states["icon-sword"]["reasons"]
    assert icons.run("status", "--profile", "nope").code == 2


def test_a_real_provider_replaces_placeholders(icons: Project) -> None:
    icons.build()
    result = icons.run("status", "--json")  # the spec's provider: runware
    states = {a["id"]: a for a in result.json()["assets"]}
    assert {a["state"] for a in states.values()} == {"changed"}
    assert "provider: 'placeholder' -> 'runware'" in states["icon-sword"]["reasons"]
    assert icons.lock()["assets"]["icon-sword"]["record"]["placeholder"] is True


def test_graph_gc_prune_explain(icons: Project) -> None:
    icons.build()
    dot = icons.run("graph").out
    assert dot.startswith("digraph pixmake {")
    assert '"refs/style.png" -> "icon-sword";' in dot
    csv = icons.read("data/items.csv").decode()
    icons.gen({"data/items.csv": csv.replace("health", "mana")})
    icons.build()
    icons.gen({"data/items.csv": csv.replace("potion,health potion\n", "")})
    text = icons.run("explain", "icon-potion", "--provider", "placeholder").out
    assert text.startswith("icon-potion: orphaned")
    assert icons.run("prune", "--dry-run").out == "would prune icon-potion\n"
    assert icons.run("prune").out == "pruned icon-potion\n"
    assert not (icons.root / "icons/potion.png").exists()
    gc = icons.run("gc")
    assert gc.out.startswith("removed 4 images")  # both potions and their derived sizes
    assert icons.run("check", "--provider", "placeholder").code == 0
    explained = icons.run("explain", "icon-sword", "--provider", "placeholder").out
    assert "icon-sword: fresh" in explained
    assert "prompt: A short sword icon, palette forest green" in explained


def test_examples_build_with_the_placeholder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for example in sorted(EXAMPLES.iterdir()):
        if example.name == "ci":
            continue  # a workflow, not a project
        root = tmp_path / example.name
        copy_example(example.name, root)
        project = Project(root, capsys)
        first = project.build("-j", "4")
        assert first["failed"] == first["skipped"] == 0, example.name
        assert first["generated"] >= 5
        assert project.build()["generated"] == 0
        assert project.run("check", "--provider", "placeholder").code == 0
    labels = json.loads((tmp_path / "labels/pixmake.lock").read_text())["assets"]
    assert len(labels) >= 12
    refs = {e["request"]["references"][0]["ref"] for e in labels.values()}
    assert refs == {"refs/brand-mark.png"}
