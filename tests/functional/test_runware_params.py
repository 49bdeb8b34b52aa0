"""Runware's request parameters and content safety, built against the fake Runware server.

`safety`, `ttl`, `delivery: {output}`, `webhook_url` and `upload_endpoint`: validated before
anything is sent, sent as Runware names them, and kept out of the key; the fake flags or
refuses a prompt by its marker words (FLAG_WORD, BLOCK_WORD, REFUSE_WORD). With
`safety: {block: true}` (Runware's `blockContent`) a FLAG_WORD prompt is refused before
anything is generated, as Runware documents (runware.ai/docs/models-api/content-safety).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixmake.errors import ContentRefusedError
from pixmake.providers.base import GenerationRequest, GenerationResult
from pixmake.providers.runware import RunwareProvider
from pixmake.staging import Staging
from pixmake.testing.fake_runware import BLOCK_WORD, FLAG_WORD, REFUSE_WORD, FakeRunware
from tests.conftest import Project, serve_fake
from tests.fakes import make_request
from tests.functional.test_gallery import cards
from tests.functional.test_runware import Journal

KEY = "sk-test-params-0123456789"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _spec(project: Project, assets: str, top: str = FAST) -> None:
    project.gen({"pixmake.yaml": f"version: 1\n{top}assets:\n{assets}"})


def _lock(project: Project) -> dict[str, Any]:
    return json.loads((project.root / "pixmake.lock").read_text())["assets"]  # type: ignore[no-any-return]


def _failures(out: str) -> dict[str, str]:
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {e["id"]: e["message"] for e in events if e.get("event") == "failed"}


def test_parameters_are_sent_as_runware_names_them(fake: FakeRunware, project: Project) -> None:
    top = (
        "providers:\n  runware:\n    poll_interval: 0.01\n"
        "    webhook_url: https://hooks.example.com/runware?token=t\n"
        "    upload_endpoint: https://bucket.example.com/put?sig=s\n"
    )
    _spec(project, "  a: {prompt: pa, out: a.png, ttl: 3600, safety: {check: true}}\n", top)
    result = project.run("build", "--json")
    assert result.code == 0, result.out + result.err
    (task,) = fake.tasks_sent
    assert task["ttl"] == 3600
    assert task["safety"] == {"checkContent": True, "mode": "fast"}
    assert task["outputType"] == "URL"
    assert task["webhookURL"] == "https://hooks.example.com/runware?token=t"
    assert task["uploadEndpoint"] == "https://bucket.example.com/put?sig=s"
    entry = _lock(project)["a"]
    assert entry["record"]["nsfw"] == {entry["outputs"][0]["hash"]: False}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", ", ttl: 120, safety: {mode: full}"),  # safety and ttl
        (", safety: {check: true}", ", safety: {check: true, block: true}"),  # blockContent
    ],
)
def test_safety_and_ttl_are_not_in_the_key(
    fake: FakeRunware, project: Project, before: str, after: str
) -> None:
    _spec(project, f"  a: {{prompt: pa, out: a.png{before}}}\n")
    assert project.run("build").code == 0
    key = _lock(project)["a"]["key"]
    _spec(project, f"  a: {{prompt: pa, out: a.png{after}}}\n")
    again = project.run("build", "--json")
    assert again.last_json()["generated"] == 0
    assert _lock(project)["a"]["key"] == key
    assert len(fake.tasks_sent) == 1


@pytest.mark.parametrize(
    ("setting", "wanted"),
    [
        ("ttl: 30", "ttl"),
        ("safety: {check: maybe}", "safety.check"),
        ("safety: {mode: paranoid}", "safety.mode"),
        ("safety: {chek: true}", "did you mean `check`?"),
        ("safety: {on_flag: keep}", "needs the content check"),
        ("safety: {check: true, on_flag: hide}", "safety.on_flag"),
        ("safety: {block: maybe}", "safety.block"),
        ("safety: {block: [true]}", "safety.block"),
        ("safety: {blok: true}", "did you mean `block`?"),
        ("safety: {block: true, on_flag: keep}", "needs the content check"),
    ],
)
def test_bad_values_are_refused_before_anything_is_sent(
    fake: FakeRunware, project: Project, setting: str, wanted: str
) -> None:
    _spec(project, f"  a:\n    prompt: pa\n    out: a.png\n    {setting}\n")
    result = project.run("build")
    assert result.code == 2, result.out + result.err
    assert "pixmake.yaml:" in result.err
    assert wanted in result.err
    assert "fix:" in result.err
    assert "Traceback" not in result.err
    assert fake.tasks_sent == []


@pytest.mark.parametrize(
    ("option", "wanted"),
    [
        ("webhook_url: not-a-url", "is not a URL"),
        ("upload_endpoint: ftp://x", "is not a URL"),
        ("delivery: {output: jpeg}", "delivery"),
        ("delivery: {metod: sync}", "did you mean `method`?"),
    ],
)
def test_bad_provider_options_are_refused(
    fake: FakeRunware, project: Project, option: str, wanted: str
) -> None:
    _spec(project, "  a: {prompt: pa, out: a.png}\n", f"providers:\n  runware:\n    {option}\n")
    result = project.run("build")
    assert result.code == 2, result.out + result.err
    assert "pixmake.yaml:4:" in result.err
    assert wanted in result.err
    assert "fix:" in result.err
    assert fake.tasks_sent == []


@pytest.mark.parametrize("method", ["async", "sync"])
def test_base64_output_saves_the_download(fake: FakeRunware, project: Project, method: str) -> None:
    top = (
        "providers:\n  runware:\n    poll_interval: 0.01\n"
        f"    delivery: {{method: {method}, output: base64}}\n"
    )
    _spec(
        project,
        "  a: {prompt: pa, out: a.png, results: 2, ttl: 600}\n  b: {prompt: pb, out: b.png}\n",
        top,
    )
    result = project.run("build", "--json")
    assert result.code == 0, result.out + result.err
    assert result.last_json()["generated"] == 2
    assert all(t["outputType"] == "base64Data" for t in fake.tasks_sent)
    assert all("ttl" not in t for t in fake.tasks_sent)  # it has no effect without a URL
    assert all(t["deliveryMethod"] == method for t in fake.tasks_sent)
    assert fake.expires == {}
    for path in ("a-1.png", "a-2.png", "b.png"):
        assert (project.root / path).read_bytes()[:4] == b"\x89PNG"
    assert (project.root / ".pixmake").is_dir()


def test_a_flagged_image_fails_the_asset_by_default(fake: FakeRunware, project: Project) -> None:
    _spec(
        project,
        f"  a: {{prompt: 'a {FLAG_WORD} b', out: a.png, safety: {{check: true}}}}\n"
        "  b: {prompt: pb, out: b.png, safety: {check: true}}\n"
        f"  c: {{prompt: 'c {FLAG_WORD}', out: c.png}}\n",
    )
    result = project.run("build", "--json")
    assert result.code == 1
    failures = _failures(result.out)
    assert set(failures) == {"a"}
    assert "flagged 1 of 1 images of `a` (NSFWContent" in failures["a"]
    assert "on_flag: keep" in failures["a"]
    assert not (project.root / "a.png").exists()
    lock = _lock(project)
    assert lock["b"]["record"]["nsfw"] == {lock["b"]["outputs"][0]["hash"]: False}
    assert "nsfw" not in lock["c"]["record"]  # not checked: nothing is known
    assert (project.root / "c.png").is_file()


def test_a_flagged_image_that_fails_its_asset_is_counted_as_spent(
    fake: FakeRunware, project: Project
) -> None:
    """Runware charges for an image its check flags: a build that keeps nothing of it still
    reports the money, and `--max-cost` counts it."""
    _spec(
        project,
        f"  a: {{prompt: 'a {FLAG_WORD}', out: a.png, safety: {{check: true}}}}\n"
        "  b: {prompt: pb, out: b.png}\n",
    )
    result = project.run("build", "-j", "1", "--json")
    assert result.code == 1
    assert len(fake.charges()) == 2
    assert result.last_json()["cost_usd"] == pytest.approx(fake.total_cost())

    # This account pays 1.5 times the list price; `quality: medium` is not in the lock yet, so
    # the plan estimates both from the price table: 2 x list, within the budget of 2.2 x list.
    fake.price_scale = 1.5
    medium = "quality: medium, safety: {check: true}"
    _spec(
        project,
        f"  c: {{prompt: 'c {FLAG_WORD}', out: c.png, {medium}}}\n"
        f"  d: {{prompt: pd, out: d.png, {medium}}}\n",
    )
    listed = project.run("plan", "--json").json()["estimated_cost_usd"] / 2
    capped = project.run("build", "-j", "1", "--json", "--max-cost", f"{2.2 * listed:.6f}")
    assert capped.code == 1, capped.err
    summary = capped.last_json()
    assert (summary["failed"], summary["skipped"]) == (1, 1)  # c flagged: 1.5 + 1 > 2.2
    assert len(fake.charges()) == 3
    assert summary["cost_usd"] == pytest.approx(1.5 * listed)


def test_on_flag_keep_keeps_it_and_status_and_explain_show_it(
    fake: FakeRunware, project: Project
) -> None:
    _spec(
        project,
        f"  a: {{prompt: 'a {FLAG_WORD}', out: a.png, safety: {{check: true, on_flag: keep}}}}\n",
    )
    result = project.run("build", "--json")
    assert result.code == 0, result.out
    assert (project.root / "a.png").is_file()
    entry = _lock(project)["a"]
    assert entry["record"]["nsfw"] == {entry["outputs"][0]["hash"]: True}
    status = project.run("status")
    assert "flagged by Runware's content check: a.png" in status.out
    assert project.run("status", "--json").json()["assets"][0]["flagged"] == ["a.png"]
    explain = project.run("explain", "a")
    assert "flagged by Runware's content check (NSFWContent): a.png" in explain.out
    assert project.run("gallery").code == 0
    assert cards(project.root)["a"]["flagged"] == ["a.png"]


@pytest.mark.parametrize(
    ("word", "code", "method"),
    [
        (BLOCK_WORD, "sensitiveContentDetected", "async"),
        (REFUSE_WORD, "invalidProviderContent", "async"),
        (REFUSE_WORD, "invalidProviderContent", "sync"),
    ],
)
def test_a_refusal_fails_that_asset_unretried_at_no_cost(
    fake: FakeRunware, project: Project, word: str, code: str, method: str
) -> None:
    top = f"providers:\n  runware: {{poll_interval: 0.01, delivery: {method}}}\n"
    assets = f"  bad: {{prompt: 'x {word} y', out: bad.png}}\n" + "".join(
        f"  ok{i}: {{prompt: p{i}, out: ok{i}.png}}\n" for i in range(3)
    )
    _spec(project, assets, top)
    result = project.run("build", "-j", "4", "--json")
    assert result.code == 1
    summary = result.last_json()
    assert (summary["generated"], summary["failed"]) == (3, 1)
    message = _failures(result.out)["bad"]
    assert code in message
    assert "reword the prompt of `bad`" in message
    assert "nothing was charged" in message
    bad = [t for t in fake.tasks_sent if word in t["positivePrompt"]]
    assert len(bad) == 1  # never sent again
    assert bad[0]["taskUUID"] in message
    assert bad[0]["taskUUID"] not in fake.charges()
    assert summary["cost_usd"] == pytest.approx(fake.total_cost())
    assert "bad" not in _lock(project)


# -- safety.block: Runware's blockContent ----------------------------------------------------


def test_block_does_not_turn_on_the_image_check(fake: FakeRunware, project: Project) -> None:
    """`block` checks the request; on its own it neither checks nor flags the image."""
    _spec(project, "  a: {prompt: pa, out: a.png, safety: {block: true}}\n")
    result = project.run("build", "--json")
    assert result.code == 0, result.out + result.err
    assert "nsfw" not in _lock(project)["a"]["record"]


@pytest.mark.parametrize(
    ("safety", "sent"),
    [
        ("{block: true}", {"blockContent": True}),
        (
            "{block: true, check: true}",
            {"blockContent": True, "checkContent": True, "mode": "fast"},
        ),
        ("{block: true, mode: full}", {"blockContent": True, "checkContent": True, "mode": "full"}),
    ],
)
def test_block_is_sent_as_block_content(
    fake: FakeRunware, project: Project, safety: str, sent: dict[str, Any]
) -> None:
    _sent_as(fake, project, safety, sent)


def test_block_false_sends_no_block_content(fake: FakeRunware, project: Project) -> None:
    _sent_as(fake, project, "{block: false, check: true}", {"checkContent": True, "mode": "fast"})


def _sent_as(fake: FakeRunware, project: Project, safety: str, sent: dict[str, Any]) -> None:
    """`render --json` shows the task's `safety` as `sent`, and a build sends it so."""
    _spec(project, f"  a: {{prompt: pa, out: a.png, safety: {safety}}}\n")
    assert project.run("render", "a", "--json").json()["safety"] == sent
    result = project.run("build", "--json")
    assert result.code == 0, result.out + result.err
    (task,) = fake.tasks_sent
    assert task["safety"] == sent


