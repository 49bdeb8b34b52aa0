"""`pixmake status` and `pixmake plan`: each asset's state and action, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixmake.planner import Plan
from pixmake.session import open_session

if TYPE_CHECKING:
    from pathlib import Path


def status(
    root: Path,
    targets: list[str] | None = None,
    *,
    profile: str | None = None,
    provider: str | None = None,
) -> Plan:
    """The plan of every asset (or of the targets and their upstream assets). Writes only
    the trace (.pixmake/), never the project."""
    session = open_session(root, profile=profile, provider=provider)
    ids = session.fresh_ids() if not targets else None
    if ids is not None:
        return Plan.all_fresh(ids)
    result = session.plan()
    session.remember(result)
    if targets:
        chosen = session.project.graph.select(targets)
        result = Plan({i: result.assets[i] for i in result.order if i in chosen},
                      [i for i in result.order if i in chosen])  # fmt: skip
    return result
