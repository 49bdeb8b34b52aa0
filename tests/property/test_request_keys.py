"""A request key's text written out by hand (hashing._plain_material) is exactly the canonical
JSON of its key material: the same bytes, so the same key, for any asset; and where a value
is not of an asset's own type, the encoder decides (and fails where it fails)."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from pixmake.hashing import canonical, content_hash, key_material, request_key
from pixmake.spec.asset import Asset, Reference

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ['"', "\\", "\n\t\x00\x1f", "é\u2028\U0001f600", "</script>", ""]
)
ODD = st.sampled_from([None, 1.5, True, 7, ["x"], "text"])  # where a str or an int belongs
REFS = st.one_of(
    st.tuples(st.just("file"), TEXT, st.none(), TEXT | st.none()),
    st.tuples(st.just("asset"), TEXT, st.none(), TEXT | st.none()),
    st.tuples(st.just("url"), TEXT, TEXT | st.none(), st.none()),
)


@st.composite
def assets(draw: st.DrawFn) -> tuple[Asset, list[str | None]]:
    def value(kind: st.SearchStrategy[Any]) -> Any:
        return draw(ODD) if draw(st.integers(0, 20)) == 0 else draw(kind)

    refs = draw(st.lists(REFS, max_size=3))
    asset = Asset(
        id="a",
        provider=value(TEXT),
        model=value(TEXT),
        prompt=value(TEXT),
        width=value(st.integers(0, 5000)),
        height=value(st.integers(0, 5000)),
        quality=value(TEXT),
        background=value(TEXT),
        format=value(TEXT),
        output_quality=value(st.none() | st.integers(0, 100)),
        results=value(st.integers(1, 4)),
        references=tuple(Reference(kind, v, pin) for kind, v, pin, _ in refs),
        outputs=("out.png",),
        derived=(),
        decl="a",
        origin=None,
        line=None,
        candidates=value(st.integers(1, 4)),
    )
    return asset, [digest for *_, digest in refs]


PINNED = Asset(
    "a", "runware", "openai:1@2", 'say "hi"\n', 1024, 1024, "low", "opaque", "png", None, 1,
    (Reference("url", "https://x/y.png", "pinned"),), ("o.png",), (), "a", None, None, 3,
)  # fmt: skip


def _long_way(asset: Asset, hashes: list[str | None]) -> Any:
    try:
        return content_hash(canonical(key_material(asset, hashes)))
    except Exception as exc:  # the same failure, or none
        return type(exc)


def _short_way(asset: Asset, hashes: list[str | None]) -> Any:
    try:
        return request_key(asset, hashes)
    except Exception as exc:
        return type(exc)


@given(assets())
@example((PINNED, [None]))
def test_the_written_key_is_the_encoders(case: tuple[Asset, list[str | None]]) -> None:
    asset, hashes = case
    assert _short_way(asset, hashes) == _long_way(asset, hashes)
