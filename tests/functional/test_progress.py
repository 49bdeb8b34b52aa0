"""Progress and colour: a live display on a terminal, plain lines in a pipe, NO_COLOR, --quiet."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from rich.console import Console

from pixmake.progress import LiveDisplay
from pixmake.report import ConsoleReporter
from pixmake.results import BuildResult
from pixmake.testing.fake_runware import FakeRunware
from tests.conftest import Project, serve_fake

SGR = re.compile(r"\x1b\[[0-9;]*m")  # a colour or a text style
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _three(project: Project, defaults: str = "") -> None:
    assets = "".join(f"  a{i}: {{prompt: p{i}, out: a{i}.png}}\n" for i in range(3))
    project.gen({"pixmake.yaml": f"version: 1\n{defaults}{FAST}assets:\n" + assets})


def _drive(reporter: ConsoleReporter, clock: Clock) -> None:
    reporter.start(3, 0.3)
    reporter.started("a", "generate")
    reporter.started("b", "generate")
    clock.now += 10
    reporter.finished("a", "generate", 0.1)
    reporter.failed("b", "boom")
    reporter.finished("c", "restore")
    reporter.summary(BuildResult(generated=1, restored=1, failed=1, cost_usd=0.1))


def test_a_pipe_gets_plain_lines_as_before() -> None:
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    _drive(ConsoleReporter(out, err, clock=clock), clock)
    assert out.getvalue() == (
        "3 assets to build, estimated 0.300 USD\n"
        "[1/3] generated a\n"
        "[3/3] restored c\n"
        "1 generated, 1 restored, 0 derived files, 0 fresh, 1 failed, 0.1000 USD\n"
    )
    assert err.getvalue() == "[2/3] FAILED b: boom\n"


def test_a_terminal_gets_the_live_display_with_spend_and_eta() -> None:
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    _drive(ConsoleReporter(out, err, live=True, clock=clock), clock)
    shown = err.getvalue()
    assert "\x1b[?25l" in shown  # the display took the terminal (the cursor hidden) ...
    assert shown.rindex("\x1b[?25h") > shown.rindex("\x1b[?25l")  # ... and gave it back
    assert "0/3 · 2 in flight · 0.0000 USD spent of ~0.3000 · ETA --" in shown
    # one finished in 10 s: 3 take 30 s, 20 s are left
    assert "1/3 · 1 in flight · 0.1000 USD spent of ~0.3000 · ETA 20s" in shown
    assert "3/3 · 0 in flight · 0.1000 USD spent of ~0.3000 · ETA --" in shown
    assert "[2/3] FAILED b: boom" in shown  # printed above the bar, on the same stream
    # stdout is not a terminal: it keeps its plain lines, with no display in them
    assert out.getvalue().splitlines() == [
        "3 assets to build, estimated 0.300 USD",
        "[1/3] generated a",
        "[3/3] restored c",
        "1 generated, 1 restored, 0 derived files, 0 fresh, 1 failed, 0.1000 USD",
    ]


def test_the_eta_counts_down_between_events() -> None:
    clock = Clock()
    display = LiveDisplay(
        io.StringIO(), color=False, clock=clock, console=Console(file=io.StringIO())
    )
    display.begin(4, None)
    assert display.eta() is None  # nothing finished: no pace yet
    clock.now += 30
    display.ended("a", 0.0)
    assert display.eta() == 90
    clock.now += 50
    assert display.eta() == 40
    clock.now += 100
    assert display.eta() == 0  # late, not negative
    display.stop()


def test_quiet_prints_only_failures_skips_and_the_summary() -> None:
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    reporter = ConsoleReporter(out, err, quiet=True, live=None, clock=clock)
    _drive(reporter, clock)
    reporter.skipped("d", "upstream `b` failed")
    assert out.getvalue() == (
        "1 generated, 1 restored, 0 derived files, 0 fresh, 1 failed, 0.1000 USD\n"
    )
    assert err.getvalue() == "[2/3] FAILED b: boom\n[4/3] skipped d: upstream `b` failed\n"


def test_quiet_build_from_the_command_line(project: Project) -> None:
    _three(project)
    result = project.run("build", "--provider", "placeholder", "-q")
    assert result.code == 0, result.err
    assert result.out == "3 generated, 0 restored, 0 derived files, 0 fresh, 0.0000 USD\n"
    assert result.err == ""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunware]:
    with serve_fake(monkeypatch, "sk-test-key") as server:
        yield server


def test_quiet_build_still_names_a_failure(project: Project, fake: FakeRunware) -> None:
    _three(project)
    fake.fail("status", status=400, task_type="imageInference", code="invalidPrompt")
    result = project.run("build", "-q", "-j", "1")
    assert result.code == 1
    [summary] = result.out.splitlines()
    assert summary.startswith("2 generated, 0 restored, 0 derived files, 0 fresh, 1 failed")
    [failure] = result.err.splitlines()
    assert failure.startswith("[1/3] FAILED a0: ")


def test_each_finished_generation_reports_what_it_cost(project: Project, fake: FakeRunware):
    import pixmake

    class Recording(ConsoleReporter):
        def __init__(self) -> None:
            super().__init__(io.StringIO(), io.StringIO())
            self.costs: dict[str, float] = {}

        def finished(self, asset_id: str, action: str, cost_usd: float = 0.0) -> None:
            self.costs[asset_id] = cost_usd

    _three(project)
    first = Recording()
    result = pixmake.build(project.root, reporter=first)
    assert result.cost_usd > 0
    assert sum(first.costs.values()) == pytest.approx(result.cost_usd)
    lock = project.lock()["assets"]
    assert first.costs == {i: pytest.approx(e["record"]["cost_usd"]) for i, e in lock.items()}
    (project.root / "a0.png").unlink()
    again = Recording()
    pixmake.build(project.root, reporter=again)
    assert again.costs == {"a0": 0.0}  # a restore spends nothing


# -- through a real terminal (a pty) and a real pipe --------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "120", **extra}


def _in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run pixmake with stdout and stderr on a terminal; everything it wrote, as it wrote it."""
    primary, secondary = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "pixmake", *args],
        stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, env=env,
    )  # fmt: skip
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait() == 0
    return b"".join(chunks).decode()


