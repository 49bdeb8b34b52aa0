"""Recovery that asks: a journaled task that getResponse does not know, after a crash.

Over real HTTP on 127.0.0.1 against the fake Runware server. A "crash" here is what a build
leaves behind when it dies after sending: the task journaled, and no answer. The fake's `lost`
fault is the case that polling alone gets wrong: Runware accepted (and charged) the task, but
for a while neither getResponse nor its duplicate check shows it, so a resubmission is paid a
second time; getTaskDetails knows it. Removing the getTaskDetails check makes the first tests
here fail with two charges.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pixmake.errors import (
    ContentRefusedError,
    PixmakeWarning,
    ProviderQuotaError,
    ProviderRetryableError,
)
from pixmake.providers.runware import RetryPolicy
from pixmake.testing.fake_runware import REFUSE_WORD, FakeRunware
from tests.conftest import Project, serve_fake
from tests.functional.test_runware import (
    _STAGING,
    KEY,
    Journal,
    make,
    request,
    run,
    staging,  # noqa: F401  (the staging area `run` writes to)
)

FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"


@pytest.fixture(params=["error", "empty"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeRunware]:
    """getResponse answers an unknown task with a not-found error, or with `{"data": []}`."""
    with FakeRunware(api_key=KEY, unknown_poll=request.param) as server:
        yield server


def lost(fake: FakeRunware, journal: Journal, polls: int = 3, **changes: Any) -> str:
    """A build whose submission Runware accepted without a word (`lost`), and whose network
    then went: it ends with the task journaled. Returns the task's UUID."""
    fake.fail("lost", polls=polls, task_type="imageInference")
    fake.fail("drop_before", times=RetryPolicy().attempts, task_type="getResponse")  # asking
    provider, _ = make(fake)
    with pytest.raises(ProviderRetryableError):
        run(provider, request(**changes), journal)
    task_uuid: str = journal.open["k" * 32]["taskUUID"]
    return task_uuid


def never_sent(fake: FakeRunware, journal: Journal, key: str = "k" * 32) -> str:
    """A build that journaled a task and died before sending it (killed between the two)."""
    task_uuid = str(uuid.uuid4())
    asyncio.run(journal.record(key, "a", {"taskUUID": task_uuid}))
    return task_uuid


def resume_all(fake: FakeRunware, journal: Journal, keys: list[str]) -> list[Any]:
    """One build (one provider) that resumes every journaled key."""
    provider, _ = make(fake)

    async def go() -> list[Any]:
        try:
            return [await provider.generate(request(key=k), journal, _STAGING[0]) for k in keys]
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_a_task_runware_has_but_does_not_show_is_followed_not_paid_again(
    fake: FakeRunware,
) -> None:
    journal = Journal()
    task_uuid = lost(fake, journal)
    assert fake.charges() == {task_uuid: 1}
    provider, _ = make(fake)
    result = run(provider, request(), journal)  # the next build
    assert result.record["task_uuid"] == task_uuid
    assert fake.charges() == {task_uuid: 1}
    assert fake.count("getTaskDetails") == 1
    assert fake.count("imageInference") == 1  # the lost one, asked about, never sent again


def test_a_result_that_only_getTaskDetails_shows_is_taken_from_it(fake: FakeRunware) -> None:
    journal = Journal()
    task_uuid = lost(fake, journal, polls=10**6)  # getResponse will not show it in this build
    asked = fake.count("getResponse")
    provider, _ = make(fake)
    result = run(provider, request(), journal)
    assert len(result.images) == 1
    assert fake.charges() == {task_uuid: 1}
    assert fake.count("getResponse") == asked + 1  # the one that did not know it; no polling


def test_a_task_runware_never_saw_is_sent_again_once(fake: FakeRunware) -> None:
    journal = Journal()
    task_uuid = never_sent(fake, journal)
    provider, _ = make(fake)
    result = run(provider, request(), journal)
    assert result.record["task_uuid"] == task_uuid  # the same UUID
    assert fake.charges() == {task_uuid: 1}
    assert fake.count("getTaskDetails") == 1
    assert fake.count("imageInference") == 1


