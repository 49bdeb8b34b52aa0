"""`pixmake explain`, `render` and `graph`: one asset's state and request, and the graph."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pixmake.errors import UsageError
from pixmake.hashing import key_material
from pixmake.lockfile import flagged_outputs
from pixmake.session import open_session

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.planner import AssetPlan
    from pixmake.session import Session
    from pixmake.spec.asset import Asset


def _asset_plan(session: Session, asset_id: str) -> AssetPlan:
    item = session.plan().assets.get(asset_id)
    if item is None:
        raise UsageError(f"no asset `{asset_id}`; `pixmake status --all` lists the ids")
    return item


def _declared(root: Path, asset_id: str, kw: dict[str, Any]) -> tuple[Session, AssetPlan, Asset]:
    """The session, plan and asset of a declared asset (not an orphaned lock entry)."""
    session = open_session(root, **kw)
    item = _asset_plan(session, asset_id)
    asset = session.project.assets.get(asset_id)
    if asset is None:
        raise UsageError(f"no asset `{asset_id}`; `pixmake status --all` lists the ids")
    return session, item, asset


def explain(root: Path, asset_id: str, **kw: Any) -> dict[str, Any]:
    session = open_session(root, **kw)
    item = _asset_plan(session, asset_id)
    session.remember()
    asset = session.project.assets.get(asset_id)
    request = None
    if asset is not None:
        request = {
            **asset.settings(),
            "references": [r.text() for r in asset.references],
            "outputs": list(asset.all_outputs()),
        }
    return {
        **item.to_json(),
        "key": item.key,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in item.changes],
        "request": request,
        "lock": session.lock.entries.get(asset_id),
        "flagged": flagged_outputs(session.lock.entries.get(asset_id)),
    }


def render(root: Path, asset_id: str, **kw: Any) -> dict[str, Any]:
    """The exact Runware task that would be sent for this asset (every field but taskUUID)."""
    from pixmake.executor import generation_request
    from pixmake.providers.runware import inference_task, reference_values

    session, item, asset = _declared(root, asset_id, kw)
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
    _, item, asset = _declared(root, asset_id, kw)
    if item.ref_hashes is None or item.key is None:
        return {"key": None, "material": None}
    return {"key": item.key, "material": key_material(asset, item.ref_hashes)}


def graph_dot(root: Path, **kw: Any) -> str:
    project = open_session(root, **kw).project
    lines = ["digraph pixmake {", "  rankdir=LR;", "  node [shape=box];"]
    for asset_id in project.graph.order:
        lines.append(f"  {json.dumps(asset_id)};")
        for ref in project.assets[asset_id].references:
            if ref.kind == "asset":
                lines.append(f"  {json.dumps(ref.value)} -> {json.dumps(asset_id)};")
            elif ref.kind == "file":
                lines.append(f"  {json.dumps(ref.value)} [shape=note];")
                lines.append(f"  {json.dumps(ref.value)} -> {json.dumps(asset_id)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
