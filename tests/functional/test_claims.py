"""Claims and shards: machines sharing one remote never pay twice for a request.

Each "machine" is a project directory of its own, with its own .pixmake/; they share only
the remote (moto's S3 server on loopback, or a shared directory) and the fake Runware
server, whose ledger says what was paid. Nothing sleeps: the pause between two polls of
a waiting machine (`claims.wait`) and the claims' clock (`claims.now`) are replaced.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem

from pixmake import api, claims
from pixmake.report import JsonReporter
from pixmake.results import BuildOptions
from pixmake.session import open_session
from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project
from tests.fakes import CtrlCAtFirstPoll
from tests.functional import test_remote
from tests.functional.test_remote import PIXMAKE_REMOTE, _machine

# the remote tests' fixtures: moto's S3 server, the `cache:` of each backend, the fake Runware
moto, cache, fake = test_remote.moto, test_remote.cache, test_remote.fake


def _summary(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    summary: dict[str, Any] = result.last_json()
    return summary


def _generated(result: Any) -> set[str]:
    events = [json.loads(line) for line in result.out.splitlines()]
    return {e["id"] for e in events if e.get("event") == "finished" and e["action"] == "generate"}


def _warnings(result: Any) -> list[str]:
    return [line for line in result.err.splitlines() if line.startswith("warning:")]


def _key(project: Project, root: Path, asset_id: str) -> str:
    explained = project.run("-C", str(root), "explain", asset_id, "--json")
    assert explained.code == 0, explained.err
    key: str = explained.json()["key"]
    return key


class _Clock:
    """The claims' clock, moved on only by the waits of a waiting machine."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, step: float, start: float = 1000.0):
        self.time = start
        self.step = step
        self.waits = 0
        self.on_wait: Any = None
        monkeypatch.setattr(claims, "now", lambda: self.time)
        monkeypatch.setattr(claims, "wait", self.wait)

    async def wait(self, seconds: float) -> None:
        self.waits += 1
        self.time += self.step
        if self.on_wait is not None:
            self.on_wait()
        await asyncio.sleep(0)


# -- two machines at once -----------------------------------------------------------------


