"""A command's view of one project: its files, trace, store, spec, lock and plan.

```
open ──▶ the trace's `status` record verifies? ──yes──▶ every asset fresh (nothing loaded)
              │ no
              ▼
         project (spec, rows: trace `spec`, `decls`) ──▶ lock + journal ──▶ plan (trace `plans`)
              │
close ──▶ the trace written back: file records, steps, and `status` when all is fresh
```
Commands (commands/*.py) open a session, ask it for a plan, act, and close it.
"""

from __future__ import annotations

import gc as collector
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pixmake import planner
from pixmake.filestat import FileHasher
from pixmake.lockfile import Lock, check_paths, read_lock, write_lock
from pixmake.store import STATE_DIR, Store
from pixmake.tasks import open_tasks
from pixmake.trace import REMEMBERED_ROWS, open_trace, verify

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pixmake.planner import Plan
    from pixmake.project import Project
    from pixmake.remote import Remote
    from pixmake.spec.values import Spec
    from pixmake.trace import Inputs, Trace

JOURNAL = f"{STATE_DIR}/journal.jsonl"


@dataclass(slots=True)
class Session:
    """Everything a command reads, each at most once, through one FileHasher and one trace."""

    root: Path
    profile: str | None = None
    provider: str | None = None
    store: Store = field(init=False)
    trace: Trace = field(init=False)
    files: FileHasher = field(init=False)
    journal_pending: int = 0
    remembered: bool = field(init=False)  # whether the trace had any file record
    _project: Project | None = None
    _lock: Lock | None = None
    _committed: Lock | None = None
    _paid: set[str] | None = None
    _remote: Remote | Literal[False] | None = False  # False: not looked up yet

    def __post_init__(self) -> None:
        self.store = Store(self.root)
        self.trace = open_trace(self.store.dir)
        self.files = FileHasher(self.root, self.trace.section("files"))
        self.remembered = bool(self.files.records)

    @property
    def options(self) -> list[Any]:
        return [self.profile, self.provider]

    # -- the no-op path ---------------------------------------------------------------------

    def fresh_ids(self) -> list[str] | None:
        """The asset ids, in plan order, if the trace proves every one fresh; else None."""
        record = self.trace.section("status")
        if record.get("options") != self.options:
            return None
        if not verify(record.get("inputs", ()), self.files):
            return None
        ids: list[str] = record.get("ids", [])
        return ids

    def changed_rows(self) -> Plan | None:
        """The plan, if the trace's fresh answer stands but for rows of tables it recorded,
        made by planning those rows alone (rowdelta.py); else None."""
        record = self.trace.section("status")
        if record.get("options") != self.options or not record.get("rows"):
            return None
        from pixmake.rowdelta import plan_changed

        return plan_changed(self, record)

    def read_ahead(self) -> None:
        """With no file remembered (a fresh clone, CI, `.pixmake/` deleted), every file the
        lock names is hashed on a thread while the spec is loaded and resolved, until the run
        asks for it (readahead.py). With records, their stats answer: nothing is read."""
        if not self.remembered:
            self.files.read_ahead(self.committed.entries.named_paths())

    def close(self) -> None:
        """Stop reading ahead; the trace is written by `remember`, not here."""
        self.files.stop_ahead()

    # -- loading ----------------------------------------------------------------------------

    @property
    def project(self) -> Project:
        if self._project is None:
            from pixmake.project import load_project

            self._project = load_project(
                self.root,
                profile=self.profile,
                provider=self.provider,
                files=self.files,
                trace=self.trace,
            )
        return self._project

    @property
    def committed(self) -> Lock:
        """The lockfile as committed, without the journal."""
        if self._committed is None:
            self._committed = read_lock(self.root, self.files.hash)  # each file: an input
            # of every answer
        return self._committed

    @property
    def lock(self) -> Lock:
        """The lockfile with what the journal records as finished since it was written."""
        if self._lock is None:
            lock = Lock(self.committed.entries.copy())
            self.files.hash(JOURNAL)
            events = self.store.read_journal()
            self._paid = set(open_tasks(events))
            for event in events:
                if event.get("t") == "done":
                    check_paths(event["id"], event["entry"], JOURNAL)
                    lock.entries[event["id"]] = event["entry"]
                    self.journal_pending += 1
            self._lock = lock
        return self._lock

    @property
    def paid_tasks(self) -> set[str]:
        """Request keys of paid tasks a build sent and did not collect (it was interrupted)."""
        if self._paid is None:
            _ = self.lock  # reads the journal once, for both
        if self._paid is None:  # the lock was given (use_lock), not read
            self._paid = set(open_tasks(self.store.read_journal()))
        return self._paid

    @property
    def remote(self) -> Remote | None:
        """The remote cache of the spec or PIXMAKE_REMOTE, if any (nothing is contacted)."""
        return self.remote_for(self.project.spec)

    def remote_for(self, spec: Spec) -> Remote | None:
        """The remote cache of `spec` (this project's, however it was loaded)."""
        if self._remote is False:
            config = spec.cache
            if config.remote is None and not os.environ.get("PIXMAKE_REMOTE"):
                self._remote = None  # none named (remote.ENV, cache.remote): no import
            else:
                from pixmake.remote import configured

                self._remote = configured(config, self.root)
        return self._remote

    def use_lock(self, lock: Lock) -> None:
        self._lock = lock

    def plan(
        self,
        *,
        force: bool = False,
        lock: Lock | None = None,
        record: bool = True,
        reroll: set[str] | None = None,
    ) -> Plan:
        """The plan; `record=False` for a command that writes nothing back (the trace's
        records are still used, none is made). `reroll`: assets to get a new image of their
        request; a reroll an interrupted build paid for is collected in any case."""
        memory: dict[str, Any] | None = self.trace.section("plans")
        if len(self.project.assets) > REMEMBERED_ROWS:
            self.trace.replace("plans", {})
            memory = None
        elif not record and not memory:
            memory = None
        open_rerolls = {k for k in self.paid_tasks if planner.REROLL in k}
        rerolls = planner.Reroll(reroll or set(), open_rerolls) if reroll or open_rerolls else None
        result = planner.plan(
            self.project, lock or self.lock, self.store, self.files,
            force=force, memory=memory, reroll=rerolls, remote=self.remote,
        )  # fmt: skip
        if result.recorded:
            self.trace.touch("plans")
        if self.paid_tasks:
            result.mark_paid(self.paid_tasks)
        return result

    def compact(self) -> bool:
        """Write the lockfile from the journal; keep only unfinished paid tasks in the journal.
        Made durable before the journal is cut when it records paid work (every paid task is
        journaled before it is sent); free work lost to a power cut is only done again."""
        events = self.store.read_journal(slim=True)  # the lock has the entries already
        still_open = open_tasks(events)
        keep = [e for e in events if e.get("t") == "task" and still_open.get(e["key"]) is e["task"]]
        paid = any(e.get("t") == "task" for e in events)
        self.store.ensure_dir()
        wrote = write_lock(self.root, self.lock, fsync=paid, scratch=self.store.scratch)
        if events:
            self.store.rewrite_journal(keep)
        self.journal_pending = 0
        return wrote

    # -- closing ----------------------------------------------------------------------------

    def remember(self, plan: Plan | None = None) -> None:
        """Write the trace back: the file records, the steps, and, when `plan` found every
        asset fresh with no journal pending, the answer with every file it read."""
        fresh = plan is not None and all(
            p.state == "fresh" and p.action == "none" for p in plan.assets.values()
        )  # a reroll is fresh, with work to do
        if plan is not None and fresh and not self.journal_pending:
            from pixmake.rowdelta import record as rows_record

            inputs = self.inputs()
            rows = (
                rows_record(self.project, plan, self.files, self.lock)
                if self._project and self.trace.enabled
                else {}
            )
            record = {"options": self.options, "inputs": inputs, "ids": list(plan.order)}
            self.trace.replace("status", {**record, "rows": rows})
        if self.files.changed:
            self.files.settle()
            self.trace.touch("files")
        if self.trace.enabled:
            self.store.ensure_dir()
        self.trace.save()

    def inputs(self) -> Inputs:
        """Every file this session hashed or looked for, with what it found."""
        return self.files.seen()


def open_session(
    root: str | os.PathLike[str], *, profile: str | None = None, provider: str | None = None
) -> Session:
    """The session of the project at `root` (a path, or its text: a library caller's "."):
    every command's first step."""
    from pathlib import Path

    return Session(Path(root), profile, provider)


@contextmanager
def collecting() -> Iterator[None]:
    """The cyclic garbage collector on for a block, and as it was after it."""
    enabled = collector.isenabled()
    collector.enable()
    try:
        yield
    finally:
        if not enabled:
            collector.disable()
