"""Planning is pure: spec x lock x store -> what each asset needs, and why. No network, no writes.

States (DESIGN §5): fresh, new, changed, upstream-changed, missing, modified, orphaned.
Actions: none, generate (paid), restore (from the store, free), derive (local, free),
blocked (a hand-edited or untracked file would be overwritten; needs --force or `accept`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.estimates import Estimator
from pixmake.hashing import derive_key, reference_hashes, request_key
from pixmake.sources import ContentSources
from pixmake.trace import text_digest, verify

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pixmake.estimates import PriceClass
    from pixmake.filestat import FileHasher
    from pixmake.lockfile import Lock, LockEntry
    from pixmake.project import Project
    from pixmake.remote import Remote
    from pixmake.spec.asset import Asset
    from pixmake.store import Store

REQUEST_MADE_BEFORE = (
    "this exact request was made before (the store, pixmake.lock, its git history or the "
    "remote cache has it): "
    "restored at no cost"
)
PAID_TO_COLLECT = (
    "sent and paid for by an interrupted build: its images are collected, at no further cost"
)
REROLL = "~"  # between the request key and a reroll's nonce, in the journal's task identity
STATES = ("fresh", "new", "changed", "upstream-changed", "missing", "modified", "orphaned")
_COMPARED = ("provider", "model", "size", "quality", "background", "format", "output_quality",
             "results", "candidates", "prompt")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Change:
    """One field whose value differs from the lock: `old` and `new` as recorded."""

    field: str
    old: Any
    new: Any

    def text(self) -> str:
        if self.field == "prompt":
            return f"prompt changed: {prompt_diff(str(self.old), str(self.new))}"
        return f"{self.field}: {_short(self.old)} -> {_short(self.new)}"


@dataclass(slots=True)
class AssetPlan:
    """What one asset needs. `key` is None while an upstream asset is still to be generated."""

    id: str
    state: str
    action: str
    reasons: list[str] = field(default_factory=list)
    changes: Sequence[Change] = ()  # a tuple shared by the many with none
    key: str | None = None
    ref_hashes: list[str | None] | None = None
    cached: dict[str, Any] | None = None
    estimate_usd: float | None = 0.0  # None: the catalog has no price for its model
    estimate_source: str | None = None  # "lock", "price table" or "placeholder" (estimates.py)
    output_hash: str | None = None  # the first output's hash once planned, for downstream keys
    paid: bool = False  # sent by an interrupted build: its images are collected, not paid again
    task: str | None = None  # a reroll's identity in the journal: the key, "~", a nonce

    def to_json(self) -> dict[str, Any]:
        estimate = None if self.estimate_usd is None else round(self.estimate_usd, 6)
        return {
            "id": self.id,
            "state": self.state,
            "action": self.action,
            "reasons": self.reasons,
            "estimated_cost_usd": estimate,
            "estimate_source": self.estimate_source,
            "paid": self.paid,
        }


@dataclass(slots=True)
class Plan:
    assets: dict[str, AssetPlan]
    order: list[str]
    recorded: bool = False  # whether planning changed its `memory`
    remembered: int = 0  # assets answered by the trace's fresh answer, not planned again

    @classmethod
    def all_fresh(cls, ids: list[str]) -> Plan:
        """Every asset fresh, as the trace's fresh answer has them (none planned again)."""
        return cls({i: AssetPlan(i, "fresh", "none") for i in ids}, list(ids), False, len(ids))

    def estimated_cost(self, ids: set[str] | None = None) -> float | None:
        """The estimate of these assets (all by default); None if one has no known price."""
        chosen = [p.estimate_usd for p in self.assets.values() if ids is None or p.id in ids]
        return None if None in chosen else sum(e for e in chosen if e is not None)

    def unpriced(self, ids: set[str] | None = None) -> list[str]:
        """The assets to generate whose model has no known price, in plan order."""
        return [
            i for i in self.order
            if (ids is None or i in ids) and self.assets[i].estimate_usd is None
        ]  # fmt: skip

    def mark_paid(self, keys: set[str]) -> None:
        """Assets to generate whose request a build sent and was interrupted before it
        collected the images: the next build collects them, and pays nothing more."""
        for item in self.assets.values():
            if item.action == "generate" and (item.task or item.key) in keys:
                item.paid = True
                item.estimate_usd, item.estimate_source = 0.0, None
                item.reasons.append(PAID_TO_COLLECT)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for p in self.assets.values():
            counts[p.state] += 1
        return counts


