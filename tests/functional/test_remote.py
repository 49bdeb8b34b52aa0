"""The remote cache: an S3 protocol server on loopback (moto) and a shared directory.

Each "machine" is a project directory of its own, with its own .pixmake/; they share only
the remote. Charges are read from the fake Runware server's ledger.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.registry import _registry as _fsspec_classes
from moto.server import ThreadedMotoServer

from pixmake.remote import Remote
from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, serve_fake

KEY = "sk-live-REMOTE0123456789secret"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
BUCKET = "team-cache"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedMotoServer]:
    """An S3 protocol server on 127.0.0.1, with dummy credentials in the environment."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", PIXMAKE_REMOTE):
        monkeypatch.delenv(name, raising=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    import boto3

    # moto keeps its buckets in the process, whatever server serves them: start empty
    httpx.post(f"{_endpoint(server)}/moto-api/reset").raise_for_status()
    boto3.client("s3", endpoint_url=_endpoint(server)).create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


PIXMAKE_REMOTE = "PIXMAKE_REMOTE"


def _endpoint(server: ThreadedMotoServer) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def _s3_cache(endpoint: str) -> str:
    return f"cache:\n  remote: s3://{BUCKET}/pixmake\n  options: {{endpoint_url: '{endpoint}'}}\n"


@pytest.fixture(params=["s3", "directory"])
def cache(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The spec's `cache:` section for a remote of each backend (empty: PIXMAKE_REMOTE)."""
    if request.param == "s3":
        server = request.getfixturevalue("moto")
        return _s3_cache(_endpoint(server))
    monkeypatch.setenv(PIXMAKE_REMOTE, str(tmp_path / "shared"))
    return ""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _machine(project: Project, name: str, count: int, cache: str) -> Path:
    """A project directory of its own (its own .pixmake/) with `count` assets."""
    root = project.root / name
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(count))
    project.gen({f"{name}/pixmake.yaml": f"version: 1\n{FAST}{cache}assets:\n{assets}"})
    return root


def _build(project: Project, root: Path, *args: str) -> tuple[dict[str, Any], list[str]]:
    """The summary, and the warning lines, of a build."""
    result = project.run("-C", str(root), "build", "--json", *args)
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    return result.last_json(), warnings


def _placeholder(project: Project, root: Path) -> dict[str, Any]:
    result = project.run("-C", str(root), "build", "--provider", "placeholder", "--json")
    assert result.code == 0, result.err
    summary: dict[str, Any] = result.last_json()
    return summary


def test_a_second_machine_builds_free_from_the_remote(
    project: Project, fake: FakeRunware, cache: str
) -> None:
    first = _machine(project, "first", 4, cache)
    summary, warnings = _build(project, first)
    assert (summary["generated"], summary["pushed"], warnings) == (4, 4, [])
    charged = fake.charges()
    assert len(charged) == 4

    second = _machine(project, "second", 4, cache)  # no lock, no outputs, no .pixmake/
    summary, warnings = _build(project, second)
    assert (summary["generated"], summary["restored"], summary["cost_usd"]) == (0, 4, 0)
    assert warnings == []
    assert fake.charges() == charged  # not one request paid again
    for i in range(4):
        assert (second / f"a{i}.png").read_bytes() == (first / f"a{i}.png").read_bytes()
    locked = json.loads((second / "pixmake.lock").read_text())["assets"]
    assert locked == json.loads((first / "pixmake.lock").read_text())["assets"]
    assert project.run("-C", str(second), "status", "--json").json()["counts"]["fresh"] == 4


def test_status_says_the_remote_has_it(project: Project, cache: str) -> None:
    first = _machine(project, "first", 2, cache)
    assert _placeholder(project, first)["generated"] == 2
    second = _machine(project, "second", 2, cache)
    states = project.run("-C", str(second), "plan", "--provider", "placeholder", "--json").json()
    for asset in states["assets"]:
        assert asset["action"] == "restore"
        assert any("remote cache" in reason for reason in asset["reasons"])


def test_a_changed_request_is_generated_and_shared(
    project: Project, fake: FakeRunware, cache: str
) -> None:
    first = _machine(project, "first", 2, cache)
    _build(project, first)
    second = _machine(project, "second", 3, cache)  # one asset more
    summary, _ = _build(project, second)
    assert (summary["generated"], summary["restored"]) == (1, 2)
    assert len(fake.charges()) == 3
    third = _machine(project, "third", 3, cache)
    assert _build(project, third)[0]["generated"] == 0
    assert len(fake.charges()) == 3


def test_cache_push_status_and_pull(project: Project, cache: str, monkeypatch: Any) -> None:
    """What was built before the remote existed goes up with `cache push`; a machine that has
    only the lock gets the images with `cache pull`."""
    remote = dict(__import__("os").environ).get(PIXMAKE_REMOTE)
    monkeypatch.delenv(PIXMAKE_REMOTE, raising=False)
    first = _machine(project, "first", 3, "")
    assert _placeholder(project, first)["generated"] == 3
    (first / "pixmake.yaml").write_text((first / "pixmake.yaml").read_text() + cache)
    if remote is not None:
        monkeypatch.setenv(PIXMAKE_REMOTE, remote)

    status = project.run("-C", str(first), "cache", "status", "--json")
    assert status.code == 0, status.err
    assert status.json()["reachable"] is True
    assert (status.json()["objects"], status.json()["objects_missing"]) == (0, 3)
    assert (status.json()["actions"], status.json()["actions_missing"]) == (0, 3)
    pushed = project.run("-C", str(first), "cache", "push")
    assert pushed.code == 0, pushed.err
    assert "pushed 3 images and 3 entries" in pushed.out
    status = project.run("-C", str(first), "cache", "status", "--json").json()
    assert (status["objects"], status["objects_missing"], status["actions_missing"]) == (3, 0, 0)
    assert "pushed 0 images and 0 entries" in project.run("-C", str(first), "cache", "push").out

    second = project.root / "second"
    second.mkdir()
    for name in ("pixmake.yaml", "pixmake.lock"):
        shutil.copy(first / name, second / name)
    pulled = project.run("-C", str(second), "cache", "pull")
    assert pulled.code == 0, pulled.err
    assert "pulled 3 images" in pulled.out
    assert len(list((second / ".pixmake/objects").rglob("*"))) >= 3
    summary = _placeholder(project, second)
    assert (summary["generated"], summary["restored"]) == (0, 3)


def test_cache_commands_need_a_remote(project: Project, monkeypatch: Any) -> None:
    monkeypatch.delenv(PIXMAKE_REMOTE, raising=False)
    root = _machine(project, "alone", 1, "")
    result = project.run("-C", str(root), "cache", "status")
    assert result.code == 2
    assert "no remote cache is configured" in result.err
    assert "fix: add `cache: {remote:" in result.err


def test_a_misspelt_cache_key_is_named(project: Project, monkeypatch: Any) -> None:
    monkeypatch.delenv(PIXMAKE_REMOTE, raising=False)
    root = _machine(project, "typo", 1, "cache:\n  remot: s3://bucket/x\n")
    result = project.run("-C", str(root), "status")
    assert result.code == 2
    assert "pixmake.yaml:5: cache.remot: unknown key `remot`" in result.err
    assert "did you mean `remote`?" in result.err


# -- a remote that fails ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_remote_that_is_down_gives_one_warning(
    project: Project, fake: FakeRunware, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Credentials in the URL itself must never be shown or written.
    url = f"s3://AKIAUSERINFO:hunter2secret@{BUCKET}/pixmake?token=querysecret"
    monkeypatch.setenv(PIXMAKE_REMOTE, url)
    root = _machine(project, "offline", 3, _s3_cache(f"http://127.0.0.1:{_closed_port()}"))
    summary, warnings = _build(project, root)
    assert (summary["generated"], summary["failed"], summary["pushed"]) == (3, 0, 0)
    assert len(fake.charges()) == 3
    [warning] = warnings
    assert f"remote cache s3://{BUCKET}/pixmake is unreachable" in warning
    everything = warning + "".join(
        p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()
    )
    for secret in ("hunter2secret", "querysecret", "AKIAUSERINFO"):
        assert secret not in everything
    assert project.run("-C", str(root), "cache", "status").code == 1


def test_a_bucket_that_does_not_exist_gives_one_warning(
    project: Project, moto: ThreadedMotoServer
) -> None:
    cache = _s3_cache(_endpoint(moto)).replace(BUCKET, "no-such-bucket")
    root = _machine(project, "nobucket", 2, cache)
    summary = project.run("-C", str(root), "build", "--provider", "placeholder", "--json")
    assert summary.code == 0, summary.err
    assert (summary.last_json()["generated"], summary.last_json()["pushed"]) == (2, 0)
    [warning] = [line for line in summary.err.splitlines() if line.startswith("warning:")]
    assert "remote cache s3://no-such-bucket/pixmake does not exist" in warning
    status = project.run("-C", str(root), "cache", "status")
    assert status.code == 1
    assert "does not exist" in status.out


class _StopsTheRemote(FakeRunware):
    """Stops the S3 server as soon as the first image is paid for."""

    remote: ThreadedMotoServer | None = None

    def handle(self, tasks: list[Any], authorised: bool) -> tuple[int, dict[str, Any]]:
        answer = super().handle(tasks, authorised)
        if self.ledger and self.remote is not None:
            self.remote.stop()
            self.remote = None
        return answer


def test_a_remote_killed_mid_build(
    project: Project, moto: ThreadedMotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _StopsTheRemote(api_key=KEY) as fake:
        monkeypatch.setenv("RUNWARE_BASE_URL", fake.url)
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        fake.remote = moto
        root = _machine(project, "killed", 4, _s3_cache(_endpoint(moto)))
        summary, warnings = _build(project, root, "-j", "1")
        assert fake.remote is None  # it was stopped during the build
        assert (summary["generated"], summary["failed"], summary["skipped"]) == (4, 0, 0)
        assert len(fake.charges()) == 4
        assert len(warnings) == 1
        assert "remote cache s3://team-cache/pixmake" in warnings[0]
        assert project.run("-C", str(root), "status", "--json").json()["counts"]["fresh"] == 4
    moto.start()  # for the fixture to stop


# -- first writer wins ------------------------------------------------------------------------


def _entry(digest: str) -> dict[str, Any]:
    output = {"hash": digest, "bytes": 1, "width": 8, "height": 8}
    return {"outputs": [output], "record": {"provider": "runware"}}


@pytest.mark.parametrize("backend", ["s3", "directory"])
def test_the_first_writer_of_an_entry_wins(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "s3":
        endpoint = _endpoint(request.getfixturevalue("moto"))
        url, options = f"s3://{BUCKET}/race", {"endpoint_url": endpoint}
    else:
        url, options = str(tmp_path / "shared"), {}
    one = Remote(url, options, tmp_path)
    other = Remote(url, options, tmp_path)  # another machine
    key = "k" * 32
    assert one.put_action_if_absent(key, _entry("a" * 32)) == _entry("a" * 32)
    assert other.put_action_if_absent(key, _entry("b" * 32)) == _entry("a" * 32)
    assert other.get_action(key) == _entry("a" * 32)
    assert one.problem is None
    assert other.problem is None


def test_content_is_verified_when_fetched(tmp_path: Path) -> None:
    remote = Remote(str(tmp_path / "shared"), {}, tmp_path)
    data = b"an image"
    from pixmake.hashing import content_hash

    digest = content_hash(data)
    assert remote.put_object(digest, data)
    assert remote.get_object(digest) == data
    (tmp_path / "shared/objects" / digest[:2] / digest).write_bytes(b"tampered")
    with pytest.warns(UserWarning, match="does not have the content its name says"):
        assert Remote(str(tmp_path / "shared"), {}, tmp_path).get_object(digest) is None


# -- laziness ---------------------------------------------------------------------------------


def test_a_no_op_status_does_not_import_fsspec(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PIXMAKE_REMOTE, str(tmp_path / "shared"))
    root = _machine(project, "lazy", 2, "")
    assert _placeholder(project, root)["pushed"] == 2
    code = (
        "import sys, json; from pixmake.cli import main; code = main(sys.argv[1:]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('fsspec'))))"
    )
    for _ in range(2):  # the first records the answer in the trace, the second uses it
        done = subprocess.run(
            [sys.executable, "-c", code, "-C", str(root), "status", "--provider", "placeholder"],
            capture_output=True,
            text=True,
        )
    assert "2 fresh" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# -- configuration ----------------------------------------------------------------------------


def test_the_environment_alone_configures_s3(
    project: Project, moto: ThreadedMotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PIXMAKE_REMOTE, f"s3://{BUCKET}/from-env")
    monkeypatch.setenv("AWS_ENDPOINT_URL", _endpoint(moto))  # read by botocore itself
    first = _machine(project, "first", 2, "")
    assert _placeholder(project, first)["pushed"] == 2
    second = _machine(project, "second", 2, "")
    assert _placeholder(project, second)["restored"] == 2


def test_pixmake_remote_wins_over_the_spec(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = f"cache:\n  remote: {tmp_path / 'in-spec'}\n"
    monkeypatch.setenv(PIXMAKE_REMOTE, str(tmp_path / "in-env"))
    root = _machine(project, "first", 1, spec)
    assert _placeholder(project, root)["pushed"] == 1
    assert (tmp_path / "in-env/objects").is_dir()
    assert not (tmp_path / "in-spec").exists()
    monkeypatch.setenv(PIXMAKE_REMOTE, "off")
    other = _machine(project, "other", 2, spec)
    assert _placeholder(project, other)["pushed"] == 0
    assert not (tmp_path / "in-spec").exists()


# -- a remote that fails: the shared directory, and access refused ------------------------------


class _BreaksTheDirectory(FakeRunware):
    """Replaces the shared directory by a plain file as soon as the first image is paid for
    (the mount went away): nothing can be written there any more."""

    shared: Path | None = None

    def handle(self, tasks: list[Any], authorised: bool) -> tuple[int, dict[str, Any]]:
        answer = super().handle(tasks, authorised)
        if self.ledger and self.shared is not None:
            shutil.rmtree(self.shared)
            self.shared.write_text("not a directory")
            self.shared = None
        return answer


def test_a_shared_directory_lost_mid_build(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    with _BreaksTheDirectory(api_key=KEY) as fake:
        monkeypatch.setenv("RUNWARE_BASE_URL", fake.url)
        monkeypatch.setenv("RUNWARE_API_KEY", KEY)
        monkeypatch.setenv(PIXMAKE_REMOTE, str(shared))
        fake.shared = shared
        root = _machine(project, "lost", 4, "")
        summary, warnings = _build(project, root, "-j", "1")
        assert fake.shared is None  # it went away during the build
        assert (summary["generated"], summary["failed"], summary["skipped"]) == (4, 0, 0)
        assert len(fake.charges()) == 4
        [warning] = warnings
        assert f"remote cache {shared}" in warning
        assert project.run("-C", str(root), "status", "--json").json()["counts"]["fresh"] == 4
        # back: `cache push` (the CI recipe's step after each shard) sends what was not pushed
        shared.unlink()
        pushed = project.run("-C", str(root), "cache", "push")
        assert pushed.code == 0, pushed.err
        assert f"pushed 4 images and 4 entries to {shared}" in pushed.out
        other = _machine(project, "other", 4, "")
        assert _build(project, other)[0]["restored"] == 4
        assert len(fake.charges()) == 4


class _LockedFileSystem(LocalFileSystem):
    """A backend whose every call is refused, as a store whose credentials are wrong."""

    protocol = ("locked",)

    def __getattribute__(self, name: str) -> Any:
        if name in ("exists", "cat_file", "pipe_file", "find", "rm_file", "info"):

            def refused(*args: Any, **kwargs: Any) -> Any:
                raise PermissionError(13, "Access Denied")

            return refused
        return super().__getattribute__(name)


def test_a_remote_that_refuses_access_gives_one_warning(
    project: Project, fake: FakeRunware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsspec.register_implementation("locked", _LockedFileSystem, clobber=True)
    monkeypatch.setenv(PIXMAKE_REMOTE, f"locked://{tmp_path / 'locked'}")
    root = _machine(project, "refused", 3, "")
    summary, warnings = _build(project, root)
    assert (summary["generated"], summary["failed"], summary["pushed"]) == (3, 0, 0)
    assert len(fake.charges()) == 3
    [warning] = warnings
    assert f"remote cache locked://{tmp_path / 'locked'} refused access" in warning
    status = project.run("-C", str(root), "cache", "status")
    assert status.code == 1
    assert "refused access" in status.out


def test_s3_credentials_refused_give_one_warning(
    project: Project, moto: ThreadedMotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto checks the credentials once its authorisation is on: ours are unknown to it."""
    from moto import settings

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    root = _machine(project, "denied", 2, _s3_cache(_endpoint(moto)))
    summary = project.run("-C", str(root), "build", "--provider", "placeholder", "--json")
    assert summary.code == 0, summary.err
    assert (summary.last_json()["generated"], summary.last_json()["pushed"]) == (2, 0)
    [warning] = [line for line in summary.err.splitlines() if line.startswith("warning:")]
    assert f"remote cache s3://{BUCKET}/pixmake refused access" in warning
    assert "testing-secret" not in summary.err


@pytest.mark.parametrize(
    ("missing", "url", "fix"),
    [
        ("fsspec", "s3://bucket/prefix", "pip install 'pixmake[remote]'"),
        ("s3fs", "s3://bucket/prefix", "pip install 'pixmake[s3]'"),
        ("gcsfs", "gs://bucket/prefix", "install gcsfs"),  # as fsspec says it
        ("s3fs", "/a/shared/directory", None),  # needs none
    ],
)
def test_a_backend_that_is_not_installed_is_named(
    project: Project, monkeypatch: pytest.MonkeyPatch, missing: str, url: str, fix: str | None
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # as if it was never installed
    for protocol in ("s3", "gs"):  # nor imported before
        monkeypatch.delitem(_fsspec_classes, protocol, raising=False)
    monkeypatch.setenv(PIXMAKE_REMOTE, url if fix else str(project.root / "shared"))
    root = _machine(project, "bare", 1, "")
    summary = project.run("-C", str(root), "build", "--provider", "placeholder", "--json")
    assert summary.code == 0, summary.err
    warnings = [line for line in summary.err.splitlines() if line.startswith("warning:")]
    if fix is None:
        assert (warnings, summary.last_json()["pushed"]) == ([], 1)
        return
    [warning] = warnings
    assert f"remote cache {url} needs a package that is not installed" in warning
    assert fix in warning
    status = project.run("-C", str(root), "cache", "status")
    assert status.code == 1
    assert fix in status.out


class _CountingFileSystem(LocalFileSystem):
    """A shared directory that counts the requests a remote backend would be sent (a call
    made inside another, such as `cat` reading each file, is part of that one)."""

    protocol = ("counting",)
    calls: list[str] = []  # noqa: RUF012 (one list for the test that reads it)

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if name not in ("exists", "cat_file", "cat", "find", "info", "ls", "open"):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            inside = _CountingFileSystem.depth > 0
            if not inside:
                _CountingFileSystem.calls.append(name)
            _CountingFileSystem.depth += 1
            try:
                return found(*args, **kwargs)
            finally:
                _CountingFileSystem.depth -= 1

        return counted

    depth = 0


def test_planning_asks_the_remote_for_every_asset_at_once(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that restores many assets from the remote (the collect job after sharded
    builds) lists the remote and fetches the entries together: a few requests, not two for
    each asset (each a round trip to S3)."""
    shared = tmp_path / "shared"
    monkeypatch.setenv(PIXMAKE_REMOTE, str(shared))
    first = _machine(project, "first", 12, "")
    assert _placeholder(project, first)["generated"] == 12
    fsspec.register_implementation("counting", _CountingFileSystem, clobber=True)
    monkeypatch.setenv(PIXMAKE_REMOTE, f"counting://{shared}")
    _CountingFileSystem.calls.clear()
    second = _machine(project, "second", 12, "")
    planned = project.run("-C", str(second), "plan", "--provider", "placeholder", "--json")
    assert [a["action"] for a in planned.json()["assets"]] == ["restore"] * 12
    assert sorted(_CountingFileSystem.calls) == ["cat", "find", "find"]
    assert _placeholder(project, second)["restored"] == 12
    for i in range(12):
        assert (second / f"a{i}.png").read_bytes() == (first / f"a{i}.png").read_bytes()


def test_an_entry_made_after_the_listing_is_found_before_paying(tmp_path: Path) -> None:
    """Planning trusts one listing; the build reads the entry again when it claims a key,
    so an entry another machine made since is used, not paid for again."""
    mine, theirs = (Remote(str(tmp_path / "shared"), {}, tmp_path) for _ in range(2))
    key = "ab" * 16
    mine.prefetch([key])
    assert mine.lookup_action(key) is None  # not listed: planned as to generate
    assert theirs.push(key, _entry("cd" * 16), {"cd" * 16: lambda: b"image"})
    assert mine.lookup_action(key) is None
    assert mine.get_action(key) == _entry("cd" * 16)  # what a claim reads before paying
