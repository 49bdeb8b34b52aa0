"""Expand declarations into assets: series over tables and matrices, Jinja, catalog checks.

Every problem of the whole spec is collected and raised together as one SpecError.
"""

from __future__ import annotations

import itertools
import math
import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake import catalog, confine
from pixmake.errors import Problem, SpecError
from pixmake.spec.asset import Asset, Derived, Reference
from pixmake.spec.tables import Row, read_table
from pixmake.spec.template import Reads, TemplateProblem, Templates
from pixmake.spec.values import (
    SETTING_FIELDS,
    AssetDecl,
    Safety,
    Settings,
    Spec,
    UrlReference,
    fields,
)
from pixmake.spec.yamlsource import format_path
from pixmake.trace import REMEMBERED_ROWS, digest, verify

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pixmake.filestat import FileHasher
    from pixmake.spec.yamlsource import LineMap, PathKey

BUILTIN_DEFAULTS: dict[str, Any] = {
    "provider": "runware",
    "model": "gpt-image-1-mini",
    "size": "1024x1024",
    "quality": "medium",
    "background": "opaque",
    "format": "png",
    "output_quality": None,
    "results": 1,
    "candidates": 1,
    "safety": None,
    "ttl": None,
}
DEFAULT_OUTPUT_QUALITY = 95
TTL_RANGE = (60, 2_592_000)  # Runware's minimum; at most 30 days
PROVIDERS = ("runware", "placeholder")
RESERVED = confine.RESERVED
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+=/-]*$")


