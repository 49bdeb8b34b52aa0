"""`pixmake approve`: record that these assets' current outputs were reviewed and approved.

Approval is per output hash, in the lock entry's `approved` list: a new output (a request
changed, a pick, a reroll) is not approved until it is approved in turn, and `pixmake check
--approved` says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixmake.errors import UsageError
from pixmake.session import open_session

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pixmake.lockfile import Lock


def approve(root: Path, patterns: list[str], **kw: Any) -> list[str]:
    """Approve the current outputs of these assets (ids or globs). Returns the ids approved.

    Raises:
        UsageError: a pattern matches no asset, or an asset has no output yet.
    """
    from pixmake.commands.accept import match

    session = open_session(root, **kw)
    with session.store.exclusive():
        ids = match(session.project, patterns, "`pixmake approve` takes asset ids or globs")
        for asset_id in ids:
            entry = session.lock.entries.get(asset_id)
            if entry is None:
                raise UsageError(
                    f"cannot approve `{asset_id}`: it has no output in pixmake.lock yet\n"
                    f"  fix: `pixmake build {asset_id}`, look at it, then approve it"
                )
            hashes = {*entry.get("approved", []), *(o["hash"] for o in entry["outputs"])}
            session.lock.entries[asset_id] = {**entry, "approved": sorted(hashes)}
        session.compact()
        session.remember()
        return ids


def unapproved(lock: Lock, ids: list[str]) -> list[str]:
    """Of these assets, those whose current output in `lock` is not approved, as lines."""
    problems = []
    for asset_id in ids:
        entry = lock.entries.get(asset_id)
        if entry is None:
            problems.append(f"not approved: {asset_id}: it has no output in pixmake.lock yet")
        elif not approved(entry):
            output = entry["outputs"][0]
            problems.append(
                f"not approved: {asset_id}: its output {output['path']} ({output['hash'][:12]}) "
                f"was not approved; `pixmake approve {asset_id}` once reviewed"
            )
    return problems


def approved(entry: Mapping[str, Any]) -> bool:
    """Whether every current output of the entry is approved."""
    hashes = set(entry.get("approved", []))
    return all(o["hash"] in hashes for o in entry["outputs"])
