"""Loading a project: pixmake.yaml to validated, expanded, ordered assets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixmake.errors import SpecError, UsageError
from pixmake.graph import Graph, build_graph
from pixmake.snapshot import Stat, stat
from pixmake.spec.resolve import Resolver
from pixmake.spec.yamlsource import load_yaml

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.spec.asset import Asset
    from pixmake.spec.rowcache import RowCache, Series
    from pixmake.spec.tables import Digests, Row
    from pixmake.spec.values import Spec

SPEC_NAME = "pixmake.yaml"


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project: every asset resolved and the graph checked."""

    root: Path
    spec_file: str
    spec: Spec
    assets: dict[str, Asset]
    graph: Graph
    sources: dict[str, Stat]
    profile: str | None
    templates: dict[str, Stat]
    fingerprints: dict[str, str]
    rows: dict[str, tuple[str, str]]  # asset id -> (declaration, row fingerprint)
    series: dict[str, Series]  # declaration over a data table -> how its rows are matched
    ordered: dict[str, tuple[list[str], list[str]]]  # ... -> (row fps, ids) in table order
    digests: dict[str, Digests | None]  # table -> its line digests (tables.line_digests)

    def concurrency(self, provider: str) -> int | None:
        config = self.spec.providers.get(provider)
        return config.concurrency if config else None


def load_project(
    root: Path,
    *,
    profile: str | None = None,
    provider: str | None = None,
    cache: RowCache | None = None,
    only: dict[str, list[int]] | None = None,
    tables: dict[str, dict[int, Row]] | None = None,
) -> Project:
    """Read, validate and expand pixmake.yaml in `root`. Raises SpecError with every problem.

    `only`: resolve just these rows (by position) of these declarations, from `tables` (the
    rows read already, by table path and position); see delta.py."""
    spec_stat = stat(root / SPEC_NAME)
    cached = cache.cached_spec(spec_stat) if cache is not None else None
    if cached is not None:
        spec, lines, problems = cached[0], cached[1], list(cached[2])
    else:
        from pixmake.spec.validate import validate_spec  # pydantic: only when the spec changed

        data, lines = load_yaml(root / SPEC_NAME, SPEC_NAME)
        spec, problems = validate_spec(data, lines)
        if cache is not None:
            cache.spec = (spec_stat, spec, lines, list(problems))
            cache.spec_changed = True
    if profile is not None and profile not in spec.profiles:
        known = ", ".join(spec.profiles) or "none declared"
        raise UsageError(f"unknown profile `{profile}` (profiles in {SPEC_NAME}: {known})")
    resolver = Resolver(
        root,
        spec,
        lines,
        profile=profile,
        provider=provider,
        cache=cache,
        only=only,
        preloaded=tables or {},
    )
    assets = resolver.resolve()
    problems += resolver.problems
    try:
        graph = build_graph(assets, SPEC_NAME, partial=bool(problems))
    except SpecError as exc:
        problems += exc.problems
    if problems:
        raise SpecError(problems)
    templates = dict(resolver.templates.files_read)
    if cache is not None:  # templates not read this time, because their rows were reused
        for rel in cache.templates:
            templates.setdefault(rel, stat(root / rel))
    sources = {SPEC_NAME: spec_stat, **resolver.tables_read, **templates}
    return Project(
        root, SPEC_NAME, spec, assets, graph, sources, profile, templates,
        resolver.fingerprints, resolver.row_of, resolver.series, resolver.ordered,
        resolver.digests,
    )  # fmt: skip
