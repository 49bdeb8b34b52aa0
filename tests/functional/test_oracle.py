"""Remembering may change the speed of an answer, never the answer.

Random sequences of edits (rows changed, added, removed, reordered and renamed; templates that
read `data`, `index`, `vars` or include the table; an include list whose first file comes and
goes; references switched between files (the table too), URLs, assets and outputs; outputs
deleted or edited in place within the tick of their write; builds and the passing of time in
between). After each edit, `status --json` and `check` with the trace give exactly what they
give with PIXMAKE_NO_TRACE=1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pixmake.cli import main
from pixmake.trace import DISABLE
from tests.conftest import png_bytes

SPEC = """\
version: 1
defaults: {model: gpt-image-1-mini, quality: low, provider: placeholder}
vars:
  palette: forest green
data:
  items: data/items.csv
assets:
  hero:
    prompt: "A hero banner, {{ palette }}"
    out: out/hero.png
  "icon-{{ item.slug }}":
    for_each: items
    prompt: "{% include ['prompts/extra.j2', 'prompts/base.j2'] %}"
    references: ["{{ item.ref }}"]
    out: "icons/{{ item.slug }}.png"
    derive:
      - {resize: 64, out: "icons/64/{{ item.slug }}.png"}
"""
TEMPLATES = [
    "A {{ item.name }} icon, {{ palette }}",
    "Icon number {{ index }}: {{ item.name }}",
    "{{ item.name }}, one of {{ data['items'] | length }}",
    "{% if index is even %}{{ item.name }}{% else %}{{ item.name | upper }}{% endif %}",
    "{{ item.name }}, from {% include 'data/items.csv' %}",  # the table read whole
]
REFS = ["refs/a.png", "refs/b.png", "https://example.com/x.png", "asset:hero", "out/hero.png"]
REFS += ["data/items.csv"]  # the table, as a file: every line is an input of the row's asset
SLUGS = ["sword", "shield", "potion", "bow", "axe"]
SETTINGS = [
    "",
    "    candidates: 2\n",
    "    safety: {check: true}\n",
    "    ttl: 3600\n",
]  # the series'


class World:
    """The project and its edits; rows are (slug, name, ref)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows = [["sword", "short sword", REFS[0]], ["shield", "round shield", REFS[1]]]
        self.palette = "forest green"
        self.setting = SETTINGS[0]
        self._write("pixmake.yaml", SPEC)
        self._write("prompts/base.j2", TEMPLATES[0])
        self._write("refs/a.png", png_bytes(color=(1, 2, 3)))
        self._write("refs/b.png", png_bytes(color=(4, 5, 6)))
        self._table()

    def _write(self, rel: str, content: str | bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)

    def _table(self) -> None:
        lines = ["slug,name,ref", *(",".join(row) for row in self.rows)]
        self._write("data/items.csv", "\n".join(lines) + "\n")

    def run(self, *args: str, trace: bool = True) -> tuple[int, str]:
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        saved = os.environ.pop(DISABLE, None)
        if not trace:
            os.environ[DISABLE] = "1"
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["-C", str(self.root), *args])
        finally:
            os.environ.pop(DISABLE, None)
            if saved is not None:
                os.environ[DISABLE] = saved
        return code, out.getvalue() + err.getvalue()

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        n = len(self.rows)
        if kind == "edit" and n:
            self.rows[op[1] % n][1] = op[2]
        elif kind == "add":
            self.rows.append([op[1], f"new {op[1]}", REFS[0]])
        elif kind == "remove" and n:
            del self.rows[op[1] % n]
        elif kind == "reorder":
            self.rows.reverse()
        elif kind == "rename" and n:
            self.rows[op[1] % n][0] = op[2]
        elif kind == "ref" and n:
            self.rows[op[1] % n][2] = REFS[op[2]]
        elif kind == "template":
            self._write("prompts/base.j2", TEMPLATES[op[1]])
        elif kind == "extra":
            if op[1]:
                self._write("prompts/extra.j2", "An extra {{ item.name }}")
            else:
                (self.root / "prompts/extra.j2").unlink(missing_ok=True)
        elif kind == "var":
            spec = (self.root / "pixmake.yaml").read_text()
            self._write("pixmake.yaml", spec.replace(self.palette, op[1], 1))
            self.palette = op[1]
        elif kind == "setting":  # a declaration's setting, not its rows: every row's asset
            spec = (self.root / "pixmake.yaml").read_text()
            at = "    for_each: items\n"
            spec = spec.replace(at + self.setting, at + SETTINGS[op[1]], 1)
            self._write("pixmake.yaml", spec)
            self.setting = SETTINGS[op[1]]
        elif kind == "delete" and n:
            slug = self.rows[op[1] % n][0]
            for rel in (f"icons/{slug}.png", f"icons/64/{slug}.png")[op[2] % 2 :]:
                (self.root / rel).unlink(missing_ok=True)
        elif kind == "build":
            self.run("build")
            if op[1] and n:  # an output edited within the tick of its write: same size and mtime
                _edit_keeping_stat(self.root / f"icons/{self.rows[0][0]}.png")
        elif kind == "age":  # time passes: every file was written long ago
            past = time.time_ns() - 60_000_000_000
            for path in self.root.rglob("*"):
                if path.is_file() and ".pixmake" not in path.parts:
                    os.utime(path, ns=(past, past))
        if kind in ("edit", "add", "remove", "reorder", "rename", "ref"):
            self._table()


