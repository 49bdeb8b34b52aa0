"""The library API: every command is a function here; `cli.py` only parses and prints.

```python
from pixmake import api
plan = api.status(Path("."))            # what is stale, and why
result = api.build(Path("."), provider="placeholder")
```
"""

from __future__ import annotations

import fnmatch
import gc as collector
import json
import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake import memo, planner, snapshot
from pixmake.errors import PixmakeError, SpecError, UsageError
from pixmake.hashing import FileHasher, derive_key, hash_file, key_material
from pixmake.lockfile import LOCK_NAME, Lock, make_entry, read_lock, write_lock
from pixmake.project import SPEC_NAME, Project, load_project
from pixmake.results import BuildOptions
from pixmake.spec import rowcache
from pixmake.store import STATE_DIR, Store
from pixmake.tasks import JournalTasks, open_tasks

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pixmake.delta import Delta
    from pixmake.executor import Executor
    from pixmake.hashing import StatEntry
    from pixmake.lockfile import DerivedRecord, OutputRecord
    from pixmake.planner import Plan
    from pixmake.providers.base import ImageProvider
    from pixmake.report import Reporter
    from pixmake.results import BuildResult


class BudgetError(PixmakeError):
    """The plan costs more than --max-cost allows."""

    exit_code = 1


@dataclass(slots=True)
class Session:
    """A loaded project with its lock (journal applied), store and file hasher."""

    project: Project
    lock: Lock
    store: Store
    hasher: FileHasher
    journal_pending: int = 0
    committed: Lock = field(default_factory=Lock)
    options: dict[str, Any] = field(default_factory=dict)
    lock_stat: snapshot.Stat = None
    delta: Delta | None = None  # an incremental session: `project` holds the changed rows only

    @property
    def root(self) -> Path:
        return self.project.root

    def plan(self, force: bool = False) -> Plan:
        if self.delta is not None:
            return self._delta_plan(self.delta, force)
        proofs = None if self.journal_pending else memo.load(self.root, self.lock_stat)
        return planner.plan(
            self.project, self.lock, self.store, self.hasher, force=force, memo=proofs
        )

    def _delta_plan(self, delta: Delta, force: bool) -> Plan:
        """The changed rows' assets planned; every kept asset fresh by the snapshot."""
        part = planner.plan(
            self.project, self.lock, self.store, self.hasher, force=force,
            orphans_among=delta.gone,
        )  # fmt: skip
        whole = planner.Plan.all_fresh(sorted(delta.kept.union(self.project.graph.order)))
        whole.assets.update(part.assets)
        whole.order += [i for i in part.order if part.assets[i].state == "orphaned"]
        return whole

    def save_stats(self) -> None:
        if self.hasher.dirty and self.delta is None:  # an incremental run hashes a few files
            # afresh rather than read and rewrite the whole stat cache (~25 ms at 10,000)
            self.store.save_stats(self.hasher.cache)
            self.hasher.dirty.clear()


def open_session(
    root: Path,
    *,
    profile: str | None = None,
    provider: str | None = None,
    save: bool = True,
    incremental: bool = False,
) -> Session:
    """Load the project (reusing rows rendered last time) with its lock, store and hasher.
    `save=False` writes nothing, not even the render cache (for `check`). `incremental`: when
    only data tables changed since every asset was fresh, load just their changed rows."""
    store = Store(root)
    options = {"profile": profile, "provider": provider}
    change = _delta(root, options, rowcache.load(store.dir, rows=False)) if incremental else None
    if change is not None:
        project, delta = change
        return _session(root, project, store, options, delta)
    cache = rowcache.load(store.dir)
    project = load_project(root, profile=profile, provider=provider, cache=cache)
    if save and cache.changed:
        store.ensure_dir()
        rowcache.save(store.dir, cache, project.templates)
    return _session(root, project, store, options)


