"""entry_problem's one-pass recognition of the common shape gives the detailed check's answer.

Every value of a full entry (references, outputs, derived files, record) is replaced by each
value of another type, or deleted, one at a time; then random sequences of such changes.
Whatever the one-pass check accepts, the field-by-field check accepts; what it does not, the
field-by-field check names.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixmake.lockfile import detailed_entry_problem, entry_problem

IMAGE = {"path": "icons/a.png", "hash": "h", "bytes": 3, "width": 1, "height": 1}
FULL: dict[str, Any] = {
    "key": "k1",
    "request": {
        "prompt": "p",
        "references": [{"ref": "refs/a.png", "hash": "r"}, {"ref": "https://e/x", "hash": None}],
    },
    "outputs": [dict(IMAGE), {**IMAGE, "path": "icons/a-2.png"}],
    "derived": [{**IMAGE, "path": "s/a.png", "key": "d", "source": 0, "step": {"resize": [8]}}],
    "record": {"provider": "placeholder", "placeholder": True, "cost_usd": 0.0},
}
OTHERS = [None, True, 0, 1.5, "x", [], {}, [1], {"a": 1}]
_DELETE = object()


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _places(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _places(v, (*path, i))
    return found


def _changed(entry: Any, path: tuple[Any, ...], value: Any) -> Any:
    entry = copy.deepcopy(entry)
    *parent_path, last = path
    parent = entry
    for part in parent_path:
        parent = parent[part]
    if value is _DELETE:
        del parent[last]
    else:
        parent[last] = copy.deepcopy(value)
    return entry


def test_the_full_entry_is_usable() -> None:
    assert entry_problem(FULL) is None
    assert detailed_entry_problem(FULL) is None


def test_every_value_changed_alone_gives_the_detailed_answer() -> None:
    cases = [_changed(FULL, p, v) for p in _places(FULL) for v in [_DELETE, *OTHERS]]
    cases += [{**FULL, "approved": ["h"]}, {**FULL, "chosen": 0}, [FULL], None]
    for case in cases:
        assert entry_problem(case) == detailed_entry_problem(case), case


@st.composite
def entries(draw: st.DrawFn) -> Any:
    entry: Any = copy.deepcopy(FULL)
    for _ in range(draw(st.integers(1, 4))):
        places = _places(entry)
        if not places:
            break
        path = draw(st.sampled_from(places))
        entry = _changed(entry, path, draw(st.sampled_from([_DELETE, *OTHERS])))
    return entry


@settings(
    database=None,
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(entries())
def test_changed_entries_give_the_detailed_answer(entry: Any) -> None:
    assert entry_problem(entry) == detailed_entry_problem(entry)
