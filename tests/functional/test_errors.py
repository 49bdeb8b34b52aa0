"""Broken specs: each gives a clear error with file, line and fix, exit 2, and no traceback."""

from __future__ import annotations

import pytest

from tests.conftest import Project, png_bytes

BASE = "version: 1\nassets:\n  hero:\n    prompt: a hero\n    out: hero.png\n"


@pytest.mark.parametrize(
    ("spec", "where", "words"),
    [
        (BASE.replace("out:", "colour: red\n    out:"), "pixmake.yaml:5", "unknown key `colour`"),
        (BASE.replace("out:", "model: gpt-9\n    out:"), "pixmake.yaml:5", "unknown model"),
        (BASE.replace("out:", "size: 1000x1000\n    out:"), "pixmake.yaml:5", "1024x1536"),
        (
            BASE.replace("out:", "references: [refs/nope.png]\n    out:"),
            "pixmake.yaml:5",
            "reference file `refs/nope.png` does not exist",
        ),
        (
            BASE.replace("a hero", '"a {{ colour }} hero"'),
            "pixmake.yaml:4",
            "'colour' is undefined",
        ),
        (BASE.replace("hero.png", "../hero.png"), "pixmake.yaml:5", "outside the project"),
        (BASE.replace("hero.png", "/tmp/hero.png"), "pixmake.yaml:5", "outside the project"),
        (
            BASE + "  logo:\n    prompt: a logo\n    out: hero.png\n",
            "pixmake.yaml:8: assets.logo.out",  # the line of the field, not of `logo:`
            "`hero.png` is written by both `hero` and `logo`",
        ),
        (BASE.replace("a hero", '"a hero'), "pixmake.yaml:", "invalid YAML"),
        (BASE.replace("version: 1", "version: 7"), "pixmake.yaml:1", "unsupported spec version"),
        (BASE.replace("hero.png", "hero.jpg"), "pixmake.yaml:5", "does not end in .png"),
        (
            BASE.replace("out:", "format: jpg\n    background: transparent\n    out:").replace(
                "hero.png", "hero.jpg"
            ),
            "pixmake.yaml:6",
            "needs png or webp",
        ),
        (
            BASE.replace("out:", 'references: ["http://x.org/a.png"]\n    out:'),
            "pixmake.yaml:5",
            "not an https URL",
        ),
        (
            BASE.replace("prompt: a hero", "promt: a hero"),
            "pixmake.yaml:4",
            "did you mean `prompt`",
        ),
        (
            BASE.replace("out:", "quality: ultra\n    out:"),
            "pixmake.yaml:5",
            "'ultra' is not allowed",
        ),
        (BASE + "  hero:\n    prompt: again\n    out: b.png\n", "pixmake.yaml:6", "duplicate key"),
    ],
)
def test_broken_spec(project: Project, spec: str, where: str, words: str) -> None:
    project.gen({"pixmake.yaml": spec})
    for command in ("status", "build", "check", "plan"):
        result = project.run(command, "--provider", "placeholder")
        assert result.code == 2, (command, result.err)
        assert where in result.err, result.err
        assert words in result.err, result.err
        assert "Traceback" not in result.err
        assert "fix:" in result.err
        assert result.out == ""


