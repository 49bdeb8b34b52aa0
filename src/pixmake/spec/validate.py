"""Turn pydantic's validation errors into located, fixable problems, all at once."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from pixmake.errors import Problem, SpecError
from pixmake.spec import values
from pixmake.spec.models import (
    AssetDecl,
    CacheConfig,
    Delivery,
    DeriveStep,
    Limits,
    ProviderConfig,
    Safety,
    Settings,
    Spec,
)

if TYPE_CHECKING:
    from pixmake.spec.yamlsource import LineMap, PathKey

# Lower number wins when several errors of a union land on the same spot.
_PRIORITY = {"extra_forbidden": 0, "missing": 1, "literal_error": 2, "string_pattern_mismatch": 9}


def validate_spec(data: Any, lines: LineMap) -> tuple[values.Spec, list[Problem]]:
    """The spec with every asset that is well formed, and the problems of the others.

    Raises SpecError at once when the top level (version, defaults, vars, data, profiles) is
    wrong, since nothing can be resolved without it.
    """
    if not isinstance(data, dict):
        raise SpecError(
            [
                Problem(
                    lines.file,
                    1,
                    "",
                    "the spec must be a mapping with `version: 1` and `assets:`",
                    "start from `pixmake init`",
                )
            ]
        )
    problems: list[Problem] = []
    assets = data.get("assets")
    top = {k: v for k, v in data.items() if k != "assets"}
    try:
        spec = Spec.model_validate(top)
    except ValidationError as exc:
        problems += _problems(exc, top, lines)
        spec = Spec.model_construct(version=1)
    top_problems = bool(problems)
    if assets is not None and not isinstance(assets, dict):
        problems.append(
            Problem(lines.file, lines.line(("assets",)), "assets", "must be a mapping",
                    "write `assets:` followed by `name: {prompt: ..., out: ...}` entries")
        )  # fmt: skip
    valid: dict[str, AssetDecl] = {}
    for name, decl in (assets or {}).items() if isinstance(assets, dict) else ():
        try:
            valid[str(name)] = AssetDecl.model_validate(decl)
        except ValidationError as exc:
            problems += _problems(exc, data, lines, prefix=("assets", str(name)))
    spec.assets = valid
    if top_problems:
        raise SpecError(problems)
    converted: values.Spec = _values(spec)
    return converted, problems


def _values(value: Any) -> Any:
    """A validated model (and everything in it) as the plain values of values.py."""
    if isinstance(value, BaseModel):
        cls = values.CLASSES[type(value).__name__]
        kw = {name: _values(getattr(value, name)) for name in type(value).model_fields}
        return cls(**kw, fields_set=tuple(sorted(value.model_fields_set)))
    if isinstance(value, list):
        return [_values(v) for v in value]
    if isinstance(value, dict):
        return {k: _values(v) for k, v in value.items()}
    return value


def _problems(
    exc: ValidationError, data: Any, lines: LineMap, prefix: PathKey = ()
) -> list[Problem]:
    from pixmake.spec.yamlsource import format_path

    chosen: dict[PathKey, tuple[int, dict[str, Any], PathKey]] = {}
    errors: list[Any] = exc.errors()
    typos = {str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden" and e["loc"]}
    for error in errors:
        if error["type"] == "missing" and difflib.get_close_matches(
            str(error["loc"][-1]), typos, n=1
        ):
            continue  # the misspelt key already explains the missing one
        path, rest = _real_path(data, (*prefix, *error["loc"]))
        key = (*path, *rest) if error["type"] in ("missing", "extra_forbidden") else path
        rank = _PRIORITY.get(error["type"], 5)
        if key not in chosen or rank < chosen[key][0]:
            chosen[key] = (rank, dict(error), path)
    problems = []
    for key, (_, error, path) in sorted(chosen.items(), key=lambda item: lines.line(item[0]) or 0):
        message, fix = _describe(error, key, path)
        problems.append(Problem(lines.file, lines.line(key), format_path(key), message, fix))
    return problems


def _real_path(data: Any, loc: tuple[int | str, ...]) -> tuple[PathKey, PathKey]:
    """Split pydantic's loc into the part that exists in the YAML and what is left over
    (union branch tags are dropped; a missing key stays as the leftover)."""
    path: list[str | int] = []
    current: Any = data
    for index, part in enumerate(loc):
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            path.append(part)
            current = current[part]  # type: ignore[index]
        elif index == len(loc) - 1 and isinstance(current, dict) and isinstance(part, str):
            return tuple(path), (part,)
    return tuple(path), ()


def _model_at(path: PathKey) -> type[BaseModel] | None:
    if not path:
        return Spec
    head = path[0]
    if head == "defaults" and len(path) == 1:
        return Settings
    if head == "profiles" and len(path) == 2:
        return Settings
    if head == "providers" and len(path) == 2:
        return ProviderConfig
    if head == "providers" and len(path) == 3 and path[2] == "delivery":
        return Delivery
    if path[-1] == "safety" and len(path) == (2 if head == "defaults" else 3):
        return Safety
    if head == "limits" and len(path) == 1:
        return Limits
    if head == "cache" and len(path) == 1:
        return CacheConfig
    if head == "assets" and len(path) == 2:
        return AssetDecl
    if head == "assets" and len(path) == 4 and path[2] == "derive":
        return DeriveStep
    return None


def _describe(error: dict[str, Any], key: PathKey, path: PathKey) -> tuple[str, str]:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        name = str(key[-1])
        model = _model_at(key[:-1])
        allowed = sorted(f.alias or n for n, f in model.model_fields.items()) if model else []
        close = difflib.get_close_matches(name, allowed, n=1)
        fix = f"did you mean `{close[0]}`?" if close else f"allowed keys here: {', '.join(allowed)}"
        return f"unknown key `{name}`", fix
    if kind == "missing":
        name = str(key[-1])
        return f"required key `{name}` is missing", f"add `{name}: ...`"
    if kind == "literal_error" and path == ("version",):
        return f"unsupported spec version {value!r}", "this pixmake reads `version: 1`"
    if key and key[-1] == "concurrency":  # a number, or auto: pydantic names only one side
        return f"concurrency {value!r} is not allowed", "use `auto`, or a number from 1 to 64"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{value!r} is not allowed", f"use one of {expected} (or a {{{{ template }}}})"
    if kind == "string_pattern_mismatch" and key and key[-1] in ("webhook_url", "upload_endpoint"):
        return f"{value!r} is not a URL", "use a full http(s) URL of a receiver you run"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not allowed here", "see `pixmake schema` for the accepted values"
    message = str(error["msg"])
    message = message[0].lower() + message[1:]
    return f"{message} (got {value!r})", "see `pixmake schema` for the accepted values"
