"""`pixmake prune` and `pixmake gc`: drop what the spec or the lockfile no longer uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixmake.session import open_session

if TYPE_CHECKING:
    from pathlib import Path


def prune(root: Path, *, dry_run: bool = False, **kw: Any) -> list[str]:
    """Drop lock entries of assets gone from the spec, and their unedited outputs."""
    session = open_session(root, **kw)
    with session.store.exclusive():
        orphans = sorted(set(session.lock.entries) - set(session.project.assets))
        if dry_run:
            return orphans
        claimed = {p for a in session.project.assets.values() for p in a.all_outputs()}
        for asset_id in orphans:
            entry = session.lock.entries.pop(asset_id)
            for record in [*entry["outputs"], *entry.get("derived", [])]:
                path = record["path"]
                found = session.files.hash(path)
                if path in claimed or found is None or found[0] != record["hash"]:
                    continue
                session.store.put_file(root / path, found[0])
                os.unlink(root / path)
                session.files.forget(path)
        session.compact()
        session.remember()
        return orphans


@dataclass(slots=True)
class GcResult:
    objects: int = 0
    bytes: int = 0
    actions: int = 0


def gc(root: Path, *, dry_run: bool = False) -> GcResult:
    """Remove from the store every image the lockfile (with the journal) does not use."""
    session = open_session(root)
    store = session.store
    result = GcResult()
    if not store.dir.is_dir():
        return result
    with store.exclusive():
        keep = {
            r["hash"]
            for entry in session.lock.entries.values()
            for r in [*entry["outputs"], *entry.get("derived", [])]
        }
        keep |= {
            image["hash"]
            for entry in session.lock.entries.values()
            for candidate in entry.get("candidates", [])
            for image in candidate
        }  # an image not chosen is still to choose from
        for path in list(store.objects()):
            if path.name not in keep:
                result.objects += 1
                result.bytes += path.stat().st_size
                if not dry_run:
                    path.unlink()
        for path, value in list(store.actions()):
            hashes = {o.get("hash") for o in value.get("outputs", [])}
            if not hashes or not hashes <= keep:
                result.actions += 1
                if not dry_run:
                    path.unlink()
    return result
