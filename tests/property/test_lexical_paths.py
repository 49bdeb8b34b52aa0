"""confine.lexical: the paths a lock or journal may name, decided segment by segment, give
the answer of the definition: what posixpath.normpath leaves as it is, relative, no `..`."""

from __future__ import annotations

import posixpath

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pixmake.confine import lexical


def by_normpath(rel: object) -> bool:
    return (
        isinstance(rel, str)
        and rel != ""
        and "\\" not in rel
        and "\0" not in rel
        and not rel.startswith("/")
        and posixpath.normpath(rel) == rel
        and rel.split("/")[0] != ".."
    )


SEGMENTS = st.lists(st.sampled_from(["", ".", "..", "a", "b.png", "..a", ".x", "a\\b", "\0"]))


@settings(database=None, derandomize=True, max_examples=600, deadline=None)
@given(rel=st.one_of(SEGMENTS.map("/".join), st.text(alphabet="ab./\\\0", max_size=12)))
@example(rel=".")
@example(rel="./")
@example(rel="a/.")
@example(rel="//a")
@example(rel="..")
def test_lexical_is_what_normpath_leaves_as_it_is(rel: str) -> None:
    assert lexical(rel) == by_normpath(rel)


def test_what_is_not_a_string_is_no_path() -> None:
    assert not lexical(None)
    assert not lexical(["a"])
    assert not lexical(3)