def plan(
    project: Project,
    lock: Lock,
    store: Store,
    hasher: FileHasher,
    *,
    force: bool = False,
    memory: dict[str, Any] | None = None,
    reroll: Reroll | None = None,
    remote: Remote | None = None,
    orphans: bool = True,
    prices: dict[PriceClass, float] | None = None,
) -> Plan:
    """Compare every asset's current request with the lock and the files on disk.

    `memory` is the trace's record of assets found fresh before (trace.py, section `plans`):
    one whose record still verifies (the same asset, references, lock entry and outputs) is
    fresh without that comparison; every asset found fresh is recorded there. None: nothing
    is looked up or recorded (a command that writes nothing back). `reroll` says which
    assets get a new image of their request; `remote` is asked for what nothing local has.
    `orphans` False: the lock's entries of no asset are not looked for (a plan of some rows);
    `prices`: what estimates learned from the whole lock before (Estimator.learned).
    """
    planner = _Planner(project, lock, store, hasher, force, memory, remote, prices)
    if remote is not None:  # once an asset asks the remote, the others are asked at once
        planner.sources.ahead = lambda: _prefetch(project, lock, store, hasher, remote)
    result: dict[str, AssetPlan] = {}
    try:
        for asset_id in project.graph.order:
            result[asset_id] = planner.asset(project.assets[asset_id], result)
            if reroll is not None:
                reroll.apply(result[asset_id], project.assets[asset_id], planner.estimates)
    finally:
        planner.sources.close()
    order = list(project.graph.order)
    if memory is not None:
        for name in memory.keys() - project.assets.keys():
            del memory[name]
            planner.recorded = True
    for asset_id in lock.entries.besides(project.assets) if orphans else ():
        result[asset_id] = AssetPlan(
            asset_id,
            "orphaned",
            "none",
            ["in pixmake.lock but no longer in the spec; `pixmake prune` removes it"],
        )
        order.append(asset_id)
    return Plan(result, order, planner.recorded)


def _prefetch(
    project: Project, lock: Lock, store: Store, hasher: FileHasher, remote: Remote
) -> None:
    """Ask the remote at once for the entries of every request that neither the lock nor
    the store has (Remote.prefetch), instead of one asset at a time. Assets that refer to
    another asset are left out: their keys wait for the upstream image."""
    keys = []
    for asset in project.assets.values():
        if any(ref.kind == "asset" for ref in asset.references):
            continue
        key = request_key(asset, reference_hashes(asset, hasher, lambda _: None))
        entry = lock.entries.get(asset.id)
        if (entry is None or entry["key"] != key) and store.get_action(key) is None:
            keys.append(key)
    if keys:
        remote.prefetch(keys)


@dataclass(slots=True)
class Reroll:
    """Which assets get a new image of an unchanged request, each under a task identity of its
    own in the journal (the request key, `~`, a nonce), so that it is paid once.

    `ids` are those asked for (`build --reroll`); `open` the paid tasks an interrupted build
    left, whose rerolls are collected whether asked for again or not. An asset whose outputs
    were edited by hand is left blocked: an edit is never overwritten.
    """

    ids: set[str] = field(default_factory=set)
    open: set[str] = field(default_factory=set)
    nonce: Callable[[], str] = field(default=lambda: _nonce())

    def apply(self, item: AssetPlan, asset: Asset, estimates: Estimator) -> None:
        if item.action == "blocked" or item.key is None:
            return
        prefix = item.key + REROLL
        sent = sorted(k for k in self.open if k.startswith(prefix))
        if sent:
            item.task = sent[0]
        elif asset.id in self.ids:
            item.task = prefix + self.nonce()
            item.reasons.append("--reroll: a new image of the same request")
        else:
            return
        item.action = "generate"
        item.output_hash = None  # its dependents wait for the new image
        estimate_into(item, asset, estimates)


def _nonce() -> str:
    import uuid  # here: only a reroll needs it

    return uuid.uuid4().hex[:12]