def test_a_failure_that_getTaskDetails_reports_ends_the_task(fake: FakeRunware) -> None:
    journal = Journal()
    lost(fake, journal, prompt=f"a {REFUSE_WORD} fox")  # accepted, then refused by moderation
    provider, _ = make(fake)
    with pytest.raises(ContentRefusedError, match="invalidProviderContent"):
        run(provider, request(prompt=f"a {REFUSE_WORD} fox"), journal)
    assert fake.count("imageInference") == 1  # not sent again
    assert journal.ended == ["k" * 32]
    assert fake.charges() == {}


def test_no_answer_from_getTaskDetails_keeps_the_task_and_sends_nothing(
    fake: FakeRunware,
) -> None:
    journal = Journal()
    task_uuid = lost(fake, journal)
    fake.fail("status", times=6, status=500, task_type="getTaskDetails")
    provider, _ = make(fake)
    with pytest.raises(ProviderRetryableError):
        run(provider, request(), journal)
    assert journal.open["k" * 32]["taskUUID"] == task_uuid
    assert fake.count("imageInference") == 1
    provider, _ = make(fake)
    run(provider, request(), journal)  # Runware answers again: collected, paid once
    assert fake.charges() == {task_uuid: 1}


def test_an_error_about_the_credit_while_asking_keeps_the_task() -> None:
    with FakeRunware(api_key=KEY) as fake:
        journal = Journal()
        fake.fail("drop_after", task_type="imageInference")  # accepted, no answer
        fake.fail("drop_before", times=RetryPolicy().attempts, task_type="getResponse")
        provider, _ = make(fake)
        with pytest.raises(ProviderRetryableError):
            run(provider, request(), journal)
        fake.fail("status", status=402, code="insufficientCredits", task_type="getResponse")
        provider, _ = make(fake)
        with pytest.raises(ProviderQuotaError):
            run(provider, request(), journal)
        assert journal.open  # not given up: it was paid for
        provider, _ = make(fake)
        result = run(provider, request(), journal)
        assert fake.charges() == {result.record["task_uuid"]: 1}


def test_an_error_about_the_credit_while_polling_keeps_the_task() -> None:
    with FakeRunware(api_key=KEY) as fake:
        journal = Journal()
        fake.fail("status", status=402, code="insufficientCredits", task_type="getResponse")
        provider, _ = make(fake)
        with pytest.raises(ProviderQuotaError):
            run(provider, request(), journal)  # accepted, then the first poll is refused
        assert journal.open  # it was paid for: the next build collects it
        provider, _ = make(fake)
        result = run(provider, request(), journal)
        assert fake.charges() == {result.record["task_uuid"]: 1}


# -- an account without getTaskDetails -------------------------------------------------------


@pytest.mark.parametrize("refusal", ["unknown task type", "forbidden"])
def test_without_getTaskDetails_the_old_rule_with_one_warning_a_build(refusal: str) -> None:
    with FakeRunware(api_key=KEY, task_details=refusal == "forbidden") as fake:
        if refusal == "forbidden":
            fake.fail("status", status=403, code="forbidden", task_type="getTaskDetails")
        journal = Journal()
        keys = ["a" * 32, "b" * 32, "c" * 32]
        sent = [never_sent(fake, journal, key) for key in keys]
        with pytest.warns(PixmakeWarning, match="no getTaskDetails") as caught:
            results = resume_all(fake, journal, keys)
        assert len(caught) == 1  # once a build, not once a task
        assert KEY not in str(caught[0].message)
        assert [r.record["task_uuid"] for r in results] == sent
        assert fake.charges() == dict.fromkeys(sent, 1)
        assert fake.count("getTaskDetails") == 1  # not asked again in that build


def test_without_getTaskDetails_a_lost_task_is_paid_twice() -> None:
    """Why pixmake asks: the old rule resubmits what getResponse does not show."""
    with FakeRunware(api_key=KEY, task_details=False) as fake:
        journal = Journal()
        task_uuid = lost(fake, journal)
        provider, _ = make(fake)
        with pytest.warns(PixmakeWarning, match="paid twice"):
            run(provider, request(), journal)
        assert fake.charges() == {task_uuid: 2}


def test_without_getTaskDetails_an_empty_answer_is_polled_not_sent_again() -> None:
    with FakeRunware(api_key=KEY, task_details=False, unknown_poll="empty") as fake:
        journal = Journal()
        task_uuid = lost(fake, journal)
        provider, _ = make(fake)
        with pytest.warns(PixmakeWarning):
            result = run(provider, request(), journal)
        assert result.record["task_uuid"] == task_uuid
        assert fake.charges() == {task_uuid: 1}


