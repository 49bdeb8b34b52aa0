"""Specs that ask for unbounded work are refused with a clear error, quickly and in little memory.

Each case would crash (MemoryError, RecursionError, a csv error) or run for hours without its
bound; here it must exit 2 naming the file, the limit and the fix, with no traceback.
"""

from __future__ import annotations

import pytest

from tests.conftest import Project, Result

FIX = "limits: {render_chars: N}"


def _spec(prompt: str, extra: str = "") -> str:
    return f"version: 1\n{extra}assets:\n  hero:\n    prompt: {prompt!r}\n    out: hero.png\n"


def _refused(result: Result, *words: str) -> None:
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    for word in words:
        assert word in result.err, result.err


def _billion_laughs(indent: str = "  ") -> str:
    """Nine levels of nine aliases: 9**9 leaves from a few dozen written nodes."""
    lines = [f"{indent}l0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    for level in range(1, 10):
        lines.append(f"{indent}l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# -- Jinja ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("{{ 'a' * 100000000000 }}", ["result of `*`", "100,000,000,000", "1,000,000"]),
        ("{{ ['a'] * 100000000000 }}", ["result of `*`"]),
        ("{{ 7 ** 100000000000 }}", ["result of `**`"]),
        ("{{ ('a' * 999999) + ('b' * 999999) }}", ["result of `+`"]),
        ("{{ '%99999999999s' % 'a' }}", ["result of `%`"]),
        ("{{ '{:>99999999999}'.format('a') }}", ["result of `format`"]),
        ("{{ 'a'.ljust(99999999999) }}", ["result of a call"]),
        ("{{ 'a' | center(99999999999) }}", ["result of a filter"]),
        (
            "{% set a = 'x' * 999999 %}{% set b = [a, a, a, a, a, a] %}{{ (b ~ '') | length }}",
            ["result of `~`"],
        ),
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}xx{% endfor %}{% endfor %}",
            ["passes 1,000,000 characters"],
        ),
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            ["more than 1,000,000 steps"],
        ),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(60) }}",
            ["more than 1,000,000 steps"],
        ),
    ],
)
def test_a_template_that_would_grow_without_bound_is_refused(
    project: Project, prompt: str, words: list[str]
) -> None:
    project.gen({"pixmake.yaml": _spec(prompt)})
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "pixmake.yaml:4: assets.hero.prompt:", "limits.render_chars", FIX, *words)


def test_a_template_that_includes_itself_names_its_file(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": _spec("{% include 'prompts/loop.j2' %}"),
            "prompts/loop.j2": "a {% include 'prompts/loop.j2' %}\n",
        }
    )
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "prompts/loop.j2:1:", "include recursion too deep")


def test_the_step_bound_met_in_an_included_file_names_it(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": _spec("{% include 'prompts/slow.j2' %}"),
            "prompts/slow.j2": (
                "a hero\n{% for i in range(99999) %}{% for j in range(99) %}"
                "{% endfor %}{% endfor %}\n"
            ),
        }
    )
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "prompts/slow.j2:2:", "more than 1,000,000 steps", FIX)


def test_the_output_bound_is_met_through_an_include(project: Project) -> None:
    # NOTE: Jinja re-yields an include's text from the including template, so the line named
    # is that of the include.
    project.gen(
        {
            "pixmake.yaml": _spec("{% include 'prompts/big.j2' %}"),
            "prompts/big.j2": "a hero\n{% for i in range(99999) %}{{ 'x' * 99 }}{% endfor %}\n",
        }
    )
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "pixmake.yaml:4:", "passes 1,000,000 characters", FIX)


def test_render_chars_can_be_lowered_and_raised(project: Project) -> None:
    prompt = "a {% for i in range(30) %}very {% endfor %}tall hero"
    project.gen({"pixmake.yaml": _spec(prompt, "limits: {render_chars: 100}\n")})
    _refused(project.run("build", "--provider", "placeholder"), "passes 100 characters")
    project.gen({"pixmake.yaml": _spec(prompt, "limits: {render_chars: 1000}\n")})
    assert project.build()["generated"] == 1


# -- YAML aliases ---------------------------------------------------------------------------


def test_an_alias_bomb_under_an_unused_var_is_refused(project: Project) -> None:
    spec = "version: 1\nvars:\n" + _billion_laughs() + "assets:\n  hero: {prompt: a, out: a.png}\n"
    project.gen({"pixmake.yaml": spec})
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "pixmake.yaml:12: aliases expand this document to", "the limit is 10,000")


def test_an_alias_bomb_in_a_data_table_is_refused(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": (
                "version: 1\ndata:\n  rows: data/rows.yaml\nassets:\n"
                "  'i-{{ item.slug }}':\n    for_each: rows\n"
                "    prompt: 'a {{ item.slug }}'\n    out: 'i/{{ item.slug }}.png'\n"
            ),
            "data/rows.yaml": "- slug: a\n  junk:\n" + _billion_laughs("    "),
        }
    )
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "data/rows.yaml:12: aliases expand this document to")