@pytest.mark.parametrize("method", ["async", "sync"])
def test_a_blocked_prompt_fails_that_asset_before_generating_at_no_cost(
    fake: FakeRunware, project: Project, method: str
) -> None:
    top = f"providers:\n  runware: {{poll_interval: 0.01, delivery: {method}}}\n"
    _spec(
        project,
        f"  bad: {{prompt: 'x {FLAG_WORD} y', out: bad.png, safety: {{block: true}}}}\n"
        f"  unblocked: {{prompt: 'u {FLAG_WORD}', out: u.png}}\n"
        "  ok: {prompt: pok, out: ok.png, safety: {block: true}}\n",
        top,
    )
    result = project.run("build", "-j", "3", "--json")
    assert result.code == 1
    summary = result.last_json()
    assert (summary["generated"], summary["failed"]) == (2, 1)
    message = _failures(result.out)["bad"]
    assert "sensitiveContentDetected" in message
    assert "nothing was charged" in message
    assert "reword the prompt of `bad`" in message
    assert "`safety.block` checks its references too" in message
    bad = [t for t in fake.tasks_sent if t["positivePrompt"] == f"x {FLAG_WORD} y"]
    assert len(bad) == 1  # refused before generating, and never sent again
    assert bad[0]["taskUUID"] not in fake.charges()
    assert len(fake.charges()) == 2
    assert summary["cost_usd"] == pytest.approx(fake.total_cost())
    assert not (project.root / "bad.png").exists()
    assert "bad" not in _lock(project)
    assert (project.root / "u.png").is_file()  # no block, no check: built as asked


