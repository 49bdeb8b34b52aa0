"""Loading a project: pixmake.yaml to validated, expanded, ordered assets."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.errors import SpecError, UsageError
from pixmake.graph import Graph, build_graph
from pixmake.spec.resolve import Resolver

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.filestat import FileHasher
    from pixmake.spec.asset import Asset
    from pixmake.spec.tables import Row
    from pixmake.spec.values import Spec
    from pixmake.spec.yamlsource import LineMap
    from pixmake.trace import Trace

SPEC_NAME = "pixmake.yaml"


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project: every asset resolved and the graph checked."""

    root: Path
    spec_file: str
    spec: Spec
    assets: dict[str, Asset]
    graph: Graph
    profile: str | None
    lookups: dict[str, frozenset[str]] = field(default_factory=dict)  # names each
    # declaration's renders looked up (spec/resolve.py)
    templates: frozenset[str] = frozenset()  # the template files the renders read or
    # looked for (spec/resolve.py)

    def concurrency(self, provider: str) -> int | None:
        """A fixed limit of tasks in flight to `provider`; None for `auto` (the provider's own
        window, if it has one) and for a provider with no settings."""
        config = self.spec.providers.get(provider)
        return config.concurrency if config and isinstance(config.concurrency, int) else None


def load_project(
    root: Path,
    *,
    profile: str | None = None,
    provider: str | None = None,
    files: FileHasher | None = None,
    trace: Trace | None = None,
) -> Project:
    """Read, validate and expand pixmake.yaml in `root`. Raises SpecError with every problem.

    Every file it reads goes through `files`; `trace` lends what earlier runs worked out
    (the validated spec, rendered rows) while their inputs are unchanged (none by default)."""
    if files is None:
        from pixmake.filestat import FileHasher

        files = FileHasher(root)
    if trace is None:
        from pixmake.trace import NoTrace

        trace = NoTrace(root)
    return _load(root, profile, provider, files, trace)


def load_rows(
    root: Path,
    only: dict[str, list[tuple[int, Row]]],
    *,
    profile: str | None,
    provider: str | None,
    files: FileHasher,
    trace: Trace,
) -> Project:
    """A project of only these rows of these declarations (by index in their table): the
    assets a table edit changed, resolved and checked as load_project would, with no record
    looked up or made. Raises SpecError with every problem."""
    return _load(root, profile, provider, files, trace, only)


def _load(
    root: Path,
    profile: str | None,
    provider: str | None,
    files: FileHasher,
    trace: Trace,
    only: dict[str, list[tuple[int, Row]]] | None = None,
) -> Project:
    spec, lines, problems = _validated(root, files, trace)
    if profile is not None and profile not in spec.profiles:
        known = ", ".join(spec.profiles) or "none declared"
        raise UsageError(f"unknown profile `{profile}` (profiles in {SPEC_NAME}: {known})")
    memory, record = (trace.section("decls"), trace.recording) if only is None else ({}, False)
    resolver = Resolver(root, spec, lines, files, profile, provider, memory, record, only=only)
    assets = resolver.resolve()
    problems += resolver.problems
    try:
        graph = build_graph(assets, SPEC_NAME, partial=bool(problems), lines=lines)
    except SpecError as exc:
        problems += exc.problems
    if problems:
        raise SpecError(problems)
    if resolver.changed:
        trace.touch("decls")
    templates = frozenset(resolver.template_files)
    return Project(root, SPEC_NAME, spec, assets, graph, profile, resolver.lookups, templates)


def _validated(root: Path, files: FileHasher, trace: Trace) -> tuple[Spec, LineMap, list[Any]]:
    """The spec validated, or as the trace has it for the same content. A spec in its plain
    shapes (spec/shapes.py) is validated without pydantic; any other, by pydantic."""
    found = files.hash(SPEC_NAME)
    remembered = trace.section("spec")
    if found is not None and remembered.get("hash") == found[0]:
        try:
            spec, lines, problems = pickle.loads(remembered["value"])
            return spec, lines, list(problems)
        except Exception:
            pass
    from pixmake.spec.shapes import plain_spec
    from pixmake.spec.yamlsource import load_yaml

    data, lines = load_yaml(root / SPEC_NAME, SPEC_NAME)
    plain = plain_spec(data)
    if plain is not None:
        spec, problems = plain, []
    else:
        from pixmake.spec.validate import validate_spec

        spec, problems = validate_spec(data, lines)
    if found is not None and trace.recording:
        value = pickle.dumps((spec, lines, problems), pickle.HIGHEST_PROTOCOL)
        trace.replace("spec", {"hash": found[0], "value": value})
    return spec, lines, list(problems)