def _edit_keeping_stat(path: Path) -> None:
    if not path.is_file():
        return
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    with path.open("r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


OPS = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 5), st.sampled_from(["long bow", "ORB", "x y"])),
    st.tuples(st.just("add"), st.sampled_from(SLUGS)),
    st.tuples(st.just("remove"), st.integers(0, 5)),
    st.tuples(st.just("reorder")),
    st.tuples(st.just("rename"), st.integers(0, 5), st.sampled_from(SLUGS)),
    st.tuples(st.just("ref"), st.integers(0, 5), st.integers(0, len(REFS) - 1)),
    st.tuples(st.just("template"), st.integers(0, len(TEMPLATES) - 1)),
    st.tuples(st.just("extra"), st.booleans()),
    st.tuples(st.just("var"), st.sampled_from(["burnt orange", "muted gold"])),
    st.tuples(st.just("setting"), st.integers(0, len(SETTINGS) - 1)),
    st.tuples(st.just("delete"), st.integers(0, 5), st.integers(0, 1)),
    st.tuples(st.just("build"), st.booleans()),
    st.tuples(st.just("age")),
)


def _answers(world: World, trace: bool) -> list[tuple[int, str]]:
    return [world.run("status", "--json", trace=trace), world.run("check", trace=trace)]


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(OPS, min_size=1, max_size=8))
# The four ways the earlier caches answered wrongly, each a named example:
@example([("template", 1), ("build", False), ("age",), ("reorder",)])  # included `index`
@example([("build", False), ("age",), ("extra", True)])  # the include list's first file
@example([("build", False), ("age",), ("ref", 0, 4)])  # a row's reference: an output
@example([("build", True)])  # an output edited in place within the tick of its write
@example([("age",), ("build", True)])  # an old output edited with its mtime put back: ctime
# Every row remembered (the series' record kept as it is), then one gone and one back:
@example([("build", False), ("age",), ("reorder",), ("remove", 0), ("add", "sword")])
@example([("build", False), ("setting", 1), ("build", False), ("setting", 0)])  # candidates
@example([("build", False), ("setting", 2), ("setting", 3), ("setting", 0)])  # not in the key
# A table edit after a fresh answer: its changed rows planned alone (rowdelta.py), or not
@example([("build", False), ("edit", 1, "ORB")])
@example([("build", False), ("age",), ("ref", 0, 1), ("edit", 0, "x y")])  # references
@example([("build", False), ("template", 2), ("build", False), ("edit", 0, "ORB")])  # data
@example([("build", False), ("rename", 0, "axe"), ("build", False), ("rename", 0, "sword")])
@example([("template", 4), ("build", False), ("edit", 1, "ORB")])  # the table, included
@example([("ref", 0, 5), ("build", False), ("edit", 1, "ORB")])  # the table, a reference
def test_the_trace_never_changes_an_answer(ops: list[tuple[Any, ...]]) -> None:
    _same_answers(ops)


def _same_answers(ops: list[tuple[Any, ...]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="pixmake-oracle-"))
    try:
        world = World(root)
        world.run("build")
        for op in ops:
            world.apply(op)
            warm = _answers(world, trace=True)
            again = _answers(world, trace=True)  # now from what the first answer recorded
            cold = _answers(world, trace=False)
            assert warm == cold, (op, warm, cold)
            assert again == cold, (op, again, cold)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_without_the_trace_nothing_is_written_to_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run("build", trace=False)
    assert not (tmp_path / ".pixmake/trace.marshal").exists()
    assert world.run("status", trace=False)[0] == 0
    assert not (tmp_path / ".pixmake/trace.marshal").exists()
    world.run("status")
    assert (tmp_path / ".pixmake/trace.marshal").exists()


@pytest.mark.parametrize(
    "damage", [b"", b"\x00garbage", b"\xfb\x01\x00\x00\x00"], ids=["empty", "garbage", "marshal"]
)
def test_a_damaged_trace_is_only_a_miss(tmp_path: Path, damage: bytes) -> None:
    world = World(tmp_path)
    world.run("build")
    world.run("status")
    (tmp_path / ".pixmake/trace.marshal").write_bytes(damage)
    assert world.run("status", "--json") == world.run("status", "--json", trace=False)


@settings(max_examples=4, deadline=None, database=None, derandomize=True)
@given(st.lists(OPS, min_size=1, max_size=6))
def test_past_the_remembered_size_the_answers_are_the_same(ops: list[tuple[Any, ...]]) -> None:
    """A series larger than REMEMBERED_ROWS is not recorded (memory): here past 1 row."""
    import pixmake.session
    import pixmake.spec.resolve

    saved = pixmake.spec.resolve.REMEMBERED_ROWS, pixmake.session.REMEMBERED_ROWS
    pixmake.spec.resolve.REMEMBERED_ROWS = pixmake.session.REMEMBERED_ROWS = 1
    try:
        _same_answers(ops)
    finally:
        pixmake.spec.resolve.REMEMBERED_ROWS, pixmake.session.REMEMBERED_ROWS = saved


@settings(max_examples=4, deadline=None, database=None, derandomize=True)
@given(st.lists(OPS, min_size=1, max_size=6))
@example([("build", False), ("age",), ("remove", 0), ("add", "sword")])  # entries move parts
def test_with_the_lock_in_parts_the_answers_are_the_same(ops: list[tuple[Any, ...]]) -> None:
    """A lock split into parts (here past one entry: see lockparts) answers as one file does,
    warm and cache-free: every part is an input of the trace's answers."""
    from pixmake.lockparts import TEST_PART_SIZE

    saved = os.environ.get(TEST_PART_SIZE)
    os.environ[TEST_PART_SIZE] = "1"
    try:
        _same_answers(ops)
    finally:
        os.environ.pop(TEST_PART_SIZE, None)
        if saved is not None:
            os.environ[TEST_PART_SIZE] = saved
