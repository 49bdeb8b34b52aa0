"""Turn pydantic's validation errors into located, fixable problems, all at once."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from pixmake.errors import Problem, SpecError
from pixmake.spec.models import AssetDecl, DeriveStep, ProviderConfig, Settings, Spec

if TYPE_CHECKING:
    from pixmake.spec.yamlsource import LineMap, PathKey

# Lower number wins when several errors of a union land on the same spot.
_PRIORITY = {"extra_forbidden": 0, "missing": 1, "literal_error": 2, "string_pattern_mismatch": 9}


def validate_spec(data: Any, lines: LineMap) -> Spec:
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
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems(exc, data, lines)) from None


def _problems(exc: ValidationError, data: Any, lines: LineMap) -> list[Problem]:
    from pixmake.spec.yamlsource import format_path

    chosen: dict[PathKey, tuple[int, dict[str, Any], PathKey]] = {}
    for error in exc.errors():
        path, rest = _real_path(data, error["loc"])
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
    current = data
    for index, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
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
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{value!r} is not allowed", f"use one of {expected} (or a {{{{ template }}}})"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not allowed here", "see `pixmake schema` for the accepted values"
    message = str(error["msg"])
    message = message[0].lower() + message[1:]
    return f"{message} (got {value!r})", "see `pixmake schema` for the accepted values"
