"""Plain templates (text with only `{{ name.key }}` in it) are rendered without Jinja; they
must render exactly as Jinja renders them, fail where Jinja fails, and note the same names.

The oracle is the same template with an empty `{% if %}` block after it: a tag, so it goes
through Jinja, and renders to the same text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pixmake.filestat import FileHasher
from pixmake.spec.template import Reads, TemplateProblem, Templates

NAMES = st.sampled_from(["item", "index", "palette", "missing", "row"])
KEYS = st.sampled_from(["slug", "words", "n", "items", "keys", "x", "missing"])
VALUES = st.one_of(
    st.text(alphabet="ab {}%#é", max_size=4),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0, -2.25, 1e20, True, False, None]),
    st.lists(st.integers(0, 2), max_size=2),
)
CONTEXTS = st.dictionaries(
    NAMES,
    st.one_of(VALUES, st.dictionaries(KEYS, st.one_of(VALUES, st.dictionaries(KEYS, VALUES)))),
)
PART = st.one_of(
    st.text(alphabet="ab -:.", max_size=5),
    st.builds(lambda n, ks: "{{ " + ".".join([n, *ks]) + " }}", NAMES, st.lists(KEYS, max_size=2)),
    st.builds(lambda n: "{{" + n + "}}", NAMES),
)
SOURCES = st.lists(PART, min_size=1, max_size=4).map("".join)


def render(tmp_path: Path, source: str, context: dict[str, Any]) -> tuple[Any, set[str]]:
    templates = Templates(tmp_path, FileHasher(tmp_path))
    templates.reads = Reads()
    try:
        text: Any = templates.render(source, context)
    except TemplateProblem:
        text = "<TemplateProblem>"
    return text, templates.reads.names


@settings(
    database=None,
    derandomize=True,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the folder is only read
)
@given(source=SOURCES, context=CONTEXTS)
@example(source="icon-{{ item.slug }}", context={"item": {"slug": "a"}})
@example(source="{{ item.items }}", context={"item": {"items": "x"}})  # a method of dict
@example(source="{{ item.n }}", context={"item": {"n": 1.0}})
@example(source="{{ item.n }}", context={"item": {"n": None}})
@example(source="{{ item.n }}", context={"item": {"n": [1]}})
@example(source="{{ item.x.n }}", context={"item": {"x": "text"}})
@example(source="{{ missing }}", context={})
def test_a_plain_template_renders_as_jinja_does(
    tmp_path: Path, source: str, context: dict[str, Any]
) -> None:
    plain = render(tmp_path, source, context)
    jinja = render(tmp_path, source + "{% if true %}{% endif %}", context)
    assert plain[0] == jinja[0]
    if plain[0] != "<TemplateProblem>":
        assert plain[1] == jinja[1]