@dataclass(slots=True)
class _Planner:
    project: Project
    lock: Lock
    store: Store
    hasher: FileHasher
    force: bool
    memory: dict[str, Any] | None
    remote: Remote | None = None
    prices: dict[PriceClass, float] | None = None
    recorded: bool = False
    sources: ContentSources = field(init=False)
    estimates: Estimator = field(init=False)

    def __post_init__(self) -> None:
        entries = self.lock.entries
        self.estimates = (
            Estimator(entries) if self.prices is None else Estimator.knowing(entries, self.prices)
        )
        self.sources = ContentSources(
            self.project.root, self.store, self.lock, self.hasher, self.remote
        )

    def asset(self, asset: Asset, done: dict[str, AssetPlan]) -> AssetPlan:
        ref_hashes, pending = self._ref_hashes(asset, done)
        if pending:
            return self._upstream_pending(asset, self.lock.entries.get(asset.id), pending)
        memory, entries = self.memory, self.lock.entries
        if memory is None or asset.id not in entries:
            return self._compare(asset, ref_hashes)
        inputs = (asset.digest(), ref_hashes, text_digest(entries.text(asset.id)))
        # The fresh plan recorded for the same asset, references and lock entry, if its
        # outputs are still as recorded: (*inputs, outputs, key, output hash).
        record = memory.get(asset.id)
        if (
            type(record) is tuple
            and len(record) == 6
            and record[:3] == inputs
            and verify(record[3], self.hasher)
        ):
            return AssetPlan(
                asset.id, "fresh", "none", key=record[4], ref_hashes=ref_hashes,
                output_hash=record[5],
            )  # fmt: skip
        result = self._compare(asset, ref_hashes)
        if result.state == "fresh":
            outputs = tuple((p, (self.hasher.hash(p) or ("",))[0]) for p in asset.all_outputs())
            memory[asset.id] = (*inputs, outputs, result.key, result.output_hash)
            self.recorded = True
        return result

    def _compare(self, asset: Asset, ref_hashes: list[str | None]) -> AssetPlan:
        entry = self.lock.entries.get(asset.id)
        key = request_key(asset, ref_hashes)
        if entry is None:
            result = self._new(asset, key)
        elif entry["key"] != key:
            result = self._changed(asset, entry, key, ref_hashes)
        else:
            result = self._same_key(asset, entry, key)
        result.ref_hashes = ref_hashes
        return result

    # -- references -------------------------------------------------------------------------

    def _ref_hashes(
        self, asset: Asset, done: dict[str, AssetPlan]
    ) -> tuple[list[str | None], list[str]]:
        hashes = reference_hashes(asset, self.hasher, lambda i: done[i].output_hash)
        if None not in hashes:  # nothing pending (the common case, checked in C)
            return hashes, []
        pending = [
            ref.value
            for ref, digest in zip(asset.references, hashes, strict=True)
            if ref.kind == "asset" and digest is None
        ]
        return hashes, pending

    # -- the cases --------------------------------------------------------------------------

    def _upstream_pending(
        self, asset: Asset, entry: LockEntry | None, pending: list[str]
    ) -> AssetPlan:
        names = ", ".join(f"`{p}`" for p in pending)
        reason = f"upstream {names} will be regenerated first"
        if entry is None:
            result = AssetPlan(asset.id, "new", "generate", [self._not_locked(asset), reason])
        else:
            changes = _setting_changes(entry, asset)
            state = "changed" if changes else "upstream-changed"
            result = AssetPlan(
                asset.id, state, "generate", [c.text() for c in changes] + [reason], changes
            )
        self._estimate(result, asset)
        return self._guard_outputs(asset, entry, result)

    def _not_locked(self, asset: Asset) -> str:
        if self.lock.entries.damaged(asset.id):
            return "its entry in pixmake.lock is damaged and ignored (see the warning)"
        return "not in pixmake.lock yet"

    def _new(self, asset: Asset, key: str) -> AssetPlan:
        cached = self.sources.action(key)
        if cached is not None:
            result = AssetPlan(asset.id, "new", "restore", [self._not_locked(asset)], key=key)
            result.reasons.append(REQUEST_MADE_BEFORE)
            result.cached = cached
            result.output_hash = cached["outputs"][0]["hash"]
        else:
            result = AssetPlan(asset.id, "new", "generate", [self._not_locked(asset)], key=key)
            self._estimate(result, asset)
        return self._guard_outputs(asset, None, result)

    def _changed(
        self, asset: Asset, entry: LockEntry, key: str, ref_hashes: list[str | None]
    ) -> AssetPlan:
        changes = _setting_changes(entry, asset)
        upstream, ref_reasons = _reference_changes(entry, asset, ref_hashes)
        state = "upstream-changed" if upstream and not changes and not ref_reasons else "changed"
        reasons = [c.text() for c in changes] + ref_reasons
        reasons += [f"upstream `{u}` changed its output" for u in upstream]
        if not reasons:
            reasons.append("the request key changed (a newer key scheme)")
        result = AssetPlan(asset.id, state, "generate", reasons, changes, key=key)
        cached = self.sources.action(key)
        if cached is not None:
            result.action = "restore"
            result.cached = cached
            result.output_hash = cached["outputs"][0]["hash"]
            result.reasons.append(REQUEST_MADE_BEFORE)
        else:
            self._estimate(result, asset)
        return self._guard_outputs(asset, entry, result)

    def _same_key(self, asset: Asset, entry: LockEntry, key: str) -> AssetPlan:
        result = AssetPlan(asset.id, "fresh", "none", key=key)
        result.output_hash = entry["outputs"][0]["hash"] if entry["outputs"] else None
        missing: list[str] = []
        modified: list[str] = []
        locked = {o["path"]: o["hash"] for o in entry["outputs"]}
        moved = [p for p in asset.outputs if p not in locked]
        for out in entry["outputs"]:
            if out["path"] not in asset.outputs:
                continue
            self._check_file(out["path"], out["hash"], missing, modified)
        derive_reasons = self._derive_changes(asset, entry, missing, modified)
        if modified:
            result.state = "modified"
            result.action = "blocked"
            result.reasons = [f"`{p}` was edited by hand" for p in modified]
            if self.force:
                result.action = "restore"
                result.reasons.append("--force: restored to the locked output")
            else:
                result.reasons.append("`pixmake accept` keeps it, --force restores the locked one")
            disk = self.hasher.hash(entry["outputs"][0]["path"]) if entry["outputs"] else None
            if disk is not None and not self.force:
                result.output_hash = disk[0]
            return self._guard_outputs(asset, entry, result)
        if moved:
            result.state = "changed"
            old = [p for p in locked if p not in asset.outputs]
            result.reasons.append(f"output moved: {', '.join(old)} -> {', '.join(moved)}")
            result.changes = [*result.changes, Change("outputs", old, moved)]
            result.action = "restore"
        if missing:
            if result.state == "fresh":
                result.state = "missing"
            result.reasons += [f"`{p}` is missing" for p in missing]
            result.action = "restore"
        if derive_reasons:
            if result.state == "fresh":
                result.state = "changed"
            result.reasons += derive_reasons
            if result.action == "none":
                result.action = "derive"
        if result.action in ("restore", "derive") and not all(
            self.sources.available(o["hash"]) for o in entry["outputs"]
        ):
            result.action = "generate"
            result.reasons.append("the store does not have it: it must be generated again")
            self._estimate(result, asset)
        return self._guard_outputs(asset, entry, result)

    # -- outputs ----------------------------------------------------------------------------

    def _check_file(
        self, path: str, locked_hash: str, missing: list[str], modified: list[str]
    ) -> None:
        found = self.hasher.hash(path)
        if found is None:
            missing.append(path)
        elif found[0] != locked_hash:
            modified.append(path)

    def _derive_changes(
        self, asset: Asset, entry: LockEntry, missing: list[str], modified: list[str]
    ) -> list[str]:
        locked = {d["path"]: d for d in entry.get("derived", [])}
        sources = [o["hash"] for o in entry["outputs"]]
        reasons = []
        for derived in asset.derived:
            record = locked.get(derived.path)
            if record is None:
                reasons.append(f"new derived output `{derived.path}`")
            elif record["step"] != derived.params() or record["source"] != derived.source:
                reasons.append(
                    f"derive step for `{derived.path}`: {_step_text(record['step'])} -> "
                    f"{_step_text(derived.params())}"
                )
            elif record.get("key") != derive_key(sources[derived.source], derived.params()):
                reasons.append(f"`{derived.path}` was made from an earlier image")
            else:
                self._check_file(derived.path, record["hash"], missing, modified)
        return reasons

    def _guard_outputs(self, asset: Asset, entry: LockEntry | None, result: AssetPlan) -> AssetPlan:
        """Never overwrite a file pixmake did not write or someone edited: block instead."""
        if result.action in ("none", "blocked"):
            return result
        if entry is not None and result.state != "modified":
            edited = self._hand_edited(entry)
            if edited:
                result.state = "modified"
                result.reasons = [f"`{p}` was edited by hand" for p in edited] + result.reasons
                if not self.force:
                    result.reasons.append(
                        "`pixmake accept` keeps the edit, --force replaces it "
                        "(the edit is kept in the store)"
                    )
                    result.action = "blocked"
                    result.estimate_usd, result.estimate_source = 0.0, None
                    return result
        tracked = set()
        if entry is not None:
            tracked = {o["path"] for o in entry["outputs"]}
            tracked |= {d["path"] for d in entry.get("derived", [])}
        untracked = []
        for path in asset.all_outputs():
            if path in tracked:
                continue
            found = self.hasher.hash(path)
            # Content already in the store, or recorded in the lock, was made (or kept) by
            # pixmake: nothing can be lost.
            if found is not None and not self.sources.known(found[0]):
                untracked.append(path)
        if untracked and not self.force:
            result.reasons += [f"`{p}` exists and pixmake did not write it" for p in untracked]
            result.reasons.append(
                "`pixmake accept` adopts it as this asset's output, --force replaces it "
                "(its content is kept in the store)"
            )
            if result.state in ("fresh", "missing"):
                result.state = "modified"
            result.action = "blocked"
            result.estimate_usd, result.estimate_source = 0.0, None
        return result

    def _hand_edited(self, entry: LockEntry) -> list[str]:
        edited: list[str] = []
        for record in [*entry["outputs"], *entry.get("derived", [])]:
            found = self.hasher.hash(record["path"])
            if found is not None and found[0] != record["hash"]:
                edited.append(record["path"])
        return edited

    def _estimate(self, result: AssetPlan, asset: Asset) -> None:
        estimate_into(result, asset, self.estimates)


