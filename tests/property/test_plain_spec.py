"""The plain-shape validator (spec/shapes.py) and pydantic (spec/validate.py) agree.

For every generated spec: when the plain validator accepts it, pydantic accepts it too, with no
problem, and gives the same values (fields, defaults, what was set); when it does not, pydantic
decides. The plain validator is used for every example project, so it is the common path.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pixmake.errors import SpecError
from pixmake.spec import models, shapes
from pixmake.spec.shapes import plain_spec
from pixmake.spec.validate import validate_spec
from pixmake.spec.yamlsource import LineMap, load_yaml

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(
    database=None,
    derandomize=True,
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- specs: plain ones, then a few values changed into near misses or anything -------------

ANY_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 3_000_000),
    st.sampled_from([0.0, 0.25, 1.0, 60.0, 61.0, -1.0, 1e300]),
    st.sampled_from(["", "x", "2", "20", "low", "auto", "{{ x }}", "a {% if y %}", "{ x }"]),
    st.binary(max_size=3),
)
ANYTHING = st.recursive(
    ANY_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", 1]), inner)
    ),
    max_leaves=6,
)
NEAR_MISSES = st.sampled_from(
    [True, False, None, 0, -1, 1, 2, 20, 21, 59, 60, 99, 100, 10**12, 1.0, 0.5, 0.0, -0.5,
     60.5, 1e300, "2", "20",
     "LOW", "low ", "", "x", "auto", "{{ x }}", b"x", [], {}, {"unknown": 1}, [1, "2"]]
)  # fmt: skip
TEMPLATE = st.sampled_from(["{{ item.q }}", "x {% if a %}y{% endif %}", "{{x}} low"])


def number(low: int, high: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from([low, high]), st.integers(low, high), TEMPLATE)


def words(*allowed: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(allowed), TEMPLATE)


def opt(plain: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(plain, plain, st.none())


def model(
    fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping of the required fields and some of the others, each with a plain value."""
    keys = sorted(k for k in fields if k not in required)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
        return {k: draw(fields[k]) for k in [*required, *chosen]}

    return build()


SAFETY = model(
    {
        "check": opt(st.booleans()),
        "mode": opt(st.sampled_from(["none", "fast", "full"])),
        "on_flag": opt(st.sampled_from(["fail", "keep"])),
        "block": opt(st.booleans()),
    }
)
SETTING_FIELDS = {
    "provider": opt(st.sampled_from(["runware", "placeholder", "other"])),
    "model": opt(st.sampled_from(["gpt-image-1", "gpt-image-1-mini"])),
    "size": opt(st.sampled_from(["1024x1024", "big"])),
    "quality": opt(words("low", "medium", "high", "auto")),
    "background": opt(words("opaque", "transparent", "auto")),
    "format": opt(words("png", "jpg", "webp")),
    "output_quality": opt(number(20, 99)),
    "results": opt(number(1, 20)),
    "candidates": opt(number(1, 20)),
    "safety": opt(SAFETY),
    "ttl": opt(number(60, 2_592_000)),
}
SETTINGS_MODEL = model(SETTING_FIELDS)
URL_REFERENCE = model({"url": st.just("https://e.com/x.png"), "pin": opt(st.just("ab"))}, ("url",))
DERIVE = model(
    {
        "out": st.just("small/{{ item.slug }}.png"),
        "crop": opt(st.one_of(st.just("512x512"), st.lists(st.integers(-1, 600), max_size=4))),
        "resize": opt(st.one_of(st.integers(-1, 600), st.just("64x64"))),
        "format": opt(st.sampled_from(["png", "jpg", "webp"])),
        "quality": opt(number(1, 100).filter(lambda v: not isinstance(v, str))),
    },
    ("out",),
)
ASSET = model(
    {
        **SETTING_FIELDS,
        "prompt": st.just("an icon of {{ item.name }}"),
        "out": st.just("icons/{{ item.slug }}.png"),
        "references": st.lists(st.one_of(st.just("refs/a.png"), URL_REFERENCE), max_size=3),
        "derive": st.lists(DERIVE, max_size=2),
        "for_each": opt(st.one_of(st.just("items"), st.lists(ANYTHING, max_size=3))),
        "matrix": opt(st.dictionaries(st.sampled_from(["a", "b"]), st.lists(ANYTHING))),
        "as": st.just("row"),
    },
    ("prompt", "out"),
)
URL = st.sampled_from(["https://hooks.example.com/x", "http://a.b/c?d=e"])
PROVIDER = model(
    {
        "concurrency": st.one_of(st.integers(1, 64), st.just("auto")),
        "delivery": st.one_of(
            st.sampled_from(["async", "sync"]),
            model(
                {
                    "method": st.sampled_from(["async", "sync"]),
                    "output": st.sampled_from(["url", "base64"]),
                }
            ),
        ),
        "webhook_url": opt(URL),
        "upload_endpoint": opt(URL),
        "references": st.sampled_from(["upload", "inline"]),
        "poll_interval": st.sampled_from([0.25, 1.0, 60.0]),
        "retry_backoff": st.sampled_from([0.5, 2.0]),
    }
)
PLAIN_SPEC = model(
    {
        "version": st.just(1),
        "defaults": SETTINGS_MODEL,
        "vars": st.dictionaries(st.sampled_from(["palette", "n"]), ANYTHING),
        "data": st.dictionaries(st.sampled_from(["items", "more"]), st.just("t.csv")),
        "profiles": st.dictionaries(st.sampled_from(["draft", "final"]), SETTINGS_MODEL),
        "providers": st.dictionaries(st.sampled_from(["runware", "placeholder"]), PROVIDER),
        "limits": model(
            {
                "assets": number(1, 10**9).filter(lambda v: not isinstance(v, str)),
                "render_chars": st.integers(1, 10**9),
            }
        ),
        "cache": model({"remote": opt(st.just("s3://b/p")), "options": st.just({"a": [1]})}),
        "assets": opt(
            st.dictionaries(st.sampled_from(["hero", "icon-{{ item.slug }}"]), ASSET, min_size=1)
        ),
    },
    ("version",),
)


