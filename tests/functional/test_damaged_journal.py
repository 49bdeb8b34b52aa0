"""A damaged journal line is reported with its line number and skipped; the project works."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pixmake.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "game-icons"

DAMAGED = [
    b"123",
    b"null",
    b'{"t":"done"}',
    b'{"t":"done","id":"icon-sword","entry":[1]}',
    b'{"t":"done","id":7,"entry":{}}',
    b'{"t":"task","key":"k","id":"x","task":null}',
    b'{"t":"task_end"}',
    b'{"t":"what"}',
    b'{"t":"do',
    b"\xff\xfe not utf-8",
]


@pytest.mark.parametrize("line", DAMAGED)
def test_every_command_goes_on_past_a_damaged_journal_line(
    tmp_path: Path, line: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".pixmake"))
    assert main(["-C", str(project), "build", "--provider", "placeholder"]) == 0
    journal = project / ".pixmake" / "journal.jsonl"
    journal.write_bytes(b'{"t":"task_end","key":"k"}\n' + line + b"\n")
    capsys.readouterr()
    assert main(["-C", str(project), "status", "--provider", "placeholder"]) == 0
    err = capsys.readouterr().err
    assert ".pixmake/journal.jsonl:2:" in err
    assert "Traceback" not in err
    assert main(["-C", str(project), "build", "--provider", "placeholder"]) == 0
    assert main(["-C", str(project), "check", "--provider", "placeholder"]) == 0


def test_a_line_torn_by_a_killed_run_does_not_swallow_the_next_event(tmp_path: Path) -> None:
    from pixmake.store import Store

    store = Store(tmp_path)
    store.ensure_dir()
    torn = b'{"t":"task","key":"a","id":"x","ta'  # a killed run's last write, no newline
    (tmp_path / ".pixmake" / "journal.jsonl").write_bytes(torn)
    event = {"t": "task", "key": "b", "id": "y", "task": {"taskUUID": "u"}}
    store.append_journal(event)
    store.close_journal()
    with pytest.warns(Warning, match="journal.jsonl:1"):
        assert store.read_journal() == [event]
