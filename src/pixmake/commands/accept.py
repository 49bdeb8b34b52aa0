"""`pixmake accept`: record the files on disk as these assets' outputs."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from pixmake.errors import UsageError
from pixmake.hashing import derive_key
from pixmake.lockfile import action_outputs, make_entry
from pixmake.session import open_session

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.lockfile import DerivedRecord, OutputRecord
    from pixmake.project import Project
    from pixmake.session import Session


def accept(root: Path, patterns: list[str], **kw: Any) -> list[str]:
    """Record the files on disk as the outputs of these assets. Returns the ids accepted."""
    session = open_session(root, **kw)
    with session.store.exclusive():
        result = session.plan()
        ids = match(session.project, patterns)
        for asset_id in ids:
            item = result.assets[asset_id]
            if item.key is None or item.ref_hashes is None:
                raise UsageError(f"`{asset_id}` waits on an upstream asset; build that first")
            asset = session.project.assets[asset_id]
            missing = [p for p in asset.all_outputs() if session.files.hash(p) is None]
            if missing:
                raise UsageError(
                    f"cannot accept `{asset_id}`: {', '.join(missing)} missing; "
                    "`pixmake build` restores or generates it"
                )
            old = session.lock.entries.get(asset_id)
            outputs = [_adopt(session, asset_id, path, asset.format) for path in asset.outputs]
            earlier = {d["hash"]: d.get("key") for d in old.get("derived", [])} if old else {}
            derived: list[DerivedRecord] = []
            for step in asset.derived:
                record = _adopt(session, asset_id, step.path, step.format)
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
            cached = action_outputs(outputs)
            session.store.put_action(item.key, {"outputs": cached, "record": provider})
        session.compact()
        session.remember()
        return ids


def _adopt(session: Session, asset_id: str, path: str, fmt: str) -> OutputRecord:
    """Keep a project file in the store and describe it as an output record.

    Raises:
        UsageError: the file is not an image pixmake can open (nothing is recorded).
    """
    from pixmake.imaging import dimensions

    digest, size = session.files.hash(path) or ("", 0)
    session.store.put_file(session.root / path, digest)
    try:
        width, height = dimensions(session.store.read_object(digest), path, fmt)
    except UsageError as exc:
        raise UsageError(
            f"cannot accept `{asset_id}`: {exc}\n  fix: put a {fmt.upper()} image at {path}, "
            f"or `pixmake build --force {asset_id}` to restore the one pixmake made"
        ) from None
    return {"path": path, "hash": digest, "bytes": size, "width": width, "height": height}


_ACCEPT_FIX = (
    "`pixmake accept` takes asset ids or globs (`pixmake status` lists them): put your image "
    "at the asset's output path, then accept its id"
)


def match(project: Project, patterns: list[str], fix: str = _ACCEPT_FIX) -> list[str]:
    """The ids matching ids or globs, in graph order; a pattern matching none is an error."""
    ids: list[str] = []
    for pattern in patterns:
        found = [i for i in project.graph.order if fnmatch.fnmatchcase(i, pattern)]
        if not found:
            raise UsageError(f"no asset matches `{pattern}`\n  fix: {fix}")
        ids += [i for i in found if i not in ids]
    return ids
