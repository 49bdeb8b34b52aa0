"""Shared fixtures: an isolated environment, and a project builder that drives the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pixmake.cli import main
from pixmake.testing.fake_runware import FakeRunware


@pytest.fixture(autouse=True)
def _ctrl_c_interrupts() -> Iterator[None]:
    """A Ctrl-C (SIGINT) raises KeyboardInterrupt, as in a terminal, however the tests were
    started: a shell starts a background job with SIGINT ignored, and then the tests that
    interrupt a build with a real SIGINT would wait for it for ever."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the real API or a real remote cache: every RUNWARE_* variable and
    PIXMAKE_REMOTE are removed."""
    for name in list(os.environ):
        if name.startswith("RUNWARE_") or name == "PIXMAKE_REMOTE":
            monkeypatch.delenv(name)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def last_json(self) -> Any:
        return json.loads(self.out.strip().splitlines()[-1])


class Project:
    """A temporary project: write files with `gen`, run pixmake with `run`."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self._capsys = capsys

    def gen(self, files: dict[str, str | bytes]) -> None:
        for rel, content in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    def run(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main(["-C", str(self.root), *args])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def build(self, *args: str) -> dict[str, Any]:
        result = self.run("build", "--provider", "placeholder", "--json", *args)
        assert result.code in (0, 1), result.err
        summary: dict[str, Any] = result.last_json()
        return summary

    def status(self) -> dict[str, dict[str, Any]]:
        result = self.run("status", "--provider", "placeholder", "--json")
        assert result.code == 0, result.err
        return {a["id"]: a for a in result.json()["assets"]}

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def lock(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / "pixmake.lock").read_text())
        return data

    def tree(self) -> dict[str, tuple[int, int]]:
        """Every file with its size and mtime, to prove that a command wrote nothing."""
        out = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                st = path.stat()
                out[str(path.relative_to(self.root))] = (st.st_size, st.st_mtime_ns)
        return out


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Project:
    return Project(tmp_path, capsys)


def png_bytes(size: tuple[int, int] = (8, 8), color: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


ICONS_SPEC = """\
version: 1
defaults:
  model: gpt-image-1-mini
  quality: low
vars:
  palette: forest green
data:
  items: data/items.csv
assets:
  "icon-{{ item.slug }}":
    for_each: items
    prompt: "{% include 'prompts/icon.j2' %}"
    references: [refs/style.png]
    background: transparent
    out: "icons/{{ item.slug }}.png"
    derive:
      - {resize: 64, out: "icons/64/{{ item.slug }}.png"}
"""
ICONS_CSV = "slug,name\nsword,short sword\nshield,round shield\npotion,health potion\n"
ICONS_TEMPLATE = "A {{ item.name }} icon, palette {{ palette }}\n"


@pytest.fixture
def icons(project: Project) -> Project:
    project.gen(
        {
            "pixmake.yaml": ICONS_SPEC,
            "data/items.csv": ICONS_CSV,
            "prompts/icon.j2": ICONS_TEMPLATE,
            "refs/style.png": png_bytes(),
        }
    )
    return project


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def copy_example(name: str, root: Path) -> None:
    """An example as committed: without outputs, lockfile or state of local runs."""
    ignored = shutil.ignore_patterns(".pixmake", "pixmake.lock", "site", "icons", "labels")
    shutil.copytree(EXAMPLES / name, root, dirs_exist_ok=True, ignore=ignored)


@contextmanager
def serve_fake(monkeypatch: pytest.MonkeyPatch, key: str) -> Iterator[FakeRunware]:
    """The fake Runware server on 127.0.0.1, with pixmake's environment pointed at it."""
    with FakeRunware(api_key=key) as server:
        monkeypatch.setenv("RUNWARE_BASE_URL", server.url)
        monkeypatch.setenv("RUNWARE_API_KEY", key)
        yield server


def git(root: Path, *args: str) -> str:
    """Run git in `root` (see the `git_identity` fixture); its output."""
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """git with a fixed author and committer, and no user or system configuration."""
    for name, value in {
        "HOME": str(tmp_path_factory.mktemp("home")),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@example.invalid",
        "GIT_COMMITTER_NAME": "A",
        "GIT_COMMITTER_EMAIL": "a@example.invalid",
    }.items():
        monkeypatch.setenv(name, value)
