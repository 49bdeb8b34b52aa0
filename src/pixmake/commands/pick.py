"""`pixmake pick`: make one of an asset's images its output, free.

The image is any of `pixmake history ID` (by its number or its hash): a candidate, an
image of the store's action cache, or one only git has (brought into the store, verified by
its hash). It becomes a candidate of the current request and the chosen one; the outputs
and derived files are rewritten from the store by the executor's own restore, which keeps
what it replaces in the store. A hand-edited output is never overwritten without `force`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixmake.commands.history import images_of
from pixmake.errors import PixmakeError, UsageError
from pixmake.lockfile import action_value, candidates_of
from pixmake.session import open_session

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.commands.history import HistoryImage
    from pixmake.results import BuildResult
    from pixmake.session import Session


class PickBlockedError(PixmakeError):
    """The pick would overwrite a file edited by hand (or one pixmake did not write)."""

    exit_code = 1


def pick(
    root: Path,
    asset_id: str,
    which: str,
    *,
    force: bool = False,
    profile: str | None = None,
    provider: str | None = None,
) -> HistoryImage:
    """Make image `which` (a number of `pixmake history`, or a hash) the asset's output.
    Returns the image picked. No provider is asked: nothing is paid.

    Raises:
        UsageError: no such asset or image, or the image is in no store.
        PickBlockedError: an output was edited by hand, and `force` is not given.
    """
    session = open_session(root, profile=profile, provider=provider)
    with session.store.exclusive():
        if session.journal_pending:
            session.compact()
        if asset_id not in session.project.assets:
            raise UsageError(
                f"no asset `{asset_id}` in pixmake.yaml\n  fix: `pixmake status --all` lists them"
            )
        chosen = find_image(images_of(session, asset_id), asset_id, which)
        plan = session.plan(force=force)
        item = plan.assets[asset_id]
        if item.key is None or item.ref_hashes is None:
            raise UsageError(
                f"`{asset_id}` waits on an upstream asset\n  fix: `pixmake build` first"
            )
        if item.action == "blocked":
            raise PickBlockedError(
                f"cannot pick for `{asset_id}`: {'; '.join(item.reasons)}\n"
                "  fix: `pixmake pick --force` replaces the file (it is kept in the store)"
            )
        _run(session, asset_id, item.key, item.ref_hashes, chosen)
        session.compact()
        session.remember()
    return chosen


def find_image(items: list[HistoryImage], asset_id: str, which: str) -> HistoryImage:
    """The image numbered `which`, or whose hash starts with it (at least 6 characters)."""
    text = which.strip().lower()
    if text.isdigit():
        number = int(text)
        if 1 <= number <= len(items):
            return items[number - 1]
    elif len(text) >= 6:
        found = [i for i in items if any(r["hash"].startswith(text) for r in i.images)]
        if len(found) == 1:
            return found[0]
    raise UsageError(
        f"`{asset_id}` has no image `{which}` ({len(items)} known)\n"
        f"  fix: `pixmake history {asset_id}` numbers them; give a number or a hash "
        "(6 characters or more)"
    )


def _run(
    session: Session,
    asset_id: str,
    key: str,
    ref_hashes: list[str | None],
    chosen: HistoryImage,
) -> BuildResult:
    """Restore the chosen image through the executor, as a build restores a cached one."""
    import asyncio

    from pixmake.executor import Executor
    from pixmake.planner import AssetPlan, Plan
    from pixmake.results import BuildOptions
    from pixmake.sources import ContentSources
    from pixmake.tasks import JournalTasks

    sources = ContentSources(session.root, session.store, session.lock, session.files)
    try:
        missing = [i["hash"] for i in chosen.images if not sources.ensure(i["hash"])]
    finally:
        sources.close()
    if missing:
        raise UsageError(
            f"image {chosen.number} of `{asset_id}` ({missing[0]}) is in no store, project "
            "file or commit\n  fix: pick another (`pixmake history` says which are available)"
        )
    entry = session.lock.entries.get(asset_id)
    earlier = candidates_of(entry) if entry is not None and entry["key"] == key else []
    hashes = [[i["hash"] for i in c] for c in earlier]
    wanted = [i["hash"] for i in chosen.images]
    candidates = earlier if wanted in hashes else [*earlier, list(chosen.images)]
    record: dict[str, Any] = dict(entry["record"]) if entry is not None else dict(chosen.record)
    cached = action_value(chosen.images, record, candidates, [*hashes, wanted].index(wanted))
    session.store.put_action(key, cached)  # a later restore of this request brings the pick
    restore = AssetPlan(asset_id, "changed", "restore", key=key, ref_hashes=ref_hashes)
    restore.cached = cached
    executor = Executor(
        session.project, Plan({asset_id: restore}, [asset_id]), session.lock, session.store,
        session.files, {}, JournalTasks(session.store), _Quiet(), BuildOptions(),
    )  # fmt: skip
    result = asyncio.run(executor.run({asset_id}))
    if result.failures:
        raise PixmakeError(f"cannot pick for `{asset_id}`: {result.failures[asset_id]}")
    return result


class _Quiet:
    """A reporter that says nothing: `pick` reports what it picked itself."""

    def start(self, work: int, estimate_usd: float | None) -> None:
        return None

    def started(self, asset_id: str, action: str) -> None:
        return None

    def finished(self, asset_id: str, action: str, cost_usd: float = 0.0) -> None:
        return None

    def failed(self, asset_id: str, message: str) -> None:
        return None

    def skipped(self, asset_id: str, reason: str) -> None:
        return None

    def window(self, provider: str, size: int) -> None:
        return None

    def summary(self, result: BuildResult) -> None:
        return None
