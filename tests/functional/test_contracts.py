"""Contracts other tools rely on: JSON shapes, exit codes, merges, interruptions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pixmake import api
from pixmake.commands import build as commands_build
from pixmake.report import ConsoleReporter
from pixmake.results import BuildOptions, BuildResult
from tests.conftest import ICONS_CSV, Project, copy_example
from tests.fakes import FakeProvider

STATES = {"fresh", "new", "changed", "upstream-changed", "missing", "modified", "orphaned"}


def test_status_json_contract(icons: Project) -> None:
    document = icons.run("status", "--provider", "placeholder", "--json").json()
    assert isinstance(document["assets"], list)
    for item in document["assets"]:
        assert isinstance(item["id"], str)
        assert item["state"] in STATES
        assert all(isinstance(r, str) for r in item["reasons"])
    assert {a["state"] for a in document["assets"]} == {"new"}


def test_build_json_last_line_contract(icons: Project) -> None:
    result = icons.run("build", "--provider", "placeholder", "--json")
    assert result.code == 0
    summary = json.loads(result.out.strip().splitlines()[-1])
    for name in ("generated", "restored", "fresh", "failed", "skipped"):
        assert isinstance(summary[name], int)
    assert isinstance(summary["cost_usd"], float)
    assert summary["generated"] == 3


def test_render_json_is_the_runware_task(icons: Project) -> None:
    task = icons.run("render", "icon-sword", "--json", "--provider", "placeholder").json()
    assert "taskUUID" not in task
    assert task["taskType"] == "imageInference"
    assert task["model"] == "openai:1@2"
    assert task["positivePrompt"] == "A short sword icon, palette forest green"
    assert (task["width"], task["height"]) == (1024, 1024)
    assert task["outputFormat"] == "PNG"
    assert task["includeCost"] is True
    assert task["providerSettings"] == {"openai": {"quality": "low", "background": "transparent"}}
    assert task["inputs"]["referenceImages"][0].startswith("data:image/png;base64,")


def test_plan_json_has_estimates(icons: Project) -> None:
    icons.gen({"pixmake.yaml": icons.read("pixmake.yaml").decode()})
    document = icons.run("plan", "--json").json()  # default provider: runware, priced
    assert document["estimated_cost_usd"] == pytest.approx(3 * 0.005)
    assert [a["estimated_cost_usd"] for a in document["assets"]] == [0.005] * 3


def test_two_branches_changing_different_assets_merge_cleanly(icons: Project) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    rows = "".join(f"item{i:02d},thing number {i}\n" for i in range(12))
    icons.gen({"data/items.csv": "slug,name\n" + rows})
    icons.build()

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=icons.root,
            capture_output=True,
            text=True,
            check=False,
        )

    assert git("init", "-q", "-b", "main").returncode == 0
    git("add", "-A")
    git("commit", "-qm", "base")
    for branch, row in (("a", 4), ("b", 5)):  # neighbours in the sorted lockfile
        git("checkout", "-q", "-b", branch, "main")
        csv = (icons.root / "data/items.csv").read_text()
        icons.gen({"data/items.csv": csv.replace(f"number {row}\n", f"number {row} (new)\n")})
        assert icons.build()["generated"] == 1
        git("commit", "-qam", branch)
    git("checkout", "-q", "a")
    merge = git("merge", "-q", "b", "-m", "merge")
    assert "CONFLICT (content): Merge conflict in pixmake.lock" not in merge.stdout
    status = git("diff", "--name-only", "--diff-filter=U")
    assert "pixmake.lock" not in status.stdout
    lock = json.loads((icons.root / "pixmake.lock").read_text())
    assert "(new)" in lock["assets"]["icon-item04"]["request"]["prompt"]
    assert "(new)" in lock["assets"]["icon-item05"]["request"]["prompt"]


def _build(project: Project, provider: FakeProvider, **options: object) -> BuildResult:
    return api.build(
        project.root,
        options=BuildOptions(**options),  # type: ignore[arg-type]
        reporter=ConsoleReporter(),
        provider="placeholder",
        provider_factory=provider.factory,
    )


def test_keep_going_builds_the_rest_and_skips_dependents(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n"
            "  a: {prompt: a, out: a.png}\n"
            "  b: {prompt: b, out: b.png, references: ['asset:a']}\n"
            "  c: {prompt: c, out: c.png}\n"
        }
    )
    provider = FakeProvider(fail={"a"})
    result = _build(project, provider)
    assert (result.generated, result.failed, result.skipped) == (1, 1, 1)
    assert "refused a" in result.failures["a"]
    assert result.skips["b"] == "upstream `a` failed"
    assert (project.root / "c.png").is_file()
    assert project.run("build", "--provider", "placeholder").code == 0  # the rest, later


def test_fail_fast_starts_nothing_new(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n"
            + "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(6))
        }
    )
    provider = FakeProvider(fail={"a0"})
    result = _build(project, provider, jobs=1, fail_fast=True)
    assert result.failed == 1
    assert result.skipped == 5
    assert provider.calls == ["a0"]


def test_max_new_caps_generations(icons: Project) -> None:
    provider = FakeProvider()
    result = _build(icons, provider, max_new=2)
    assert (result.generated, result.skipped) == (2, 1)
    assert "--max-new 2" in next(iter(result.skips.values()))


def test_interrupt_keeps_everything_finished(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n"
            + "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(6))
        }
    )
    provider = FakeProvider(interrupt_after=3)
    with pytest.raises(KeyboardInterrupt):
        _build(project, provider, jobs=1)
    lock = json.loads((project.root / "pixmake.lock").read_text())
    assert sorted(lock["assets"]) == ["a0", "a1", "a2"]
    assert not (project.root / ".pixmake/journal.jsonl").exists()
    for name in lock["assets"]:
        assert (project.root / f"{name}.png").is_file()
    summary = project.build()
    assert (summary["generated"], summary["fresh"]) == (3, 3)


def test_interrupt_exit_code_is_130(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.gen({"pixmake.yaml": "version: 1\nassets:\n  a: {prompt: p, out: a.png}\n"})

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands_build, "build", interrupted)
    assert project.run("build", "--provider", "placeholder").code == 130


def test_a_killed_build_is_recovered_from_the_journal(icons: Project) -> None:
    icons.build()
    lock = icons.read("pixmake.lock")
    icons.gen({"data/items.csv": ICONS_CSV.replace("round", "kite")})
    icons.build()
    journal = icons.read("pixmake.lock")
    # Simulate a SIGKILL after the journal was written but before the lock was compacted.
    entry = json.loads(journal)["assets"]["icon-shield"]
    icons.gen(
        {
            "pixmake.lock": lock,
            ".pixmake/journal.jsonl": json.dumps({"t": "done", "id": "icon-shield", "entry": entry})
            + "\n",
        }
    )
    check = icons.run("check", "--provider", "placeholder")
    assert check.code == 1
    assert "behind .pixmake/journal.jsonl" in check.out
    assert icons.status()["icon-shield"]["state"] == "fresh"
    summary = icons.build()
    assert summary["generated"] == 0
    assert icons.read("pixmake.lock") == journal
    assert icons.run("check", "--provider", "placeholder").code == 0


def test_a_torn_journal_line_is_ignored(icons: Project) -> None:
    icons.build()
    icons.gen({".pixmake/journal.jsonl": '{"t": "done", "id": "icon-sw'})
    assert icons.build()["generated"] == 0


def test_corrupt_image_from_a_provider_fails_the_asset(project: Project) -> None:
    project.gen({"pixmake.yaml": "version: 1\nassets:\n  a: {prompt: p, out: a.png}\n"})

    class Broken(FakeProvider):
        async def generate(self, request, tasks, staging):  # type: ignore[no-untyped-def]
            result = await super().generate(request, tasks, staging)
            staging.discard(result.images)
            result.images = [staging.put(b"\x89PNG garbage")]
            return result

    result = _build(project, Broken())
    assert result.failed == 1
    assert "does not decode" in result.failures["a"]
    assert not (project.root / "a.png").exists()
    assert list((project.root / ".pixmake/tmp").iterdir()) == []  # the bad file is not kept


def test_init_creates_spec_and_ignores_state(tmp_path: Path, project: Project) -> None:
    result = project.run("init")
    assert result.code == 0
    assert ".pixmake/" in (project.root / ".gitignore").read_text()
    assert project.run("init").out.startswith("nothing to do")
    assert project.run("plan", "--provider", "placeholder").code == 0


def _six(project: Project, extra: str = "") -> None:
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(6))
    project.gen({"pixmake.yaml": f"version: 1\n{extra}assets:\n{assets}"})


def test_spending_stops_at_max_cost(project: Project) -> None:
    _six(project)
    provider = FakeProvider(cost=0.05)
    result = _build(project, provider, jobs=1, max_cost=0.12)
    assert (result.generated, result.skipped) == (3, 3)  # 0.05 + 0.05 + 0.05: then it stops
    assert result.cost_usd == pytest.approx(0.15)
    assert all("--max-cost 0.12" in reason for reason in result.skips.values())


def test_jobs_and_per_provider_concurrency(project: Project) -> None:
    _six(project)
    provider = FakeProvider()
    _build(project, provider, jobs=4)
    assert provider.most_in_flight == 4
    _six(project, "providers:\n  placeholder: {concurrency: 2}\n")
    (project.root / "pixmake.lock").unlink()
    for path in project.root.glob("a*.png"):
        path.unlink()
    shutil.rmtree(project.root / ".pixmake")
    provider = FakeProvider()
    _build(project, provider, jobs=4)
    assert provider.most_in_flight == 2


def test_a_job_slot_is_freed_when_the_remote_work_is_done(project: Project) -> None:
    _six(project)

    class Downloading(FakeProvider):
        async def generate(self, request, tasks, staging):  # type: ignore[no-untyped-def]
            tasks.remote_done(request.key)  # Runware is done; only the download is left
            return await super().generate(request, tasks, staging)

    provider = Downloading()
    result = _build(project, provider, jobs=1)
    assert result.generated == 6
    assert provider.most_in_flight > 1  # the next task went out during the "download"


DERIVING = """\
version: 1
assets:
  hero:
    prompt: a hero
    out: hero.png
    derive: [{resize: 64, out: small/hero.png}, {resize: 32, out: tiny/hero.webp}]
  icon:
    prompt: an icon
    out: icon.png
    derive: [{resize: 16, out: small/icon.png}]
  plain: {prompt: plain, out: plain.png}
