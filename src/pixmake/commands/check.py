"""`pixmake check`: for CI, whether every asset is fresh against the committed lockfile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixmake.lockfile import LOCK_NAME
from pixmake.session import JOURNAL, open_session

if TYPE_CHECKING:
    import os

    from pixmake.lockfile import Lock


def check(
    root: str | os.PathLike[str],
    *,
    profile: str | None = None,
    provider: str | None = None,
    approved: bool = False,
) -> list[str]:
    """What is not up to date, as lines; empty when everything is. Writes nothing.
    `approved`: also every asset whose current output (as committed) was not approved."""
    session = open_session(root, profile=profile, provider=provider)
    session.trace.recording = False  # check writes nothing: no record is made to be dropped
    ids = session.fresh_ids()
    if ids is not None:
        return _unapproved(session.committed, ids) if approved else []
    plan = session.changed_rows() if not approved else None  # with no journal: the lock
    if plan is None:
        _ = session.lock  # the journal's count, for the message; CI checks the committed lock
        session.read_ahead()
        try:
            plan = session.plan(lock=session.committed, record=False)
        finally:
            session.close()
    problems = [
        f"{p.state}: {p.id}: {'; '.join(p.reasons)}"
        for p in (plan.assets[i] for i in plan.order)
        if p.state != "fresh"
    ]
    if approved:
        problems += _unapproved(session.committed, list(session.project.graph.order))
    if session.journal_pending:
        problems.append(
            f"{LOCK_NAME} is behind {JOURNAL} ({session.journal_pending} finished assets not "
            "yet written); run `pixmake build` to write them"
        )
    return problems


def _unapproved(lock: Lock, ids: list[str]) -> list[str]:
    from pixmake.commands.approve import unapproved

    return unapproved(lock, ids)
