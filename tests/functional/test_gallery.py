"""`pixmake gallery`: what the page says of each asset, its pictures, and before and after."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Project, git

GALLERY = ".pixmake/gallery"
_OPEN = '<script type="application/json" id="pixmake-data">'


def page_data(root: Path, folder: str = GALLERY) -> dict[str, Any]:
    text = (root / folder / "index.html").read_text(encoding="utf-8")
    start = text.index(_OPEN) + len(_OPEN)
    data: dict[str, Any] = json.loads(text[start : text.index("</script>", start)])
    return data


def cards(root: Path, folder: str = GALLERY) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in page_data(root, folder)["assets"]}


def picture_size(root: Path, picture: dict[str, Any], folder: str = GALLERY) -> tuple[int, int]:
    with Image.open(root / folder / picture["src"]) as image:
        image.load()
        assert image.size == (picture["w"], picture["h"])
        return image.size


@pytest.fixture
def repo(icons: Project, git_identity: None) -> Project:
    """The icons project built and committed, outputs and lock with it."""
    icons.build()
    git(icons.root, "init", "-q")
    git(icons.root, "add", "-A")
    git(icons.root, "commit", "-q", "-m", "icons")
    return icons


def test_every_asset_has_a_card_with_its_request_and_a_thumbnail(icons: Project) -> None:
    icons.build()
    result = icons.run("gallery", "--provider", "placeholder")
    assert result.code == 0, result.err
    assert "gallery: " in result.out
    assert "(3 assets" in result.out
    found = cards(icons.root)
    assert list(found) == ["icon-sword", "icon-shield", "icon-potion"]
    sword = found["icon-sword"]
    assert sword["series"] == "icon-{{ item.slug }}"
    assert sword["origin"] == "data/items.csv:2"
    assert (sword["state"], sword["reasons"]) == ("fresh", [])
    assert (sword["model"], sword["quality"], sword["size"]) == (
        "GPT Image 1 Mini",
        "low",
        "1024x1024",
    )
    assert sword["prompt"] == "A short sword icon, palette forest green"
    assert sword["cost"] == 0.0
    assert sword["placeholder"] is True
    index = icons.root / GALLERY / "index.html"
    reference = sword["refs"][0]
    assert (reference["kind"], reference["text"]) == ("file", "refs/style.png")
    assert (index.parent / reference["href"]).resolve() == icons.root / "refs/style.png"
    assert [o["path"] for o in sword["outputs"]] == ["icons/sword.png", "icons/64/sword.png"]
    assert (index.parent / sword["outputs"][0]["href"]).resolve() == icons.root / "icons/sword.png"
    assert picture_size(icons.root, sword["thumb"]) == (256, 256)


def test_a_stale_asset_shows_its_state_and_reasons(icons: Project) -> None:
    icons.build()
    icons.gen({"data/items.csv": "slug,name\nsword,long sword\nshield,round shield\n"})
    assert icons.run("gallery", "--provider", "placeholder").code == 0
    found = cards(icons.root)
    assert found["icon-sword"]["state"] == "changed"
    assert any("prompt changed" in r for r in found["icon-sword"]["reasons"])
    assert found["icon-sword"]["estimate"] == 0.0  # placeholder: free
    assert found["icon-potion"]["state"] == "orphaned"
    assert found["icon-potion"]["series"] == "(no longer in pixmake.yaml)"
    assert found["icon-potion"]["thumb"]["src"]  # its image is still on disk
    assert found["icon-shield"]["reasons"] == []


def test_an_asset_not_built_yet_has_no_picture_and_its_estimate(icons: Project) -> None:
    assert icons.run("gallery").code == 0
    sword = cards(icons.root)["icon-sword"]
    assert sword["state"] == "new"
    assert sword["thumb"] == {"problem": "no image yet"}
    assert sword["estimate"] == pytest.approx(0.005)
    assert sword["outputs"][0]["href"] is None


def test_changed_since_head_shows_before_after_and_difference_from_git(repo: Project) -> None:
    committed = repo.read("icons/sword.png")
    rows = "slug,name\nsword,long sword\nshield,round shield\npotion,health potion\n"
    repo.gen({"data/items.csv": rows})
    repo.build()
    shutil.rmtree(repo.root / ".pixmake")  # the earlier image can come from git alone
    result = repo.run("gallery", "--provider", "placeholder", "--json")
    assert result.code == 0, result.err
    summary = result.json()
    assert summary["changed"] == ["icon-sword"]
    assert summary["since"] == git(repo.root, "rev-parse", "HEAD").strip()
    found = cards(repo.root)
    since = found["icon-sword"]["since"]
    assert since["change"] == "changed"
    assert found["icon-shield"]["since"] is None
    before = Image.open(repo.root / GALLERY / since["before"]["src"])
    with (
        Image.open(repo.root / "icons/sword.png") as now,
        Image.open(io.BytesIO(committed)) as then,
    ):
        assert before.size == then.size == now.size  # a 1024 preview of a 1024 image
        assert before.convert("RGB").getpixel((512, 900)) == pytest.approx(
            then.convert("RGB").getpixel((512, 900)), abs=8
        )
    for name in ("after", "diff", "before_thumb"):
        picture_size(repo.root, since[name])
    assert page_data(repo.root)["since"]["rev"] == "HEAD"


def test_a_new_asset_since_the_commit_has_no_before(repo: Project) -> None:
    repo.gen({"data/items.csv": "slug,name\nsword,short sword\nbow,long bow\n"})
    repo.build()
    assert repo.run("gallery", "--provider", "placeholder").code == 0
    assert cards(repo.root)["icon-bow"]["since"] == {"change": "new"}


def test_since_an_unknown_revision_is_a_usage_error(repo: Project) -> None:
    result = repo.run("gallery", "--since", "no-such-branch")
    assert result.code == 2
    assert "--since no-such-branch: no such commit" in result.err
    assert "fix:" in result.err


def test_without_git_the_page_says_why_there_is_no_before_and_after(icons: Project) -> None:
    icons.build()
    result = icons.run("gallery", "--provider", "placeholder", "--json")
    assert result.code == 0
    assert result.json()["note"] == "not in a git repository: no before and after to show"
    data = page_data(icons.root)
    assert data["since"]["note"] == result.json()["note"]
    assert all(a["since"] is None for a in data["assets"])


@pytest.mark.parametrize("folder", ["../elsewhere", ".git/gallery", ".pixmake", ".pixmake/objects"])
def test_the_folder_must_be_inside_the_project_and_not_pixmakes_own(
    icons: Project, folder: str
) -> None:
    result = icons.run("gallery", "-o", folder)
    assert result.code == 2
    assert f"-o {folder}: " in result.err
    assert "fix:" in result.err
    assert not (icons.root.parent / "elsewhere").exists()


def test_a_folder_holding_other_files_is_refused_and_left_alone(icons: Project) -> None:
    icons.gen({"site/index.html": "<h1>my site</h1>"})
    result = icons.run("gallery", "-o", "site")
    assert result.code == 2
    assert "not a pixmake gallery" in result.err
    assert icons.read("site/index.html") == b"<h1>my site</h1>"


def test_a_gallery_elsewhere_links_to_the_project_files_from_there(icons: Project) -> None:
    icons.build()
    assert icons.run("gallery", "--provider", "placeholder", "-o", "review/all").code == 0
    assert icons.run("gallery", "--provider", "placeholder", "-o", "review/all").code == 0
    sword = cards(icons.root, "review/all")["icon-sword"]
    index = icons.root / "review/all/index.html"
    assert (index.parent / sword["outputs"][0]["href"]).resolve() == icons.root / "icons/sword.png"
    picture_size(icons.root, sword["thumb"], "review/all")


def test_pictures_are_made_once_and_those_not_shown_are_removed(icons: Project) -> None:
    icons.build()
    first = icons.run("gallery", "--provider", "placeholder", "--json").json()
    assert first["pictures_made"] == 3
    again = icons.run("gallery", "--provider", "placeholder", "--json").json()
    assert again["pictures_made"] == 0
    icons.gen({"data/items.csv": "slug,name\nsword,long sword\n"})
    icons.build()
    icons.run("prune")
    third = icons.run("gallery", "--provider", "placeholder", "--json").json()
    assert third["pictures_made"] == 1
    shown = {cards(icons.root)["icon-sword"]["thumb"]["src"].split("/")[-1]}
    assert {p.name for p in (icons.root / GALLERY / "pictures").iterdir()} == shown


def test_an_output_that_does_not_decode_is_shown_as_such(icons: Project) -> None:
    icons.build()
    icons.gen({"icons/sword.png": b"not an image at all"})
    result = icons.run("gallery", "--provider", "placeholder")
    assert result.code == 0, result.err
    sword = cards(icons.root)["icon-sword"]
    assert sword["state"] == "modified"
    assert sword["thumb"]["problem"].startswith("the file is not an image")


def test_no_prompt_can_close_the_data_element(icons: Project) -> None:
    hostile = "</script><script>alert(1)</script> <!-- & \u2028"
    icons.gen({"prompts/icon.j2": hostile + " {{ item.name }}\n"})
    assert icons.run("gallery").code == 0
    text = (icons.root / GALLERY / "index.html").read_text(encoding="utf-8")
    assert text.count("</script>") == 2  # the data's and the script's own
    assert cards(icons.root)["icon-sword"]["prompt"] == hostile + " short sword"


def test_targets_select_assets_and_their_upstream(icons: Project) -> None:
    icons.build()
    assert icons.run("gallery", "--provider", "placeholder", "icon-s*").code == 0
    assert sorted(cards(icons.root)) == ["icon-shield", "icon-sword"]
    assert icons.run("gallery", "nothing-*").code == 2


def test_a_gallery_of_many_assets_has_every_thumbnail(icons: Project) -> None:
    rows = "".join(f"item{i},item {i}\n" for i in range(30))  # enough for worker processes
    icons.gen({"data/items.csv": "slug,name\n" + rows})
    icons.build()
    result = icons.run("gallery", "--provider", "placeholder", "--json")
    assert result.code == 0, result.err
    assert result.json()["pictures_made"] == 30
    for card in cards(icons.root).values():
        assert picture_size(icons.root, card["thumb"]) == (256, 256)