def estimate_into(item: AssetPlan, asset: Asset, estimates: Estimator) -> None:
    """Set what generating the asset would cost, and where that figure comes from."""
    found = estimates.estimate(asset)
    item.estimate_usd, item.estimate_source = found.usd, found.source


# -- comparing with the lock ------------------------------------------------------------------


def _setting_changes(entry: LockEntry, asset: Asset) -> list[Change]:
    old = entry["request"]
    new = asset.settings()
    changes = []
    for name in _COMPARED:
        before: Any
        after: Any
        if name == "size":
            before = f"{old.get('width')}x{old.get('height')}"
            after = f"{new['width']}x{new['height']}"
        elif name == "candidates":  # recorded only when more than one
            before, after = old.get(name, 1), new.get(name, 1)
        else:
            before, after = old.get(name), new[name]
        if before != after:
            changes.append(Change(name, before, after))
    return changes


def _reference_changes(
    entry: LockEntry, asset: Asset, ref_hashes: list[str | None]
) -> tuple[list[str], list[str]]:
    """(upstream asset ids whose output changed, other reasons about references)."""
    old = [(r.get("ref"), r.get("hash")) for r in entry["request"].get("references", [])]
    new = [(ref.text(), h) for ref, h in zip(asset.references, ref_hashes, strict=True)]
    if old == new:
        return [], []
    if [r for r, _ in old] != [r for r, _ in new]:
        was = ", ".join(str(r) for r, _ in old) or "none"
        now = ", ".join(r for r, _ in new) or "none"
        return [], [f"references: {was} -> {now}"]
    upstream: list[str] = []
    reasons: list[str] = []
    for (ref, before), (_, after) in zip(old, new, strict=True):
        if before != after and ref is not None:
            if ref.startswith("asset:"):
                upstream.append(ref.removeprefix("asset:"))
            else:
                reasons.append(f"reference `{ref}` changed content")
    return upstream, reasons


def prompt_diff(old: str, new: str) -> str:
    """A word diff, `[-removed-]{+added+}`, with a little context around each change."""
    import difflib

    a, b = old.split(), new.split()
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            words = a[i1:i2]
            if len(words) > 6:
                head = words[:3] if parts else []
                tail = words[-3:] if i2 < len(a) or j2 < len(b) else []
                words = [*head, "…", *tail] if head or tail else ["…"]
            parts.extend(words)
            continue
        if i2 > i1:
            parts.append("[-" + " ".join(a[i1:i2]) + "-]")
        if j2 > j1:
            parts.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(parts)


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _step_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if v is not None)