def test_two_concurrent_builds_pay_for_each_request_once(
    project: Project, fake: FakeRunware, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def yield_only(seconds: float) -> None:
        await asyncio.sleep(0)  # the other machine's thread goes on meanwhile

    monkeypatch.setattr(claims, "wait", yield_only)
    roots = [_machine(project, name, 50, cache) for name in ("one", "other")]
    outputs = [io.StringIO(), io.StringIO()]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def build(root: Path, out: io.StringIO) -> None:
        try:
            start.wait()
            api.build(root, reporter=JsonReporter(out), options=BuildOptions(jobs=8))
        except BaseException as exc:  # shown by the assertion below
            errors.append(exc)

    pairs = zip(roots, outputs, strict=True)
    threads = [threading.Thread(target=build, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    one, other = (json.loads(o.getvalue().strip().splitlines()[-1]) for o in outputs)
    for summary in (one, other):
        assert (summary["failed"], summary["skipped"]) == (0, 0)
        assert summary["generated"] + summary["restored"] == 50
    assert one["generated"] + other["generated"] == 50
    charged = fake.charges()
    assert len(charged) == 50
    assert set(charged.values()) == {1}
    for i in range(50):
        assert (roots[0] / f"a{i}.png").read_bytes() == (roots[1] / f"a{i}.png").read_bytes()
    for root in roots:
        assert project.run("-C", str(root), "status", "--json").json()["counts"]["fresh"] == 50


# -- a claim held elsewhere ---------------------------------------------------------------


def test_a_dead_runners_claim_is_taken_over_when_its_lease_ends(
    project: Project, fake: FakeRunware, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock(monkeypatch, step=claims.LEASE_SECONDS / 6)
    root = _machine(project, "survivor", 2, cache)
    remote = open_session(root).remote
    assert remote is not None
    dead = claims.Claims(remote)  # a runner that claimed a0 and died
    assert isinstance(dead.claim(_key(project, root, "a0")), claims.Held)

    result = project.run("-C", str(root), "build", "--json")
    summary = _summary(result)
    assert (summary["generated"], summary["waited"], summary["failed"]) == (2, 0, 0)
    assert clock.waits == 6  # polled until the lease ran out, not one poll less
    assert len(fake.charges()) == 2
    assert _warnings(result) == []


def test_a_live_claim_is_waited_for_and_its_result_restored(
    project: Project, fake: FakeRunware, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PIXMAKE_REMOTE, raising=False)
    elsewhere = _machine(project, "elsewhere", 1, "")  # the holder, building without a remote
    assert _summary(project.run("-C", str(elsewhere), "build", "--json"))["generated"] == 1
    charged = fake.charges()
    entry = json.loads((elsewhere / "pixmake.lock").read_text())["assets"]["a0"]

    # the waiting machine: a teammate's build that claimed a0, and is still generating it
    clock = _Clock(monkeypatch, step=claims.POLL_SECONDS)
    root = _machine(project, "waiting", 1, cache)
    if not cache:
        monkeypatch.setenv(PIXMAKE_REMOTE, str(project.root / "shared"))
    remote = open_session(root).remote
    assert remote is not None
    holder = claims.Claims(remote)
    assert entry["key"] == _key(project, root, "a0")
    assert isinstance(holder.claim(entry["key"]), claims.Held)

    def finish() -> None:  # on the third poll, the holder's result lands on the remote
        if clock.waits == 3:
            value = {"outputs": entry["outputs"], "record": entry["record"]}
            data = (elsewhere / "a0.png").read_bytes()
            assert remote.push(entry["key"], value, {entry["outputs"][0]["hash"]: lambda: data})

    clock.on_wait = finish
    summary = _summary(project.run("-C", str(root), "build", "--json"))
    assert (summary["generated"], summary["restored"], summary["waited"]) == (0, 1, 1)
    assert clock.waits == 3
    assert fake.charges() == charged  # nothing paid again
    assert (root / "a0.png").read_bytes() == (elsewhere / "a0.png").read_bytes()


def test_a_failed_generation_gives_its_claim_up(
    project: Project, fake: FakeRunware, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Clock(monkeypatch, step=claims.POLL_SECONDS)
    root = _machine(project, "failing", 1, cache)
    fake.fail("status", status=400, code="invalidPrompt", task_type="imageInference")
    assert project.run("-C", str(root), "build", "--json").code == 1
    remote = open_session(root).remote
    assert remote is not None
    other = claims.Claims(remote)  # another machine need not wait for the lease to end
    assert isinstance(other.claim(_key(project, root, "a0")), claims.Held)


def test_claims_taken_over_and_renewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pixmake.remote import Remote

    clock = _Clock(monkeypatch, step=0)
    url = str(tmp_path / "shared")
    first, second, third = (claims.Claims(Remote(url, {}, tmp_path)) for _ in range(3))
    key = "ab" * 16
    held = first.claim(key)
    assert isinstance(held, claims.Held)
    clock.time += claims.LEASE_SECONDS / 2
    assert first.renew(held) is True  # its lease now ends later
    clock.time += claims.LEASE_SECONDS * 0.9
    found = second.claim(key)
    assert isinstance(found, claims.Other)
    assert found.until == held.until
    clock.time += claims.LEASE_SECONDS  # the first runner died
    taken = second.claim(key)
    assert isinstance(taken, claims.Held)
    assert isinstance(third.claim(key), claims.Other)  # one taker only
    assert first.renew(held) is False  # it learns it was taken over


# -- a backend that ignores conditional writes --------------------------------------------


class _CarelessFileSystem(LocalFileSystem):
    """A file system that writes over what exists, whatever `mode="create"` asks."""

    protocol = ("careless",)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return super()._strip_protocol(str(path).removeprefix("careless://"))

    def pipe_file(self, path: Any, value: Any, mode: str = "overwrite", **kwargs: Any) -> None:
        self.makedirs(self._parent(path), exist_ok=True)  # as object storage needs none
        super().pipe_file(path, value, mode="overwrite", **kwargs)


def test_a_remote_that_ignores_conditional_writes_gives_one_warning(
    project: Project, fake: FakeRunware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsspec.register_implementation("careless", _CarelessFileSystem, clobber=True)
    monkeypatch.setenv(PIXMAKE_REMOTE, f"careless://{tmp_path / 'careless'}")
    first = _machine(project, "first", 3, "")
    result = project.run("-C", str(first), "build", "--json")
    summary = _summary(result)
    assert (summary["generated"], summary["pushed"]) == (3, 3)
    [warning] = _warnings(result)
    assert "ignores conditional writes: two machines may pay for the same request" in warning
    assert list((tmp_path / "careless").glob("claims/*/*.json")) == []  # no claims, no probe
    second = _machine(project, "second", 3, "")  # still a cache
    assert _summary(project.run("-C", str(second), "build", "--json"))["restored"] == 3
    assert len(fake.charges()) == 3


# -- shards -------------------------------------------------------------------------------


def test_shards_build_disjoint_shares_and_a_collect_build_generates_nothing(
    project: Project, fake: FakeRunware, cache: str
) -> None:
    shares = []
    for k in (1, 2, 3):
        root = _machine(project, f"shard{k}", 30, cache)
        result = project.run("-C", str(root), "build", "--json", "--shard", f"{k}/3")
        summary = _summary(result)
        shares.append(_generated(result))
        assert summary["generated"] == len(shares[-1])
        # what an earlier shard pushed is restored, free; the rest is the others' share
        assert summary["generated"] + summary["restored"] + summary["other_shards"] == 30
        assert (summary["failed"], summary["skipped"]) == (0, 0)
    assert sum(len(s) for s in shares) == 30
    assert set().union(*shares) == {f"a{i}" for i in range(30)}
    assert all(shares)  # each shard had a share
    assert len(fake.charges()) == 30

    collect = _machine(project, "collect", 30, cache)
    summary = _summary(project.run("-C", str(collect), "build", "--json"))
    assert (summary["generated"], summary["restored"], summary["other_shards"]) == (0, 30, 0)
    assert len(json.loads((collect / "pixmake.lock").read_text())["assets"]) == 30
    assert len(fake.charges()) == 30


def test_an_asset_whose_upstream_is_another_shards_waits_for_the_collect_build(
    project: Project, cache: str
) -> None:
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(6))
    assets += "  b: {prompt: b, out: b.png, references: ['asset:a0']}\n"
    spec = f"version: 1\n{cache}assets:\n{assets}"
    roots = []
    for k in (1, 2):
        project.gen({f"s{k}/pixmake.yaml": spec})
        roots.append(project.root / f"s{k}")
    results = [
        project.run("-C", str(r), "build", "--provider", "placeholder", "--json", "--shard", s)
        for r, s in zip(roots, ("1/2", "2/2"), strict=True)
    ]
    [owner] = [r for r in results if "a0" in _generated(r)]
    [other] = [r for r in results if r is not owner]
    assert _summary(other)["other_shards"] >= 2  # a0, and b that waits on it
    skipped = [json.loads(line) for line in other.out.splitlines()]
    assert {"event": "skipped", "id": "b", "reason": "upstream `a0` is left to another "
            "shard; the collect build makes it"} in skipped  # fmt: skip
    assert _summary(other)["skipped"] == 0  # not a failure: the exit code is 0


def test_a_malformed_shard_is_a_usage_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.gen({"pixmake.yaml": "version: 1\nassets:\n  a: {prompt: a, out: a.png}\n"})
    for bad in ("3", "0/2", "3/2", "a/b"):
        with pytest.raises(SystemExit) as caught:
            project.run("build", "--shard", bad)
        assert caught.value.code == 2
        assert "argument --shard: must be K/N" in capsys.readouterr().err


# -- an interrupted build -----------------------------------------------------------------


def test_an_interrupted_build_gives_up_the_claims_of_what_it_did_not_send(
    project: Project, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claimed, then waiting for the provider's one slot when Ctrl-C came: nothing was sent
    for two of the three, so nobody (this machine's next build included) waits for their
    leases; the one sent keeps its claim, and the next build collects it."""
    clock = _Clock(monkeypatch, step=claims.POLL_SECONDS)
    with CtrlCAtFirstPoll(api_key=test_remote.KEY, processing_polls=10**9) as fake:
        monkeypatch.setenv("RUNWARE_BASE_URL", fake.url)
        monkeypatch.setenv("RUNWARE_API_KEY", test_remote.KEY)
        root = _machine(project, "interrupted", 3, cache)
        spec = (root / "pixmake.yaml").read_text()
        (root / "pixmake.yaml").write_text(
            spec.replace("{poll_interval", "{concurrency: 1, poll_interval")
        )
        assert project.run("-C", str(root), "build", "-j", "3").code == 130
        [paid] = fake.charges()  # one was sent; the others waited for the provider's slot
        remote = open_session(root).remote
        assert remote is not None
        another = claims.Claims(remote)  # another machine: it waits only for the one sent
        found = [another.claim(_key(project, root, f"a{i}")) for i in range(3)]
        assert sum(isinstance(c, claims.Other) for c in found) == 1
        for held in found:
            if isinstance(held, claims.Held):
                another.release(held)

        fake.hold(paid, 0)
        fake.processing_polls = 0
        summary = _summary(project.run("-C", str(root), "build", "--json"))
        assert (summary["generated"], summary["waited"], summary["failed"]) == (3, 0, 0)
        assert clock.waits == 0  # no claim of its own was waited for
        assert len(fake.charges()) == 3
        assert set(fake.charges().values()) == {1}  # the one sent collected, not paid again
