"""`pixmake build`: generate, restore or derive what is not up to date."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from pixmake.errors import PixmakeError
from pixmake.results import BuildOptions, BuildResult
from pixmake.session import collecting, open_session

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.executor import Executor
    from pixmake.planner import Plan
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
    provider_factory: Any = None,
) -> BuildResult:
    """Build what is stale among the targets (all assets when none are given).

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
        _ = session.lock  # with the journal applied
        if session.journal_pending:
            session.compact()  # recover what a crashed or killed run finished
        plan = session.plan(force=force)
        # Building makes garbage cycles (asyncio, httpx, the journal); a few assets make few.
        big = sum(1 for p in plan.assets.values() if p.action != "none") >= 100
        with collecting() if big else nullcontext():
            selected = session.project.graph.select(targets) if targets else set(plan.order)
            selected &= set(session.project.assets)
            executor = _executor(session, plan, selected, options, reporter, provider_factory)
            try:
                import asyncio

                result = asyncio.run(_run(executor, selected))
            except KeyboardInterrupt:
                executor.result.interrupted = True
                reporter.summary(executor.result)
                raise
            finally:
                session.compact()
                session.remember()
            reporter.summary(result)
            return result


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
    needed = sorted(
        {
            project.assets[i].provider
            for i in selected
            if plan.assets[i].action not in ("none", "blocked")
        }
    )
    providers: dict[str, ImageProvider] = {
        name: factory(name, session.store, project.spec.providers.get(name)) for name in needed
    }
    estimate = plan.estimated_cost({i for i in selected if plan.assets[i].action == "generate"})
    if options.max_cost is not None and estimate > options.max_cost:
        raise BudgetError(
            f"the plan is estimated at {estimate:.4f} USD, more than --max-cost "
            f"{options.max_cost:.4f}\n  fix: raise --max-cost, build fewer targets, "
            "or use --max-new N"
        )
    return Executor(
        project, plan, session.lock, session.store, session.files, providers,
        JournalTasks(session.store), reporter, options,
    )  # fmt: skip


async def _run(executor: Executor, selected: set[str]) -> BuildResult:
    try:
        return await executor.run(selected)
    finally:
        for provider in executor.providers.values():
            await provider.aclose()
