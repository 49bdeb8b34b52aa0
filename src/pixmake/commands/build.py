"""`pixmake build`: generate, restore or derive what is not up to date."""

from __future__ import annotations

import time
import warnings
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from pixmake.errors import FileSystemError, PixmakeError, PixmakeWarning
from pixmake.fsutil import describe_os_error
from pixmake.lockfile import refuse_losing_unlisted
from pixmake.results import BuildOptions, BuildResult
from pixmake.session import collecting, open_session

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.executor import Executor
    from pixmake.planner import AssetPlan, Plan
    from pixmake.providers.base import ImageProvider
    from pixmake.report import Reporter
    from pixmake.session import Session


class BudgetError(PixmakeError):
    """The plan costs more than --max-cost allows."""

    exit_code = 1


def build(
    root: Path,
    targets: list[str] | None = None,
    *,
    options: BuildOptions | None = None,
    reporter: Reporter,
    profile: str | None = None,
    provider: str | None = None,
    force: bool = False,
    reroll: bool = False,
    provider_factory: Any = None,
) -> BuildResult:
    """Build what is stale among the targets (all assets when none are given). `reroll`:
    ask for a new image of each target's request (paid); the one it replaces stays a
    candidate (`pixmake history`, `pixmake pick`).

    Raises SpecError/UsageError before doing anything; per-asset failures are in the result.
    A KeyboardInterrupt propagates after everything finished has been written to the lock.
    """
    options = options or BuildOptions()
    session = open_session(root, profile=profile, provider=provider)
    ids = session.fresh_ids() if not targets else None
    if ids is not None:
        reporter.start(0, 0.0)
        result = BuildResult(fresh=len(ids))
        reporter.summary(result)
        return result
    with session.store.exclusive():
        refuse_losing_unlisted(root, session.committed)
        _ = session.lock  # with the journal applied
        session.store.clear_temps(time.time())  # left by a killed run; this one holds run.lock
        if session.journal_pending:
            session.compact()  # recover what a crashed or killed run finished
        from pixmake.commands.status import reroll_ids

        rerolls = reroll_ids(session.project, targets) if reroll else None
        plan = session.plan(force=force, reroll=rerolls)
        # Building makes garbage cycles (asyncio, httpx, the journal); a few assets make few.
        big = sum(1 for p in plan.assets.values() if p.action != "none") >= 100
        with collecting() if big else nullcontext():
            selected = session.project.graph.select(targets) if targets else set(plan.order)
            selected &= set(session.project.assets)
            executor = _executor(session, plan, selected, options, reporter, provider_factory)
            interrupted = False
            try:
                import asyncio

                result = asyncio.run(_run(executor, selected))
            except KeyboardInterrupt:
                executor.result.interrupted = interrupted = True
                reporter.summary(executor.result)
                raise
            finally:
                problem = _close(session)
                if problem is not None and interrupted:
                    raise problem
            reporter.summary(result)
            if problem is not None:
                raise problem
            return result


def _close(session: Session) -> FileSystemError | None:
    """Write the lock from the journal, and the trace. A lock that cannot be written is an
    error (returned, for after the summary); the journal keeps what was built, and the next
    run writes it. A trace that cannot be written is only a warning: it is disposable."""
    problem = None
    try:
        session.compact()
    except OSError as exc:
        problem = FileSystemError(
            describe_os_error(exc, session.root)
            + "\n  what this build made is kept in .pixmake/journal.jsonl: the next run "
            "writes it into pixmake.lock, free"
        )
    try:
        session.remember()
    except OSError as exc:
        warnings.warn(
            describe_os_error(exc, session.root).replace("\n", " (the trace is only a cache)\n"),
            PixmakeWarning,
            stacklevel=2,
        )
    return problem


