"""Executing a plan: asyncio, `-j N`, keep-going by default, budgets, interrupts.

For each asset, in dependency order but concurrently where the graph allows:

```
upstream done? ──no──▶ skipped ("because X failed")
      │ yes
key known? ──no──▶ compute it from the upstream's new output; the store may have it
      │
restore (free) | generate (provider, paid) | derive (local)
      │
staged files (.pixmake/tmp/) ──checked──▶ store (objects/, a rename) ──▶ output files (atomic)
      ──▶ journal ──▶ lock (in memory)
```
The lockfile is compacted from the journal when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import functools
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.errors import ProviderAuthError, ProviderError, ProviderQuotaError, UsageError
from pixmake.fsutil import describe_os_error, write_atomic
from pixmake.hashing import derive_key, reference_hashes, request_key
from pixmake.lockfile import (
    action_outputs,
    action_value,
    candidates_of,
    entry_hashes,
    image_record,
    make_entry,
)
from pixmake.project import SPEC_NAME
from pixmake.providers.base import GenerationRequest, RequestReference
from pixmake.providers.window import Window
from pixmake.results import DEFAULT_JOBS, BuildOptions, BuildResult
from pixmake.sources import ContentSources

if TYPE_CHECKING:
    from pixmake.claims import Claims, Held
    from pixmake.filestat import FileHasher
    from pixmake.lockfile import DerivedRecord, ImageRecord, Lock, LockEntry, OutputRecord
    from pixmake.planner import AssetPlan, Plan
    from pixmake.project import Project
    from pixmake.providers.base import GenerationResult, ImageProvider, TaskJournal
    from pixmake.remote import Remote, Uploader
    from pixmake.report import Reporter
    from pixmake.spec.asset import Asset
    from pixmake.staging import Staging
    from pixmake.store import Store


@dataclass(slots=True)
class _Made:
    """What an asset's generation or restore gives: its outputs, the provider's record, and
    the candidates they are one of (`chosen` is their index)."""

    outputs: list[OutputRecord]
    record: dict[str, Any]
    candidates: list[list[ImageRecord]]
    chosen: int = 0


class _Skip(Exception):
    """This asset is not built, for a reason that is not its own failure."""


class _Elsewhere(_Skip):
    """This asset is another shard's to generate (or waits on one that is)."""


_ELSEWHERE = "is left to another shard"


class _Refused(Exception):
    """This asset fails before anything is sent: what it would send is wrong."""


class _Slot:
    """A place under a semaphore, given back once: at the end, or as soon as the provider
    says its remote work is done (so -j counts tasks in flight, not files being written)."""

    def __init__(self, semaphore: asyncio.Semaphore | None) -> None:
        self._semaphore = semaphore
        self._held = False

    async def acquire(self) -> None:
        if self._semaphore is not None:
            await self._semaphore.acquire()
            self._held = True

    def release(self) -> None:
        if self._held and self._semaphore is not None:
            self._held = False
            self._semaphore.release()


class _SlotJournal:
    """The build's TaskJournal, which also frees this asset's slots when told to."""

    def __init__(self, tasks: TaskJournal, slots: tuple[_Slot, ...]) -> None:
        self._tasks = tasks
        self._slots = slots

    def submitted(self, key: str) -> dict[str, Any] | None:
        return self._tasks.submitted(key)

    async def record(self, key: str, asset_id: str, task: dict[str, Any]) -> None:
        await self._tasks.record(key, asset_id, task)

    def finished(self, key: str) -> None:
        self._tasks.finished(key)

    def remote_done(self, key: str) -> None:
        for slot in self._slots:
            slot.release()