FREE = ("vars", "options", "for_each", "matrix")  # values of any shape: nothing to miss


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value the models check (not inside a value of any shape)."""
    found = [path] if path else []
    if path and path[-1] in FREE:
        return found
    if isinstance(value, dict):
        for k, v in value.items():
            found += _places(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _places(v, (*path, i))
    return found


@st.composite
def specs(draw: st.DrawFn) -> Any:
    """A plain spec, then up to three changes: a value replaced by a near miss or anything,
    an unknown key added, a key written by its field name instead of its alias."""
    spec: Any = copy.deepcopy(draw(PLAIN_SPEC))  # `just` values are shared
    for _ in range(draw(st.integers(0, 3))):
        places = _places(spec)
        if not places:
            break
        path = draw(st.sampled_from(places))
        kind = draw(st.integers(0, 9))
        *parent_path, last = path
        parent = spec
        for part in parent_path:
            parent = parent[part]
        if kind == 0 and isinstance(parent, dict):
            parent["unknown"] = draw(ANYTHING)
        elif kind == 1 and isinstance(parent, dict) and last == "as":
            parent["as_"] = parent.pop("as")
        elif kind == 2 and isinstance(parent, dict):
            del parent[last]
        else:
            parent[last] = copy.deepcopy(draw(st.one_of(NEAR_MISSES, ANYTHING)))
    return spec


def pydantic_answer(data: Any) -> tuple[Any, list[Any]] | None:
    """validate.py's spec and problems, or None when it refuses the spec outright."""
    try:
        return validate_spec(data, LineMap("pixmake.yaml"))
    except SpecError:
        return None


@SETTINGS
@given(specs())
@example({"version": 1})
@example({"version": 1, "assets": None})
@example({"version": True})
@example({"version": 1, "defaults": {"results": True}})
@example({"version": 1, "defaults": {"results": "2"}})
@example({"version": 1, "providers": {"runware": {"poll_interval": 1}}})
@example({"version": 1, "assets": {"a": {"prompt": "p", "out": "a.png", "as_": "row"}}})
@example({"version": 1, "assets": {"a": {"prompt": "p", "out": "a.png", "quality": "low "}}})
def test_the_plain_validator_gives_what_pydantic_gives(data: Any) -> None:
    check_agreement(data)


def check_agreement(data: Any) -> None:
    plain = plain_spec(data)
    if plain is None:
        return  # pydantic decides, as it always did
    answer = pydantic_answer(data)
    assert answer is not None, f"the plain validator took a spec pydantic refuses: {data}"
    spec, problems = answer
    assert problems == [], f"the plain validator took a spec with problems: {data}"
    assert plain == spec
    assert repr(plain) == repr(spec)  # the same types too: True == 1, and 1.0 == 1


