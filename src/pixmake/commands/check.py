"""`pixmake check`: for CI, whether every asset is fresh against the committed lockfile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixmake.lockfile import LOCK_NAME
from pixmake.session import JOURNAL, open_session

if TYPE_CHECKING:
    from pathlib import Path


def check(root: Path, *, profile: str | None = None, provider: str | None = None) -> list[str]:
    """What is not up to date, as lines; empty when everything is. Writes nothing."""
    session = open_session(root, profile=profile, provider=provider)
    if session.fresh_ids() is not None:
        return []
    _ = session.lock  # the journal's count, for the message; CI checks the committed lockfile
    plan = session.plan(lock=session.committed, record=False)
    problems = [
        f"{p.state}: {p.id}: {'; '.join(p.reasons)}"
        for p in (plan.assets[i] for i in plan.order)
        if p.state != "fresh"
    ]
    if session.journal_pending:
        problems.append(
            f"{LOCK_NAME} is behind {JOURNAL} ({session.journal_pending} finished assets not "
            "yet written); run `pixmake build` to write them"
        )
    return problems
