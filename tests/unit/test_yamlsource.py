from __future__ import annotations

import pytest

from pixmake.errors import SpecError
from pixmake.spec.yamlsource import format_path, parse_yaml


def test_lines_of_nested_keys_and_items() -> None:
    data, lines = parse_yaml("a:\n  b: 1\n  c:\n    - x\n    - y\n", "f.yaml")
    assert data == {"a": {"b": 1, "c": ["x", "y"]}}
    assert lines.line(("a", "b")) == 2
    assert lines.line(("a", "c", 1)) == 5
    assert lines.line(("a", "c", 1, "deeper")) == 5  # nearest known ancestor


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(SpecError) as caught:
        parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert "f.yaml:3: a: duplicate key (first defined on line 1)" in str(caught.value)


def test_syntax_error_has_a_line() -> None:
    with pytest.raises(SpecError) as caught:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "f.yaml")
    assert caught.value.problems[0].line is not None
    assert "invalid YAML" in str(caught.value)


def test_format_path_quotes_templated_keys() -> None:
    assert format_path(("assets", "hero", "size")) == "assets.hero.size"
    assert format_path(("assets", "icon-{{ x }}", "references", 0)) == (
        'assets["icon-{{ x }}"].references[0]'
    )