@dataclass(slots=True)
class Executor:
    project: Project
    plan: Plan
    lock: Lock
    store: Store
    hasher: FileHasher
    providers: dict[str, ImageProvider]
    tasks: TaskJournal
    reporter: Reporter
    options: BuildOptions
    result: BuildResult = field(default_factory=BuildResult)
    remote: Remote | None = None
    _outcome: dict[str, asyncio.Future[str | None]] = field(default_factory=dict)
    _output_hash: dict[str, str | None] = field(default_factory=dict)
    _jobs: asyncio.Semaphore = field(init=False)
    _per_provider: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _started: int = 0
    _in_flight_usd: float = 0.0
    _spent_usd: float = 0.0  # on tasks this build sent (not those it collected)
    _stop: str | None = None
    _images: set[str] = field(default_factory=set)  # reference files found to be images
    _claimed: set[str] | None = None
    _staging: Staging = field(init=False)
    _sources: ContentSources = field(init=False)
    _uploads: Uploader | None = None
    _claims: Claims | None = None

    async def run(self, selected: set[str]) -> BuildResult:
        """Build the selected assets. Cancelling this coroutine keeps everything finished."""
        self._staging = self.store.staging()
        self._sources = ContentSources(
            self.project.root, self.store, self.lock, self.hasher, self.remote
        )
        if self.remote is not None:
            from pixmake.remote import Uploader

            self._uploads = Uploader(self.remote, self.store.read_object)
            from pixmake.claims import Claims

            self._claims = Claims(self.remote)
        for name in self.providers:
            limit = self.project.concurrency(name)
            if limit is not None:
                self._per_provider[name] = asyncio.Semaphore(limit)
        self._jobs = asyncio.Semaphore(self._job_count())
        order = [i for i in self.project.graph.order if i in selected]
        loop = asyncio.get_running_loop()
        for asset_id in order:
            self._outcome[asset_id] = loop.create_future()
            self._output_hash[asset_id] = self.plan.assets[asset_id].output_hash
        work = [p for p in (self.plan.assets[i] for i in order) if p.action != "none"]
        self.result.fresh = len(order) - len(work)
        for asset_id in order:
            if self.plan.assets[asset_id].action == "none":
                self._outcome[asset_id].set_result(None)
        elsewhere = [p for p in work if self._elsewhere(p.action, p.key, p.task or p.key)]
        for p in elsewhere:  # counted, not reported one by one: most of a shard's plan
            self._outcome[p.id].set_result(_ELSEWHERE)
        self.result.other_shards = len(elsewhere)
        work = [p for p in work if p not in elsewhere] if elsewhere else work
        self.reporter.start(len(work), self.plan.estimated_cost({p.id for p in work}))
        for name in {self.project.assets[p.id].provider for p in work}:
            window = getattr(self.providers.get(name), "window", None)  # `concurrency: auto`
            if isinstance(window, Window):
                window.watch(functools.partial(self.reporter.window, name))
        finished = False
        try:
            await asyncio.gather(*(self._asset(p) for p in work))
            finished = True
        finally:
            self._sources.close()
            if self._uploads is not None:  # an interrupted build does not wait for them
                self.result.pushed = self._uploads.close(wait=finished)
            if self._claims is not None and not finished:
                tasks = self.tasks
                self._claims.close(sent=lambda key: tasks.submitted(key) is not None)
        return self.result

    def _job_count(self) -> int:
        """`-j`, or when it is not given DEFAULT_JOBS, raised to what a provider takes: its
        fixed `concurrency`, or the ceiling of its `auto` window, so that the default does
        not hold the window (or a fixed concurrency) below what it allows."""
        if self.options.jobs is not None:
            return max(1, self.options.jobs)
        wanted = [DEFAULT_JOBS]
        for name, provider in self.providers.items():
            limit = self.project.concurrency(name)
            window = getattr(provider, "window", None)
            if limit is not None:
                wanted.append(limit)
            elif isinstance(window, Window):
                wanted.append(window.policy.ceiling)
        return max(wanted)

    # -- one asset --------------------------------------------------------------------------

    async def _asset(self, plan: AssetPlan) -> None:
        asset = self.project.assets[plan.id]
        outcome = self._outcome[plan.id]
        try:
            for up in self.project.graph.upstream[plan.id]:
                failure = await self._outcome[up] if up in self._outcome else None
                if failure == _ELSEWHERE:
                    raise _Elsewhere(f"upstream `{up}` {failure}; the collect build makes it")
                if failure is not None:
                    raise _Skip(f"upstream `{up}` {failure}")
            if plan.action == "blocked":
                raise _Skip("; ".join(plan.reasons) or "blocked")
            slot = _Slot(self._jobs)
            await slot.acquire()
            try:
                if self._stop is not None:
                    raise _Skip(self._stop)
                action, cost_usd = await self._build(asset, plan, slot)
            finally:
                slot.release()
            self.reporter.finished(plan.id, action, cost_usd)
            outcome.set_result(None)
        except _Elsewhere as exc:
            self.result.other_shards += 1
            self.reporter.skipped(plan.id, str(exc))
            outcome.set_result(_ELSEWHERE)
        except _Skip as exc:
            self.result.skipped += 1
            self.result.skips[plan.id] = str(exc)
            self.reporter.skipped(plan.id, str(exc))
            outcome.set_result("was skipped")
        except ProviderError as exc:
            self._failed(plan.id, outcome, str(exc))
            if isinstance(exc, ProviderQuotaError):
                self._stop = f"not submitted: the account is out of credit ({plan.id} failed)"
            elif isinstance(exc, ProviderAuthError):
                self._stop = f"not submitted: the API key was refused ({plan.id} failed)"
            elif self.options.fail_fast and self._stop is None:
                self._stop = f"not started: --fail-fast after `{plan.id}` failed"
        except _Refused as exc:
            self._failed(plan.id, outcome, str(exc))
        except OSError as exc:  # the file system: each asset fails alone, the others go on
            self._failed(plan.id, outcome, describe_os_error(exc, self.project.root))
        except asyncio.CancelledError:
            outcome.cancel()
            raise

    def _failed(self, asset_id: str, outcome: asyncio.Future[str | None], message: str) -> None:
        self.result.failed += 1
        self.result.failures[asset_id] = message
        self.reporter.failed(asset_id, message)
        outcome.set_result("failed")

    async def _build(self, asset: Asset, plan: AssetPlan, slot: _Slot) -> tuple[str, float]:
        """Build one asset; returns its action and what generating it cost (0 otherwise)."""
        key, cached, action, ref_hashes = plan.key, plan.cached, plan.action, plan.ref_hashes
        if key is None or ref_hashes is None:  # an upstream asset was built first
            ref_hashes = reference_hashes(asset, self.hasher, self._output_hash.get)
            key = request_key(asset, ref_hashes)
            cached = self._sources.action(key)
            action = "restore" if cached is not None else "generate"
            if self._elsewhere(action, key, plan.task or key):
                raise _Elsewhere(f"{_ELSEWHERE} (its request falls in {self._share(key)})")
        held = None
        if action == "generate" and plan.task is None:
            found = await self._claim(asset, key, slot)
            if isinstance(found, dict):  # another machine generated it while this one waited
                cached, action = found, "restore"
                self.result.waited += 1
            else:
                held = found
        entry = self.lock.entries.get(asset.id)
        cost_usd = 0.0
        if action == "restore" and self.remote is not None:
            cached = cached or self._cached_from_lock(entry, key)
            await self._fetch([o["hash"] for o in cached["outputs"]])
        if action == "generate":
            earlier = _earlier(entry, key, cached) if plan.task is not None else []
            made = await self._generate_held(
                held, asset, key, plan.task or key, ref_hashes, slot, earlier
            )
            self.result.generated += 1
            cost_usd = made.record["cost_usd"]
        else:
            if cached is None:
                cached = self._cached_from_lock(entry, key)
            made = self._restore(asset, cached)
            if action == "restore":
                self.result.restored += 1
        derived = await self._derive(asset, made.outputs)
        hashes = {i["hash"] for c in made.candidates for i in c}
        approved = [h for h in (entry.get("approved", []) if entry else []) if h in hashes]
        new = make_entry(
            asset, key, ref_hashes, made.outputs, derived, made.record,
            candidates=made.candidates, chosen=made.chosen, approved=approved,
        )  # fmt: skip
        self._commit(asset, new, entry, plan.task)
        if action == "generate" and self._uploads is not None:
            value = action_value(made.outputs, made.record, made.candidates, made.chosen)
            images = [i["hash"] for c in made.candidates for i in c]
            self._uploads.push(key, value, [*entry_hashes(new), *images])
        return action, cost_usd

    # -- shards and claims --------------------------------------------------------------------

    def _elsewhere(self, action: str, key: str | None, task: str | None) -> bool:
        """Whether a generation is another shard's: its request key is known, not in this
        build's share, and this machine has not sent it already (a sent one is collected)."""
        if action != "generate" or key is None or self.options.in_shard(key):
            return False
        return task is None or self.tasks.submitted(task) is None

    def _share(self, key: str) -> str:
        from pixmake.results import shard_of

        count = self.options.shard[1] if self.options.shard else 1
        return f"shard {shard_of(key, count)}/{count}"

    async def _claim(self, asset: Asset, key: str, slot: _Slot) -> Held | dict[str, Any] | None:
        """Before paying for `key`, claim it on the remote: the claim held (None: no claims,
        pay anyway), or the entry that another machine holding it made while this one waited,
        its job slot given back. Claims are about other machines: a task this machine's
        journal has is collected, whatever the remote says."""
        claims, remote = self._claims, self.remote
        if claims is None or remote is None or not self.providers[asset.provider].paid:
            return None
        if self.tasks.submitted(key) is not None:
            return None
        if not await asyncio.to_thread(claims.usable):
            return None
        from pixmake import claims as claiming

        waited = False
        while True:
            held = await asyncio.to_thread(claims.claim, key)
            entry = await asyncio.to_thread(remote.get_action, key)  # made just before?
            if entry is not None and isinstance(held, claiming.Held):
                await asyncio.to_thread(claims.release, held)
            if entry is not None or not isinstance(held, claiming.Other):
                break
            if not waited:
                slot.release()
                waited = True
            await claiming.wait(claiming.POLL_SECONDS)
        if waited:
            await slot.acquire()
        if entry is not None:
            return entry
        return held if isinstance(held, claiming.Held) else None

    async def _generate_held(self, held: Held | None, *args: Any) -> _Made:
        """Generate, renewing the claim while it runs; a generation that fails gives the
        claim up. An interrupted one keeps it until its lease ends if its task was sent (the
        journal of this machine collects it, and the others should not pay for it meanwhile);
        `run` gives it up if not."""
        claims = self._claims
        if held is None or claims is None:
            return await self._generate(*args)
        keeper = asyncio.create_task(claims.keep(held))
        try:
            return await self._generate(*args)
        except Exception:
            await asyncio.to_thread(claims.release, held)
            raise
        finally:
            keeper.cancel()

    async def _fetch(self, digests: list[str]) -> None:
        """Bring into the store, from the remote in a worker thread, the content no local
        source has; an asset whose content the remote can no longer give is skipped."""
        missing = [d for d in digests if not self._sources.ensure(d, remote=False)]
        if not missing or self.remote is None:
            return
        remote, store = self.remote, self.store

        def download() -> bool:
            for digest in missing:
                data = remote.get_object(digest)
                if data is None:
                    return False
                store.put_bytes(data, digest)
            return True

        if not await asyncio.to_thread(download):
            raise _Skip(
                f"not restored: the remote cache {remote.shown} did not give its images "
                f"({remote.problem or 'missing there'}); the next build restores or generates it"
            )

    # -- generate ---------------------------------------------------------------------------

    async def _generate(
        self,
        asset: Asset,
        key: str,
        task: str,
        ref_hashes: list[str | None],
        slot: _Slot,
        earlier: list[list[ImageRecord]],
    ) -> _Made:
        """Generate the asset's images; `task` is the request key, or a reroll's own identity
        in the journal; `earlier` are the candidates the new images join."""
        provider = self.providers[asset.provider]
        # A task an interrupted build sent is collected: --max-new and --max-cost limit what
        # this build sends, and it costs nothing more.
        sends = self.tasks.submitted(task) is None
        estimate = (self.plan.assets[asset.id].estimate_usd or 0.0) if sends else 0.0
        if sends:
            self._check_budget(estimate)
            if provider.paid:
                await self._check_references(asset)
            self._started += 1
        self._in_flight_usd += estimate
        self.reporter.started(asset.id, "generate")
        request = generation_request(self.project, asset, task, ref_hashes)
        limit = self._per_provider.get(asset.provider)
        provider_slot = _Slot(limit)
        await provider_slot.acquire()
        tasks = _SlotJournal(self.tasks, (slot, provider_slot))
        try:
            result = await provider.generate(request, tasks, self._staging)
        except ProviderError as exc:  # a task paid for and failed all the same is money spent
            self.result.cost_usd += exc.cost_usd
            if sends:
                self._spent_usd += exc.cost_usd
            raise
        finally:
            provider_slot.release()
            self._in_flight_usd -= estimate
        self.result.cost_usd += result.cost_usd
        if sends:
            self._spent_usd += result.cost_usd
        record = {"provider": provider.name, "placeholder": not provider.paid, **result.record}
        record["cost_usd"] = round(result.cost_usd, 6)
        return self._keep_images(asset, key, result, record, earlier, check=not provider.trusted)

    def _keep_images(
        self,
        asset: Asset,
        key: str,
        result: GenerationResult,
        record: dict[str, Any],
        earlier: list[list[ImageRecord]],
        *,
        check: bool,
    ) -> _Made:
        """Check the staged images, move them into the store, record the action, and only then
        write the asset's outputs: a write that fails (a full disk, a folder not writable)
        leaves the paid images in the store, and the next build restores them free.
        Whatever happens, no staged file outlives this."""
        try:
            if check:  # on the event loop: a structural check costs less than a thread hop
                self._check_images(asset, result)
            images: list[ImageRecord] = [
                {
                    "hash": self.store.adopt(image),
                    "bytes": image.size,
                    "width": asset.width,
                    "height": asset.height,
                }
                for image in result.images
            ]
        finally:
            self._staging.discard(result.images)  # those not adopted
        per = asset.results
        new = [images[i : i + per] for i in range(0, len(images), per)]
        outputs: list[OutputRecord] = [
            {"path": path, **image} for path, image in zip(asset.outputs, new[0], strict=True)
        ]
        candidates = merge_candidates(earlier, new)
        made = _Made(outputs, record, candidates, candidates.index(new[0]))
        self.store.put_action(key, action_value(made.outputs, record, candidates, made.chosen))
        for out in outputs:
            self._materialize(out["path"], out["hash"], None)
        return made

    def _check_budget(self, estimate: float) -> None:
        max_new, max_cost = self.options.max_new, self.options.max_cost
        if max_new is not None and self._started >= max_new:
            raise _Skip(f"not generated: --max-new {max_new} reached")
        if max_cost is not None and self._spent_usd + self._in_flight_usd + estimate > max_cost:
            raise _Skip(
                f"not generated: --max-cost {max_cost:.2f} USD would be exceeded "
                f"({self._spent_usd:.4f} USD spent so far)"
            )

    async def _check_references(self, asset: Asset) -> None:
        """Refuse, before a paid request is sent, a reference file that is not an image."""
        for ref in asset.references:
            if ref.kind != "file" or ref.value in self._images:
                continue
            from pixmake import imaging

            try:
                await asyncio.to_thread(
                    imaging.dimensions, self.project.root / ref.value, ref.value
                )
            except UsageError as exc:
                where = f"{SPEC_NAME}:{asset.line}: " if asset.line else ""
                raise _Refused(
                    f"{where}reference {exc}; nothing was sent\n"
                    "  fix: replace it with a PNG, JPEG or WebP image"
                ) from None
            self._images.add(ref.value)

    def _check_images(self, asset: Asset, result: GenerationResult) -> None:
        from pixmake import imaging  # Pillow: imported while the first tasks run, not before

        if len(result.images) != asset.images:
            raise ProviderError(f"asked for {asset.images} images, got {len(result.images)}")
        for image in result.images:
            imaging.check_image(image.path, asset.format, asset.width, asset.height)

    # -- restore and derive -----------------------------------------------------------------

    def _cached_from_lock(self, entry: LockEntry | None, key: str) -> dict[str, Any]:
        assert entry is not None, "restore needs a cache hit or the lock"
        assert entry["key"] == key, "restore from the lock needs the locked key"
        return action_value(
            entry["outputs"], entry.get("record", {}), candidates_of(entry), entry.get("chosen", 0)
        )

    def _restore(self, asset: Asset, cached: dict[str, Any]) -> _Made:
        outputs: list[OutputRecord] = []
        for path, out in zip(asset.outputs, cached["outputs"], strict=True):
            self._materialize(path, out["hash"], None)
            outputs.append({"path": path, **image_record(out)})
        candidates = cached.get("candidates") or [[image_record(o) for o in outputs]]
        chosen = cached.get("chosen", 0) if cached.get("candidates") else 0
        return _Made(outputs, dict(cached.get("record", {})), candidates, chosen)

    async def _derive(self, asset: Asset, outputs: list[OutputRecord]) -> list[DerivedRecord]:
        records: list[DerivedRecord] = []
        for step in asset.derived:
            source = outputs[step.source]["hash"]
            dkey = derive_key(source, step.params())
            cached = self.store.get_action(dkey)
            if cached is not None:
                out = cached["outputs"][0]
                digest, size, width, height = out["hash"], out["bytes"], out["width"], out["height"]
                wrote = self._materialize(step.path, digest, None)
            else:
                self._sources.ensure(source)  # a fresh clone: from the committed original
                from pixmake import imaging

                data = self.store.read_object(source)
                derived, width, height = await asyncio.to_thread(imaging.derive, data, step)
                digest, size = self.store.put_bytes(derived), len(derived)
                wrote = self._materialize(step.path, digest, derived)
                out = {"hash": digest, "bytes": size, "width": width, "height": height}
                self.store.put_action(dkey, {"outputs": [out]})
            if wrote:  # the summary counts the derived files written, whatever the action
                self.result.derived += 1
            records.append(
                {
                    "path": step.path,
                    "source": step.source,
                    "step": step.params(),
                    "key": dkey,
                    "hash": digest,
                    "bytes": size,
                    "width": width,
                    "height": height,
                }
            )
        return records

    # -- files and the journal ---------------------------------------------------------------

    def _materialize(self, rel: str, digest: str, data: bytes | None) -> bool:
        """Make the project file `rel` hold object `digest`, keeping whatever it replaces.
        False when it already did: nothing was written."""
        current = self.hasher.hash(rel)
        if current is not None and current[0] == digest:
            return False
        dest = self.project.root / rel
        if current is not None:
            self.store.put_file(dest, current[0])
        if data is None:
            self._sources.ensure(digest)  # the store, or a project file with that content
            st = self.store.restore(digest, dest)
        else:
            st = write_atomic(dest, data, scratch=self.store.scratch)
        self.hasher.remember(rel, st, digest)
        return True

    def _commit(
        self, asset: Asset, entry: LockEntry, old: LockEntry | None, task: str | None = None
    ) -> None:
        # Not fsynced: if a power cut loses it, the task record survives and the next build
        # polls the task and downloads its images again, for free (a reroll's twice: the
        # same images, which are one candidate).
        event: dict[str, Any] = {"t": "done", "id": asset.id, "entry": entry}
        if task is not None:
            event["task"] = task  # a reroll's task, done with its entry
        self.store.append_journal(event)
        if old is not None and old["outputs"] != entry["outputs"]:
            self.store.keep_earlier(asset.id, old)  # for `pixmake history`
        self.lock.entries[asset.id] = entry
        self._output_hash[asset.id] = entry["outputs"][0]["hash"] if entry["outputs"] else None
        if old is not None:
            self._remove_moved(asset, old)

    def _remove_moved(self, asset: Asset, old: LockEntry) -> None:
        """Outputs the asset no longer writes are removed if unedited and kept in the store."""
        if self._claimed is None:
            self._claimed = {p for a in self.project.assets.values() for p in a.all_outputs()}
        claimed = self._claimed
        records: list[OutputRecord] = [*old["outputs"], *old.get("derived", [])]
        for record in records:
            path = record["path"]
            if path in claimed:
                continue
            found = self.hasher.hash(path)
            if found is not None and found[0] == record["hash"]:
                self.store.put_file(self.project.root / path, found[0])
                os.unlink(self.project.root / path)
                self.hasher.forget(path)


