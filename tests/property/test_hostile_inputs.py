"""Hostile inputs: damaged specs, data tables, lockfiles and journals never crash a command.

For every generated input, each command exits 0, 1 or 2 without a traceback, and a lockfile
pixmake wrote is valid JSON that `pixmake status` reads.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixmake.cli import main
from tests.conftest import png_bytes

COMMANDS = (
    ["status"],
    ["plan"],
    ["build", "--provider", "placeholder"],
    ["check"],
    ["prune", "--dry-run"],
)

SPEC: dict[str, Any] = {
    "version": 1,
    "defaults": {"model": "gpt-image-1-mini", "size": "1024x1024", "quality": "low"},
    "vars": {"palette": "forest green"},
    "data": {"items": "data/items.csv"},
    "assets": {
        "hero": {"prompt": "a hero in {{ palette }}", "out": "hero.png", "provider": "placeholder"},
        "icon-{{ item.slug }}": {
            "for_each": "items",
            "prompt": "an icon of {{ item.name }}",
            "references": ["refs/style.png", "asset:hero"],
            "provider": "placeholder",
            "out": "icons/{{ item.slug }}.png",
            "derive": [{"resize": 32, "out": "icons/32/{{ item.slug }}.webp", "quality": 80}],
        },
    },
}
CSV = "slug,name\nsword,short sword\nshield,round shield\n"

SETTINGS = settings(
    database=None,
    derandomize=True,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- values and damage ------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "../x.png", "/etc/x.png", "{{ nope }}", "a.png", "1024x1024", "asset:"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists, the root excluded."""
    found: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    for key, value in items:
        found.append((*prefix, key))
        found += _paths(value, (*prefix, key))
    return found


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _replace(copy[path[0]], path[1:], value)
    return copy


@st.composite
def mistyped(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one to three of its values (at any depth) replaced by random ones."""
    data = base
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        data = _replace(data, draw(st.sampled_from(paths)), draw(values))
    return data


@st.composite
def damaged_text(draw: st.DrawFn, text: str) -> bytes:
    """`text` as bytes, maybe truncated, maybe with bytes that are not UTF-8 spliced in."""
    data = text.encode("utf-8")
    kind = draw(st.sampled_from(["as-is", "truncated", "not-utf-8", "both"]))
    if kind in ("truncated", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    if kind in ("not-utf-8", "both"):
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x80\x80", b"\x00"])) + data[at:]
        )
    return data


def _dump(spec: Any) -> str:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


# -- the harness ------------------------------------------------------------------------------


def run(root: Path, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(root), *args])
    return code, out.getvalue() + err.getvalue()


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def fresh_project(root: Path) -> None:
    write(
        root,
        {"pixmake.yaml": _dump(SPEC), "data/items.csv": CSV, "refs/style.png": png_bytes()},
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project built once with the placeholder provider: copied for every example."""
    root = tmp_path_factory.mktemp("built")
    fresh_project(root)
    code, output = run(root, "build", "--provider", "placeholder")
    assert code == 0, output
    return root


def example(tmp_path_factory: pytest.TempPathFactory, base: Path | None = None) -> Path:
    root = tmp_path_factory.mktemp("example")
    if base is None:
        fresh_project(root)
    else:
        shutil.rmtree(root)
        shutil.copytree(base, root)
    return root


def check_every_command(root: Path, given_lock: bytes | None = None) -> None:
    """Every command: exit 0, 1 or 2, never a traceback; a lock written is read back."""
    lock = root / "pixmake.lock"
    for command in COMMANDS:
        code, output = run(root, *command)
        assert code in (0, 1, 2), (command, code, output)
        assert "Traceback" not in output, (command, output)
        assert "this is a bug" not in output, (command, output)
        if lock.exists() and lock.read_bytes() != given_lock:
            json.loads(lock.read_text(encoding="utf-8"))
            code, output = run(root, "status")
            assert code in (0, 1, 2), output
            assert "error: pixmake.lock" not in output, (command, output)


# -- the properties ---------------------------------------------------------------------------


@SETTINGS
@given(spec=mistyped(SPEC))
def test_a_spec_with_mistyped_fields(
    tmp_path_factory: pytest.TempPathFactory, spec: dict[str, Any]
) -> None:
    root = example(tmp_path_factory)
    write(root, {"pixmake.yaml": _dump(spec)})
    check_every_command(root)


@SETTINGS
@given(data=damaged_text(_dump(SPEC)))
def test_a_spec_truncated_or_not_utf8(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    root = example(tmp_path_factory)
    write(root, {"pixmake.yaml": data})
    check_every_command(root)


csv_cells = st.one_of(
    st.text(max_size=8), st.sampled_from(["", "sword", "../up", "a/b", '"', ",", "{{ x }}"])
)
csv_tables = st.one_of(
    st.lists(st.lists(csv_cells, max_size=4), max_size=5).map(
        lambda rows: "\n".join(",".join(row) for row in rows)
    ),
    st.text(max_size=60),
)


@SETTINGS
@given(table=csv_tables, raw=st.booleans())
def test_a_data_table_of_any_shape(
    tmp_path_factory: pytest.TempPathFactory, table: str, raw: bool, built: Path
) -> None:
    root = example(tmp_path_factory, built)
    header = "" if raw else "slug,name\n"
    write(root, {"data/items.csv": header + table})
    check_every_command(root)


@SETTINGS
@given(data=st.data())
def test_a_lockfile_mistyped_or_truncated(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, built: Path
) -> None:
    root = example(tmp_path_factory, built)
    lock = json.loads((root / "pixmake.lock").read_text(encoding="utf-8"))
    damaged = data.draw(mistyped(lock), label="lock")
    text = json.dumps(damaged, indent=2, sort_keys=data.draw(st.booleans(), label="sorted"))
    payload = data.draw(damaged_text(text + "\n"), label="bytes")
    (root / "pixmake.lock").write_bytes(payload)
    check_every_command(root, payload)


journal_events = st.one_of(
    st.fixed_dictionaries(
        {"t": st.sampled_from(["task", "done", "task_end", "other"])},
        optional={"id": values, "key": values, "task": values, "entry": values},
    ),
    values,
)


@st.composite
def journals(draw: st.DrawFn, entry: dict[str, Any]) -> bytes:
    lines = []
    for event in draw(st.lists(journal_events, max_size=4)):
        lines.append(json.dumps(event).encode())
    if draw(st.booleans()):  # a finished asset with a mistyped entry
        done = {"t": "done", "id": "hero", "entry": draw(mistyped(entry))}
        lines.append(json.dumps(done).encode())
    data = b"\n".join(lines) + b"\n"
    return draw(st.sampled_from([data, data[: draw(st.integers(0, len(data)))], data + b"\xff"]))


@SETTINGS
@given(data=st.data())
def test_a_journal_of_any_lines(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, built: Path
) -> None:
    root = example(tmp_path_factory, built)
    entry = json.loads((root / "pixmake.lock").read_text(encoding="utf-8"))["assets"]["hero"]
    (root / ".pixmake" / "journal.jsonl").write_bytes(data.draw(journals(entry), label="journal"))
    check_every_command(root)
