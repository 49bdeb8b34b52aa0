"""The asset graph: `asset:` references, output clashes, cycles, order and target selection.

```
refs/style.png ─┐
                ├─▶ icon-sword ──derive──▶ icon-sword@128
hero ───────────┘        (asset:hero is an edge hero ─▶ icon-sword)
```
An asset depends on the assets whose outputs it references; they are built first.
"""

from __future__ import annotations

import fnmatch
import graphlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixmake.errors import Problem, SpecError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pixmake.spec.asset import Asset


@dataclass(frozen=True, slots=True)
class Graph:
    """Assets in a dependency order (ties broken by id) with their upstream ids."""

    order: tuple[str, ...]
    upstream: dict[str, tuple[str, ...]]

    def select(self, targets: Iterable[str]) -> set[str]:
        """Ids matching the targets (ids or globs), with everything they depend on."""
        chosen: set[str] = set()
        for target in targets:
            matches = (
                [n for n in self.order if fnmatch.fnmatchcase(n, target)]
                if any(c in target for c in "*?[")
                else ([target] if target in self.upstream else [])
            )
            if not matches:
                raise UsageError(f"no asset matches `{target}`; `pixmake status` lists the ids")
            chosen.update(matches)
        stack = list(chosen)
        while stack:
            for up in self.upstream[stack.pop()]:
                if up not in chosen:
                    chosen.add(up)
                    stack.append(up)
        return chosen


def build_graph(assets: dict[str, Asset], spec_file: str, *, partial: bool = False) -> Graph:
    """Check references and outputs across assets, then order them. Raises SpecError.

    `partial`: some assets failed to resolve, so an unknown `asset:` reference is not reported.
    """
    problems: list[Problem] = []

    def problem(asset: Asset, message: str, fix: str) -> None:
        path = f"assets.{asset.decl}" + (f" ({asset.id})" if asset.id != asset.decl else "")
        problems.append(Problem(spec_file, asset.line, path, message, fix))

    writers: dict[str, Asset] = {}
    for asset in assets.values():
        for path in asset.all_outputs():
            other = writers.get(path)
            if other is not None:
                problem(
                    asset,
                    f"`{path}` is written by both `{other.id}` and `{asset.id}`",
                    "give each asset its own output path",
                )
            writers[path] = asset
    upstream: dict[str, tuple[str, ...]] = {}
    for asset in assets.values():
        deps: list[str] = []
        for ref in asset.references:
            if ref.kind == "asset":
                if ref.value not in assets and partial:
                    continue
                if ref.value not in assets:
                    problem(
                        asset,
                        f"`asset:{ref.value}` names no asset",
                        "use the id of an asset in this spec (`pixmake status --all` lists them)",
                    )
                elif ref.value not in deps:
                    deps.append(ref.value)
            elif ref.kind == "file" and ref.value in writers:
                problem(
                    asset,
                    f"`{ref.value}` is an output of `{writers[ref.value].id}`",
                    f"reference it as `asset:{writers[ref.value].id}` so it is built first",
                )
        upstream[asset.id] = tuple(deps)
    if problems:
        raise SpecError(problems)
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in sorted(upstream):
        sorter.add(name, *upstream[name])
    try:
        order = tuple(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle: list[str] = exc.args[1]
        first = assets[cycle[0]]
        problem(
            first,
            "reference cycle: " + " -> ".join(cycle),
            "an asset cannot depend on its own output; remove one of these references",
        )
        raise SpecError(problems) from None
    return Graph(order, upstream)
