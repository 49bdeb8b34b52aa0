"""Candidates, reroll, history, pick and approval, through the command line."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, serve_fake

KEY = "sk-live-review0123456789"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
HIGH = 0.036  # gpt-image-1-mini, high, 1024x1024
SPEC = f"""\
version: 1
defaults: {{quality: high}}
{FAST}assets:
  hero:
    prompt: a hero
    out: hero.png
    candidates: 3
    derive: [{{resize: 64, out: small/hero.png}}]
  plain: {{prompt: plain, out: plain.png}}
"""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _hashes(entry: dict[str, Any]) -> list[str]:
    return [c[0]["hash"] for c in entry.get("candidates", [])]


def _history(project: Project, asset_id: str) -> list[dict[str, Any]]:
    result = project.run("history", asset_id, "--provider", "placeholder", "--json")
    assert result.code == 0, result.err
    images: list[dict[str, Any]] = result.json()["images"]
    return images


def _git(project: Project, *args: str) -> None:
    subprocess.run(["git", *args], cwd=project.root, check=True, capture_output=True)


# -- candidates -------------------------------------------------------------------------------


def test_candidates_are_distinct_kept_and_the_first_is_the_output(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    assert project.build()["generated"] == 2
    hero = project.lock()["assets"]["hero"]
    assert len(set(_hashes(hero))) == 3
    assert hero["chosen"] == 0
    assert hero["outputs"][0]["hash"] == _hashes(hero)[0]
    assert "candidates" not in project.lock()["assets"]["plain"]  # as it always was
    # every candidate is in the store's action cache: a lost lock brings them all back
    (project.root / "pixmake.lock").unlink()
    assert project.build()["restored"] == 2
    assert _hashes(project.lock()["assets"]["hero"]) == _hashes(hero)


def test_candidates_ask_runware_for_that_many_images_in_one_task(
    fake: FakeRunware, project: Project
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    plan = project.run("plan", "--json").json()
    by_id = {a["id"]: a for a in plan["assets"]}
    assert by_id["hero"]["estimated_cost_usd"] == pytest.approx(3 * HIGH)
    assert project.run("build").code == 0
    assert [c.images for c in fake.ledger if c.images == 3] == [3]
    assert len(fake.charges()) == 2
    assert len(set(_hashes(project.lock()["assets"]["hero"]))) == 3


def test_candidates_are_in_the_key_and_results_keeps_its_meaning(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    key = project.lock()["assets"]["hero"]["key"]
    project.gen({"pixmake.yaml": SPEC.replace("candidates: 3", "candidates: 2")})
    assert project.status()["hero"]["state"] == "changed"
    project.build()
    assert project.lock()["assets"]["hero"]["key"] != key
    project.gen({"pixmake.yaml": SPEC.replace("candidates: 3", "results: 2\n    candidates: 2")})
    project.build()
    hero = project.lock()["assets"]["hero"]
    assert [o["path"] for o in hero["outputs"]] == ["hero-1.png", "hero-2.png"]
    assert [len(c) for c in hero["candidates"]] == [2, 2]


def test_too_many_images_in_one_request_is_a_spec_error(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC.replace("candidates: 3", "results: 5\n    candidates: 5")})
    result = project.run("status")
    assert result.code == 2
    assert "pixmake.yaml:" in result.err
    assert "25 images" in result.err


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda e: e.update(chosen=7), "`chosen` must be the index"),
        (lambda e: e.update(chosen=1), "is not the outputs"),
        (lambda e: e["candidates"][1][0].pop("hash"), "`candidates[1][0].hash` is missing"),
        (lambda e: e.update(candidates="x"), "`candidates` must be a list"),
        (lambda e: e.update(approved=[1]), "`approved` must list hashes"),
    ],
)
def test_damaged_candidates_are_warned_and_the_entry_ignored(
    project: Project, change: Any, problem: str
) -> None:
    import json

    project.gen({"pixmake.yaml": SPEC})
    project.build()
    lock = project.lock()
    change(lock["assets"]["hero"])
    (project.root / "pixmake.lock").write_text(json.dumps(lock))
    result = project.run("status", "--provider", "placeholder")
    assert result.code == 0
    assert "entry hero:" in result.err
    assert problem in result.err


# -- pick ---------------------------------------------------------------------------------


def test_pick_makes_a_candidate_the_output_for_free(fake: FakeRunware, project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.run("build")
    charged = len(fake.ledger)
    before = project.lock()["assets"]["hero"]
    small = project.read("small/hero.png")
    result = project.run("pick", "hero", "2")
    assert result.code == 0, result.err
    assert "picked image 2" in result.out
    hero = project.lock()["assets"]["hero"]
    assert hero["chosen"] == 1
    assert hero["outputs"][0]["hash"] == _hashes(before)[1]
    assert hero["candidates"] == before["candidates"]
    assert project.read("small/hero.png") != small  # derived again from the pick
    assert len(fake.ledger) == charged
    status = project.run("status", "--json").json()
    assert status["counts"]["fresh"] == 2
    # by its hash too, and back
    assert project.run("pick", "hero", _hashes(before)[0][:10]).code == 0
    assert project.lock()["assets"]["hero"]["chosen"] == 0
    assert project.read("small/hero.png") == small


def test_gc_keeps_every_candidate(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    assert project.run("gc").code == 0
    assert project.run("pick", "hero", "3", "--provider", "placeholder").code == 0
    assert project.lock()["assets"]["hero"]["chosen"] == 2


def test_pick_never_overwrites_a_hand_edit_without_force(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    (project.root / "hero.png").write_bytes(b"edited by hand")
    result = project.run("pick", "hero", "2", "--provider", "placeholder")
    assert result.code == 1
    assert "hero.png` was edited by hand" in result.err
    assert "fix: `pixmake pick --force`" in result.err
    assert project.read("hero.png") == b"edited by hand"
    assert project.run("pick", "hero", "2", "--force", "--provider", "placeholder").code == 0
    assert project.read("hero.png") != b"edited by hand"


@pytest.mark.parametrize("which", ["9", "0", "zzzzzzzz", "abc"])
def test_pick_of_an_unknown_image_is_a_usage_error(project: Project, which: str) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    result = project.run("pick", "hero", which, "--provider", "placeholder")
    assert result.code == 2
    assert f"`hero` has no image `{which}` (3 known)" in result.err
    assert "fix: `pixmake history hero`" in result.err
    unknown = project.run("pick", "nobody", "1", "--provider", "placeholder")
    assert unknown.code == 2
    assert "no asset `nobody`" in unknown.err


# -- reroll -------------------------------------------------------------------------------


def test_reroll_pays_once_and_the_replaced_image_stays_a_candidate(
    fake: FakeRunware, project: Project
) -> None:
    project.gen({"pixmake.yaml": SPEC.replace("candidates: 3", "candidates: 1")})
    project.run("build")
    key = project.lock()["assets"]["plain"]["key"]
    old = project.lock()["assets"]["plain"]["outputs"][0]["hash"]
    plan = project.run("plan", "--reroll", "plain")
    assert "--reroll: a new image of the same request" in plan.out
    assert f"estimated cost {HIGH:.4f} USD" in plan.out
    refused = project.run("build", "--reroll", "plain", "--max-cost", "0.01")
    assert refused.code == 1
    assert "--max-cost" in refused.err
    charged = len(fake.ledger)
    assert project.run("build", "--reroll", "plain").code == 0
    assert len(fake.ledger) == charged + 1
    plain = project.lock()["assets"]["plain"]
    assert plain["key"] == key  # the request key: status stays fresh
    assert _hashes(plain)[0] == old
    assert plain["outputs"][0]["hash"] == _hashes(plain)[1] != old
    assert project.run("status", "--json").json()["counts"]["fresh"] == 2
    assert project.run("build", "--json").last_json()["generated"] == 0
    assert len(fake.ledger) == charged + 1


def test_reroll_needs_targets_that_exist(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    nothing = project.run("build", "--reroll", "--provider", "placeholder")
    assert nothing.code == 2
    assert "--reroll needs the assets to reroll" in nothing.err
    unknown = project.run("build", "--reroll", "nobody", "--provider", "placeholder")
    assert unknown.code == 2
    assert "no asset matches `nobody`" in unknown.err


class _CtrlCAtFirstPoll(FakeRunware):
    """Tasks stay processing; the first poll is answered after a Ctrl-C reaches the build."""

    armed = False

    def handle(self, tasks: list[Any], authorised: bool) -> tuple[int, dict[str, Any]]:
        answer = super().handle(tasks, authorised)
        polls = [t for t in tasks if isinstance(t, dict) and t.get("taskType") == "getResponse"]
        if polls and self.armed:
            self.armed = False
            signal.raise_signal(signal.SIGINT)
        return answer


@pytest.mark.parametrize("resume", [["build", "--reroll", "plain"], ["build"]])
def test_an_interrupted_reroll_resumed_pays_once(
    project: Project, monkeypatch: pytest.MonkeyPatch, resume: list[str]
) -> None:
    with _CtrlCAtFirstPoll(api_key=KEY) as fake:
        monkeypatch.setenv("RUNWARE_BASE_URL", fake.url)
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        project.gen({"pixmake.yaml": SPEC.replace("candidates: 3", "candidates: 1")})
        assert project.run("build").code == 0
        old = project.lock()["assets"]["plain"]["outputs"][0]["hash"]
        fake.armed, fake.processing_polls = True, 10**9
        assert project.run("build", "--reroll", "plain", "-j", "1").code == 130
        [paid] = set(fake.charges()) - {c.task_uuid for c in fake.ledger[:2]}
        assert "paid" in project.run("plan").out
        fake.hold(paid, 0)
        fake.processing_polls = 0
        resumed = project.run(*resume, "--json")
        assert resumed.code == 0, resumed.err
        assert resumed.last_json()["generated"] == 1
        assert len(fake.charges()) == 3
        assert set(fake.charges().values()) == {1}
        plain = project.lock()["assets"]["plain"]
        assert _hashes(plain)[0] == old
        assert len(_hashes(plain)) == 2
        assert project.run("build", "--json").last_json()["generated"] == 0
        assert len(fake.charges()) == 3


def test_rerolled_placeholder_images_differ(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    project.build("--reroll", "hero")
    hero = project.lock()["assets"]["hero"]
    assert len(set(_hashes(hero))) == 6
    assert hero["chosen"] == 3


# -- history --------------------------------------------------------------------------------


def test_history_lists_candidates_and_git_images_and_pick_brings_one_back(
    project: Project,
) -> None:
    project.gen({"pixmake.yaml": SPEC, ".gitignore": ".pixmake/\n"})
    project.build()
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    first = project.lock()["assets"]["plain"]["outputs"][0]["hash"]
    project.gen({"pixmake.yaml": SPEC.replace("prompt: plain", "prompt: plainer")})
    project.build()
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    images = _history(project, "plain")
    assert [i["request"]["prompt"] for i in images] == ["plainer", "plain"]
    assert [i["current"] for i in images] == [True, False]
    assert images[1]["hash"] == first
    assert images[1]["date"] is not None
    assert images[0]["cost_usd"] == 0.0
    text = project.run("history", "plain", "--provider", "placeholder").out
    assert "[current]" in text
    assert " 2  " + first[:12] in text
    # an image only git has: the store is gone (a fresh clone)
    import shutil

    shutil.rmtree(project.root / ".pixmake")
    assert project.run("pick", "plain", "2", "--provider", "placeholder").code == 0
    plain = project.lock()["assets"]["plain"]
    assert plain["outputs"][0]["hash"] == first
    assert plain["request"]["prompt"] == "plainer"
    assert project.status()["plain"]["state"] == "fresh"


def test_history_of_an_unknown_asset_is_a_usage_error(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    result = project.run("history", "nobody", "--provider", "placeholder")
    assert result.code == 2
    assert "no asset `nobody`" in result.err


# -- approval -------------------------------------------------------------------------------


def test_check_approved_fails_until_the_current_outputs_are_approved(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    project.build()
    assert project.run("check", "--provider", "placeholder").code == 0
    result = project.run("check", "--approved", "--provider", "placeholder")
    assert result.code == 1
    assert "not approved: hero:" in result.out
    assert "not approved: plain:" in result.out
    tree = project.tree()
    project.run("check", "--approved", "--provider", "placeholder")
    assert project.tree() == tree  # no writes
    assert project.run("approve", "hero", "plain", "--provider", "placeholder").code == 0
    assert project.lock()["assets"]["hero"]["approved"] == [
        _hashes(project.lock()["assets"]["hero"])[0]
    ]
    assert project.run("check", "--approved", "--provider", "placeholder").code == 0
    project.run("pick", "hero", "2", "--provider", "placeholder")
    again = project.run("check", "--approved", "--provider", "placeholder")
    assert again.code == 1
    assert "not approved: hero:" in again.out
    assert "plain" not in again.out
    project.build("--reroll", "plain")
    assert (
        "not approved: plain:"
        in project.run("check", "--approved", "--provider", "placeholder").out
    )


def test_approve_of_an_unbuilt_asset_is_a_usage_error(project: Project) -> None:
    project.gen({"pixmake.yaml": SPEC})
    result = project.run("approve", "hero", "--provider", "placeholder")
    assert result.code == 2
    assert "cannot approve `hero`: it has no output" in result.err
    assert "fix: `pixmake build hero`" in result.err


def test_pick_says_which_assets_reference_the_picked_one(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndefaults: {provider: placeholder}\nassets:\n"
            "  hero: {prompt: a hero, out: hero.png, candidates: 2}\n"
            '  card: {prompt: a card, out: card.png, references: ["asset:hero"]}\n'
        }
    )
    project.build()
    picked = project.run("pick", "hero", "2", "--provider", "placeholder")
    assert picked.code == 0, picked.err
    assert "1 asset (card) references it and will be made again" in picked.out
    assert project.status()["card"]["state"] == "upstream-changed"


def test_history_lists_the_images_builds_on_this_machine_replaced(project: Project) -> None:
    spec = (
        "version: 1\ndefaults: {provider: placeholder}\n"
        "assets:\n  hero: {prompt: a hero, out: hero.png}\n"
    )
    project.gen({"pixmake.yaml": spec})
    project.build()
    first = project.lock()["assets"]["hero"]["outputs"][0]["hash"]
    project.gen({"pixmake.yaml": spec.replace("a hero", "a brave hero")})
    project.build()
    listed = project.run("history", "hero", "--json", "--provider", "placeholder").json()
    images = {i["hash"]: i for i in listed["images"]}
    assert first in images, listed  # no git here: only this machine knows it
    assert images[first]["request"]["prompt"] == "a hero"
    assert images[first]["available"]
    number = images[first]["number"]
    assert project.run("pick", "hero", str(number), "--provider", "placeholder").code == 0
    assert project.lock()["assets"]["hero"]["outputs"][0]["hash"] == first
