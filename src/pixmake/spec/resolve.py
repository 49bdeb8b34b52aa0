"""Expand declarations into assets: series over tables and matrices, Jinja, catalog checks.

Every problem of the whole spec is collected and raised together as one SpecError.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake import catalog
from pixmake.errors import Problem, SpecError
from pixmake.spec.asset import Asset, Derived, Reference
from pixmake.spec.models import SETTING_FIELDS, AssetDecl, Settings, Spec, UrlReference
from pixmake.spec.tables import Row, load_table
from pixmake.spec.template import TemplateProblem, Templates
from pixmake.spec.yamlsource import format_path

if TYPE_CHECKING:
    from pathlib import Path

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
}
DEFAULT_OUTPUT_QUALITY = 95
PROVIDERS = ("runware", "placeholder")
RESERVED = ("pixmake.yaml", "pixmake.lock", ".pixmake", ".git")
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+=/-]*$")


class _Invalid(Exception):
    """One problem in one field of one asset; collected by the caller."""

    def __init__(self, field: PathKey, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.fix = fix


@dataclass(slots=True)
class Resolver:
    """Turns a validated Spec into assets. `problems` collects everything that is wrong."""

    root: Path
    spec: Spec
    lines: LineMap
    profile: str | None = None
    provider: str | None = None
    templates: Templates = field(init=False)
    problems: list[Problem] = field(default_factory=list)
    tables_read: set[str] = field(default_factory=set)
    _tables: dict[str, list[Row]] = field(default_factory=dict)
    _files: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.templates = Templates(self.root)

    def resolve(self) -> dict[str, Asset]:
        base = self._base_settings()
        context: dict[str, Any] = dict(self.spec.vars)
        context["data"] = self._load_tables()
        assets: dict[str, Asset] = {}
        for name, decl in self.spec.assets.items():
            for asset in self._expand(name, decl, base, context):
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
        if self.problems:
            raise SpecError(self.problems)
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

    # -- tables -----------------------------------------------------------------------------

    def _load_tables(self) -> dict[str, list[Any]]:
        loaded: dict[str, list[Any]] = {}
        for name, rel in self.spec.data.items():
            where = ("data", name)
            norm = _normalise(rel)
            if norm is None:
                self._problem(where, f"`{rel}` is outside the project", "use a project path")
                continue
            try:
                rows = load_table(self.root, norm)
            except SpecError as exc:
                for problem in exc.problems:
                    if problem.line is None and problem.file == norm:
                        self._problem(where, f"{norm}: {problem.message}", problem.fix)
                    else:
                        self.problems.append(problem)
                continue
            self.tables_read.add(norm)
            self._tables[name] = rows
            loaded[name] = [row.values for row in rows]
        return loaded

    # -- expansion --------------------------------------------------------------------------

    def _expand(
        self, name: str, decl: AssetDecl, base: dict[str, Any], context: dict[str, Any]
    ) -> list[Asset]:
        where: PathKey = ("assets", name)
        rows = self._rows(name, decl)
        if rows is None:
            return []
        series = decl.for_each is not None or decl.matrix is not None
        if not series and "{" in name:
            self._problem(
                where, "a single asset's id cannot be a template", "add `for_each:` or `matrix:`"
            )
            return []
        settings = dict(base)
        settings.update(_set_fields(decl, SETTING_FIELDS))
        settings.update(self._overrides())
        assets = []
        for extra, origin in rows:
            local = {**context, **extra}
            try:
                asset_id = self.templates.render(name, local).strip() if series else name
                if not _ID.match(asset_id):
                    raise _Invalid(
                        (),
                        f"asset id `{asset_id}` has characters an id cannot have",
                        "use letters, digits and _ . @ + = / - (no spaces or globs)",
                    )
                local["id"] = asset_id
                assets.append(self._asset(asset_id, name, decl, settings, local, origin))
            except _Invalid as exc:
                self._problem((*where, *exc.field), _prefix(origin) + exc.message, exc.fix)
            except TemplateProblem as exc:
                self._template_problem((*where,), exc, origin)
        return assets

    def _rows(self, name: str, decl: AssetDecl) -> list[tuple[dict[str, Any], str | None]] | None:
        where: PathKey = ("assets", name)
        var = decl.as_
        if decl.for_each is not None and decl.matrix is not None:
            self._problem(where, "`for_each` and `matrix` cannot be combined", "use one of them")
            return None
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
            return [({var: row.values, "index": i}, row.where()) for i, row in enumerate(table)]
        if isinstance(decl.for_each, list):
            origin = f"{self.lines.file}:{self.lines.line((*where, 'for_each'))}"
            return [({var: v, "index": i}, origin) for i, v in enumerate(decl.for_each)]
        if decl.matrix is not None:
            axes = list(decl.matrix.items())
            origin = f"{self.lines.file}:{self.lines.line((*where, 'matrix'))}"
            out: list[tuple[dict[str, Any], str | None]] = []
            for i, combo in enumerate(itertools.product(*(values for _, values in axes))):
                values = {axis: value for (axis, _), value in zip(axes, combo, strict=True)}
                out.append(({**values, var: values, "index": i}, origin))
            return out
        return [({}, None)]

    def _asset(
        self,
        asset_id: str,
        decl_name: str,
        decl: AssetDecl,
        settings: dict[str, Any],
        ctx: dict[str, Any],
        origin: str | None,
    ) -> Asset:
        render = self.templates.render
        values = {k: render(v, ctx) if isinstance(v, str) else v for k, v in settings.items()}
        provider = str(values["provider"])
        if provider not in PROVIDERS:
            raise _Invalid(("provider",), f"unknown provider `{provider}`", "use runware or placeholder")
        model = catalog.resolve_model(str(values["model"]))
        if model is None:
            raise _Invalid(
                ("model",),
                f"unknown model `{values['model']}`",
                f"use one of {catalog.known_model_names()}, or a Runware model id like runware:100@1",
            )
        size = catalog.parse_size(str(values["size"]))
        if size is None or not model.size_ok(size):
            raise _Invalid(
                ("size",),
                f"size `{values['size']}` is not available for {model.name}",
                f"use one of: {model.sizes_text()}",
            )
        quality = _enum(values, "quality", catalog.QUALITIES)
        background = _enum(values, "background", catalog.BACKGROUNDS)
        fmt = _enum(values, "format", catalog.FORMATS)
        if background == "transparent" and fmt not in catalog.ALPHA_FORMATS:
            raise _Invalid(
                ("background",),
                f"a transparent background needs png or webp, not {fmt}",
                "set `format: png` or `format: webp`",
            )
        output_quality = _output_quality(values["output_quality"], fmt)
        results = _int(values, "results", 1, model.max_results)
        prompt = render(decl.prompt, ctx).strip()
        low, high = model.prompt_length
        if not low <= len(prompt) <= high:
            raise _Invalid(
                ("prompt",),
                f"the rendered prompt has {len(prompt)} characters; {model.name} takes {low} to {high}",
                "shorten the prompt" if len(prompt) > high else "write a prompt",
            )
        references = tuple(self._reference(i, r, ctx) for i, r in enumerate(decl.references))
        if len(references) > model.max_references:
            raise _Invalid(
                ("references",),
                f"{len(references)} references; {model.name} takes at most {model.max_references}",
                "remove some references",
            )
        out = self._path(("out",), render(decl.out, ctx), fmt)
        outputs = _numbered(out, results)
        derived = tuple(
            d
            for i, step in enumerate(decl.derive)
            for d in self._derived(i, step, ctx, results)
        )
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
            references=references,
            outputs=outputs,
            derived=derived,
            decl=decl_name,
            origin=origin,
            line=self.lines.line(("assets", decl_name)),
        )

    def _reference(self, index: int, ref: str | UrlReference, ctx: dict[str, Any]) -> Reference:
        where: PathKey = ("references", index)
        if isinstance(ref, UrlReference):
            url = self.templates.render(ref.url, ctx).strip()
            if not url.startswith("https://"):
                raise _Invalid(where, f"`{url}` is not an https URL", "use an https:// URL")
            return Reference("url", url, ref.pin)
        text = self.templates.render(ref, ctx).strip()
        if text.startswith("asset:"):
            return Reference("asset", text.removeprefix("asset:").strip())
        if text.startswith("https://"):
            return Reference("url", text)
        if "://" in text:
            raise _Invalid(where, f"`{text}` is not an https URL", "use an https:// URL")
        norm = _normalise(text)
        if norm is None:
            raise _Invalid(where, f"`{text}` is outside the project", "copy the file into the project")
        exists = self._files.get(norm)
        if exists is None:
            exists = self._files[norm] = os.path.isfile(self.root / norm)
        if not exists:
            raise _Invalid(
                where,
                f"reference file `{norm}` does not exist",
                "create it, fix the path (relative to the project root), or use asset:ID",
            )
        return Reference("file", norm)

    def _path(self, where: PathKey, text: str, fmt: str) -> str:
        norm = _normalise(text.strip())
        if norm is None or norm.split("/")[0] in RESERVED:
            raise _Invalid(
                where, f"output `{text}` is outside the project or reserved", "use a project path"
            )
        extensions = catalog.EXTENSIONS[fmt]
        if not norm.lower().endswith(extensions):
            raise _Invalid(
                where,
                f"output `{norm}` does not end in {' or '.join(extensions)} for format {fmt}",
                f"name it *{extensions[0]}, or change `format`",
            )
        return norm

    def _derived(self, index: int, step: Any, ctx: dict[str, Any], results: int) -> list[Derived]:
        where: PathKey = ("derive", index)
        text = self.templates.render(step.out, ctx).strip()
        fmt = step.format or _format_of(text)
        if fmt is None:
            raise _Invalid(
                (*where, "out"), f"cannot tell the format of `{text}`", "end it in .png, .jpg or .webp"
            )
        path = self._path((*where, "out"), text, fmt)
        crop = _crop(step.crop, where)
        resize = _resize(step.resize, where, self.templates, ctx)
        return [
            Derived(p, i, fmt, crop, resize, step.quality)
            for i, p in enumerate(_numbered(path, results))
        ]

    # -- problems ---------------------------------------------------------------------------

    def _problem(self, path: PathKey, message: str, fix: str) -> None:
        self.problems.append(
            Problem(self.lines.file, self.lines.line(path), format_path(path), message, fix)
        )

    def _template_problem(self, where: PathKey, exc: TemplateProblem, origin: str | None) -> None:
        if exc.file is not None:
            self.problems.append(Problem(exc.file, exc.line, "", _prefix(origin) + exc.message, exc.fix))
        else:
            self._problem(where, _prefix(origin) + exc.message, exc.fix)


def _source(asset: Asset) -> str:
    return f"`{asset.decl}` ({asset.origin})" if asset.origin else f"`{asset.decl}`"


def _prefix(origin: str | None) -> str:
    return f"(row at {origin}) " if origin else ""


def _set_fields(model: Settings, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    fields = model.model_fields_set if names is None else model.model_fields_set & set(names)
    return {name: getattr(model, name) for name in fields if name in SETTING_FIELDS}


def _enum(values: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = str(values[name]).strip()
    if value not in allowed:
        raise _Invalid((name,), f"{name} `{value}` is not allowed", f"use one of {', '.join(allowed)}")
    return value


def _int(values: dict[str, Any], name: str, low: int, high: int) -> int:
    value = values[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        raise _Invalid((name,), f"{name} `{value}` is not allowed", f"use a whole number {low}-{high}")
    return number


def _output_quality(value: Any, fmt: str) -> int | None:
    if fmt not in catalog.LOSSY_FORMATS:
        return None
    if value is None:
        return DEFAULT_OUTPUT_QUALITY
    low, high = catalog.OUTPUT_QUALITY_RANGE
    return _int({"output_quality": value}, "output_quality", low, high)


def _normalise(text: str) -> str | None:
    """A clean project-relative POSIX path, or None when it leaves the project."""
    if not text or text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        return None
    norm = posixpath.normpath(text.replace("\\", "/"))
    if norm == "." or norm == ".." or norm.startswith("../"):
        return None
    return norm


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


def _crop(value: str | list[int] | None, where: PathKey) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) == 4 and value[0] < value[2] and value[1] < value[3] and min(value) >= 0:
            return tuple(value)
    else:
        size = catalog.parse_size(value)
        if size is not None and min(size) > 0:
            return size
    raise _Invalid(
        (*where, "crop"), f"crop `{value}` is not valid", "use WxH, or [left, top, right, bottom]"
    )


def _resize(
    value: int | str | None, where: PathKey, templates: Templates, ctx: dict[str, Any]
) -> tuple[int, ...] | None:
    if value is None:
        return None
    text = templates.render(value, ctx).strip() if isinstance(value, str) else str(value)
    if text.isdigit() and 0 < int(text) <= 16384:
        return (int(text),)
    size = catalog.parse_size(text)
    if size is not None and 0 < min(size) and max(size) <= 16384:
        return size
    raise _Invalid(
        (*where, "resize"), f"resize `{value}` is not valid", "use N (longest side) or WxH"
    )