def _generate(
    fake: FakeRunware, request: GenerationRequest, tmp_path: Path, **kw: Any
) -> GenerationResult:
    """The Runware provider's one method against the fake (polls without waiting)."""

    async def no_wait(seconds: float) -> None:
        return None

    provider = RunwareProvider(KEY, fake.url, sleep=no_wait, **kw)

    async def go() -> GenerationResult:
        try:
            return await provider.generate(request, Journal(), Staging(tmp_path / "staging"))
        finally:
            await provider.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("delivery", ["async", "sync"])
def test_the_provider_sends_block_content_and_takes_a_refusal_as_one(
    fake: FakeRunware, tmp_path: Path, delivery: str
) -> None:
    """Through the provider interface: `block` is sent as `safety.blockContent`, beside the
    image check; a flagged prompt is refused before generating, uncharged and not sent again."""
    clean = make_request(prompt="a red fox", block=True, safety="fast")
    result = _generate(fake, clean, tmp_path, delivery=delivery)
    assert len(result.images) == 1
    assert result.record["nsfw"] == {result.images[0].digest: False}
    assert fake.tasks_sent[-1]["safety"] == {
        "blockContent": True,
        "checkContent": True,
        "mode": "fast",
    }

    flagged = make_request(prompt=f"a {FLAG_WORD} fox", block=True)
    with pytest.raises(ContentRefusedError) as refused:
        _generate(fake, flagged, tmp_path, delivery=delivery)
    message = str(refused.value)
    assert "sensitiveContentDetected" in message
    assert "nothing was charged" in message
    assert "`safety.block` checks its references too" in message
    sent = fake.tasks_sent[-1]
    assert sent["safety"] == {"blockContent": True}
    assert sent["taskUUID"] in message
    assert sent["taskUUID"] not in fake.charges()
    assert len(fake.tasks_sent) == 2
    assert len(fake.charges()) == 1


