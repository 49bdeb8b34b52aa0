"""The Runware client against the fake Runware server, over real HTTP on 127.0.0.1.

Each fault of RUNWARE_API.md: the outcome, and what the ledger charged. The client never
sleeps for real here: its sleep (and, where times matter, its clock) is injected, and the
fake server stamps each request with the same clock. Timeouts are met by answers held back
until the server stops, never by racing two real delays.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from pixmake.errors import (
    ImageTooLargeError,
    PixmakeWarning,
    ProviderAuthError,
    ProviderQuotaError,
    ProviderRejectedError,
    ProviderRetryableError,
)
from pixmake.providers.base import GenerationRequest, RequestReference
from pixmake.providers.runware import HttpSettings, PollPolicy, RetryPolicy, RunwareProvider
from pixmake.staging import Staging
from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import png_bytes
from tests.fakes import make_request

KEY = "sk-test-0123456789abcdef"


class Journal:
    """An in-memory TaskJournal."""

    def __init__(self) -> None:
        self.open: dict[str, dict[str, Any]] = {}
        self.ended: list[str] = []
        self.remote: list[str] = []

    def submitted(self, key: str) -> dict[str, Any] | None:
        return self.open.get(key)

    async def record(self, key: str, asset_id: str, task: dict[str, Any]) -> None:
        self.open[key] = task

    def finished(self, key: str) -> None:
        self.ended.append(key)
        self.open.pop(key, None)

    def remote_done(self, key: str) -> None:
        self.remote.append(key)


@pytest.fixture(autouse=True)
def staging(tmp_path: Path) -> Iterator[Staging]:
    """Where the provider writes images in these tests; `run` uses it."""
    area = Staging(tmp_path / "staging")
    _STAGING[:] = [area]
    yield area
    _STAGING.clear()


_STAGING: list[Staging] = []


def staged_files() -> list[Path]:
    directory = _STAGING[0].directory
    return sorted(directory.iterdir()) if directory.is_dir() else []


@pytest.fixture
def fake() -> Iterator[FakeRunware]:
    with FakeRunware(api_key=KEY) as server:
        yield server


class Sleeps(list[float]):
    """The provider's sleep and clock: a sleep is recorded and moves the clock on, so a task
    polled without end runs out its poll budget at once instead of spinning for 15 minutes."""

    now = 0.0

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make(fake: FakeRunware, **kw: Any) -> tuple[RunwareProvider, Sleeps]:
    sleeps = Sleeps()
    key = kw.pop("key", KEY)
    options: dict[str, Any] = {"sleep": sleeps, "rng": lambda: 0.5}
    if "sleep" not in kw:  # a test's own sleep keeps the real clock
        options["clock"] = sleeps.clock
    options.update(kw)
    return RunwareProvider(key, fake.url, **options), sleeps


request = make_request


def run(provider: RunwareProvider, req: GenerationRequest, journal: Journal | None = None) -> Any:
    async def go() -> Any:
        try:
            return await provider.generate(req, journal or Journal(), _STAGING[0])
        finally:
            await provider.aclose()

    return asyncio.run(go())


def only_charge(fake: FakeRunware) -> str:
    charges = fake.charges()
    assert list(charges.values()) == [1], charges
    return next(iter(charges))


def test_async_happy_path(fake: FakeRunware) -> None:
    provider, sleeps = make(fake)
    journal = Journal()
    result = run(provider, request(), journal)
    with Image.open(result.images[0].path) as image:
        assert (image.format, image.size) == ("PNG", (1024, 1024))
    task_uuid = only_charge(fake)
    assert result.record["task_uuid"] == task_uuid
    assert journal.open["k" * 32] == {"taskUUID": task_uuid}  # journaled before it was sent
    assert result.cost_usd == pytest.approx(0.005)
    assert sleeps == [0.25]  # polled once, after the first wait
    assert journal.remote == ["k" * 32]  # its place was given back before the download


def test_sync_delivery(fake: FakeRunware) -> None:
    provider, sleeps = make(fake, delivery="sync")
    result = run(provider, request(format="webp", output_quality=80, width=1536))
    with Image.open(result.images[0].path) as image:
        assert image.size == (1536, 1024)
    assert fake.count("getResponse") == 0
    assert sleeps == []
    only_charge(fake)


def test_several_results_are_deduplicated_across_polls(fake: FakeRunware) -> None:
    fake.fail("processing", task_type="imageInference", polls=2)
    provider, sleeps = make(fake)
    result = run(provider, request(results=3))
    assert len(result.images) == 3
    assert len(set(result.record["image_uuids"])) == 3
    assert sleeps == [0.25, 0.375, 0.5625]
    assert fake.ledger[0].images == 3


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_with_the_same_uuid(fake: FakeRunware, status: int) -> None:
    fake.fail("status", times=2, status=status, task_type="imageInference")
    provider, sleeps = make(fake)
    run(provider, request())
    assert fake.count("imageInference") == 3
    only_charge(fake)
    assert sleeps[:2] == [0.75, 1.5]  # capped exponential backoff with jitter (rng fixed)


def test_retry_after_is_honoured(fake: FakeRunware) -> None:
    fake.fail("status", status=429, retry_after="7", task_type="imageInference")
    provider, sleeps = make(fake)
    run(provider, request())
    assert sleeps[0] == 7.0
    only_charge(fake)


@pytest.mark.parametrize("value", ["soon", "-3", "nan"])
def test_a_retry_after_that_is_not_a_delay_gets_the_usual_backoff(
    fake: FakeRunware, value: str
) -> None:
    fake.fail("status", status=429, retry_after=value, task_type="imageInference")
    provider, sleeps = make(fake)
    run(provider, request())
    assert sleeps[0] == RetryPolicy().delay(0, lambda: 0.5, None)
    only_charge(fake)


def test_a_retry_after_date_in_the_past_retries_at_once(fake: FakeRunware) -> None:
    fake.fail(
        "status",
        status=429,
        retry_after="Wed, 21 Oct 2015 07:28:00 GMT",
        task_type="imageInference",
    )
    provider, sleeps = make(fake)
    run(provider, request())
    assert sleeps[0] == 0.0
    only_charge(fake)


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(attempts=10, base=1.0, cap=30.0)
    delays = [policy.delay(n, lambda: 1.0, None) for n in range(10)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert max(delays) == 30.0
    assert policy.delay(0, lambda: 0.0, None) == 0.5


class LosesFirstSubmitAnswer(httpx.AsyncHTTPTransport):
    """httpx's own transport, except that the first submission's answer is lost to a read
    timeout after the server accepted it: a timeout without waiting for one."""

    lost = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not self.lost and b'"imageInference"' in request.content:
            self.lost = True
            await response.aclose()
            raise httpx.ReadTimeout("the answer came too late", request=request)
        return response


def test_a_lost_answer_is_asked_about_not_sent_again(fake: FakeRunware) -> None:
    client = httpx.AsyncClient(transport=LosesFirstSubmitAnswer())
    provider, _ = make(fake, client=client)
    run(provider, request())
    assert fake.count("imageInference") == 1  # Runware has it: polled, not sent again
    only_charge(fake)


def test_timeout_then_conflict_means_poll_not_pay() -> None:
    """On an account without getTaskDetails, a lost answer that getResponse does not show
    yet is sent again with the same UUID, and Runware's duplicate check (conflictTaskUUID)
    says it has it: polled, paid once."""
    with FakeRunware(api_key=KEY, task_details=False) as fake:
        fake.fail("lost", polls=1, task_type="imageInference")  # unseen by one getResponse
        provider, _ = make(fake)
        with pytest.warns(PixmakeWarning, match="no getTaskDetails"):
            run(provider, request())
        assert fake.count("imageInference") == 2  # the retry hit conflictTaskUUID
        only_charge(fake)


def test_an_answer_held_back_past_the_read_timeout_is_not_paid_twice(fake: FakeRunware) -> None:
    """The same through a real read timeout: the server holds its answer until it stops."""
    fake.fail("slow", delay=600, task_type="imageInference")  # accepted, answered too late
    provider, _ = make(fake, client=httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=0.5)))
    run(provider, request())
    assert fake.count("imageInference") == 1  # asked about, not sent again
    only_charge(fake)


def test_connection_dropped_before_the_task_is_read(fake: FakeRunware) -> None:
    fake.fail("drop_before", task_type="imageInference")
    provider, _ = make(fake, client=httpx.AsyncClient(timeout=httpx.Timeout(5.0)))
    result = run(provider, request())
    sent = [r["taskUUID"] for r in fake.requests if r["taskType"] == "imageInference"]
    assert sent == [result.record["task_uuid"]] * 2
    only_charge(fake)


def test_connection_dropped_after_the_task_was_accepted(fake: FakeRunware) -> None:
    fake.fail("drop_after", task_type="imageInference")
    provider, _ = make(fake, client=httpx.AsyncClient(timeout=httpx.Timeout(5.0)))
    result = run(provider, request())
    sent = [r["taskUUID"] for r in fake.requests if r["taskType"] == "imageInference"]
    assert sent == [result.record["task_uuid"]]  # asked about, not sent again
    only_charge(fake)


def test_malformed_json_after_acceptance(fake: FakeRunware) -> None:
    fake.fail("malformed", task_type="imageInference")
    provider, _ = make(fake)
    run(provider, request())
    only_charge(fake)


def test_malformed_poll_answer_is_polled_again(fake: FakeRunware) -> None:
    fake.fail("malformed", task_type="getResponse")
    provider, _ = make(fake)
    run(provider, request())
    assert fake.count("getResponse") == 2
    only_charge(fake)


def test_per_task_error_on_http_200(fake: FakeRunware) -> None:
    fake.fail("task_error", task_type="getResponse", code="timeoutProvider")
    provider, _ = make(fake)
    journal = Journal()
    with pytest.raises(ProviderRejectedError, match="timeoutProvider"):
        run(provider, request(), journal)
    assert journal.ended == ["k" * 32]  # over for good: the next build may start a new task
    only_charge(fake)


def test_task_processing_for_a_while(fake: FakeRunware) -> None:
    fake.fail("processing", task_type="imageInference", polls=6)
    provider, sleeps = make(fake)
    run(provider, request())
    assert fake.count("getResponse") == 7
    assert sleeps == [0.25 * 1.5**n for n in range(7)]


def test_polling_gives_up_after_its_budget_and_keeps_the_task(fake: FakeRunware) -> None:
    fake.fail("processing", task_type="imageInference", polls=1000)
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    provider, _ = make(fake, sleep=sleep, clock=lambda: now[0], poll=PollPolicy(budget=60))
    journal = Journal()
    with pytest.raises(ProviderRetryableError, match="still processing"):
        run(provider, request(), journal)
    assert journal.open  # kept: the next build polls it instead of paying again
    only_charge(fake)


@pytest.mark.parametrize("kind", ["truncated_download", "slow_download", "status"])
def test_bad_downloads_are_tried_again(fake: FakeRunware, kind: str) -> None:
    # a slow download stalls until the server stops: only the provider's deadline ends it
    fake.fail(kind, task_type="download", delay=600, status=503)
    slow = kind == "slow_download"
    provider, _ = make(fake, http=HttpSettings(download_timeout=0.5) if slow else None)
    result = run(provider, request())
    with Image.open(result.images[0].path) as image:
        image.load()
    assert staged_files() == [result.images[0].path]  # the failed attempt left nothing
    only_charge(fake)


@pytest.mark.parametrize("kind", [None, "unsized_download"])
def test_a_download_over_the_size_bound_fails_and_leaves_nothing(
    fake: FakeRunware, kind: str | None
) -> None:
    """Refused from its Content-Length, or stopped mid-stream when the body has none."""
    if kind is not None:
        fake.fail(kind, task_type="download")
    provider, _ = make(fake, http=HttpSettings(max_image_bytes=1024))
    journal = Journal()
    with pytest.raises(ImageTooLargeError, match="than the 1 KiB limit") as caught:
        run(provider, request(), journal)
    assert not caught.value.retryable
    assert staged_files() == []
    assert journal.open  # still known: a later build downloads it again, without paying
    only_charge(fake)


def test_validation_errors_are_not_retried(fake: FakeRunware) -> None:
    provider, _ = make(fake)
    journal = Journal()
    with pytest.raises(ProviderRejectedError, match="invalidWidth"):
        run(provider, request(width=1000), journal)
    assert fake.count("imageInference") == 1
    assert fake.ledger == []
    assert journal.ended == ["k" * 32]


def test_a_bad_key_says_how_to_set_it(fake: FakeRunware) -> None:
    provider, _ = make(fake, key="wrong-key-9876")
    with pytest.raises(ProviderAuthError) as caught:
        run(provider, request())
    assert "RUNWARE_API_KEY" in str(caught.value)
    assert "wrong-key-9876" not in str(caught.value)
    assert fake.count("imageInference") == 1


def test_out_of_credit(fake: FakeRunware) -> None:
    fake.fail("status", status=402, code="insufficientCredits", task_type="imageInference")
    provider, _ = make(fake)
    with pytest.raises(ProviderQuotaError, match="out of credit"):
        run(provider, request())
    assert fake.count("imageInference") == 1


def test_forbidden(fake: FakeRunware) -> None:
    fake.fail("status", status=403, code="forbidden", task_type="imageInference")
    provider, _ = make(fake)
    with pytest.raises(ProviderAuthError, match="may not"):
        run(provider, request())


def test_retries_run_out_but_the_task_is_kept(fake: FakeRunware) -> None:
    fake.fail("status", times=6, status=503, task_type="imageInference")
    provider, _ = make(fake)
    journal = Journal()
    with pytest.raises(ProviderRetryableError):
        run(provider, request(), journal)
    uuid_sent = journal.open["k" * 32]["taskUUID"]
    # the next build: Runware never saw it, so it is submitted, with the same UUID
    provider, _ = make(fake)
    result = run(provider, request(), journal)
    assert result.record["task_uuid"] == uuid_sent
    assert fake.charges() == {uuid_sent: 1}


def test_resume_polls_an_accepted_task_instead_of_paying_again(fake: FakeRunware) -> None:
    journal = Journal()
    fake.fail("drop_after", task_type="imageInference")
    fake.fail("drop_before", times=6, task_type="getResponse")  # ... and the network goes
    provider, _ = make(fake)
    with pytest.raises(ProviderRetryableError):
        run(provider, request(), journal)
    provider, _ = make(fake)  # a new build
    result = run(provider, request(), journal)
    assert fake.charges() == {result.record["task_uuid"]: 1}


def test_references_are_uploaded_once(fake: FakeRunware, tmp_path: Path) -> None:
    (tmp_path / "style.png").write_bytes(png_bytes())
    ref = RequestReference("file", "style.png", "h" * 32, tmp_path / "style.png")
    url = RequestReference("url", "https://example.org/a.png")

    async def go() -> None:
        provider, _ = make(fake)
        reqs = [request(key=f"{i:032d}", references=(ref, url)) for i in range(4)]
        await asyncio.gather(*(provider.generate(r, Journal(), _STAGING[0]) for r in reqs))
        await provider.aclose()

    asyncio.run(go())
    assert fake.count("imageUpload") == 1
    assert len(fake.uploads) == 1
    assert len(fake.ledger) == 4


def test_inline_references_are_data_uris(fake: FakeRunware, tmp_path: Path) -> None:
    (tmp_path / "style.png").write_bytes(png_bytes())
    ref = RequestReference("file", "style.png", "h" * 32, tmp_path / "style.png")
    provider, _ = make(fake, references="inline")
    run(provider, request(references=(ref,)))
    assert fake.count("imageUpload") == 0
    only_charge(fake)


@pytest.mark.parametrize("field", ["imageBase64Data", "imageDataURI"])
def test_inline_results_are_decoded(field: str) -> None:
    """Results that carry the image inline (base64 or a data URI) are staged like downloads."""
    data = png_bytes()
    encoded = base64.b64encode(data).decode()
    inline = encoded if field == "imageBase64Data" else "data:image/png;base64," + encoded

    def answer(http: httpx.Request) -> httpx.Response:
        task = json.loads(http.content)[0]
        item = {"taskType": "imageInference", "taskUUID": task["taskUUID"], "imageUUID": "i"}
        return httpx.Response(200, json={"data": [{**item, field: inline}]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    provider = RunwareProvider(KEY, "https://runware.invalid/v1", client=client, delivery="sync")
    result = run(provider, request())
    assert result.images[0].path.read_bytes() == data
    assert result.images[0].size == len(data)


class Clock:
    """A fake monotonic clock for the client and the fake server; sleeping moves it on."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def polls(fake: FakeRunware, task_uuid: str | None = None) -> list[dict[str, Any]]:
    return [
        r
        for r in fake.requests
        if r["taskType"] == "getResponse" and task_uuid in (None, r["taskUUID"])
    ]


