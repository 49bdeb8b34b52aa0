from __future__ import annotations

import xxhash

from pixmake.hashing import canonical, derive_key, key_material, request_key
from pixmake.spec.asset import Asset, Reference


def _asset(**changes: object) -> Asset:
    fields: dict[str, object] = {
        "id": "hero",
        "provider": "runware",
        "model": "openai:1@2",
        "prompt": "a red fox",
        "width": 1024,
        "height": 1024,
        "quality": "medium",
        "background": "opaque",
        "format": "png",
        "output_quality": None,
        "results": 1,
        "references": (Reference("file", "refs/a.png"), Reference("url", "https://x.org/b.png")),
        "outputs": ("hero.png",),
        "derived": (),
        "decl": "hero",
        "origin": None,
        "line": 3,
    }
    fields.update(changes)
    return Asset(**fields)  # type: ignore[arg-type]


GOLDEN_MATERIAL = (
    '{"background":"opaque","format":"png","height":1024,"model":"openai:1@2",'
    '"output_quality":null,"prompt":"a red fox","provider":"runware","quality":"medium",'
    '"references":[{"hash":"00000000000000000000000000000000"},{"url":"https://x.org/b.png"}],'
    '"results":1,"scheme":1,"width":1024}'
)


def test_golden_key() -> None:
    # Pinned: a change to the key scheme must show up here, in review.
    assert canonical(key_material(_asset(), ["0" * 32, None])).decode() == GOLDEN_MATERIAL
    assert xxhash.xxh3_128_hexdigest(GOLDEN_MATERIAL.encode()) == "590f7e5f9629d74542e78bfbb275aa03"
    assert request_key(_asset(), ["0" * 32, None]) == "590f7e5f9629d74542e78bfbb275aa03"


def test_golden_key_of_an_asset_reference_is_its_content_never_its_name() -> None:
    # Pinned: an `asset:` reference contributes the upstream output's hash, not the id, so
    # renaming the upstream asset costs nothing anywhere.
    upstream = "1" * 32
    keys = set()
    for name in ("hero", "key-art"):
        asset = _asset(references=(Reference("asset", name),))
        material = canonical(key_material(asset, [upstream])).decode()
        assert '"references":[{"hash":"11111111111111111111111111111111"}]' in material
        assert name not in material
        keys.add(request_key(asset, [upstream]))
    assert keys == {"03a0e1a960d10808726f73089b631674"}


def test_key_ignores_ids_and_paths() -> None:
    base = request_key(_asset(), ["0" * 32, None])
    moved = _asset(
        id="other",
        outputs=("x/y.png",),
        decl="z",
        line=99,
        references=(Reference("file", "elsewhere/a.png"), Reference("url", "https://x.org/b.png")),
    )
    assert request_key(moved, ["0" * 32, None]) == base


def test_key_follows_what_determines_the_image() -> None:
    base = request_key(_asset(), ["0" * 32, None])
    assert request_key(_asset(prompt="a red fox!"), ["0" * 32, None]) != base
    assert request_key(_asset(quality="high"), ["0" * 32, None]) != base
    assert request_key(_asset(provider="placeholder"), ["0" * 32, None]) != base
    assert request_key(_asset(), ["1" * 32, None]) != base


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_derive_key_depends_on_source_and_step() -> None:
    assert derive_key("a", {"resize": [64]}) != derive_key("b", {"resize": [64]})
    assert derive_key("a", {"resize": [64]}) != derive_key("a", {"resize": [32]})
