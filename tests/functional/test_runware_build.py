"""Whole builds with `--provider runware` against the fake Runware server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, copy_example, serve_fake

KEY = "sk-live-ABCDEF0123456789secret"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _everything_written(root: Path) -> str:
    texts = []
    for path in root.rglob("*"):
        if (
            path.is_file()
            and path.suffix not in (".png", ".jpg", ".webp")
            and "objects" not in path.parts
        ):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"


def _assets(project: Project, count: int, defaults: str = "") -> None:
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(count))
    project.gen({"pixmake.yaml": f"version: 1\n{defaults}{FAST}assets:\n" + assets})


def _eight(project: Project) -> None:
    _assets(project, 8)


def test_examples_build_against_runware(fake: FakeRunware, project: Project) -> None:
    for example in ("website", "game-icons"):
        root = project.root / example
        copy_example(example, root)
        with (root / "pixmake.yaml").open("a") as spec:
            spec.write(FAST)
        charged_before = fake.total_cost()
        result = project.run("-C", str(root), "build", "-j", "4", "--json")
        assert result.code == 0, result.err
        summary = result.last_json()
        assert fake.total_cost() - charged_before == pytest.approx(summary["cost_usd"])
        assert summary["failed"] == summary["skipped"] == 0
        assert summary["cost_usd"] > 0
        lock = json.loads((root / "pixmake.lock").read_text())["assets"]
        for entry in lock.values():
            record = entry["record"]
            assert record["provider"] == "runware"
            assert record["placeholder"] is False
            assert fake.charges()[record["task_uuid"]] == 1
            assert record["image_uuids"]
            assert record["cost_usd"] > 0
        assert sum(e["record"]["cost_usd"] for e in lock.values()) == pytest.approx(
            summary["cost_usd"]
        )
        before = len(fake.requests)
        again = project.run("-C", str(root), "build", "--json")
        assert again.last_json()["generated"] == 0
        assert len(fake.requests) == before  # a second build sends no request at all
        assert list((root / ".pixmake/tmp").iterdir()) == []  # every staged image was stored
        assert KEY not in _everything_written(root)
        assert KEY not in result.out + result.err
    assert fake.count("imageUpload") == 2  # hero for 4 thumbnails, style for 6 icons: once each
    # the upload is remembered across builds, by content hash
    csv = root / "data/items.csv"
    csv.write_text(csv.read_text().replace("polished steel", "blued steel"))
    assert project.run("-C", str(root), "build", "--json").last_json()["generated"] == 1
    assert fake.count("imageUpload") == 2


def test_without_a_key_nothing_starts(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_example("website", project.root)
    result = project.run("build")
    assert result.code == 2
    assert "RUNWARE_API_KEY" in result.err
    assert "--provider placeholder" in result.err
    assert not (project.root / "pixmake.lock").exists()
    assert not (project.root / "site").exists()
    assert project.run("plan").code == 0  # planning needs no key


def test_render_json_is_accepted_as_is(fake: FakeRunware, project: Project) -> None:
    copy_example("game-icons", project.root)
    task = project.run("render", "icon-sword", "--json").json()
    task["taskUUID"] = str(uuid.uuid4())
    response = httpx.post(fake.url, json=[task], headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


def test_out_of_credit_stops_all_submissions(fake: FakeRunware, project: Project) -> None:
    _assets(project, 4)
    fake.fail("status", status=402, code="insufficientCredits", task_type="imageInference")
    result = project.run("build", "-j", "1", "--json")
    assert result.code == 1
    summary = result.last_json()
    assert (summary["failed"], summary["skipped"], summary["generated"]) == (1, 3, 0)
    assert "out of credit" in result.out
    assert fake.count("imageInference") == 1


def _script_faults(fake: FakeRunware) -> None:
    for kind in ("drop_after", "malformed", "drop_before"):
        fake.fail(kind, task_type="imageInference")
    fake.fail("status", status=503, task_type="imageInference")
    fake.fail("status", status=400, code="invalidSomething", task_type="imageInference")
    fake.fail("task_error", task_type="getResponse")
    fake.fail("truncated_download", task_type="download")


def test_faults_in_order_never_charge_twice(fake: FakeRunware, project: Project) -> None:
    """-j 1, so each fault lands on a known request: every one hits the first asset's task."""
    _eight(project)
    _script_faults(fake)
    result = project.run("build", "-j", "1", "--json")
    summary = result.last_json()
    # a0: dropped after acceptance: asked about, not sent again; the poll that asks meets
    # the task error (Runware reports it failed). a1: garbage after acceptance, asked about,
    # polled; its download is cut short and retried. a2: dropped before Runware read it
    # (asked: unknown, so sent again), then a 503 (busy: sent again) and a 400, believed,
    # since Runware does not know the task. Every other asset is generated.
    assert (summary["generated"], summary["failed"]) == (6, 2)
    assert '"id": "a0", "message": "the Runware task failed (timeoutProvider' in result.out
    assert '"id": "a2"' in result.out
    assert set(fake.charges().values()) == {1}
    assert len(fake.charges()) == 7  # a2 was refused: not charged
    again = project.run("build", "--json").last_json()
    assert (again["generated"], again["failed"]) == (2, 0)
    assert set(fake.charges().values()) == {1}
    assert len(fake.charges()) == 9  # a0's failed task, and the two made again