"""


def test_build_counts_the_derived_files_it_wrote(project: Project) -> None:
    project.gen({"pixmake.yaml": DERIVING})
    first = project.run("build", "--provider", "placeholder")
    assert first.code == 0, first.err
    assert "3 generated, 0 restored, 3 derived files, 0 fresh" in first.out.splitlines()[-1]
    (project.root / "tiny/hero.webp").unlink()
    summary = project.build()  # the missing file is written again, and only it
    assert (summary["restored"], summary["derived"], summary["fresh"]) == (1, 1, 2)
    project.gen({"pixmake.yaml": DERIVING.replace("resize: 16", "resize: 24")})
    summary = project.build()  # a derive-only action
    assert (summary["generated"], summary["derived"]) == (0, 1)
    assert project.build()["derived"] == 0


def test_a_first_build_of_an_example_counts_its_derived_files(project: Project) -> None:
    copy_example("game-icons", project.root)
    summary = project.build()
    derived = sum(len(e.get("derived", [])) for e in project.lock()["assets"].values())
    assert derived > summary["generated"] > 0
    assert summary["derived"] == derived


def test_plan_and_check_count_assets_by_what_they_are(project: Project) -> None:
    spec = "version: 1\ndefaults: {provider: placeholder}\nassets:\n  a: {prompt: pa, out: a.png}\n"
    project.gen({"pixmake.yaml": spec + "  b: {prompt: pb, out: b.png}\n"})
    project.build()
    project.gen({"pixmake.yaml": spec.replace("pa", "pa2")})
    plan = project.run("plan")
    assert "1 to do (1 to generate), 0 fresh, 1 orphaned (`pixmake prune`);" in plan.out
    check = project.run("check", "--approved")
    assert check.code == 1
    assert check.out.splitlines()[-1] == "check: 2 not up to date, 1 not approved"


def test_a_limit_that_is_not_a_number_is_named_as_such(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.gen({"pixmake.yaml": "version: 1\nassets: {}\n"})
    with pytest.raises(SystemExit) as caught:
        project.run("build", "--max-cost", "abc")
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--max-cost: 'abc' is not an amount in USD" in err
    assert "_usd" not in err