def test_an_alias_inside_its_own_anchor_is_refused(project: Project) -> None:
    spec = "version: 1\nvars:\n  a: &a [x, *a]\nassets:\n  hero: {prompt: a, out: a.png}\n"
    project.gen({"pixmake.yaml": spec})
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "pixmake.yaml:3: an alias refers to a node that contains it")


def test_ordinary_aliases_and_merge_keys_still_work(project: Project) -> None:
    assets = "".join(
        f"  a{i}:\n    <<: *common\n    prompt: 'hero {i}'\n    out: 'a/{i}.png'\n"
        for i in range(200)
    )
    spec = "version: 1\nvars:\n  common: &common {quality: low, size: 1024x1024}\n"
    project.gen({"pixmake.yaml": spec + "assets:\n" + assets})
    assert project.build()["generated"] == 200


# -- asset count ----------------------------------------------------------------------------


def test_a_matrix_past_the_default_limit_is_refused_before_expansion(project: Project) -> None:
    axis = list(range(1001))
    project.gen(
        {
            "pixmake.yaml": (
                "version: 1\nassets:\n  'i-{{ a }}-{{ b }}':\n"
                f"    matrix: {{a: {axis}, b: {axis[:1000]}}}\n"
                "    prompt: 'a {{ a }}'\n    out: 'i/{{ a }}-{{ b }}.png'\n"
            )
        }
    )
    result = project.run("build", "--provider", "placeholder")
    _refused(
        result,
        "pixmake.yaml:4:",
        "series `i-{{ a }}-{{ b }}` would make 1,001,000 assets; the limit is 1,000,000",
        "`limits: {assets: 1001000}` at the top level of pixmake.yaml",
    )


def test_a_table_past_the_asset_limit_is_refused_until_it_is_raised(project: Project) -> None:
    spec = (
        "version: 1\ndata:\n  rows: data/rows.csv\nassets:\n"
        "  'i-{{ item.slug }}':\n    for_each: rows\n"
        "    prompt: 'a {{ item.slug }}'\n    out: 'i/{{ item.slug }}.png'\n"
    )
    project.gen(
        {"pixmake.yaml": spec + "limits: {assets: 2}\n", "data/rows.csv": "slug\na\nb\nc\n"}
    )
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "would make 3 assets; the limit is 2", "limits: {assets: 3}")
    project.gen({"pixmake.yaml": spec + "limits: {assets: 3}\n"})
    assert project.build()["generated"] == 3


# -- CSV cells ------------------------------------------------------------------------------


def test_a_csv_cell_past_the_csv_field_limit_names_the_row(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": (
                "version: 1\ndata:\n  rows: data/rows.csv\nassets:\n"
                "  'i-{{ item.slug }}':\n    for_each: rows\n"
                "    prompt: 'a {{ item.slug }}'\n    out: 'i/{{ item.slug }}.png'\n"
            ),
            "data/rows.csv": "slug,text\na,short\nb," + "x" * 200_000 + "\nc,short\n",
        }
    )
    result = project.run("build", "--provider", "placeholder")
    _refused(result, "data/rows.csv:3: a cell is longer than 131,072 characters", "fix:")


def test_a_misspelt_limit_gets_a_did_you_mean(project: Project) -> None:
    project.gen(
        {"pixmake.yaml": "version: 1\nlimits: {asset: 10}\nassets:\n  a: {prompt: p, out: a.png}\n"}
    )
    result = project.run("status")
    assert result.code == 2
    assert "unknown key `asset`" in result.err
    assert "did you mean `assets`?" in result.err


def test_the_asset_limit_counts_every_series_together(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nlimits: {assets: 5}\nassets:\n"
            "  'a-{{ item }}': {for_each: [1, 2, 3], prompt: p, out: 'a/{{ item }}.png'}\n"
            "  'b-{{ item }}': {for_each: [1, 2, 3], prompt: p, out: 'b/{{ item }}.png'}\n"
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "series `b-{{ item }}` would make 3 assets after 3 in the series before it" in result.err
    assert "`limits: {assets: 6}`" in result.err


def test_a_range_past_the_sandbox_gets_a_fix(project: Project) -> None:
    project.gen(
        {
            "pixmake.yaml": "version: 1\nassets:\n  a:\n"
            "    prompt: '{% for i in range(10**12) %}x{% endfor %}'\n    out: a.png\n"
        }
    )
    result = project.run("status")
    assert result.code == 2
    assert "Range too big" in result.err
    assert "fix: the sandbox allows a range of at most 100,000" in result.err