def _executor(
    session: Session,
    plan: Plan,
    selected: set[str],
    options: BuildOptions,
    reporter: Reporter,
    provider_factory: Any,
) -> Executor:
    from pixmake.executor import Executor
    from pixmake.providers import make_provider
    from pixmake.tasks import JournalTasks

    project = session.project
    factory = provider_factory or make_provider
    # Only what may be generated needs its provider (and its key): a restore or a derive is
    # local, and an asset whose key waits on an upstream one may turn out to be generated.
    needed = sorted(
        {
            project.assets[i].provider
            for i in selected
            if plan.assets[i].action == "generate"
            or (plan.assets[i].key is None and plan.assets[i].action != "none")
        }
    )
    providers: dict[str, ImageProvider] = {
        name: factory(name, session.store, project.spec.providers.get(name)) for name in needed
    }
    to_send = sorted(i for i in selected if plan.assets[i].action == "generate")
    to_send = [i for i in to_send if _in_shard(plan.assets[i], options)]
    collect = [project.assets[i] for i in to_send if plan.assets[i].paid]
    to_send = [i for i in to_send if not plan.assets[i].paid]  # collecting is free
    if options.max_cost is not None:
        _check_budget(session, plan, to_send, options.max_cost, options.max_new)
    paid = [project.assets[i] for i in to_send if providers[project.assets[i].provider].paid]
    if options.max_new is not None:  # at most that many are sent: count the largest
        paid = sorted(paid, key=lambda a: a.width * a.height * a.images)
        paid = paid[len(paid) - options.max_new :] if options.max_new else []
    if paid or collect:
        _check_disk(session, [(a.width, a.height, a.format, a.images) for a in paid + collect])
    return Executor(
        project, plan, session.lock, session.store, session.files, providers,
        JournalTasks(session.store), reporter, options, remote=session.remote,
    )  # fmt: skip


def _in_shard(item: AssetPlan, options: BuildOptions) -> bool:
    """Whether this build may pay for it: a shard pays only for its share (a task sent
    before is collected, and a key not known yet may turn out to be in it)."""
    return item.paid or item.key is None or options.in_shard(item.key)


def _check_budget(
    session: Session, plan: Plan, to_send: list[str], max_cost: float, max_new: int | None
) -> None:
    """Refuse, before anything is sent, a plan that may cost more than --max-cost: all that
    is to generate, or under --max-new N the dearest N of it (any N of them may be sent)."""
    if max_new == 0:
        return
    unpriced = plan.unpriced(set(to_send))
    if unpriced:
        asset = session.project.assets[unpriced[0]]
        more = f" ({len(unpriced) - 1} more assets too)" if len(unpriced) > 1 else ""
        raise BudgetError(
            f"--max-cost cannot bound this plan: `{asset.id}` uses the model {asset.model}, "
            f"which has no known price{more}\n  fix: build the other targets with --max-cost, "
            "and these without it; or use a model with a known price (gpt-image-1, "
            "gpt-image-1-mini)"
        )
    estimates = sorted(plan.assets[i].estimate_usd or 0.0 for i in to_send)
    capped = max_new is not None and max_new < len(estimates)
    if capped:
        estimates = estimates[len(estimates) - (max_new or 0) :]
    estimate = sum(estimates)
    if estimate > max_cost:
        which = f" (the dearest {max_new} that --max-new {max_new} lets through)" if capped else ""
        raise BudgetError(
            f"the plan is estimated at {estimate:.4f} USD{which}, more than --max-cost "
            f"{max_cost:.4f}\n  fix: raise --max-cost, build fewer targets, or use --max-new N"
        )


def _check_disk(session: Session, images: list[tuple[int, int, str, int]]) -> None:
    from pixmake import diskspace

    session.store.ensure_dir()
    short = diskspace.shortfall(session.store.dir, images)
    if short is not None:
        needed, free = short
        raise FileSystemError(
            f"not enough free disk space for {sum(n for *_, n in images)} paid images: about "
            f"{diskspace.mib(needed)} needed, {diskspace.mib(free)} free; nothing was sent\n"
            "  fix: free some disk space, or build fewer assets at a time (--max-new N)"
        )


async def _run(executor: Executor, selected: set[str]) -> BuildResult:
    try:
        return await executor.run(selected)
    finally:
        for provider in executor.providers.values():
            await provider.aclose()