def test_without_block_a_flag_word_is_generated_and_only_the_check_flags_it(
    fake: FakeRunware, tmp_path: Path
) -> None:
    request = make_request(prompt=f"a {FLAG_WORD} fox", safety="fast", on_flag="keep")
    result = _generate(fake, request, tmp_path)
    assert result.record["nsfw"] == {result.images[0].digest: True}
    assert "blockContent" not in fake.tasks_sent[-1]["safety"]
    assert len(fake.charges()) == 1


def test_the_fake_blocks_a_flagged_prompt_only_when_block_content_is_asked() -> None:
    with FakeRunware(api_key=KEY) as fake:
        task = {
            "taskType": "imageInference",
            "model": "openai:1@2",
            "positivePrompt": f"a {FLAG_WORD}",
            "width": 1024,
            "height": 1024,
            "deliveryMethod": "sync",
        }
        headers = {"Authorization": f"Bearer {KEY}"}

        def send(safety: dict[str, Any]) -> httpx.Response:
            body = {**task, "taskUUID": str(uuid.uuid4()), "safety": safety}
            return httpx.post(fake.url, json=[body], headers=headers)

        for safety in ({"blockContent": True}, {"blockContent": True, "mode": "none"}):
            refused = send(safety)
            assert refused.status_code == 400
            assert [e["code"] for e in refused.json()["errors"]] == ["sensitiveContentDetected"]
        assert fake.charges() == {}
        for safety in ({"blockContent": False, "checkContent": True}, {"mode": "fast"}):
            answer = send(safety)
            assert answer.status_code == 200
            assert answer.json()["data"][0]["NSFWContent"] is True
        assert len(fake.charges()) == 2


