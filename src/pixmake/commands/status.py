"""`pixmake status` and `pixmake plan`: each asset's state and action, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixmake.planner import Plan
from pixmake.session import open_session

if TYPE_CHECKING:
    import os
    from pathlib import Path

    from pixmake.project import Project


def status(
    root: str | os.PathLike[str],
    targets: list[str] | None = None,
    *,
    profile: str | None = None,
    provider: str | None = None,
    reroll: bool = False,
) -> Plan:
    """The plan of every asset (or of the targets and their upstream assets). Writes only
    the trace (.pixmake/), never the project. `reroll`: as `build --reroll` would plan it."""
    session = open_session(root, profile=profile, provider=provider)
    ids = session.fresh_ids() if not targets else None
    if ids is not None:
        return Plan.all_fresh(ids)
    some = session.changed_rows() if not targets and not reroll else None
    if some is not None:
        return some
    session.read_ahead()
    try:
        result = session.plan(reroll=reroll_ids(session.project, targets) if reroll else None)
    finally:
        session.close()
    session.remember(result)
    if targets:
        chosen = session.project.graph.select(targets)
        result = Plan({i: result.assets[i] for i in result.order if i in chosen},
                      [i for i in result.order if i in chosen])  # fmt: skip
    return result


def flagged(root: Path) -> dict[str, list[str]]:
    """Each asset's outputs that Runware's content check flagged, from the lock (`nsfw` in
    its record); the lock is parsed only when it records a check at all."""
    from pixmake.lockfile import flagged_outputs, lock_bytes, read_lock

    if not any(b'"nsfw"' in data for data in lock_bytes(root)):
        return {}  # a search of the bytes: the no-op path decodes nothing
    found = {}
    for asset_id, entry in read_lock(root).entries.items():
        paths = flagged_outputs(entry)
        if paths:
            found[asset_id] = paths
    return found


def reroll_ids(project: Project, targets: list[str] | None) -> set[str]:
    """The assets `--reroll` names (ids or globs; not their upstream ones).

    Raises:
        UsageError: no targets, or one that matches no asset.
    """
    from pixmake.commands.accept import match
    from pixmake.errors import UsageError

    if not targets:
        raise UsageError(
            "--reroll needs the assets to reroll\n  fix: `pixmake build --reroll ID...` "
            "(ids or globs), which asks for a new image of each one's request"
        )
    return set(
        match(
            project,
            targets,
            "--reroll takes asset ids or globs (`pixmake status --all` lists them)",
        )
    )
