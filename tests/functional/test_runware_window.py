"""`concurrency: auto` against the fake Runware server's hidden per-account limit, over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixmake.providers import make_provider
from pixmake.providers.runware import RunwareProvider
from pixmake.providers.window import Window, WindowPolicy
from pixmake.spec.values import ProviderConfig
from pixmake.staging import Staging
from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project
from tests.fakes import make_request
from tests.functional.test_runware import Journal

KEY = "test-key"
FAST = "poll_interval: 0.01, retry_backoff: 0.01"


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    """A fake that answers 429 while 3 tasks (of 0.05 s each) are processing."""
    with FakeRunware(api_key=KEY, latency=0.05, account_limit=3) as server:
        monkeypatch.setenv("RUNWARE_BASE_URL", server.url)
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        yield server


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    """A fake with tasks of 0.05 s and no hidden limit."""
    with FakeRunware(api_key=KEY, latency=0.05) as fake:
        monkeypatch.setenv("RUNWARE_BASE_URL", fake.url)
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        yield fake


def _assets(project: Project, count: int, settings: str = "") -> None:
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(count))
    provider = f"providers:\n  runware: {{{FAST}{settings}}}\n"
    project.gen({"pixmake.yaml": f"version: 1\n{provider}assets:\n" + assets})


def _events(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_auto_finds_the_hidden_limit_with_few_429s(limited: FakeRunware, project: Project) -> None:
    _assets(project, 40)
    result = project.run("build", "-j", "16", "--json")
    assert result.code == 0, result.err
    summary = result.last_json()
    assert (summary["generated"], summary["failed"]) == (40, 0)
    assert set(limited.charges().values()) == {1}
    assert len(limited.charges()) == 40
    # Found at the first overloads (the start's 8 and the tasks accepted before the first
    # 429 came back, less the 3 allowed; then a dip or two), not 16 tasks hammering it round
    # after round.
    assert limited.busy <= 16
    sizes = [e["size"] for e in _events(result.out) if e.get("event") == "window"]
    assert sizes[0] == WindowPolicy().start  # where it starts
    assert min(sizes) < sizes[0]  # it shrank on the 429s
    assert all(e["provider"] == "runware" for e in _events(result.out) if "size" in e)


def test_a_fixed_concurrency_keeps_its_meaning(server: FakeRunware, project: Project) -> None:
    _assets(project, 12, ", concurrency: 2")
    result = project.run("build", "-j", "8", "--json")
    assert result.code == 0, result.err
    assert server.peak_in_flight == 2  # never more, and not fewer either
    assert not [e for e in _events(result.out) if e.get("event") == "window"]


def test_without_jobs_the_window_is_not_held_at_four(server: FakeRunware, project: Project) -> None:
    """`-j` not given: the default leaves room for the auto window to grow past its start."""
    _assets(project, 40)
    result = project.run("build", "--json")
    assert result.code == 0, result.err
    sizes = [e["size"] for e in _events(result.out) if e.get("event") == "window"]
    assert max(sizes) > WindowPolicy().start
    assert server.peak_in_flight > WindowPolicy().start


def test_without_jobs_a_fixed_concurrency_is_what_runs(
    server: FakeRunware, project: Project
) -> None:
    _assets(project, 18, ", concurrency: 6")
    result = project.run("build", "--json")
    assert result.code == 0, result.err
    assert server.peak_in_flight == 6  # not the 4 of the default -j


def test_auto_is_capped_by_jobs(server: FakeRunware, project: Project) -> None:
    _assets(project, 30)
    result = project.run("build", "-j", "3", "--json")
    assert result.code == 0, result.err
    assert server.peak_in_flight <= 3
    sizes = [e["size"] for e in _events(result.out) if e.get("event") == "window"]
    assert sizes == [WindowPolicy().start]  # never full at -j 3: no reason to grow


def test_a_429s_retry_after_holds_the_window_over_http(tmp_path: Path) -> None:
    """The Retry-After of a hidden limit's 429 reaches the window: no new submission until it
    has passed (the window's clock and sleep are injected; nothing sleeps for real)."""
    now = [0.0]
    paused: list[float] = []

    async def window_sleep(seconds: float) -> None:
        paused.append(seconds)
        now[0] += seconds

    async def never(seconds: float) -> None:  # the poller: task a stays in flight
        await asyncio.Event().wait()

    async def main(fake: FakeRunware, tmp: Path) -> None:
        window = Window(clock=lambda: now[0], sleep=window_sleep)
        provider = RunwareProvider(KEY, fake.url, window=window, sleep=never)
        staging = Staging(tmp)
        journal = Journal()
        tasks = [
            asyncio.create_task(
                provider.generate(make_request(key=k * 32, prompt=k), journal, staging)
            )
            for k in "ab"
        ]
        try:
            while not paused and fake.busy == 0:
                await asyncio.sleep(0.01)
            for _ in range(20):  # time for a submission made too early to arrive
                await asyncio.sleep(0.01)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await provider.aclose()
        assert paused[:1] == [2.5]
        assert window.size == 1  # halved below the two in use, then held

    with FakeRunware(KEY, latency=1.0, account_limit=1, busy_retry_after=2.5) as fake:
        asyncio.run(main(fake, tmp_path / "staging"))
        assert fake.busy == 1
        assert fake.count("imageInference") == 2  # b was not sent again while a is in flight


def test_a_tasks_latency_runs_from_runwares_answer_over_http(tmp_path: Path) -> None:
    """The time before a submission is answered is pixmake's own (here a journal write that
    takes 100 s on the window's injected clock): it does not shrink the window."""
    now = [0.0]

    class SlowJournal(Journal):
        async def record(self, key: str, asset_id: str, task: dict[str, object]) -> None:
            now[0] += 100.0 if key.startswith("s") else 0.0
            await super().record(key, asset_id, task)

    async def instant(seconds: float) -> None:
        await asyncio.sleep(0)

    async def main(fake: FakeRunware, tmp: Path) -> list[int]:
        window = Window(WindowPolicy(start=2, ceiling=2), clock=lambda: now[0])
        sizes: list[int] = []
        window.watch(sizes.append)
        provider = RunwareProvider(KEY, fake.url, window=window, sleep=instant)
        staging, journal = Staging(tmp), SlowJournal()
        try:
            for k in "abcs":  # one at a time; the last one's journal write is slow
                await provider.generate(make_request(key=k * 32, prompt=k), journal, staging)
        finally:
            await provider.aclose()
        return sizes

    with FakeRunware(KEY) as fake:
        assert asyncio.run(main(fake, tmp_path / "staging")) == [2]
        assert fake.count("imageInference") == 4


@pytest.mark.parametrize(
    ("concurrency", "delivery", "at_least"),
    [("auto", "sync", WindowPolicy().ceiling), (40, "sync", 40)],
)
def test_sync_delivery_has_a_connection_per_task_in_flight(
    concurrency: int | str, delivery: str, at_least: int
) -> None:
    config = ProviderConfig(concurrency=concurrency, delivery=delivery)
    provider = make_provider("runware", config=config, environ={"RUNWARE_API_KEY": KEY})
    assert provider.http.max_connections > at_least  # type: ignore[attr-defined]
    asyncio.run(provider.aclose())


def test_async_delivery_shares_a_few_connections() -> None:
    """Submissions, polls and downloads are short requests: the pool stays small however
    many tasks are in flight, because every request looks over every pooled connection."""
    for concurrency in ("auto", 40):
        config = ProviderConfig(concurrency=concurrency)
        provider = make_provider("runware", config=config, environ={"RUNWARE_API_KEY": KEY})
        assert provider.http.max_connections < WindowPolicy().ceiling  # type: ignore[attr-defined]
        asyncio.run(provider.aclose())


class _Recording(httpx.AsyncBaseTransport):
    """httpx's own transport, noting what each request was, in the order they are sent."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.sent.append("download")
        else:
            self.sent.extend(t["taskType"] for t in json.loads(request.content))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_next_task_is_submitted_before_the_finished_one_is_downloaded(
    tmp_path: Path,
) -> None:
    """One place in the window: when task a finishes, b (which was waiting for its place) is
    sent before a's image is fetched."""

    async def instant(seconds: float) -> None:
        await asyncio.sleep(0)

    async def main(fake: FakeRunware, tmp: Path) -> list[str]:
        recording = _Recording()
        window = Window(WindowPolicy(start=1, ceiling=1))
        provider = RunwareProvider(
            KEY, fake.url, client=httpx.AsyncClient(transport=recording), window=window,
            sleep=instant,
        )  # fmt: skip
        staging, journal = Staging(tmp), Journal()
        try:
            await asyncio.gather(
                *(
                    provider.generate(make_request(key=k * 32, prompt=k), journal, staging)
                    for k in "ab"
                )
            )
        finally:
            await provider.aclose()
        return [kind for kind in recording.sent if kind != "getResponse"]

    with FakeRunware(KEY) as fake:
        sent = asyncio.run(main(fake, tmp_path / "staging"))
    assert sent == ["imageInference", "imageInference", "download", "download"]
