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
    text = _plain_material(asset, ref_hashes)
    return content_hash(
        text.encode() if text is not None else canonical(key_material(asset, ref_hashes))
    )


def _plain_material(asset: Asset, ref_hashes: list[str | None]) -> str | None:
    """canonical(key_material(...)) written out, keys in their sorted order, when every
    value has the type an asset gives it (None: ask canonical). A request key is made for
    every asset of a run with nothing remembered: three times faster than the encoder.
    tests/property/test_request_keys.py holds it to canonical's text."""
    quote = _QUOTE
    refs = []
    for ref, digest in zip(asset.references, ref_hashes, strict=True):
        value: str | None = digest
        name = "hash"
        if ref.kind == "url":
            name, value = ("hash", ref.pin) if ref.pin else ("url", ref.value)
        if type(value) is not str:
            return None
        refs.append(f'{{"{name}":{quote(value)}}}')
    a = asset
    ints = (a.width, a.height, a.results, a.candidates)
    strings = (a.background, a.format, a.model, a.prompt, a.provider, a.quality)
    quality = a.output_quality
    if any(type(i) is not int for i in ints) or any(type(t) is not str for t in strings):
        return None
    if quality is not None and type(quality) is not int:
        return None
    candidates = f'"candidates":{a.candidates},' if a.candidates > 1 else ""
    return (
        f'{{"background":{quote(a.background)},{candidates}"format":{quote(a.format)},'
        f'"height":{a.height},"model":{quote(a.model)},'
        f'"output_quality":{"null" if quality is None else quality},'
        f'"prompt":{quote(a.prompt)},"provider":{quote(a.provider)},'
        f'"quality":{quote(a.quality)},"references":[{",".join(refs)}],'
        f'"results":{a.results},"scheme":{KEY_SCHEME},"width":{a.width}}}'
    )


_QUOTE: Callable[[str], str] = json.encoder.encode_basestring


def derive_key(source_hash: str, params: dict[str, Any]) -> str:
    """The identity of a derived file: its source image and the step, not its path."""
    return content_hash(canonical({"scheme": KEY_SCHEME, "source": source_hash, "step": params}))