def test_cycle_is_printed(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n"
            "  a: {prompt: x, out: a.png, references: ['asset:b']}\n"
            "  b: {prompt: y, out: b.png, references: ['asset:c']}\n"
            "  c: {prompt: z, out: c.png, references: ['asset:a']}\n"
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "reference cycle: a -> c -> b -> a" in result.err or "cycle: " in result.err
    assert "pixmake.yaml:3" in result.err or "pixmake.yaml:4" in result.err


def test_every_problem_is_reported_at_once(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n"
            "  a: {prompt: x, out: a.png, size: 9x9}\n"
            "  b: {prompt: '{{ nope }}', out: b.png}\n"
            "  c: {prompt: z, out: e.png}\n"
            "  d: {prompt: z, out: d.png, colour: 1}\n"
            "  e: {prompt: z, out: e.png}\n"
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "4 errors" in result.err
    for line in ("pixmake.yaml:3", "pixmake.yaml:4", "pixmake.yaml:6", "pixmake.yaml:7"):
        assert line in result.err


def test_series_errors_name_the_row_and_id_clashes_name_both_sources(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets:\n"
            "  'x-{{ item.k }}':\n    for_each: t\n    prompt: '{{ item.p }}'\n"
            "    size: '{{ item.s }}'\n    out: 'x/{{ item.n }}.png'\n",
            "t.csv": "k,p,s,n\na,one,1024x1024,1\na,two,1024x1024,2\nb,three,77x77,3\n",
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "t.csv:3" in result.err  # the clash names the second row
    assert "t.csv:2" in result.err  # ... and the first
    assert "(row at t.csv:4)" in result.err
    assert "size `77x77`" in result.err


def test_inherited_bad_default_is_one_error_not_one_per_asset(project: Project) -> None:
    rows = "".join(f"{i},p{i}\n" for i in range(50))
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndefaults: {size: 1000x1000}\ndata: {t: t.csv}\n"
            "assets:\n  'a{{ item.i }}': {for_each: t, prompt: '{{ item.p }}', "
            "out: 'a/{{ item.i }}.png'}\n",
            "t.csv": "i,p\n" + rows,
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert result.err.count("1000x1000") == 1
    assert "pixmake.yaml:2: defaults.size" in result.err


def test_include_outside_the_project_is_refused(project: Project, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path_factory.mktemp("outside") / "secret.j2"
    outside.write_text("secret")
    project.gen(
        {
            "pixmake.yaml": BASE.replace(
                "a hero", f"\"{{% include '../{outside.parent.name}/secret.j2' %}}\""
            )
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "template file not found" in result.err


def test_verbose_shows_the_traceback(project: Project) -> None:
    project.gen({"pixmake.yaml": BASE.replace("hero.png", "../x.png")})
    result = project.run("--verbose", "status")
    assert result.code == 2
    assert "Traceback" in result.err


def test_bad_data_table_is_located(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv, u: missing.csv}\nassets: {}\n",
            "t.csv": "a,b\n1,2\n3\n",
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "t.csv:3: row has 1 columns" in result.err
    assert "pixmake.yaml:2: data.u" in result.err


def test_unknown_target_is_a_usage_error(project: Project) -> None:
    project.gen({"pixmake.yaml": BASE, "ref.png": png_bytes()})
    result = project.run("build", "--provider", "placeholder", "nope-*")
    assert result.code == 2
    assert "no asset matches `nope-*`" in result.err


def test_a_missing_shared_reference_is_one_error(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n  'a{{ item }}':\n    for_each: [1, 2, 3]\n"
            "    prompt: p\n    references: [refs/style.png]\n    out: 'a{{ item }}.png'\n"
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert result.err.count("refs/style.png` does not exist") == 1
    assert "pixmake.yaml:6" in result.err


def test_five_hundred_mistakes_print_the_first_fifty(project: Project) -> None:
    assets = "".join(
        f"  a{i}: {{prompt: p, references: [refs/{i}.png], out: a/{i}.png}}\n" for i in range(500)
    )
    project.gen({"pixmake.yaml": "version: 1\nassets:\n" + assets})
    result = project.run("status")
    assert result.code == 2
    assert "pixmake.yaml: 500 errors" in result.err
    assert result.err.count("does not exist") == 50
    assert "... and 450 more (the first 50 are shown)" in result.err


def test_a_missing_file_on_every_row_is_one_problem_with_its_rows(project: Project) -> None:
    rows = "".join(f"item{i}\n" for i in range(500))
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata:\n  rows: rows.csv\nassets:\n"
            "  'a-{{ item.slug }}': {for_each: rows, prompt: p,\n"
            "    references: ['refs/{{ item.slug }}.png'], out: 'a/{{ item.slug }}.png'}\n",
            "rows.csv": "slug\n" + rows,
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert result.err.count("does not exist") == 1
    assert "(500 rows at rows.csv:2-501)" in result.err
    assert "(and 499 more like it)" in result.err


@pytest.mark.parametrize("crop", ["2000x2000", "[0, 0, 5000, 10]"])
def test_a_crop_outside_the_image_is_a_spec_error_at_its_line(project: Project, crop: str) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n  a:\n    prompt: pa\n    out: a.png\n"
            f"    derive:\n      - {{crop: {crop}, out: a-crop.png}}\n"
        }
    )
    result = project.run("status", "--provider", "placeholder")
    assert result.code == 2
    assert "reaches outside the 1024x1024 image" in result.err, result.err
    assert "pixmake.yaml:7:" in result.err, result.err


@pytest.mark.parametrize("value", ["fast", "0", "65"])
def test_a_bad_concurrency_says_what_it_takes(project: Project, value: str) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n  a: {prompt: pa, out: a.png}\n"
            f"providers:\n  runware: {{concurrency: {value}}}\n"
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "pixmake.yaml:5: providers.runware.concurrency:" in result.err, result.err
    assert "use `auto`, or a number from 1 to 64" in result.err, result.err


def test_a_quote_left_open_in_a_table_is_named(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\ndata: {t: t.csv}\nassets: {}\n",
            "t.csv": 'slug,name,material\nsword,short sword,steel\n"bow,hunting bow,yew\naxe,a,b\n',
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "t.csv:4: a quote opened on line 3 is not closed" in result.err
    assert "fix: close the quote" in result.err