FULL: dict[str, Any] = {  # every field of every model, each with a plain value
    "version": 1,
    "defaults": {
        "provider": "runware", "model": "gpt-image-1", "size": "1024x1024", "quality": "low",
        "background": "opaque", "format": "png", "output_quality": 80, "results": 2,
        "candidates": 3,
        "safety": {"check": True, "mode": "fast", "on_flag": "keep", "block": True},
        "ttl": 3600,
    },
    "vars": {"palette": ["green", {"a": 1}]},
    "data": {"items": "t.csv"},
    "profiles": {"draft": {"quality": "{{ q }}", "results": "{{ n }}", "ttl": None}},
    "providers": {
        "runware": {
            "concurrency": 8, "delivery": {"method": "sync", "output": "base64"},
            "webhook_url": "https://hooks.example.com/x", "upload_endpoint": "http://a.b/c",
            "references": "inline", "poll_interval": 0.5, "retry_backoff": 2.0,
        },
        "placeholder": {"concurrency": "auto", "delivery": "async"},
    },
    "limits": {"assets": 10, "render_chars": 1000},
    "cache": {"remote": "s3://b/p", "options": {"endpoint_url": "http://x"}},
    "assets": {
        "icon-{{ item.slug }}": {
            "provider": "placeholder", "model": "gpt-image-1-mini", "size": "512x512",
            "quality": "high", "background": "transparent", "format": "webp",
            "output_quality": "{{ item.q }}", "results": 1, "candidates": 1,
            "safety": {"check": None, "mode": None, "on_flag": None, "block": None},
            "ttl": 60,
            "prompt": "an icon of {{ item.name }}", "out": "icons/{{ item.slug }}.webp",
            "references": ["refs/a.png", {"url": "https://e.com/x.png", "pin": "ab"}],
            "derive": [
                {"out": "s/{{ item.slug }}.png", "crop": [0, 0, 10, 10], "resize": 64,
                 "format": "png", "quality": 90},
                {"out": "t/{{ item.slug }}.jpg", "crop": "64x64", "resize": "32x32"},
            ],
            "for_each": "items", "matrix": {"a": [1, 2]}, "as": "row",
        },
        "hero": {"prompt": "a hero", "out": "hero.png", "for_each": [1, "x", None]},
    },
}  # fmt: skip


def _changed(path: tuple[Any, ...], value: Any) -> Any:
    spec = copy.deepcopy(FULL)
    *parent_path, last = path
    parent = spec
    for part in parent_path:
        parent = parent[part]
    if value is _DELETE:
        del parent[last]
    else:
        parent[last] = copy.deepcopy(value)
    return spec


_DELETE = object()
SINGLE = [
    (path, value)
    for path in _places(FULL)
    for value in [_DELETE, *NEAR_MISSES.elements]  # type: ignore[attr-defined]
]


def test_the_full_spec_takes_the_plain_path() -> None:
    assert plain_spec(FULL) is not None
    check_agreement(FULL)


def test_every_value_changed_alone_gives_what_pydantic_gives() -> None:
    """Each value of the full spec replaced by each near miss (or deleted), one at a time;
    an unknown key in each mapping; an alias written as its field name."""
    cases = [_changed(path, value) for path, value in SINGLE]
    for path in [(), *_places(FULL)]:
        spec = copy.deepcopy(FULL)
        place: Any = spec
        for part in path:
            place = place[part]
        if isinstance(place, dict) and (not path or path[-1] not in FREE):
            place["unknown"] = 1
            cases.append(spec)
    renamed = copy.deepcopy(FULL)
    asset = renamed["assets"]["icon-{{ item.slug }}"]
    asset["as_"] = asset.pop("as")
    cases.append(renamed)
    for count in (64, 65):  # at most 64 references
        many = copy.deepcopy(FULL)
        many["assets"]["hero"]["references"] = ["refs/a.png"] * count
        cases.append(many)
    for case in cases:
        check_agreement(case)


@pytest.mark.parametrize(
    "spec_file",
    sorted(p.relative_to(ROOT) for p in ROOT.glob("examples/*/pixmake.yaml")),
    ids=str,
)
def test_every_example_takes_the_plain_path(spec_file: Path) -> None:
    data, lines = load_yaml(ROOT / spec_file, spec_file.name)
    plain = plain_spec(data)
    assert plain is not None
    assert (plain, []) == validate_spec(data, lines)


def test_the_plain_validator_reads_the_models_keys() -> None:
    """A field added to models.py is read here too (until it is, such a spec goes to pydantic)."""
    for name, keys in shapes.KEYS.items():
        cls = getattr(models, name)
        aliases = {f.alias or n for n, f in cls.model_fields.items()}
        assert keys == aliases, name


def test_a_plain_spec_keeps_pydantic_unimported(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "pixmake.yaml").write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "defaults": {"provider": "placeholder"},
                "assets": {"hero": {"prompt": "a hero", "out": "hero.png"}},
            }
        )
    )
    code = (
        "import sys; from pathlib import Path; from pixmake.project import load_project; "
        f"load_project(Path({str(tmp_path)!r})); print('pydantic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
