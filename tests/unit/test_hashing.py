from __future__ import annotations

import os
from pathlib import Path

import xxhash

from pixmake.hashing import FileHasher, canonical, derive_key, key_material, request_key
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


def test_stat_cache_avoids_reading_unchanged_files(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    first = FileHasher(tmp_path)
    digest, size = first.hash("f.bin") or ("", 0)
    assert size == 3
    st = path.stat()
    # Same size, mtime and inode but other bytes: the cache is trusted, the file not read.
    with open(path, "r+b") as handle:
        handle.write(b"two")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert FileHasher(tmp_path, dict(first.cache)).hash("f.bin") == (digest, 3)
    # A changed mtime makes it read the file again.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = FileHasher(tmp_path, dict(first.cache)).hash("f.bin")
    assert again is not None
    assert again[0] != digest
    assert FileHasher(tmp_path).hash("missing") is None