def submitted_at(fake: FakeRunware, task_uuid: str) -> float:
    return next(
        r["at"]
        for r in fake.requests
        if r["taskType"] == "imageInference" and r["taskUUID"] == task_uuid
    )


def test_tasks_in_flight_share_one_poll_and_the_interval_follows_them() -> None:
    clock = Clock()

    async def go(fake: FakeRunware) -> list[str]:
        provider: RunwareProvider | None = None

        async def sleep(seconds: float) -> None:
            if not clock.sleeps:  # the first poll waits for all five (real I/O, not time)
                assert provider is not None
                async with asyncio.timeout(10):
                    while provider.in_flight < 5:
                        await asyncio.sleep(0)
            await clock.sleep(seconds)

        provider = RunwareProvider(KEY, fake.url, sleep=sleep, clock=clock)
        first = [request(key=f"{i:032d}") for i in range(5)]
        results = await asyncio.gather(
            *(provider.generate(r, Journal(), _STAGING[0]) for r in first)
        )
        last = await provider.generate(request(key="z" * 32), Journal(), _STAGING[0])
        await provider.aclose()
        return [r.record["task_uuid"] for r in [*results, last]]

    with FakeRunware(api_key=KEY, clock=clock) as fake:
        *five, sixth = asyncio.run(go(fake))
        shared = polls(fake)[:5]
        assert {r["taskUUID"] for r in shared} == set(five)
        assert {r["post"] for r in shared} == {shared[0]["post"]}  # one POST asked for all five
        assert shared[0]["at"] == 0.25  # after the first wait
        # They took 0.25 s: the next task is polled after a twentieth of that, and once only.
        (poll,) = polls(fake, sixth)
        assert poll["at"] - submitted_at(fake, sixth) == pytest.approx(0.0125)
        assert fake.count("getResponse") == 6
    assert clock.sleeps == [0.25, 0.0125]