def _delta(
    root: Path, options: dict[str, Any], cache: rowcache.RowCache
) -> tuple[Project, Delta] | None:
    """The project of the changed rows alone, if delta.py applies and they collide with no
    kept asset (by id or output) and name no other asset; else None, for the full path."""
    from pixmake import delta as deltas

    delta = deltas.compute(root, options)
    if delta is None:
        return None
    try:
        project = load_project(root, **options, cache=cache, only=delta.only, tables=delta.tables)
    except SpecError:
        return None  # the full path reports it with its whole context (`asset:` names, ...)
    outputs = delta.kept_outputs()
    for asset in project.assets.values():
        if asset.id in delta.kept or any(p in outputs for p in asset.all_outputs()):
            return None
        if any(ref.kind == "asset" for ref in asset.references):
            return None
    return project, delta


def _session(
    root: Path, project: Project, store: Store, options: dict[str, Any], delta: Delta | None = None
) -> Session:
    lock_stat = snapshot.stat(root / LOCK_NAME)
    committed = read_lock(root, unindexed=delta is not None)  # unchanged since the snapshot
    lock = Lock(committed.entries.copy())
    pending = 0
    for event in store.read_journal():
        if event.get("t") == "done":
            lock.entries[event["id"]] = event["entry"]
            pending += 1
    hasher = FileHasher(root, store.load_stats() if delta is None else {})
    return Session(project, lock, store, hasher, pending, committed, options, lock_stat, delta)


def remember_fresh(session: Session, plan: Plan) -> None:
    """Record what this plan proved fresh, for the next run: each fresh asset (memo.py) and,
    when every asset is fresh, the whole project (snapshot.py)."""
    if session.journal_pending:
        return
    if session.delta is not None:
        if all(p.state == "fresh" for p in plan.assets.values()):
            _remember_delta(session, session.delta, plan.order)
        return
    cache = session.hasher.cache
    proofs: dict[str, memo.Entry] = {}
    for item in plan.assets.values():
        asset = session.project.assets.get(item.id)
        fp = session.project.fingerprints.get(item.id)
        if item.state != "fresh" or asset is None or fp is None or item.key is None:
            continue
        stats = [(p, *cache[p][:3]) for p in asset.all_outputs() if p in cache]
        if len(stats) == len(asset.all_outputs()):
            refs = tuple(item.ref_hashes or ())
            proofs[item.id] = (fp, refs, item.key, item.output_hash, tuple(stats))
    session.store.ensure_dir()
    memo.save(session.root, session.lock_stat, proofs)
    if any(p.state != "fresh" for p in plan.assets.values()):
        return
    sources = dict(session.project.sources)
    if not _add_references(session, sources):
        return
    assets: list[tuple[str, list[tuple[str, snapshot.Stat]]]] = []
    for asset_id in plan.order:
        outputs = _outputs(session, asset_id)
        if outputs is None:
            return
        assets.append((asset_id, outputs))
    snapshot.write(session.root, session.options, sources, assets, _series(session.project))


def _add_references(session: Session, sources: dict[str, snapshot.Stat]) -> bool:
    """The lock and the project's reference files as snapshot sources; False if a reference
    was not hashed in this run (then the snapshot cannot vouch for it)."""
    sources[LOCK_NAME] = _lock_record(session)
    cache = session.hasher.cache
    for asset in session.project.assets.values():
        for ref in asset.references:
            if ref.kind == "file":
                if ref.value not in cache:
                    return False
                sources[ref.value] = _record(cache[ref.value])
    return True


def _outputs(session: Session, asset_id: str) -> list[tuple[str, snapshot.Stat]] | None:
    """An asset's outputs as snapshot records; None if one was not hashed in this run."""
    cache = session.hasher.cache
    paths = session.project.assets[asset_id].all_outputs()
    if any(p not in cache for p in paths):
        return None
    return [(p, _record(cache[p])) for p in paths]


def _record(entry: StatEntry) -> list[Any]:
    """A file's stat for the snapshot, with its content hash if it changed so recently that
    the stat alone cannot vouch for it (snapshot.RACY_NS): then the next run hashes it."""
    if entry[1] >= time.time_ns() - snapshot.RACY_NS:
        return [*entry[:3], entry[3]]
    return list(entry[:3])