# -- whole builds ----------------------------------------------------------------------------


def _assets(project: Project, count: int) -> None:
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(count))
    project.gen({"pixmake.yaml": f"version: 1\n{FAST}assets:\n" + assets})


def test_a_lost_answer_within_a_build_is_asked_about_and_paid_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepted, the answer lost, and for a while invisible to getResponse and to Runware's
    duplicate check: sending it again would pay twice; pixmake asks getTaskDetails first."""
    with serve_fake(monkeypatch, KEY) as fake:
        _assets(project, 3)
        fake.fail("lost", polls=3, task_type="imageInference")
        result = project.run("build", "-j", "1", "--json")
        assert result.code == 0, result.err
        assert sorted(fake.charges().values()) == [1, 1, 1]
        assert fake.count("imageInference") == 3
        assert fake.count("getTaskDetails") == 1


def test_a_build_resumed_after_a_lost_submission_pays_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_fake(monkeypatch, KEY) as fake:
        _assets(project, 3)
        fake.fail("lost", polls=3, task_type="imageInference")
        fake.fail("drop_before", times=RetryPolicy().attempts, task_type="getResponse")
        first = project.run("build", "-j", "1", "--json")
        assert first.code == 1  # a0 is journaled, with no answer: the network went
        assert len(fake.charges()) == 3  # ... and Runware has it
        resumed = project.run("build", "-j", "1", "--json")
        assert resumed.code == 0, resumed.err
        assert resumed.last_json()["generated"] == 1
        assert set(fake.charges().values()) == {1}  # a0 was not paid for twice
        lock = project.lock()["assets"]
        assert {e["record"]["task_uuid"] for e in lock.values()} == set(fake.charges())
        assert "warning" not in resumed.err
        assert fake.count("getTaskDetails") == 1


def test_a_build_without_getTaskDetails_warns_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_fake(monkeypatch, KEY) as fake:
        fake.task_details = False
        _assets(project, 3)
        fake.fail("drop_before", times=18, task_type="imageInference")  # none arrives
        first = project.run("build", "-j", "1")
        assert first.code == 1
        assert fake.charges() == {}
        assert sum(line.startswith("warning:") for line in first.err.splitlines()) == 1
        resumed = project.run("build", "-j", "1")
        assert resumed.code == 0, resumed.err
        warned = [line for line in resumed.err.splitlines() if line.startswith("warning:")]
        assert len(warned) == 1
        assert "no getTaskDetails" in warned[0]
        assert KEY not in resumed.err + resumed.out
        assert sorted(fake.charges().values()) == [1, 1, 1]


# -- the fake's getTaskDetails ---------------------------------------------------------------


def test_the_fakes_getTaskDetails_answers_as_runware_documents() -> None:
    def ask(fake: FakeRunware, task_uuid: str) -> httpx.Response:
        body = [{"taskType": "getTaskDetails", "taskUUID": task_uuid}]
        headers = {"Authorization": f"Bearer {KEY}"}
        return httpx.post(fake.url, json=body, headers=headers)

    task = {
        "taskType": "imageInference", "taskUUID": str(uuid.uuid4()), "model": "openai:1@2",
        "positivePrompt": "a fox", "width": 1024, "height": 1024, "deliveryMethod": "async",
        "outputFormat": "PNG", "includeCost": True,
    }  # fmt: skip
    with FakeRunware(api_key=KEY) as fake:
        headers = {"Authorization": f"Bearer {KEY}"}
        assert httpx.post(fake.url, json=[task], headers=headers).status_code == 200
        [details] = ask(fake, task["taskUUID"]).json()["data"]
        assert details["taskType"] == "getTaskDetails"
        assert details["taskUUID"] == task["taskUUID"]
        assert details["request"] == [task]  # the original request array
        [item] = details["response"]["data"]  # the original answer's envelope
        assert item["status"] == "success"
        assert item["imageUUID"]
        assert item["cost"] > 0
        unknown = ask(fake, str(uuid.uuid4()))
        assert unknown.status_code == 400
        assert unknown.json()["errors"][0]["code"] == "taskNotFound"
        fake.task_details = False  # an account without it
        refused = ask(fake, task["taskUUID"])
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "invalidTaskType"
