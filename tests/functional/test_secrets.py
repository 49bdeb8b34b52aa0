"""The API key never leaves: not in plain or `--json` output, errors, journal, lock or trace,
whatever the server echoes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, serve_fake

KEY = "sk-live-REDACTME0123456789secret"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
SPEC = (
    "version: 1\n"
    + FAST
    + "assets:\n"
    + "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(3))
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, KEY) as server:
        yield server


def _everything_written(root: Path) -> str:
    return "\n".join(
        p.read_bytes().decode(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".png"
    )


@pytest.mark.parametrize("status", [401, 400, 500])
@pytest.mark.parametrize("json_output", [False, True])
def test_a_key_echoed_by_the_server_is_redacted_everywhere(
    fake: FakeRunware, project: Project, status: int, json_output: bool
) -> None:
    project.gen({"pixmake.yaml": SPEC})
    fake.fail(
        "echo_key", times=3 if status < 500 else 20, status=status, task_type="imageInference"
    )
    result = project.run("build", *(["--json"] if json_output else []))
    assert result.code in (1, 2), result.err
    shown = result.out + result.err
    assert "Invalid API key: Bearer [redacted]" in shown
    assert KEY not in shown
    assert KEY[8:20] not in shown  # not even a part of it
    assert KEY not in _everything_written(project.root)
    again = project.run("build", "--json")  # the server is fine again: nothing recorded leaks
    assert again.code == 0, again.err
    assert KEY not in again.out + again.err
    assert KEY not in _everything_written(project.root)
    assert (project.root / "pixmake.lock").exists()
