"""The asset graph: `asset:` references, output clashes, cycles, order and target selection.

```
refs/style.png ─┐
                ├─▶ icon-sword ──derive──▶ icon-sword@128
hero ───────────┘        (asset:hero is an edge hero ─▶ icon-sword)
```
An asset depends on the assets whose outputs it references; they are built first.
"""

from __future__ import annotations

import collections
import difflib
import fnmatch
import graphlib
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixmake.errors import SHOWN_PROBLEMS, Problem, SpecError, UsageError
from pixmake.spec.yamlsource import format_path

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pixmake.spec.asset import Asset
    from pixmake.spec.yamlsource import LineMap, PathKey


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


def build_graph(
    assets: dict[str, Asset], spec_file: str, *, partial: bool = False, lines: LineMap | None = None
) -> Graph:
    """Check references and outputs across assets, then order them. Raises SpecError.

    `partial`: some assets failed to resolve, so an unknown `asset:` reference is not reported.
    `lines`: the spec's lines, so that a problem cites the line of the field it is about.
    """
    problems: list[Problem] = []
    suggested = 0

    def problem(asset: Asset, field: PathKey, message: str, fix: str) -> None:
        where = ("assets", asset.decl)
        line = lines.line((*where, *field)) if lines is not None else asset.line
        path = format_path((*where, *field)) + (f" ({asset.id})" if asset.id != asset.decl else "")
        problems.append(Problem(spec_file, line, path, message, fix))

    writers: dict[str, Asset] = {}
    for asset in assets.values():
        for path in asset.all_outputs():
            other = writers.get(path)
            if other is not None:
                problem(
                    asset,
                    ("out",) if path in asset.outputs else ("derive",),
                    f"`{path}` is written by both `{other.id}` and `{asset.id}`",
                    "give each asset its own output path",
                )
            writers[path] = asset
    upstream: dict[str, tuple[str, ...]] = {}
    for asset in assets.values():
        deps: list[str] = []
        for index, ref in enumerate(asset.references):
            field = ("references", index)
            if ref.kind == "asset":
                if ref.value not in assets and partial:
                    continue
                if ref.value not in assets:
                    close = []
                    if suggested < SHOWN_PROBLEMS:  # each costs a pass over every id
                        suggested += 1
                        close = difflib.get_close_matches(ref.value, assets, n=1)
                    problem(
                        asset,
                        field,
                        f"`asset:{ref.value}` names no asset",
                        f"did you mean `asset:{close[0]}`?"
                        if close
                        else "use the id of an asset in this spec (`pixmake status --all` "
                        "lists them)",
                    )
                elif ref.value not in deps:
                    deps.append(ref.value)
            elif ref.kind == "file" and ref.value in writers:
                problem(
                    asset,
                    field,
                    f"`{ref.value}` is an output of `{writers[ref.value].id}`",
                    f"reference it as `asset:{writers[ref.value].id}` so it is built first",
                )
        upstream[asset.id] = tuple(deps)
    if problems:
        raise SpecError(problems)
    if not any(upstream.values()):  # no asset references another: ties by name are the order
        return Graph(tuple(sorted(upstream)), upstream)
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in sorted(upstream):
        sorter.add(name, *upstream[name])
    try:
        order = tuple(sorter.static_order())
    except graphlib.CycleError:
        for cycle in _cycles(upstream):
            first = assets[cycle[0]]
            named = [r.value if r.kind == "asset" else None for r in first.references]
            problem(
                first,
                ("references", named.index(cycle[1])),
                "reference cycle: " + " -> ".join(cycle),
                "an asset cannot depend on its own output; remove one of these references",
            )
        raise SpecError(problems) from None
    return Graph(order, upstream)


def _cycles(upstream: dict[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Enough cycles to show every reference that lies on one: for each such reference
    `a -> b` (a references b) not yet shown, the shortest way from b back to a."""
    edges = {name: sorted(set(upstream[name])) for name in sorted(upstream)}
    component = _components(edges)
    cycles: list[tuple[str, ...]] = []
    shown: set[tuple[str, str]] = set()
    for start, targets in edges.items():
        for target in targets:
            if (start, target) in shown or component[start] != component[target]:
                continue
            cycle = (start, *_shortest(edges, component, target, start))
            shown.update(itertools.pairwise(cycle))
            cycles.append(cycle)
    return cycles


def _components(edges: dict[str, list[str]]) -> dict[str, str]:
    """The strongly connected component of each node, named by one of its nodes (Kosaraju,
    iterative: a long chain of references must not exhaust the stack)."""
    finished: list[str] = []
    seen: set[str] = set()
    for root in edges:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(edges[root]))]
        while stack:
            node, rest = stack[-1]
            following = next((n for n in rest if n not in seen), None)
            if following is None:
                stack.pop()
                finished.append(node)
            else:
                seen.add(following)
                stack.append((following, iter(edges[following])))
    reverse: dict[str, list[str]] = {name: [] for name in edges}
    for name, targets in edges.items():
        for target in targets:
            reverse[target].append(name)
    component: dict[str, str] = {}
    for root in reversed(finished):
        if root in component:
            continue
        component[root] = root
        todo = [root]
        while todo:
            for other in reverse[todo.pop()]:
                if other not in component:
                    component[other] = root
                    todo.append(other)
    return component


def _shortest(
    edges: dict[str, list[str]], component: dict[str, str], src: str, dst: str
) -> list[str]:
    """The shortest path from `src` to `dst`, both ends included, within their component."""
    came: dict[str, str | None] = {src: None}
    queue = collections.deque([src])
    while queue:
        node = queue.popleft()
        if node == dst:
            break
        for following in edges[node]:
            if following not in came and component[following] == component[src]:
                came[following] = node
                queue.append(following)
    path = [dst]
    while (previous := came[path[-1]]) is not None:
        path.append(previous)
    return path[::-1]