def _lock_record(session: Session) -> list[Any] | None:
    """The lock's stat as planned with, and its hash when just written (see _record)."""
    found = session.lock_stat
    if found is None or found[1] < time.time_ns() - snapshot.RACY_NS:
        return found
    path = session.root / LOCK_NAME
    digest = hash_file(path)
    return [*found, digest] if snapshot.stat(path) == found else list(found)


def _series(project: Project) -> dict[str, Any]:
    """What delta.py needs to resolve just the changed rows of a table (snapshot.py): nothing
    at all when a template mentions `data` or an asset references another (any row may then
    affect any asset)."""
    series = project.series
    if any(s.uses_data for s in series.values()) or any(project.graph.upstream.values()):
        return {"tables": {}, "rows": {}, "lines": {}}
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    for name, s in series.items():
        tables.setdefault(s.table, []).append((name, s.var, s.uses_index))
    rows = {name: project.ordered[name] for name in series if name in project.ordered}
    lines = {rel: project.digests[rel] for rel in tables if project.digests.get(rel)}
    return {"tables": tables, "rows": rows, "lines": lines}


def _remember_delta(session: Session, delta: Delta, order: list[str]) -> None:
    """The snapshot once an incremental run leaves every asset (in `order`) fresh: the old
    one, with the changed tables, the lock, and the resolved assets' files updated."""
    document = delta.document
    sources: dict[str, snapshot.Stat] = {**document["sources"], **delta.table_stats}
    if not _add_references(session, sources):
        return
    old = {asset_id: outputs for asset_id, outputs in document["assets"]}
    assets: list[tuple[str, list[tuple[str, snapshot.Stat]]]] = []
    for asset_id in order:
        outputs = old[asset_id] if asset_id in delta.kept else _outputs(session, asset_id)
        if outputs is None:
            return
        assets.append((asset_id, outputs))
    lines = {**document.get("lines", {}), **delta.digests}
    series = {
        "tables": document["tables"],
        "rows": delta.rows_after(session.project.rows),
        "lines": {rel: digests for rel, digests in lines.items() if digests is not None},
    }
    snapshot.write(session.root, session.options, sources, assets, series)


def compact(session: Session) -> bool:
    """Write the lockfile from the journal; keep only unfinished paid tasks in the journal."""
    events = session.store.read_journal()
    still_open = open_tasks(events)
    keep = [e for e in events if e.get("t") == "task" and still_open.get(e["key"]) is e["task"]]
    # Made durable before the journal is cut when it records paid work (every paid task is
    # journaled before it is sent); free work lost to a power cut is only done again.
    paid = any(e.get("t") == "task" for e in events)
    wrote = write_lock(session.root, session.lock, fsync=paid)
    if events:
        session.store.rewrite_journal(keep)
    session.journal_pending = 0
    return wrote


# -- reading commands ----------------------------------------------------------------------


def status(
    root: Path, *, profile: str | None = None, provider: str | None = None, save: bool = True
) -> Plan:
    session = open_session(root, profile=profile, provider=provider, incremental=True)
    result = session.plan()
    if save:
        session.save_stats()
        remember_fresh(session, result)
    return result


def check(root: Path, *, profile: str | None = None, provider: str | None = None) -> list[str]:
    """What is not up to date, as lines; empty when everything is. Writes nothing."""
    session = open_session(root, profile=profile, provider=provider, save=False, incremental=True)
    session.lock = session.committed  # CI checks the committed lockfile, not the local journal
    problems = [
        f"{p.state}: {p.id}: {'; '.join(p.reasons)}"
        for p in session.plan().assets.values()
        if p.state != "fresh"
    ]
    if session.journal_pending:
        problems.append(
            f"{LOCK_NAME} is behind {STATE_DIR}/journal.jsonl ({session.journal_pending} "
            "finished assets not yet written); run `pixmake build` to write them"
        )
    return problems


def explain(root: Path, asset_id: str, **kw: Any) -> dict[str, Any]:
    session = open_session(root, **kw)
    result = session.plan()
    item = result.assets.get(asset_id)
    if item is None:
        raise UsageError(f"no asset `{asset_id}`; `pixmake status --all` lists the ids")
    session.save_stats()
    entry = session.lock.entries.get(asset_id)
    return {
        **item.to_json(),
        "key": item.key,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in item.changes],
        "request": _request_view(session, asset_id),
        "lock": entry,
    }


