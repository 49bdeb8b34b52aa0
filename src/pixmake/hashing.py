"""Canonical JSON, request keys, and file hashing with a stat cache.

A key is xxh3-128 over canonical JSON (sorted keys, fixed separators, UTF-8) of exactly what
determines the image, prefixed by a scheme version. Paths, ids and anything volatile stay out,
so renaming an output or an asset never regenerates it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pixmake.spec.asset import Asset

KEY_SCHEME = 1
_CHUNK = 1 << 20


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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


StatEntry = tuple[int, int, int, str]  # size, mtime_ns, inode, hash


@dataclass(slots=True)
class FileHasher:
    """Hashes project files, trusting a cached hash while (size, mtime_ns, inode) are unchanged."""

    root: Path
    cache: dict[str, StatEntry] = field(default_factory=dict)
    dirty: dict[str, StatEntry] = field(default_factory=dict)
    _memo: dict[str, tuple[str, int] | None] = field(default_factory=dict)

    def hash(self, rel: str) -> tuple[str, int] | None:
        """(content hash, size) of a project file, or None when it does not exist."""
        if rel in self._memo:
            return self._memo[rel]
        result = self._hash(rel)
        self._memo[rel] = result
        return result

    def _hash(self, rel: str) -> tuple[str, int] | None:
        path = os.path.join(self.root, rel)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        cached = self.cache.get(rel)
        if (
            cached is not None
            and cached[0] == st.st_size
            and cached[1] == st.st_mtime_ns
            and cached[2] == st.st_ino
        ):
            return cached[3], st.st_size
        digest = hash_file(path)
        self.remember(rel, st, digest)
        return digest, st.st_size

    def remember(self, rel: str, st: os.stat_result, digest: str) -> None:
        """Record the hash of a file we know (we just wrote it, or just read it)."""
        entry = (st.st_size, st.st_mtime_ns, st.st_ino, digest)
        self.cache[rel] = entry
        self.dirty[rel] = entry
        self._memo[rel] = (digest, st.st_size)

    def forget(self, rel: str) -> None:
        self._memo.pop(rel, None)


def hash_file(path: str | os.PathLike[str]) -> str:
    hasher = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return str(hasher.hexdigest())