class _Invalid(Exception):
    """One problem in one field of one asset; collected by the caller."""

    def __init__(
        self, field: PathKey, message: str, fix: str = "", template: TemplateProblem | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.fix = fix
        self.template = template


class _Many(Exception):
    """Several problems in one asset."""

    def __init__(self, problems: list[_Invalid]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass(slots=True)
class Resolver:
    """Turns a validated Spec into assets. `problems` collects everything that is wrong.

    `memory` is the trace's record of earlier resolutions (trace.py, section `decls`): per
    declaration, its fingerprint, the names and template files its renders looked up, and its
    rows by the values of those names. A row whose key is there is not rendered again.
    """

    root: Path
    spec: Spec
    lines: LineMap
    files: FileHasher
    profile: str | None = None
    provider: str | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    record: bool = True  # whether to make new records in `memory` (False: only read it)
    templates: Templates = field(init=False)
    problems: list[Problem] = field(default_factory=list)
    rendered: int = 0  # rows rendered (not found in memory)
    changed: bool = False  # whether `memory` was changed
    expanded: int = 0  # assets of the series so far, against limits.assets
    _tables: dict[str, list[Row]] = field(default_factory=dict)
    _data_digest: str = ""
    _seen: set[Problem] = field(default_factory=set)
    # a row's problem, by its shape (see _shape): the first of them, each row's own, its rows
    _rows_hit: dict[tuple[Any, ...], tuple[Problem, set[str], list[str]]] = field(
        default_factory=dict
    )
    _settings: dict[tuple[tuple[str, Any], ...], Checked] = field(default_factory=dict)
    _regular: dict[str, str | None] = field(default_factory=dict)  # reference -> why not
    _references: dict[str, Reference] = field(default_factory=dict)  # by its text, once valid
    # Only these rows (by index in their table) of these declarations, and no other: a table
    # edit's changed rows (rowdelta.py). No table is read, and `data` is empty.
    only: dict[str, list[tuple[int, Row]]] | None = None
    lookups: dict[str, frozenset[str]] = field(default_factory=dict)  # names each decl's
    # renders looked up (with those its remembered rows did)
    template_files: set[str] = field(default_factory=set)  # every template file a render
    # read or looked for (with those the remembered rows did)

    def __post_init__(self) -> None:
        self.templates = Templates(self.root, self.files, self.spec.limits.render_chars)

    def resolve(self) -> dict[str, Asset]:
        base = self._base_settings()
        context: dict[str, Any] = dict(self.spec.vars)
        context["data"] = self._load_tables() if self.only is None else {}
        fixed = {name: digest(value) for name, value in self.spec.vars.items()}
        fixed["data"] = self._data_digest
        assets: dict[str, Asset] = {}
        for name, decl in self.spec.assets.items():
            if self.only is not None and name not in self.only:
                continue
            for asset in self._expand(name, decl, base, context, fixed):
                other = assets.get(asset.id)
                if other is not None:
                    self._problem(
                        ("assets", name),
                        f"asset id `{asset.id}` is made twice: by {_source(other)} "
                        f"and by {_source(asset)}",
                        "make the id template unique per row, e.g. include a key column",
                    )
                    continue
                assets[asset.id] = asset
        for name in set(self.memory) - set(self.spec.assets):
            del self.memory[name]
            self.changed = True
        for problem, messages, origins in self._rows_hit.values():
            message = _prefix(origins) + problem.message
            if len(messages) > 1:
                message += f" (and {len(messages) - 1} more like it)"
            self.problems.append(
                Problem(problem.file, problem.line, problem.path, message, problem.fix)
            )
        self._rows_hit.clear()
        return assets

    # -- settings ---------------------------------------------------------------------------

    def _base_settings(self) -> dict[str, Any]:
        merged = dict(BUILTIN_DEFAULTS)
        merged.update(_set_fields(self.spec.defaults))
        return merged

    def _overrides(self) -> dict[str, Any]:
        overrides: dict[str, Any] = {}
        if self.profile is not None:
            overrides.update(_set_fields(self.spec.profiles[self.profile]))
        if self.provider is not None:
            overrides["provider"] = self.provider
        return overrides

    def _setting_source(self, decl_name: str, decl: AssetDecl, name: str) -> PathKey:
        """Where a setting's value comes from: the profile, the asset, or `defaults`."""
        if self.profile is not None and name in self.spec.profiles[self.profile].fields_set:
            return ("profiles", self.profile, name)
        if name in decl.fields_set:
            return ("assets", decl_name, name)
        return ("defaults", name)

    # -- tables -----------------------------------------------------------------------------

    def _load_tables(self) -> dict[str, list[Any]]:
        loaded: dict[str, list[Any]] = {}
        hashes: list[tuple[str, str | None]] = []
        for name, rel in self.spec.data.items():
            where = ("data", name)
            norm = normalise(rel)
            if norm is None:
                self._problem(where, f"`{rel}` is outside the project", "use a project path")
                continue
            if (why := self.files.confine.regular(norm, "data table")) is not None:
                self._problem(where, why, confine.FIX)
                continue
            found = self.files.hash(norm)
            hashes.append((name, found[0] if found else None))
            try:
                table = read_table(self.root, norm)
            except SpecError as exc:
                for problem in exc.problems:
                    if problem.line is None and problem.file == norm:
                        self._problem(where, f"{norm}: {problem.message}", problem.fix)
                    else:
                        self.problems.append(problem)
                continue
            self._tables[name] = table.rows
            loaded[name] = [row.values for row in table.rows]
        # What a render that reads `data` depends on: every table, by content.
        self._data_digest = digest(hashes)
        return loaded

    # -- expansion --------------------------------------------------------------------------

    def _expand(
        self,
        name: str,
        decl: AssetDecl,
        base: dict[str, Any],
        context: dict[str, Any],
        fixed: dict[str, str],
    ) -> list[Asset]:
        where: PathKey = ("assets", name)
        found = self._rows(name, decl)
        if found is None:
            return []
        count, rows = found
        series = decl.for_each is not None or decl.matrix is not None
        if not series and "{" in name:
            self._problem(
                where, "a single asset's id cannot be a template", "add `for_each:` or `matrix:`"
            )
            return []
        settings = dict(base)
        settings.update(_set_fields(decl, SETTING_FIELDS))
        settings.update(self._overrides())
        decl_fp = digest((name, fields(decl), sorted(settings.items())))
        known, names, reads = self._remembered(name, decl_fp)
        remember = self.record and count <= REMEMBERED_ROWS
        keyed: list[tuple[dict[str, Any], str | None, Any]] = []  # row, its key, what is kept
        assets = []
        line = self.lines.line(where)
        rendered = self.rendered
        # settings without a template are the same for every row: checked once
        plain = all(not (isinstance(v, str) and "{" in v) for v in settings.values())
        checked = self._checked(settings) if plain else None
        for extra, origin in rows:
            key = _row_key(names, extra, fixed) if names is not None else None
            kept = known.get(key) if key is not None else None  # (asset tuple, its digest)
            hit = Asset.from_tuple(kept[0], origin, line, kept[1]) if kept is not None else None
            if hit is not None and self._references_exist(hit):
                assets.append(hit)
                keyed.append((extra, key, kept))
                continue
            local = {**context, **extra}
            row = extra.get(decl.as_) if isinstance(decl.for_each, str) else None
            self.templates.reads = reads
            try:
                asset_id = self.templates.render(name, local).strip() if series else name
                if not _ID.match(asset_id):
                    raise _Invalid(
                        (),
                        f"asset id `{asset_id}` has characters an id cannot have",
                        "use letters, digits and _ . @ + = / - (no spaces or globs)",
                    )
                local["id"] = asset_id
                asset = self._asset(asset_id, name, decl, settings, local, origin, checked, line)
                assets.append(asset)
                if remember:
                    keyed.append((extra, None, (asset.to_tuple(), asset.digest())))
                self.rendered += 1
            except _Invalid as exc:
                self._invalid(name, decl, exc, origin, row)
            except _Many as many:
                for problem in many.problems:
                    self._invalid(name, decl, problem, origin, row)
            except TemplateProblem as exc:
                self._template_problem((*where,), self._columns(decl, row, exc), origin)
            finally:
                self.templates.reads = None
        self.lookups[name] = frozenset(reads.names)
        self.template_files.update(reads.files)
        if not remember:  # a record as large as the series costs more memory than its renders
            self.changed |= self.memory.pop(name, None) is not None
            return assets
        # The row keys over every name any render looked up (a superset of each row's own).
        union = tuple(sorted(reads.names))
        same = union == names
        new = {
            key if same and key is not None else _row_key(union, extra, fixed): plain
            for extra, key, plain in keyed
        }
        record = (decl_fp, union, tuple(sorted(reads.files.items())), new)
        before = self.memory.get(name)
        # NOTE: with no row rendered and the same names, files and keys, every row is the one
        # remembered: the record stands as it is, and the trace need not write it again.
        if not (
            same
            and self.rendered == rendered
            and isinstance(before, tuple)
            and before[2] == record[2]
            and new.keys() == known.keys()
        ):
            self.memory[name] = record
            self.changed = True
        return assets

    def _remembered(
        self, name: str, decl_fp: str
    ) -> tuple[dict[str, Any], tuple[str, ...] | None, Reads]:
        """The rows remembered for this declaration, if its fingerprint and every template
        file its renders read (or looked for) are as they were; the names they looked up;
        and the reads to extend (those remembered, or none)."""
        reads = Reads()
        entry = self.memory.get(name)
        if not isinstance(entry, tuple) or len(entry) != 4 or entry[0] != decl_fp:
            return {}, None, reads
        _, names, files, rows = entry
        if not verify(files, self.files):
            return {}, None, reads
        reads.names.update(names)
        reads.files.update(files)
        return rows, names, reads

    def _references_exist(self, asset: Asset) -> bool:
        for ref in asset.references:
            if ref.kind == "file" and self.files.hash(ref.value) is None:
                return False
        return True

    def _invalid(
        self, name: str, decl: AssetDecl, exc: _Invalid, origin: str | None, row: Any = None
    ) -> None:
        if exc.template is not None:
            template = self._columns(decl, row, exc.template)
            self._template_problem(("assets", name, *exc.field), template, origin)
            return
        if len(exc.field) == 1 and exc.field[0] in SETTING_FIELDS:
            source = self._setting_source(name, decl, str(exc.field[0]))
            if source[0] != "assets":
                self._problem(
                    source, exc.message, exc.fix
                )  # inherited: one error, not one per asset
                return
        if exc.field[:1] == ("references",) and len(exc.field) == 2:
            raw = decl.references[int(exc.field[1])]
            if isinstance(raw, str) and "{" not in raw:
                origin = None  # the same file for every row: one error, not one per row
        self._problem(("assets", name, *exc.field), exc.message, exc.fix, origin)

    def _rows(self, name: str, decl: AssetDecl) -> tuple[int, Iterator[_Row]] | None:
        """How many rows the declaration expands to, counted first, and the rows, made one at
        a time (a million of them never all exist at once)."""
        where: PathKey = ("assets", name)
        var = decl.as_
        if decl.for_each is not None and decl.matrix is not None:
            self._problem(where, "`for_each` and `matrix` cannot be combined", "use one of them")
            return None
        if isinstance(decl.for_each, str) and self.only is not None:
            chosen = self.only.get(name, [])
            return len(chosen), (({var: row.values, "index": i}, row.where()) for i, row in chosen)
        if isinstance(decl.for_each, str):
            table = self._tables.get(decl.for_each)
            if table is None:
                if decl.for_each not in self.spec.data:
                    known = ", ".join(self.spec.data) or "none declared"
                    self._problem(
                        (*where, "for_each"),
                        f"unknown data table `{decl.for_each}` (tables: {known})",
                        "declare it under `data:`",
                    )
                return None
            if not self._within_limit(name, "for_each", len(table)):
                return None
            rows = (({var: row.values, "index": i}, row.where()) for i, row in enumerate(table))
            return len(table), rows
        if isinstance(decl.for_each, list):
            if not self._within_limit(name, "for_each", len(decl.for_each)):
                return None
            items = decl.for_each
            return len(items), (
                (
                    {var: v, "index": i},
                    f"{self.lines.file}:{self.lines.line((*where, 'for_each', i))}",
                )
                for i, v in enumerate(items)
            )
        if decl.matrix is not None:
            axes = list(decl.matrix.items())
            count = math.prod(len(v) for _, v in axes)
            if not self._within_limit(name, "matrix", count):
                return None
            origin = f"{self.lines.file}:{self.lines.line((*where, 'matrix'))}"
            return count, _combinations(axes, var, origin)
        return 1, iter([({}, None)])

    def _within_limit(self, name: str, key: str, count: int) -> bool:
        """Whether a series of `count` assets is allowed, with those of the series before it;
        records the problem when not. Counted before anything is expanded."""
        limit = self.spec.limits.assets
        total = self.expanded + count
        if total <= limit:
            self.expanded = total
            return True
        before = f" after {self.expanded:,} in the series before it" if self.expanded else ""
        self._problem(
            ("assets", name, key),
            f"series `{name}` would make {count:,} assets{before}; the limit is {limit:,}",
            "make the table or the matrix axes smaller, or raise the limit with "
            f"`limits: {{assets: {total}}}` at the top level of pixmake.yaml",
        )
        return False

    def _asset(
        self,
        asset_id: str,
        decl_name: str,
        decl: AssetDecl,
        settings: dict[str, Any],
        ctx: dict[str, Any],
        origin: str | None,
        checked: Checked | None = None,
        line: int | None = None,
    ) -> Asset:
        """The asset of one row; `checked`: its settings, when no setting is a template;
        `line`: the declaration's line."""
        render = self.templates.render
        problems: list[_Invalid] = []

        def field(name: str, fn: Any, *args: Any) -> Any:
            try:
                return fn(*args)
            except _Invalid as exc:
                problems.append(exc)
            except TemplateProblem as exc:
                problems.append(_Invalid((name,), exc.message, exc.fix, exc))
            return None

        known = checked
        if known is None:
            values = {
                k: field(k, render, v, ctx) if isinstance(v, str) and "{" in v else v
                for k, v in settings.items()
            }
            known = self._checked(values)
        (
            provider,
            model,
            size,
            quality,
            background,
            fmt,
            output_quality,
            results,
            candidates,
            (safety, on_flag, block, ttl),
            invalid,
        ) = known
        problems += invalid
        prompt = field("prompt", render, decl.prompt, ctx)
        if prompt is not None:
            prompt = prompt.strip()
            if model is not None:
                field("prompt", _prompt_length, prompt, model)
        references = tuple(
            r
            for i, ref in enumerate(decl.references)
            if (r := field("references", self._reference, i, ref, ctx)) is not None
        )
        if model is not None and len(references) > model.max_references:
            problems.append(
                _Invalid(
                    ("references",),
                    f"{len(references)} references; {model.name} takes at most "
                    f"{model.max_references}",
                    "remove some references",
                )
            )
        outputs: tuple[str, ...] = ()
        if fmt is not None:
            out = field("out", lambda: self._path(("out",), render(decl.out, ctx), fmt))
            outputs = _numbered(out, results) if out else ()
        derived: list[Derived] = []
        for i, step in enumerate(decl.derive):
            derived += field("derive", self._derived, i, step, ctx, results, size) or []
        if problems:
            raise _Many(problems)
        assert model is not None
        assert size is not None
        assert prompt is not None
        assert provider is not None
        assert quality is not None
        assert background is not None
        assert fmt is not None
        return Asset(
            id=asset_id,
            provider=provider,
            model=model.id,
            prompt=prompt,
            width=size[0],
            height=size[1],
            quality=quality,
            background=background,
            format=fmt,
            output_quality=output_quality,
            results=results,
            candidates=candidates,
            safety=safety,
            on_flag=on_flag,
            block=block,
            ttl=ttl,
            references=references,
            outputs=outputs,
            derived=tuple(derived),
            decl=decl_name,
            origin=origin,
            line=self.lines.line(("assets", decl_name)) if line is None else line,
        )

    def _checked(self, values: dict[str, Any]) -> Checked:
        """The settings checked, once for each distinct set of values."""
        setting = tuple(values.items())
        known = self._settings.get(setting)
        if known is None:
            known = self._settings[setting] = _settings(values)
        return known

    def _reference(self, index: int, ref: str | UrlReference, ctx: dict[str, Any]) -> Reference:
        where: PathKey = ("references", index)
        if isinstance(ref, UrlReference):
            url = self.templates.render(ref.url, ctx).strip()
            if not url.startswith("https://"):
                raise _Invalid(where, f"`{url}` is not an https URL", "use an https:// URL")
            return Reference("url", url, ref.pin)
        text = self.templates.render(ref, ctx).strip()
        found = self._references.get(text)
        if found is None:  # once per text and run: many rows share a reference
            found = self._references[text] = self._text_reference(where, text)
        return found

    def _text_reference(self, where: PathKey, text: str) -> Reference:
        if text.startswith("asset:"):
            return Reference("asset", text.removeprefix("asset:").strip())
        if text.startswith("https://"):
            return Reference("url", text)
        if "://" in text:
            raise _Invalid(where, f"`{text}` is not an https URL", "use an https:// URL")
        norm = normalise(text)
        if norm is None:
            raise _Invalid(
                where, f"`{text}` is outside the project", "copy the file into the project"
            )
        why = self._regular.get(norm, "")
        if why == "":  # once per file and run
            why = self._regular[norm] = self.files.confine.regular(norm, "reference")
        if why is not None:
            raise _Invalid(where, why, confine.FIX)
        if self.files.hash(norm) is None:
            raise _Invalid(
                where,
                f"reference file `{norm}` does not exist",
                "create it, fix the path (relative to the project root), or use asset:ID",
            )
        return Reference("file", norm)

    def _path(self, where: PathKey, text: str, fmt: str) -> str:
        norm = normalise(text.strip())
        if norm is None or norm.split("/")[0] in RESERVED:
            raise _Invalid(
                where, f"output `{text}` is outside the project or reserved", "use a project path"
            )
        if not self.files.regular_ahead(norm) and (
            why := self.files.confine.problem(norm, "output")
        ):
            raise _Invalid(where, why, "use a folder inside the project, not a symlink out of it")
        extensions = catalog.EXTENSIONS[fmt]
        if not norm.lower().endswith(extensions):
            raise _Invalid(
                where,
                f"output `{norm}` does not end in {' or '.join(extensions)} for format {fmt}",
                f"name it *{extensions[0]}, or change `format`",
            )
        return norm

    def _derived(
        self,
        index: int,
        step: Any,
        ctx: dict[str, Any],
        results: int,
        size: catalog.Size | None,
    ) -> list[Derived]:
        where: PathKey = ("derive", index)
        text = self.templates.render(step.out, ctx).strip()
        fmt = step.format or _format_of(text)
        if fmt is None:
            raise _Invalid(
                (*where, "out"),
                f"cannot tell the format of `{text}`",
                "end it in .png, .jpg or .webp",
            )
        path = self._path((*where, "out"), text, fmt)
        crop = _crop(step.crop, where, size)
        resize = _resize(step.resize, where, self.templates, ctx)
        return [
            Derived(p, i, fmt, crop, resize, step.quality)
            for i, p in enumerate(_numbered(path, results))
        ]

    # -- problems ---------------------------------------------------------------------------

    def _problem(self, path: PathKey, message: str, fix: str, origin: str | None = None) -> None:
        line = self.lines.line(path)
        self._add(Problem(self.lines.file, line, format_path(path), message, fix), origin)

    def _add(self, problem: Problem, origin: str | None = None) -> None:
        """Record a problem once; one of a row (`origin`) is one problem with every row it
        is found in: a mistake repeated on 10,000 rows is one error, not 10,000."""
        if origin is not None:
            shape = (problem.file, problem.line, problem.path, problem.fix, _shape(problem.message))
            _, messages, origins = self._rows_hit.setdefault(shape, (problem, set(), []))
            messages.add(problem.message)
            origins.append(origin)
        elif problem not in self._seen:
            self._seen.add(problem)
            self.problems.append(problem)

    def _template_problem(self, where: PathKey, exc: TemplateProblem, origin: str | None) -> None:
        if exc.file is not None:
            self._add(Problem(exc.file, exc.line, "", exc.message, exc.fix), origin)
        else:
            self._problem(where, exc.message, exc.fix, origin)

    def _columns(self, decl: AssetDecl, row: Any, exc: TemplateProblem) -> TemplateProblem:
        """A key missing from a data table's row, named as a column, with the table's."""
        if row is None or exc.missing is None or exc.missing[0] is not row:
            return exc
        key, table = exc.missing[1], str(decl.for_each)
        file = self.spec.data[table]
        columns = ", ".join(map(str, row)) or "none"
        return TemplateProblem(
            f"undefined variable: table `{table}` ({file}) has no column `{key}`; "
            f"its columns: {columns}",
            exc.file,
            exc.line,
            f"use one of its columns, or add a `{key}` column to {file}",
        )


Checked = tuple[
    str | None,
    catalog.ModelInfo | None,
    catalog.Size | None,
    str | None,
    str | None,
    str | None,
    int | None,
    int,
    int,
    tuple[str, str, bool, int | None],
    tuple["_Invalid", ...],
]


def _settings(values: dict[str, Any]) -> Checked:
    """The settings of an asset checked: the same for every row with the same rendered values,
    so a series checks them once."""
    problems: list[_Invalid] = []

    def field(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except _Invalid as exc:
            problems.append(exc)
        return None

    provider = field(_provider, values["provider"])
    model = field(_model, values["model"])
    size = field(_size, values["size"], model) if model else None
    quality = field(_model_enum, values, "quality", catalog.QUALITIES, model)
    background = field(_model_enum, values, "background", catalog.BACKGROUNDS, model)
    fmt = field(_enum, values, "format", catalog.FORMATS)
    if background == "transparent" and fmt and fmt not in catalog.ALPHA_FORMATS:
        problems.append(
            _Invalid(
                ("background",),
                f"a transparent background needs png or webp, not {fmt}",
                "set `format: png` or `format: webp`",
            )
        )
    output_quality = field(_output_quality, values["output_quality"], fmt)
    results = field(_int, values, "results", 1, catalog.MAX_RESULTS) or 1
    candidates = field(_int, values, "candidates", 1, catalog.MAX_RESULTS) or 1
    if results * candidates > catalog.MAX_RESULTS:
        problems.append(
            _Invalid(
                ("candidates",),
                f"{candidates} candidates of {results} results is {results * candidates} images "
                f"in one request; at most {catalog.MAX_RESULTS}",
                "ask for fewer candidates or results",
            )
        )
    safety = field(_safety, values["safety"]) or ("none", "fail", False)
    ttl = field(_int, values, "ttl", *TTL_RANGE) if values["ttl"] is not None else None
    return (
        provider,
        model,
        size,
        quality,
        background,
        fmt,
        output_quality,
        results,
        candidates,
        (*safety, ttl),
        tuple(problems),
    )


def _safety(safety: Safety | None) -> tuple[str, str, bool]:
    """The content check's mode, what a flagged image does, and whether the request is checked
    before generating: `mode` wins over `check`, as in Runware's API; `on_flag` without a
    check would never apply. `block` stands alone (Runware's `blockContent` checks the
    request, not the image), so it needs neither."""
    if safety is None:
        return "none", "fail", False
    mode = safety.mode or ("fast" if safety.check else "none")
    if safety.on_flag is not None and mode == "none":
        raise _Invalid(
            ("safety",),
            f"safety.on_flag `{safety.on_flag}` needs the content check, which is off",
            "add `check: true` (or `mode: fast`) to `safety`, or remove `on_flag`",
        )
    return mode, safety.on_flag or "fail", bool(safety.block)


def _provider(value: Any) -> str:
    provider = str(value).strip()
    if provider not in PROVIDERS:
        raise _Invalid(
            ("provider",), f"unknown provider `{provider}`", "use runware or placeholder"
        )
    return provider


def _model(value: Any) -> catalog.ModelInfo:
    name = str(value).strip()
    model = catalog.resolve_model(name)
    if model is not None:
        return model
    close = catalog.suggestions(name)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    if ":" in name or "@" in name:
        raise _Invalid(
            ("model",),
            f"`{value}` is not a Runware model id ({catalog.AIR_FORM})",
            f"{hint}write it as {catalog.AIR_SHAPE}, in lower case",
        )
    raise _Invalid(
        ("model",),
        f"unknown model `{value}`",
        f"{hint}use one of {catalog.known_model_names()}, or a Runware model id "
        f"({catalog.AIR_FORM})",
    )


def _model_enum(
    values: dict[str, Any], name: str, allowed: tuple[str, ...], model: catalog.ModelInfo | None
) -> str:
    """A quality or background: one pixmake knows, and one this model takes."""
    value = _enum(values, name, allowed)
    if model is None:
        return value
    taken = model.qualities if name == "quality" else model.backgrounds
    if value not in taken:
        raise _Invalid(
            (name,),
            f"{name} `{value}` is not available for {model.name}",
            f"use one of {', '.join(taken)}, or another model",
        )
    return value


def _size(value: Any, model: catalog.ModelInfo) -> catalog.Size:
    size = catalog.parse_size(str(value))
    if size is None or not model.size_ok(size):
        raise _Invalid(
            ("size",),
            f"size `{value}` is not available for {model.name}",
            f"use one of: {model.sizes_text()}",
        )
    return size


def _prompt_length(prompt: str, model: catalog.ModelInfo) -> None:
    low, high = model.prompt_length
    if not low <= len(prompt) <= high:
        raise _Invalid(
            ("prompt",),
            f"the rendered prompt has {len(prompt)} characters; {model.name} takes {low} to {high}",
            "shorten the prompt" if len(prompt) > high else "write a prompt",
        )


_ABSENT = "<not in the context>"


def _row_key(names: tuple[str, ...], extra: dict[str, Any], fixed: dict[str, str]) -> str:
    """A row's key: the values of the names its declaration's renders looked up (the row's
    own variables as they are, the others by their digests)."""
    return digest([extra[n] if n in extra else fixed.get(n, _ABSENT) for n in names])


def _source(asset: Asset) -> str:
    return f"`{asset.decl}` ({asset.origin})" if asset.origin else f"`{asset.decl}`"


_SHOWN_RANGES = 10


_QUOTED = re.compile(r"`[^`]*`|'[^']*'")


def _shape(message: str) -> str:
    """A message with what it quotes left out: the same mistake on every row (an output path
    with the wrong extension names each row's own path) is one problem."""
    return _QUOTED.sub("`…`", message)


def _prefix(origins: list[str]) -> str:
    """`(row at t.csv:4) `, or for many rows `(200 rows at t.csv:2-201) `, `(3 rows at
    t.csv:3-4, 6) `: each file with its lines as ranges."""
    if len(origins) == 1:
        return f"(row at {origins[0]}) "
    lines: dict[str, set[int]] = {}
    for origin in origins:
        file, _, line = origin.rpartition(":")
        if file and line.isdigit():
            lines.setdefault(file, set()).add(int(line))
        else:
            lines.setdefault(origin, set())
    places = [
        f"{file}:{_ranges(sorted(found))}" if found else file for file, found in lines.items()
    ]
    return f"({len(origins)} rows at {'; '.join(places)}) "


def _ranges(lines: list[int]) -> str:
    ranges: list[list[int]] = []
    for line in lines:
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1][1] = line
        else:
            ranges.append([line, line])
    shown = [f"{a}-{b}" if a != b else str(a) for a, b in ranges[:_SHOWN_RANGES]]
    return ", ".join(shown) + (", ..." if len(ranges) > _SHOWN_RANGES else "")


def _set_fields(model: Settings, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    chosen = model.fields_set if names is None else set(model.fields_set) & set(names)
    return {name: getattr(model, name) for name in chosen if name in SETTING_FIELDS}


def _enum(values: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = str(values[name]).strip()
    if value not in allowed:
        raise _Invalid(
            (name,), f"{name} `{value}` is not allowed", f"use one of {', '.join(allowed)}"
        )
    return value


def _int(values: dict[str, Any], name: str, low: int, high: int) -> int:
    value = values[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        raise _Invalid(
            (name,), f"{name} `{value}` is not allowed", f"use a whole number {low}-{high}"
        )
    return number


def _output_quality(value: Any, fmt: str | None) -> int | None:
    if fmt not in catalog.LOSSY_FORMATS:
        return None
    if value is None:
        return DEFAULT_OUTPUT_QUALITY
    low, high = catalog.OUTPUT_QUALITY_RANGE
    return _int({"output_quality": value}, "output_quality", low, high)


_Row = tuple[dict[str, Any], str | None]  # a row's names for its templates, and its origin


def _combinations(axes: list[tuple[str, list[Any]]], var: str, origin: str) -> Iterator[_Row]:
    for i, combo in enumerate(itertools.product(*(values for _, values in axes))):
        values = {axis: value for (axis, _), value in zip(axes, combo, strict=True)}
        yield {**values, var: values, "index": i}, origin


_DRIVE = re.compile(r"^[A-Za-z]:")


def normalise(text: str) -> str | None:
    """A clean project-relative POSIX path, or None when it leaves the project."""
    if not text or text.startswith(("/", "\\")) or _DRIVE.match(text):
        return None
    norm = posixpath.normpath(text.replace("\\", "/"))
    if norm == "." or norm == ".." or norm.startswith("../"):
        return None
    return text if norm == text else norm  # one string, not two equal ones, per output


def _numbered(path: str, results: int) -> tuple[str, ...]:
    if results == 1:
        return (path,)
    stem, ext = posixpath.splitext(path)
    return tuple(f"{stem}-{n}{ext}" for n in range(1, results + 1))


def _format_of(path: str) -> str | None:
    lower = path.lower()
    for fmt, extensions in catalog.EXTENSIONS.items():
        if lower.endswith(extensions):
            return fmt
    return None


def _crop(
    value: str | list[int] | None, where: PathKey, size: catalog.Size | None
) -> tuple[int, ...] | None:
    """The crop box (or centred WxH) of a derive step; it must lie inside the image."""
    if value is None:
        return None
    box: tuple[int, ...] | None = None
    if isinstance(value, list):
        if len(value) == 4 and value[0] < value[2] and value[1] < value[3] and min(value) >= 0:
            box = tuple(value)
    else:
        found = catalog.parse_size(value)
        if found is not None and min(found) > 0:
            box = found
    if box is None:
        raise _Invalid(
            (*where, "crop"),
            f"crop `{value}` is not valid",
            "use WxH, or [left, top, right, bottom]",
        )
    if size is not None and (box[-2] > size[0] or box[-1] > size[1]):
        raise _Invalid(
            (*where, "crop"),
            f"crop `{value}` reaches outside the {size[0]}x{size[1]} image",
            f"keep it within {size[0]}x{size[1]} (a box's right and bottom at most that)",
        )
    return box


def _resize(
    value: int | str | None, where: PathKey, templates: Templates, ctx: dict[str, Any]
) -> tuple[int, ...] | None:
    if value is None:
        return None
    text = templates.render(value, ctx).strip() if isinstance(value, str) else str(value)
    if text.isdigit() and 0 < int(text) <= 16384:
        return (int(text),)
    size = catalog.parse_size(text)
    if size is not None and min(size) > 0 and max(size) <= 16384:
        return size
    raise _Invalid(
        (*where, "resize"), f"resize `{value}` is not valid", "use N (longest side) or WxH"
    )