def test_the_fake_expires_urls_after_ttl() -> None:
    now = [1000.0]
    with FakeRunware(api_key=KEY, clock=lambda: now[0]) as fake:
        task = {
            "taskType": "imageInference",
            "taskUUID": str(uuid.uuid4()),
            "model": "openai:1@2",
            "positivePrompt": "p",
            "width": 1024,
            "height": 1024,
            "outputFormat": "PNG",
            "ttl": 60,
        }
        headers = {"Authorization": f"Bearer {KEY}"}
        answer = httpx.post(fake.url, json=[task], headers=headers).json()
        url = answer["data"][0]["imageURL"]
        assert "NSFWContent" not in answer["data"][0]
        assert httpx.get(url).status_code == 200
        now[0] += 61
        assert httpx.get(url).status_code == 404
        refused = httpx.post(
            fake.url,
            json=[{**task, "taskUUID": str(uuid.uuid4()), "ttl": 59, "safety": {"block": 1}}],
            headers=headers,
        )
        assert refused.status_code == 400
        codes = {e["code"] for e in refused.json()["errors"]}
        assert codes == {"invalidTtl", "unsupportedParameter"}
        # safety.blockContent is documented (runware.ai/docs/models-api/content-safety)
        blocked = {**task, "taskUUID": str(uuid.uuid4()), "safety": {"blockContent": True}}
        assert httpx.post(fake.url, json=[blocked], headers=headers).status_code == 200
        wrong = {**blocked, "taskUUID": str(uuid.uuid4()), "safety": {"blockContent": "yes"}}
        refused = httpx.post(fake.url, json=[wrong], headers=headers)
        assert [e["code"] for e in refused.json()["errors"]] == ["invalidBlockContent"]