def test_a_poll_is_aimed_at_a_tasks_expected_finish() -> None:
    """Each task gets one poll at its start plus the shortest recent duration; then the
    interval (here held at 1 s) takes over again."""
    clock = Clock(100.0)
    policy = PollPolicy(first=0.25, factor=1.5, floor=1.0, cap=1.0)
    with FakeRunware(api_key=KEY, clock=clock) as fake:
        provider = RunwareProvider(KEY, fake.url, sleep=clock.sleep, clock=clock, poll=policy)

        async def one(key: str, held_polls: int) -> str:
            if held_polls:
                fake.fail("processing", task_type="imageInference", polls=held_polls)
            result = await provider.generate(request(key=key * 32), Journal(), _STAGING[0])
            return str(result.record["task_uuid"])

        async def go() -> list[str]:
            uuids = [await one("a", 1), await one("b", 0), await one("c", 1)]
            await provider.aclose()
            return uuids

        first, second, third = asyncio.run(go())

        def offsets(task_uuid: str) -> list[float]:
            start = submitted_at(fake, task_uuid)
            return [round(p["at"] - start, 6) for p in polls(fake, task_uuid)]

        assert offsets(first) == [0.25, 0.625]  # nothing known: the interval, growing x1.5
        assert offsets(second) == [0.625]  # aimed at 0.625 s, the first task's duration
        assert offsets(third) == [0.625, 1.625]  # aimed, still processing: then the interval