def test_a_build_on_a_terminal_shows_the_display(project: Project) -> None:
    _three(project)
    root = str(project.root)
    shown = _in_pty(["-C", root, "build", "--provider", "placeholder", "-j", "1"], _env())
    assert "\x1b[?25l" in shown
    assert "3/3 · 0 in flight · 0.0000 USD spent · ETA --" in shown
    assert "[3/3] generated a2" in shown
    assert shown.endswith("3 generated, 0 restored, 0 derived files, 0 fresh, 0.0000 USD\r\n")
    assert SGR.search(shown)  # the bar is coloured


def test_no_color_takes_the_colour_out_of_the_display(project: Project) -> None:
    _three(project)
    root = str(project.root)
    args = ["-C", root, "build", "--provider", "placeholder"]
    shown = _in_pty(args, _env(NO_COLOR="1"))
    assert "3/3 · 0 in flight" in shown  # still live: NO_COLOR is about colour only
    assert not SGR.search(shown)


def test_status_and_plan_colour_states_on_a_terminal_unless_no_color(project: Project) -> None:
    _three(project)
    root = str(project.root)
    assert project.run("build", "--provider", "placeholder").code == 0
    project.gen({"pixmake.yaml": (project.root / "pixmake.yaml").read_text().replace("p1", "q")})
    (project.root / "a2.png").write_bytes(b"edited by hand")
    status = _in_pty(["-C", root, "status", "--provider", "placeholder", "--all"], _env())
    assert "\x1b[32mfresh            \x1b[0ma0" in status
    assert "\x1b[33mchanged          \x1b[0ma1" in status
    assert "\x1b[31mmodified         \x1b[0ma2" in status
    plan = _in_pty(["-C", root, "plan", "--provider", "placeholder"], _env())
    assert "\x1b[33mgenerate \x1b[0ma1" in plan
    assert "\x1b[31mblocked  \x1b[0ma2" in plan
    for command in ("status", "plan"):
        plain = _in_pty(["-C", root, command, "--provider", "placeholder"], _env(NO_COLOR="x"))
        assert "\x1b[" not in plain
        assert "a1" in plain