def _request_view(session: Session, asset_id: str) -> dict[str, Any] | None:
    asset = session.project.assets.get(asset_id)
    if asset is None:
        return None
    view = asset.settings()
    view["references"] = [r.text() for r in asset.references]
    view["outputs"] = list(asset.all_outputs())
    return view


def render(root: Path, asset_id: str, **kw: Any) -> dict[str, Any]:
    """The exact Runware task that would be sent for this asset (every field but taskUUID)."""
    from pixmake.executor import generation_request
    from pixmake.providers.runware import inference_task, reference_values

    session = open_session(root, **kw)
    asset = session.project.assets.get(asset_id)
    if asset is None:
        raise UsageError(f"no asset `{asset_id}`; `pixmake status --all` lists the ids")
    item = session.plan().assets[asset_id]
    if item.key is None or item.ref_hashes is None:
        upstream = ", ".join(session.project.graph.upstream[asset_id])
        raise UsageError(
            f"`{asset_id}` references {upstream}, not built yet; run `pixmake build {asset_id}`"
        )
    request = generation_request(session.project, asset, item.key, item.ref_hashes)
    for ref in request.references:
        if ref.path is not None and not ref.path.is_file():
            raise UsageError(f"`{ref.value}` is missing; run `pixmake build {asset_id}` first")
    return inference_task(request, reference_values(request))


def key_of(root: Path, asset_id: str, **kw: Any) -> dict[str, Any]:
    """The request key of an asset and the canonical material it hashes."""
    session = open_session(root, **kw)
    item = session.plan().assets.get(asset_id)
    asset = session.project.assets.get(asset_id)
    if item is None or asset is None:
        raise UsageError(f"no asset `{asset_id}`; `pixmake status --all` lists the ids")
    if item.ref_hashes is None or item.key is None:
        return {"key": None, "material": None}
    return {"key": item.key, "material": key_material(asset, item.ref_hashes)}