def test_an_answer_larger_than_its_bound_is_refused_unread(fake: FakeRunware) -> None:
    """With base64 output the answer carries the image: it is bounded like a download."""
    provider, _ = make(
        fake, output="base64", delivery="sync", http=HttpSettings(max_answer_bytes=2000)
    )
    with pytest.raises(ProviderRejectedError, match="answer is larger than"):
        run(provider, request())
    assert provider.poll.batch == HttpSettings().base64_batch
    roomy, _ = make(fake, output="base64", delivery="sync")
    result = run(roomy, request(key="b" * 32))
    with Image.open(result.images[0].path) as image:
        assert image.format == "PNG"
    assert fake.tasks_sent[-1]["outputType"] == "base64Data"  # no URL, no download


def test_an_errors_entry_fails_only_the_task_it_names(fake: FakeRunware) -> None:
    """Two tasks in one getResponse batch; Runware's error names one: the other succeeds."""
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        """The first poll waits (without time passing) until both tasks are in flight."""
        while not waited and provider.in_flight < 2:
            await asyncio.sleep(0)
        waited.append(seconds)

    provider, _ = make(fake, sleep=sleep)

    async def go() -> list[Any]:
        first = provider.generate(request(key="a" * 32), Journal(), _STAGING[0])
        second = provider.generate(
            request(key="b" * 32, prompt="a blue fox"), Journal(), _STAGING[0]
        )
        try:
            return await asyncio.gather(first, second, return_exceptions=True)
        finally:
            await provider.aclose()

    fake.fail("task_error", task_type="getResponse", code="timeoutProvider")
    outcomes = asyncio.run(go())
    failed = [o for o in outcomes if isinstance(o, ProviderRejectedError)]
    assert len(failed) == 1, outcomes
    assert "timeoutProvider" in str(failed[0])
    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 1
    batched = [r["post"] for r in fake.requests if r["taskType"] == "getResponse"]
    assert len(batched) > len(set(batched))  # they were polled in one request