def test_a_pipe_gets_no_colour_unless_forced(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three(project)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    piped = project.run("status", "--provider", "placeholder")
    assert piped.out.startswith("new              a0")
    assert "\x1b[" not in piped.out
    monkeypatch.setenv("FORCE_COLOR", "1")
    forced = project.run("status", "--provider", "placeholder").out
    assert forced.startswith("\x1b[33mnew              \x1b[0ma0")
    assert forced.endswith("3 assets: \x1b[33m3 new\x1b[0m\n")
    forced = project.run("plan", "--provider", "placeholder").out
    assert forced.startswith("\x1b[33mgenerate \x1b[0ma0")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in project.run("status", "--provider", "placeholder").out


@pytest.mark.parametrize("command", ["status", "build"])
def test_a_pipe_does_not_import_rich(project: Project, command: str) -> None:
    _three(project)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pixmake", "-C", str(project.root),
         command, "--provider", "placeholder"],
        capture_output=True, text=True, env=_env(), check=True,
    )  # fmt: skip
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert "pixmake.cli" in imported  # the measure works
    assert not [name for name in imported if name.split(".")[0] == "rich"]


def test_a_terminal_that_cannot_redraw_gets_plain_lines(project: Project) -> None:
    _three(project)
    args = ["-C", str(project.root), "build", "--provider", "placeholder", "-j", "1"]
    shown = _in_pty(args, _env(TERM="dumb"))
    assert "\x1b[" not in shown
    assert "[3/3] generated a2\r\n" in shown


def test_close_gives_the_terminal_back() -> None:
    """The command line closes the reporter whatever the build raised, before the error."""
    err = io.StringIO()
    reporter = ConsoleReporter(io.StringIO(), err, live=True)
    reporter.start(2, 0.0)
    reporter.close()
    shown = err.getvalue()
    assert shown.rindex("\x1b[?25h") > shown.rindex("\x1b[?25l")
    reporter.close()  # twice is harmless


@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_display_fits_the_terminal_facts_first(width: int) -> None:
    screen, clock = io.StringIO(), Clock()
    display = LiveDisplay(
        screen,
        clock=clock,
        color=True,
        console=Console(file=screen, width=width, force_terminal=True),
    )
    display.begin(120, 12.5)
    for i in range(100):
        display.started(f"a{i}")
        clock.now += 65
        display.ended(f"a{i}", 0.1)
    display.stop()
    plain = SGR.sub("", screen.getvalue())
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", plain).split("\n")
    last = next(f for f in reversed(frames) if "100/120" in f)
    assert len(last) <= width
    facts = "100/120 · 0 in flight · 10.0000 USD spent of ~12.5000 · ETA 21m 40s"
    if width >= 80:  # the bar shrinks to leave the facts whole
        assert last.endswith(" " + facts)
        assert "━" in last
    else:  # no room for a bar: the facts, cut at the end
        assert last.startswith("100/120 · 0 in flight")


def test_the_live_display_shows_the_concurrency_window() -> None:
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    reporter = ConsoleReporter(out, err, live=True, clock=clock)
    reporter.start(2, None)
    reporter.window("runware", 4)
    reporter.started("a", "generate")
    reporter.window("runware", 2)
    reporter.started("b", "generate")
    reporter.summary(BuildResult())
    shown = err.getvalue()
    assert "1 in flight (window 4)" in shown
    assert "2 in flight (window 2)" in shown