def test_faults_in_parallel_never_charge_twice(fake: FakeRunware, project: Project) -> None:
    _eight(project)
    _script_faults(fake)
    summary = project.run("build", "-j", "4", "--json").last_json()
    assert summary["generated"] + summary["failed"] == 8
    assert 1 <= summary["failed"] <= 2  # the per-task error, and the 400 if it hit a new task
    assert set(fake.charges().values()) == {1}
    again = project.run("build", "--json").last_json()
    assert again["generated"] == summary["failed"]
    lock = json.loads((project.root / "pixmake.lock").read_text())["assets"]
    assert len(lock) == 8
    charged = fake.charges()
    assert set(charged.values()) == {1}
    paid_for_nothing = set(charged) - {e["record"]["task_uuid"] for e in lock.values()}
    assert len(paid_for_nothing) == 1  # only the task Runware itself reported as failed


def test_budget_refusal_and_stop(fake: FakeRunware, project: Project) -> None:
    _assets(project, 5, "defaults: {quality: high}\n")
    refused = project.run("build", "--max-cost", "0.1")
    assert refused.code == 1
    assert "estimated at 0.1800 USD" in refused.err
    assert fake.count("imageInference") == 0
    partial = project.run("build", "-j", "1", "--max-cost", "0.2", "--max-new", "3", "--json")
    assert partial.last_json()["generated"] == 3
    assert len(fake.charges()) == 3


def test_plan_shows_estimates(project: Project) -> None:
    copy_example("labels", project.root)
    document = project.run("plan", "--json").json()
    assert document["estimated_cost_usd"] == pytest.approx(12 * 0.015)
    assert all(a["estimated_cost_usd"] == 0.015 for a in document["assets"])
    final = project.run("plan", "--profile", "final", "--json").json()
    assert final["estimated_cost_usd"] == pytest.approx(12 * 0.25)


@pytest.mark.slow
def test_killed_builds_resume_and_pay_once(tmp_path: Path) -> None:
    """A 40-asset build killed with SIGKILL at several points, then run to the end."""
    with FakeRunware(api_key=KEY, latency=0.3, max_in_flight=8) as fake:
        (tmp_path / "pixmake.yaml").write_text(
            f"version: 1\n{FAST}assets:\n"
            "  'a{{ item }}': {for_each: " + str(list(range(40))) + ", prompt: 'p {{ item }}', "
            "out: 'out/{{ item }}.png'}\n"
        )
        env = {**os.environ, "RUNWARE_BASE_URL": fake.url, "RUNWARE_API_KEY": KEY}
        command = [sys.executable, "-m", "pixmake", "-C", str(tmp_path), "build", "-j", "8"]
        for delay in (0.3, 0.9, 1.6, 2.4, 3.1):
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait()
        final = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
        assert final.returncode == 0, final.stderr
        lock = json.loads((tmp_path / "pixmake.lock").read_text())["assets"]
        assert len(lock) == 40
        charges = fake.charges()
        assert set(charges.values()) == {1}
        assert len(charges) == 40  # every asset charged exactly once in total
        assert {e["record"]["task_uuid"] for e in lock.values()} == set(charges)
        assert KEY not in _everything_written(tmp_path)


def test_restoring_and_deriving_need_no_key(
    fake: FakeRunware, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = (
        f"version: 1\n{FAST}assets:\n  hero:\n    prompt: a hero\n    out: hero.png\n"
        "    derive: [{resize: 64, out: small/hero.webp}]\n"
    )
    project.gen({"pixmake.yaml": spec})
    assert project.run("build").code == 0
    charged = fake.charges()
    monkeypatch.delenv("RUNWARE_API_KEY")
    project.gen({"pixmake.yaml": spec.replace("resize: 64", "resize: 32")})
    (project.root / "hero.png").unlink()
    result = project.run("build", "--json")
    assert result.code == 0, result.err
    assert result.last_json()["generated"] == 0
    assert (project.root / "hero.png").is_file()
    assert (project.root / "small/hero.webp").is_file()
    assert fake.charges() == charged
    project.gen({"pixmake.yaml": spec.replace("a hero", "another hero")})
    refused = project.run("build")  # this one would be paid for: it needs the key
    assert refused.code == 2
    assert "RUNWARE_API_KEY" in refused.err


def test_a_reference_that_is_not_an_image_is_refused_before_anything_is_sent(
    fake: FakeRunware, project: Project
) -> None:
    project.gen(
        {
            "pixmake.yaml": f"version: 1\n{FAST}assets:\n"
            "  a: {prompt: pa, out: a.png, references: [refs/style.png]}\n"
            "  b: {prompt: pb, out: b.png}\n",
            "refs/style.png": "hello, not a png\n",
        }
    )
    result = project.run("build", "--json")
    assert result.code == 1
    summary = result.last_json()
    assert (summary["generated"], summary["failed"]) == (1, 1), summary
    failure = next(e for e in map(json.loads, result.out.splitlines()) if e["event"] == "failed")
    assert failure["message"].startswith("pixmake.yaml:5: reference `refs/style.png` "), failure
    assert "nothing was sent" in failure["message"]
    assert len(fake.charges()) == 1  # b alone
    assert not any("hello" in json.dumps(r) or "aGVsbG8" in json.dumps(r) for r in fake.requests)
