"""Errors a teammate meets: each names the file, the line and what to do, once."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import Project


def _status_error(project: Project) -> str:
    result = project.run("status", "--provider", "placeholder")
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    return result.err


GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgSign=false"]


def _git(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GIT, "-c", "merge.conflictStyle=merge", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )


HERO = (
    "version: 1\nassets:\n  hero:\n    prompt: a hero\n    quality: low\n\n"
    "    size: 1024x1024\n    out: hero.png\n  logo:\n    prompt: a logo\n    out: logo.png\n"
)


def test_a_merge_conflict_in_the_lock_names_both_sides_and_a_fix_that_costs_nothing(
    project: Project,
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project.gen({"pixmake.yaml": HERO, ".gitignore": ".pixmake/\n"})
    project.build()
    assert _git(project, "init", "-q", "-b", "main").returncode == 0
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "base")
    for branch, old, new in (
        ("ours", "a hero", "a red hero"),
        ("theirs", "1024x1024", "1536x1024"),
    ):
        _git(project, "checkout", "-q", "-b", branch, "main")
        project.gen({"pixmake.yaml": (project.root / "pixmake.yaml").read_text().replace(old, new)})
        assert project.build()["generated"] == 1
        _git(project, "commit", "-qam", branch)
    _git(project, "checkout", "-q", "ours")
    merge = _git(project, "merge", "theirs", "-m", "merge")
    assert "CONFLICT (content): Merge conflict in pixmake.lock" in merge.stdout
    text = (project.root / "pixmake.lock").read_text()
    line = text.splitlines().index("<<<<<<< HEAD") + 1

    err = _status_error(project)
    assert f"pixmake.lock:{line}: unresolved merge conflict" in err
    assert "ours (HEAD) has `hero`, theirs (theirs) has `hero`" in err
    assert "git checkout --theirs -- pixmake.lock hero.png` (or `--ours`)" in err
    assert "then `pixmake build`" in err
    assert "damaged" not in err

    # The fix as told: one side's entries with their outputs, and that side's pixmake.yaml.
    _git(project, "checkout", "--theirs", "--", "pixmake.lock", "hero.png")
    project.gen({"pixmake.yaml": _git(project, "show", "theirs:pixmake.yaml").stdout})
    assert {a["state"] for a in project.status().values()} == {"fresh"}
    assert project.build()["generated"] == 0


def test_every_cycle_is_listed_each_at_its_references_line(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n"
            "  a:\n    prompt: x\n    out: a.png\n    references: ['asset:b', 'asset:c']\n"
            "  b: {prompt: y, out: b.png, references: ['asset:a']}\n"
            "  c: {prompt: y, out: c.png, references: ['asset:a']}\n"
            "  d: {prompt: z, out: d.png, references: ['asset:e']}\n"
            "  e: {prompt: z, out: e.png, references: ['asset:d']}\n"
            "  f: {prompt: z, out: f.png, references: ['asset:a']}\n"
        }
    )
    err = _status_error(project)
    assert "pixmake.yaml: 3 errors" in err
    assert "pixmake.yaml:6: assets.a.references[0]: reference cycle: a -> b -> a" in err
    assert "pixmake.yaml:6: assets.a.references[1]: reference cycle: a -> c -> a" in err
    assert "pixmake.yaml:9: assets.d.references[0]: reference cycle: d -> e -> d" in err


def test_a_mistake_on_every_row_is_one_problem_naming_the_rows(project: Project) -> None:
    rows = "".join(f"item{i}\n" for i in range(200))
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata:\n  rows: rows.csv\nassets:\n"
            "  'a-{{ item.slug }}':\n    for_each: rows\n    prompt: 'a {{ colour }} icon'\n"
            "    out: 'a/{{ item.slug }}.png'\n",
            "rows.csv": "slug\n" + rows,
        }
    )
    err = _status_error(project)
    assert err.count("'colour' is undefined") == 1, err
    assert "pixmake.yaml:7: " in err
    assert "(200 rows at rows.csv:2-201)" in err
    assert "errors" not in err


def test_rows_a_mistake_hits_are_named_as_ranges(project: Project) -> None:
    sizes = ["1024x1024", "77x77", "77x77", "1024x1024", "77x77", "1024x1024"]
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets:\n"
            "  'x-{{ item.k }}':\n    for_each: t\n    prompt: p\n"
            "    size: '{{ item.s }}'\n    out: 'x/{{ item.k }}.png'\n",
            "t.csv": "k,s\n" + "".join(f"k{i},{s}\n" for i, s in enumerate(sizes)),
        }
    )
    err = _status_error(project)
    assert err.count("size `77x77`") == 1, err
    assert "pixmake.yaml:7: " in err
    assert "(3 rows at t.csv:3-4, 6)" in err


def test_an_unknown_asset_reference_suggests_the_close_id(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n  hero: {prompt: x, out: hero.png}\n"
            "  banner:\n    prompt: y\n    references: ['asset:heor']\n    out: b.png\n"
        }
    )
    err = _status_error(project)
    assert "pixmake.yaml:6: assets.banner.references[0]: `asset:heor` names no asset" in err
    assert "did you mean `asset:hero`?" in err


def test_a_table_not_in_utf8_names_the_file_the_line_and_the_fix(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets:\n"
            "  'x-{{ item.k }}': {for_each: t, prompt: '{{ item.k }}',\n"
            "    out: 'x/{{ item.k }}.png'}\n",
            "t.csv": "k\nabc\ncaf\xe9\n".encode("latin-1"),
        }
    )
    err = _status_error(project)
    assert "t.csv:3: not UTF-8" in err
    assert "byte 0xe9" in err
    assert "save t.csv as UTF-8" in err
    assert "iconv -f WINDOWS-1252 -t UTF-8 t.csv" in err


def test_tabs_in_yaml_are_named_as_tabs(project: Project) -> None:
    project.gen({"pixmake.yaml": "version: 1\nassets:\n  hero:\n\tprompt: x\n    out: a.png\n"})
    err = _status_error(project)
    assert "pixmake.yaml:4: invalid YAML: a tab character in the indentation (column 1)" in err
    assert "indent with spaces" in err


def test_an_undefined_column_names_the_tables_columns(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets:\n"
            "  'x-{{ item.k }}':\n    for_each: t\n    prompt: 'a {{ item.colour }} hero'\n"
            "    out: 'x/{{ item.k }}.png'\n",
            "t.csv": "k,name\na,b\nc,d\n",
        }
    )
    err = _status_error(project)
    assert "pixmake.yaml:6: " in err
    assert "table `t` (t.csv) has no column `colour`; its columns: k, name" in err
    assert err.count("no column") == 1
    assert "(2 rows at t.csv:2-3)" in err


def test_an_error_about_a_field_of_a_series_cites_that_fields_line(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets:\n"
            "  base: {prompt: x, out: base.png}\n"
            "  'x-{{ item.k }}':\n    for_each: t\n    prompt: p\n"
            "    references: ['asset:{{ item.k }}-base']\n"
            "    out: 'x/{{ item.k }}.png'\n"
            "  'y-{{ item.k }}':\n    for_each: t\n    prompt: p\n"
            "    out: 'x/{{ item.k }}.png'\n",
            "t.csv": "k\na\n",
        }
    )
    err = _status_error(project)
    series = 'assets["x-{{ item.k }}"].references[0] (x-a)'
    assert f"\npixmake.yaml:8: {series}: `asset:a-base` names no asset" in err
    clash = 'assets["y-{{ item.k }}"].out (y-a)'
    assert f"\npixmake.yaml:13: {clash}: `x/a.png` is written by both" in err


@pytest.mark.parametrize(
    ("spec", "opened", "stopped"),
    [
        (
            'version: 1\nassets:\n  hero:\n    prompt: "a hero\n    out: x.png\n'
            "  b:\n    prompt: x\n    out: b.png\n",
            "pixmake.yaml:4: invalid YAML: a quoted string opened here is not closed",
            "(the parser stopped on line 9: found unexpected end of stream)",
        ),
        (
            "version: 1\nassets:\n  hero: {prompt: a,\n    out: x.png\n"
            "  b:\n    prompt: x\n    out: b.png\n",
            "pixmake.yaml:3: invalid YAML: a `{` mapping opened here is not closed",
            "(the parser stopped on line 5: ",
        ),
        (
            "version: 1\nassets:\n  hero:\n    prompt: x\n   out: a.png\n",
            "pixmake.yaml:5: invalid YAML: ",
            ", while parsing a block mapping that starts on line 3",
        ),
    ],
)
def test_a_yaml_syntax_error_cites_where_it_opened_and_where_it_stopped(
    project: Project, spec: str, opened: str, stopped: str
) -> None:
    project.gen({"pixmake.yaml": spec})
    err = _status_error(project)
    assert opened in err
    assert stopped in err


@pytest.mark.parametrize("rel", ["pixmake.yaml", "data/items.csv", "data/items.json"])
def test_git_conflict_markers_in_the_spec_or_a_table_are_named_as_a_merge_conflict(
    project: Project, rel: str
) -> None:
    table = rel if rel != "pixmake.yaml" else "data/items.csv"
    spec = (
        f"version: 1\ndata: {{items: {table}}}\nassets:\n  'i-{{{{ item.k }}}}':\n"
        "    for_each: items\n    prompt: 'an icon {{ item.k }}'\n    out: 'i/{{ item.k }}.png'\n"
    )
    files = {"pixmake.yaml": spec, "data/items.csv": "k\na\nb\n", "data/items.json": '[{"k": "a"}]'}
    conflicted = "<<<<<<< HEAD\n" + files[rel] + "=======\n" + files[rel] + ">>>>>>> other\n"
    project.gen({**files, rel: conflicted})
    err = _status_error(project)
    assert f"{rel}:1: unresolved merge conflict" in err, err
    assert f"git checkout --ours -- {rel}" in err, err


def test_the_same_mistake_naming_each_rows_own_value_is_one_problem(project: Project) -> None:
    rows = "".join(f"r{i}\n" for i in range(30))
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets:\n  'a-{{ item.k }}':\n"
            "    for_each: t\n    prompt: p\n    format: png\n    out: 'a/{{ item.k }}.jpg'\n",
            "t.csv": "k\n" + rows,
        }
    )
    err = _status_error(project)
    assert err.count("does not end in .png") == 1, err
    assert "(30 rows at t.csv:2-31) output `a/r0.jpg` does not end in .png" in err, err
    assert "(and 29 more like it)" in err, err
