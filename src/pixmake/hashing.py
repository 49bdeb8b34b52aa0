"""Canonical JSON and request keys.

A key is xxh3-128 over canonical JSON (sorted keys, fixed separators, UTF-8) of exactly what
determines the image, prefixed by a scheme version. Paths, ids and anything volatile stay out,
so renaming an output or an asset never regenerates it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    from collections.abc import Callable

    from pixmake.filestat import FileHasher
    from pixmake.spec.asset import Asset

KEY_SCHEME = 1


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)  # what is hashed is plain data, made here: it has no cycles to look for


def canonical(value: Any) -> bytes:
    # NOTE: one encoder for every call: json.dumps with options makes a new one each time.
    return _CANONICAL.encode(value).encode()


def content_hash(data: bytes) -> str:
    return str(xxhash.xxh3_128_hexdigest(data))


def key_material(asset: Asset, ref_hashes: list[str | None]) -> dict[str, Any]:
    """What the key hashes. `ref_hashes[i]` is the content hash of reference i (None for URLs)."""
    refs: list[dict[str, str]] = []
    for ref, digest in zip(asset.references, ref_hashes, strict=True):
        if ref.kind == "url":
            refs.append({"hash": ref.pin} if ref.pin else {"url": ref.value})
        else:
            assert digest is not None, f"no hash for reference {ref.text()}"
            refs.append({"hash": digest})
    material = asset.settings()
    material["references"] = refs
    material["scheme"] = KEY_SCHEME
    return material


def reference_hashes(
    asset: Asset, hasher: FileHasher, upstream: Callable[[str], str | None]
) -> list[str | None]:
    """The hash of each reference, in order: a file's content ("missing" if it is gone), an
    upstream asset's output (None while it is still to be built), None for a URL."""
    hashes: list[str | None] = []
    for ref in asset.references:
        if ref.kind == "url":
            hashes.append(None)
        elif ref.kind == "asset":
            hashes.append(upstream(ref.value))
        else:
            found = hasher.hash(ref.value)
            hashes.append(found[0] if found else "missing")
    return hashes


def request_key(asset: Asset, ref_hashes: list[str | None]) -> str:
    return content_hash(canonical(key_material(asset, ref_hashes)))


def derive_key(source_hash: str, params: dict[str, Any]) -> str:
    """The identity of a derived file: its source image and the step, not its path."""
    return content_hash(canonical({"scheme": KEY_SCHEME, "source": source_hash, "step": params}))
