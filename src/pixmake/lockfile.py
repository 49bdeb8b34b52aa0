"""pixmake.lock: one self-contained entry per asset, sorted, no timestamps, written atomically.

```json
{
  "assets": {
    "hero": {
      "derived": [{"bytes": 9, "hash": "…", "key": "…", "path": "…", "source": 0, "step": {…}}],
      "key": "…",
      "outputs": [{"bytes": 9, "hash": "…", "height": 1024, "path": "site/hero.webp", …}],
      "record": {"cost_usd": 0.0, "placeholder": true, "provider": "placeholder", …},
      "request": {"model": "openai:1@2", "prompt": "…", "references": [{"hash": "…", …}], …}
    }
  },
  "version": 1
}
```
Every entry spans many lines whose unchanged parts separate the changes of neighbouring
entries, so two branches that changed different assets merge without a conflict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from pixmake.errors import LockfileError
from pixmake.fsutil import write_atomic

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.spec.asset import Asset

LOCK_VERSION = 1
LOCK_NAME = "pixmake.lock"


class OutputRecord(TypedDict):
    path: str
    hash: str
    bytes: int
    width: int
    height: int


class DerivedRecord(OutputRecord):
    key: str
    source: int
    step: dict[str, Any]


class LockEntry(TypedDict):
    key: str
    request: dict[str, Any]
    outputs: list[OutputRecord]
    derived: list[DerivedRecord]
    record: dict[str, Any]


def make_entry(
    asset: Asset,
    key: str,
    ref_hashes: list[str | None],
    outputs: list[OutputRecord],
    derived: list[DerivedRecord],
    record: dict[str, Any],
) -> LockEntry:
    """The lock entry of an asset: its request as resolved, its outputs, the provider record."""
    references = [
        {"ref": ref.text(), "hash": digest, **({"pin": ref.pin} if ref.pin else {})}
        for ref, digest in zip(asset.references, ref_hashes, strict=True)
    ]
    return {
        "key": key,
        "request": {**asset.settings(), "references": references},
        "outputs": outputs,
        "derived": derived,
        "record": record,
    }


@dataclass(slots=True)
class Lock:
    """The parsed lockfile; `entries` maps asset id to its entry."""

    entries: dict[str, LockEntry] = field(default_factory=dict)

    def dumps(self) -> str:
        data = {"assets": dict(sorted(self.entries.items())), "version": LOCK_VERSION}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_lock(root: Path) -> Lock:
    path = root / LOCK_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock()
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{LOCK_NAME}: cannot read: {exc}") from None
    return parse_lock(text)


def parse_lock(text: str) -> Lock:
    if "\n<<<<<<< " in "\n" + text:
        line = ("\n" + text).split("\n<<<<<<< ")[0].count("\n") + 1
        raise LockfileError(
            f"{LOCK_NAME}:{line}: unresolved merge conflict\n"
            "  fix: keep either side of each conflicting entry (or delete the entry), "
            "then run `pixmake build`: outputs already in the store are restored without cost"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockfileError(
            f"{LOCK_NAME}:{exc.lineno}: invalid JSON: {exc.msg}\n"
            "  fix: restore it from version control (`git checkout pixmake.lock`)"
        ) from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise LockfileError(
            f"{LOCK_NAME}: unsupported lockfile version {version!r} (this pixmake reads "
            f"{LOCK_VERSION})\n  fix: upgrade pixmake, or restore the file from version control"
        )
    assets = data.get("assets")
    if not isinstance(assets, dict):
        raise LockfileError(f"{LOCK_NAME}: `assets` must be a mapping")
    for name, entry in assets.items():
        if not _valid_entry(entry):
            raise LockfileError(
                f"{LOCK_NAME}: the entry of `{name}` is damaged\n"
                "  fix: restore it from version control, or delete that entry and rebuild"
            )
    return Lock(assets)


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("key"), str)
        and isinstance(entry.get("request"), dict)
        and isinstance(entry.get("outputs"), list)
        and isinstance(entry.get("derived", []), list)
        and isinstance(entry.get("record", {}), dict)
        and all(isinstance(o, dict) and "path" in o and "hash" in o for o in entry["outputs"])
    )


def write_lock(root: Path, lock: Lock) -> bool:
    """Write the lockfile atomically if its content changed. Returns whether it wrote."""
    text = lock.dumps()
    path = root / LOCK_NAME
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_atomic(path, text.encode("utf-8"), fsync=True)
    return True