def graph_dot(root: Path, **kw: Any) -> str:
    project = load_project(root, **kw)
    lines = ["digraph pixmake {", "  rankdir=LR;", "  node [shape=box];"]
    for asset_id in project.graph.order:
        asset = project.assets[asset_id]
        lines.append(f"  {json.dumps(asset_id)};")
        for ref in asset.references:
            if ref.kind == "asset":
                lines.append(f"  {json.dumps(ref.value)} -> {json.dumps(asset_id)};")
            elif ref.kind == "file":
                lines.append(f"  {json.dumps(ref.value)} [shape=note];")
                lines.append(f"  {json.dumps(ref.value)} -> {json.dumps(asset_id)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- build ---------------------------------------------------------------------------------


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
    import asyncio

    from pixmake.executor import Executor
    from pixmake.providers import make_provider

    options = options or BuildOptions()
    factory = provider_factory or make_provider
    store = Store(root)
    with store.exclusive():
        session = open_session(root, profile=profile, provider=provider, incremental=not targets)
        session.store = store
        if session.journal_pending:
            compact(session)  # recover what a crashed or killed run finished
        plan = session.plan(force=force)
        # Building makes garbage cycles (asyncio, httpx, the journal): ~30 MB of peak memory
        # at 10,000 assets without the collector; a build of a few assets makes few.
        big = sum(1 for p in plan.assets.values() if p.action != "none") >= 100
        with _collecting() if big else nullcontext():
            selected = session.project.graph.select(targets) if targets else set(plan.order)
            selected &= set(session.project.assets)
            needed = sorted(
                {
                    session.project.assets[i].provider
                    for i in selected
                    if plan.assets[i].action not in ("none", "blocked")
                }
            )
            providers: dict[str, ImageProvider] = {
                name: factory(name, store, session.project.spec.providers.get(name))
                for name in needed
            }
            estimate = plan.estimated_cost(
                {i for i in selected if plan.assets[i].action == "generate"}
            )
            if options.max_cost is not None and estimate > options.max_cost:
                raise BudgetError(
                    f"the plan is estimated at {estimate:.4f} USD, more than --max-cost "
                    f"{options.max_cost:.4f}\n  fix: raise --max-cost, build fewer targets, "
                    "or use --max-new N"
                )
            executor = Executor(
                session.project,
                plan,
                session.lock,
                store,
                session.hasher,
                providers,
                JournalTasks(store),
                reporter,
                options,
            )
            try:
                result = asyncio.run(_run(executor, selected, providers))
            except KeyboardInterrupt:
                executor.result.interrupted = True
                reporter.summary(executor.result)
                raise
            finally:
                compact(session)
                session.save_stats()
            if session.delta is not None:
                result.fresh += len(session.delta.kept)  # fresh by the snapshot, not planned
            orphans = any(p.state == "orphaned" for p in plan.assets.values())
            if result.ok and selected == set(session.project.assets) and not orphans:
                session.lock_stat = snapshot.stat(root / LOCK_NAME)
                if session.delta is not None:  # kept assets are fresh by proof: no plan to redo
                    _remember_delta(session, session.delta, plan.order)
                else:
                    remember_fresh(session, _as_built(session, plan))
            reporter.summary(result)
            return result


@contextmanager
def _collecting() -> Iterator[None]:
    """The cyclic garbage collector on, whatever the caller chose (the command line turns it
    off: see cli.main)."""
    enabled = collector.isenabled()
    collector.enable()
    try:
        yield
    finally:
        if not enabled:
            collector.disable()


def _as_built(session: Session, plan: Plan) -> Plan:
    """The plan as it stands after a build that did everything: all fresh, as locked."""
    built = planner.Plan.all_fresh(plan.order)
    for item in built.assets.values():
        before = plan.assets[item.id]
        if before.action == "none":  # fresh before: known already (or proven by delta.py)
            item.key, item.ref_hashes = before.key, before.ref_hashes
            item.output_hash = before.output_hash
            continue
        entry = session.lock.entries[item.id]
        item.key = entry["key"]
        item.ref_hashes = [r.get("hash") for r in entry["request"].get("references", [])]
        item.output_hash = entry["outputs"][0]["hash"] if entry["outputs"] else None
    return built


async def _run(
    executor: Executor, selected: set[str], providers: dict[str, ImageProvider]
) -> BuildResult:
    try:
        return await executor.run(selected)
    finally:
        for provider in providers.values():
            await provider.aclose()


# -- writing commands ----------------------------------------------------------------------


def accept(root: Path, patterns: list[str], **kw: Any) -> list[str]:
    """Record the files on disk as the outputs of these assets. Returns the ids accepted."""
    store = Store(root)
    with store.exclusive():
        session = open_session(root, **kw)
        session.store = store
        result = session.plan()
        ids = _match(session.project, patterns)
        for asset_id in ids:
            item = result.assets[asset_id]
            if item.key is None or item.ref_hashes is None:
                raise UsageError(f"`{asset_id}` waits on an upstream asset; build that first")
            asset = session.project.assets[asset_id]
            missing = [p for p in asset.all_outputs() if session.hasher.hash(p) is None]
            if missing:
                raise UsageError(
                    f"cannot accept `{asset_id}`: {', '.join(missing)} missing; "
                    "`pixmake build` restores or generates it"
                )
            old = session.lock.entries.get(asset_id)
            outputs: list[OutputRecord] = [_adopt(session, path) for path in asset.outputs]
            earlier = {d["hash"]: d.get("key") for d in old.get("derived", [])} if old else {}
            derived: list[DerivedRecord] = []
            for step in asset.derived:
                record = _adopt(session, step.path)
                # A derived file left as pixmake made it still comes from the earlier image:
                # keep its key, so the next build derives it again from the accepted one.
                dkey = earlier.get(record["hash"]) or derive_key(
                    outputs[step.source]["hash"], step.params()
                )
                derived.append(
                    {**record, "source": step.source, "step": step.params(), "key": dkey}
                )
            provider = dict(old["record"]) if old else {"provider": "manual", "placeholder": False}
            provider["accepted"] = True
            session.lock.entries[asset_id] = make_entry(
                asset, item.key, item.ref_hashes, outputs, derived, provider
            )
            cached = [{k: v for k, v in o.items() if k != "path"} for o in outputs]
            store.put_action(item.key, {"outputs": cached, "record": provider})
        compact(session)
        session.save_stats()
        return ids


def _adopt(session: Session, path: str) -> OutputRecord:
    """Keep a project file in the store and describe it as an output record."""
    from pixmake.imaging import dimensions

    digest, size = session.hasher.hash(path) or ("", 0)
    session.store.put_file(session.root / path, digest)
    width, height = dimensions(session.store.read_object(digest))
    return {"path": path, "hash": digest, "bytes": size, "width": width, "height": height}


def prune(root: Path, *, dry_run: bool = False, **kw: Any) -> list[str]:
    """Drop lock entries of assets gone from the spec, and their unedited outputs."""
    store = Store(root)
    with store.exclusive():
        session = open_session(root, **kw)
        session.store = store
        orphans = sorted(set(session.lock.entries) - set(session.project.assets))
        if dry_run:
            return orphans
        claimed = {p for a in session.project.assets.values() for p in a.all_outputs()}
        for asset_id in orphans:
            entry = session.lock.entries.pop(asset_id)
            for record in [*entry["outputs"], *entry.get("derived", [])]:
                path = record["path"]
                found = session.hasher.hash(path)
                if path in claimed or found is None or found[0] != record["hash"]:
                    continue
                store.put_file(root / path, found[0])
                os.unlink(root / path)
        compact(session)
        session.save_stats()
        return orphans


@dataclass(slots=True)
class GcResult:
    objects: int = 0
    bytes: int = 0
    actions: int = 0


def gc(root: Path, *, dry_run: bool = False) -> GcResult:
    """Remove from the store every image the lockfile does not use."""
    store = Store(root)
    result = GcResult()
    if not store.dir.is_dir():
        return result
    with store.exclusive():
        lock = read_lock(root)
        for event in store.read_journal():
            if event.get("t") == "done":
                lock.entries[event["id"]] = event["entry"]
        keep = {
            r["hash"]
            for entry in lock.entries.values()
            for r in [*entry["outputs"], *entry.get("derived", [])]
        }
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
        stats = store.load_stats()
        alive = {p: e for p, e in stats.items() if (root / p).exists()}
        if len(alive) != len(stats) and not dry_run:
            store.save_stats(alive)
    return result


def _match(project: Project, patterns: list[str]) -> list[str]:
    ids: list[str] = []
    for pattern in patterns:
        found = [i for i in project.graph.order if fnmatch.fnmatchcase(i, pattern)]
        if not found:
            raise UsageError(f"no asset matches `{pattern}`")
        ids += [i for i in found if i not in ids]
    return ids


# -- init ----------------------------------------------------------------------------------

STARTER = """\
# pixmake.yaml: the images of this project. `pixmake build` makes what changed.
version: 1
defaults:
  model: gpt-image-1-mini     # or gpt-image-1
  size: 1024x1024             # 1024x1024, 1536x1024 or 1024x1536
  quality: medium             # low | medium | high | auto
  format: png                 # png | jpg | webp
vars:
  style: flat vector illustration, soft light
assets:
  logo:
    prompt: "A friendly robot mascot holding a paintbrush, {{ style }}"
    background: transparent
    out: images/logo.png
"""


def init(root: Path) -> list[str]:
    """Create a starter pixmake.yaml (if none) and ignore .pixmake/ in git. Returns what it did."""
    done = []
    spec = root / SPEC_NAME
    if not spec.exists():
        spec.write_text(STARTER, encoding="utf-8")
        done.append(f"created {SPEC_NAME}")
    ignore = root / ".gitignore"
    text = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    if not any(
        line.strip() in (STATE_DIR, f"{STATE_DIR}/", f"/{STATE_DIR}/") for line in text.splitlines()
    ):
        with ignore.open("a", encoding="utf-8") as handle:
            if text and not text.endswith("\n"):
                handle.write("\n")
            handle.write(f"{STATE_DIR}/\n")
        done.append(f"added {STATE_DIR}/ to .gitignore")
    Store(root).ensure_dir()
    return done