def merge_candidates(
    earlier: list[list[ImageRecord]], new: list[list[ImageRecord]]
) -> list[list[ImageRecord]]:
    """The earlier candidates, then the new ones that are not among them (by their hashes)."""
    merged = list(earlier)
    seen = {tuple(i["hash"] for i in c) for c in earlier}
    for candidate in new:
        hashes = tuple(i["hash"] for i in candidate)
        if hashes not in seen:
            seen.add(hashes)
            merged.append(candidate)
    return merged


def _earlier(
    entry: LockEntry | None, key: str, cached: dict[str, Any] | None
) -> list[list[ImageRecord]]:
    """The candidates a request already has (in the lock, or the action cache): a reroll's
    new image joins them."""
    if entry is not None and entry["key"] == key:
        return candidates_of(entry)
    if cached is not None:
        return [list(c) for c in cached.get("candidates") or [action_outputs(cached["outputs"])]]
    return []


def generation_request(
    project: Project, asset: Asset, key: str, ref_hashes: list[str | None]
) -> GenerationRequest:
    """What a provider needs for an asset; `asset:` references become the upstream's file."""
    refs = []
    for ref, digest in zip(asset.references, ref_hashes, strict=True):
        if ref.kind == "url":
            refs.append(RequestReference("url", ref.value))
        else:
            path = project.assets[ref.value].outputs[0] if ref.kind == "asset" else ref.value
            refs.append(RequestReference("file", path, digest, project.root / path))
    return GenerationRequest(
        asset_id=asset.id,
        key=key,
        model=asset.model,
        prompt=asset.prompt,
        width=asset.width,
        height=asset.height,
        quality=asset.quality,
        background=asset.background,
        format=asset.format,
        output_quality=asset.output_quality,
        results=asset.images,
        references=tuple(refs),
        safety=asset.safety,
        on_flag=asset.on_flag,
        block=asset.block,
        ttl=asset.ttl,
    )
