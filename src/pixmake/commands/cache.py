"""`pixmake cache status|push|pull`: the lock's images and entries on the remote cache.

What the lock needs is every image its entries record (outputs, derived files, candidates)
and one action entry per request key. `push` sends what the remote lacks, content before
entries; `pull` brings into the store what neither the store nor the working tree has.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.errors import PixmakeError, UsageError
from pixmake.lockfile import entry_hashes
from pixmake.session import open_session
from pixmake.sources import ContentSources, cached_value

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.remote import Remote
    from pixmake.session import Session

_WORKERS = 8  # transfers in flight: the network's latency, not the CPU, is the limit


class RemoteError(PixmakeError):
    """The remote cache could not be used by a command that needs it."""

    exit_code = 1


@dataclass(slots=True)
class CacheStatus:
    url: str
    reachable: bool
    problem: str | None = None
    objects: int = 0  # of those the lock needs, on the remote
    objects_missing: int = 0
    actions: int = 0
    actions_missing: int = 0


@dataclass(slots=True)
class Transfer:
    url: str
    objects: int = 0  # sent (push) or fetched (pull)
    actions: int = 0  # entries written (push)
    unavailable: list[str] = field(default_factory=list)  # content no source had


def status(root: Path) -> CacheStatus:
    """How much of what the lock needs the remote has; nothing is written."""
    session = open_session(root)
    remote = _remote(session)
    digests, actions = _needs(session)
    objects, keys = remote.objects(), remote.actions()
    if objects is None or keys is None:
        return CacheStatus(remote.shown, False, remote.problem)
    there = len(digests & objects)
    known = len(set(actions) & keys)
    return CacheStatus(
        remote.shown, True, None, there, len(digests) - there, known, len(actions) - known
    )


def push(root: Path) -> Transfer:
    """Upload the images and entries of the lock that the remote lacks."""
    session = open_session(root)
    remote = _remote(session)
    digests, actions = _needs(session)
    result = Transfer(remote.shown)
    objects, keys = remote.objects(), remote.actions()
    if objects is None or keys is None:
        raise _unusable(remote)
    sources = ContentSources(root, session.store, session.lock, session.files)
    try:
        local = [d for d in sorted(digests - objects) if sources.ensure(d)]
    finally:
        sources.close()
    result.unavailable = sorted(digests - objects - set(local))
    store = session.store
    sent = _parallel(lambda d: remote.put_object(d, store.read_object(d)), local)
    result.objects = sum(sent)
    if remote.problem is not None:
        raise _unusable(remote)
    on_remote = objects | set(local)
    for key, value in sorted(actions.items()):
        if key in keys or not all(o["hash"] in on_remote for o in value["outputs"]):
            continue  # content before entry: never an entry naming what nobody has
        if remote.put_action_if_absent(key, value) is None:
            raise _unusable(remote)
        result.actions += 1
    return result


def pull(root: Path) -> Transfer:
    """Download into the store the images of the lock that neither it nor the working tree
    has."""
    session = open_session(root)
    remote = _remote(session)
    digests, _ = _needs(session)
    result = Transfer(remote.shown)
    sources = ContentSources(root, session.store, session.lock, session.files)
    try:
        wanted = sorted(d for d in digests if not sources.known(d))
    finally:
        sources.close()
    store = session.store

    def fetch(digest: str) -> bool:
        data = remote.get_object(digest)
        if data is not None:
            store.put_bytes(data, digest)
        return data is not None

    got = _parallel(fetch, wanted)
    if remote.problem is not None:
        raise _unusable(remote)
    result.objects = sum(got)
    result.unavailable = [d for d, ok in zip(wanted, got, strict=True) if not ok]
    return result


def _remote(session: Session) -> Remote:
    remote = session.remote
    if remote is None:
        raise UsageError(
            f"{session.project.spec_file}: no remote cache is configured\n"
            "  fix: add `cache: {remote: s3://bucket/prefix}` (or a shared directory) to "
            "pixmake.yaml, or set PIXMAKE_REMOTE"
        )
    remote.warn = False  # the command reports the problem as its error
    return remote


def _needs(session: Session) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """The content hashes and the action entries (by request key) the lock records."""
    digests: set[str] = set()
    actions: dict[str, dict[str, Any]] = {}
    for entry in session.lock.entries.values():
        digests |= entry_hashes(entry)
        digests |= {i["hash"] for c in entry.get("candidates", []) for i in c}
        if entry["outputs"]:
            actions[entry["key"]] = cached_value(entry)
    return digests, actions


def _parallel(work: Any, items: list[str]) -> list[bool]:
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        return [bool(done) for done in pool.map(work, items)]


def _unusable(remote: Remote) -> RemoteError:
    return RemoteError(
        f"remote cache {remote.shown} {remote.problem}\n"
        "  fix: check the URL, the network and the credentials in the environment "
        "(AWS_ACCESS_KEY_ID ... for s3://)"
    )
