"""pixmake.yaml in its plain shapes, validated without pydantic.

`plain_spec(data)` is the `values.Spec` that validate.py (pydantic) makes of `data`, for a
spec in which every value already has the type its field names: a string where a string
goes, an integer (not a boolean) within its bounds, one of the allowed words or a template
where a setting takes either, a mapping for a model, and no key that is unknown. Anything
else (a value pydantic would convert, `"2"` for an integer or `true` for 1; a key written by
its field name rather than its alias; anything wrong) gives None, and pydantic decides, with
its located errors. So a spec that is plainly right is checked without importing pydantic,
and every spec gets the answer pydantic gives: a differential test holds the two together
(tests/property/test_plain_spec.py), and a guard test keeps the fields equal to the models'.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pixmake.catalog import BACKGROUNDS, FORMATS, QUALITIES
from pixmake.spec import values

if TYPE_CHECKING:
    from collections.abc import Callable

    Check = Callable[[Any], Any]


class _NotPlain(Exception):
    """The value is not in a plain shape: pydantic decides."""


_TEMPLATE = re.compile(r"\{\{|\{%")  # models.Template: the pattern is searched for
_URL = re.compile(r"https?://[!-~]+")  # printable ASCII, no space: within models.Url


def plain_spec(data: Any) -> values.Spec | None:
    """The validated spec, or None when pydantic must decide (see the module's docstring)."""
    if type(data) is not dict:
        return None
    try:
        top = _model(values.Spec, _SPEC, {k: v for k, v in data.items() if k != "assets"})
        assets = data.get("assets")
        decls = {} if assets is None else _mapping(_asset_decl)(assets)
    except _NotPlain:
        return None
    # validate.py sets `assets` on the validated top level, which pydantic counts as set
    kw = values.fields(top)
    kw["assets"] = decls
    spec: values.Spec = values.Spec(**kw, fields_set=tuple(sorted({*top.fields_set, "assets"})))
    return spec


def _model(cls: type[Any], fields: dict[str, tuple[str, Check]], value: Any) -> Any:
    """A values class from a mapping: each key known (by its alias), each value checked."""
    if type(value) is not dict:
        raise _NotPlain
    kw: dict[str, Any] = {}
    for key, item in value.items():
        found = fields.get(key) if type(key) is str else None
        if found is None:
            raise _NotPlain
        name, check = found
        kw[name] = check(item)
    if not _REQUIRED.get(cls, set()) <= kw.keys():
        raise _NotPlain
    return cls(**kw, fields_set=tuple(sorted(kw)))


def _of(cls: type[Any], fields: dict[str, tuple[str, Check]]) -> Check:
    return lambda value: _model(cls, fields, value)


def _string(value: Any) -> str:
    if type(value) is not str:
        raise _NotPlain
    return value


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _word(*allowed: str) -> Check:
    def check(value: Any) -> str:
        if type(value) is not str or value not in allowed:
            raise _NotPlain
        return value

    return check


def _word_or_template(allowed: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        if type(value) is not str or (value not in allowed and not _TEMPLATE.search(value)):
            raise _NotPlain
        return value

    return check


def _integer(low: int, high: int | None = None) -> Check:
    def check(value: Any) -> int:
        if type(value) is not int or value < low or (high is not None and value > high):
            raise _NotPlain
        return value

    return check


def _whole(value: Any) -> int:
    if type(value) is not int:
        raise _NotPlain
    return value


def _integer_or_template(low: int, high: int) -> Check:
    number = _integer(low, high)

    def check(value: Any) -> Any:
        if type(value) is str and _TEMPLATE.search(value):
            return value
        return number(value)

    return check


def _positive_float(high: float) -> Check:
    def check(value: Any) -> float:
        if type(value) is not float or not 0 < value <= high:
            raise _NotPlain
        return value

    return check


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise _NotPlain
    return value


def _url(value: Any) -> str:
    if type(value) is not str or len(value) > 2048 or not _URL.fullmatch(value):
        raise _NotPlain
    return value


def _either(*checks: Check) -> Check:
    """The first check that takes the value (each takes a different type)."""

    def check(value: Any) -> Any:
        for one in checks:
            try:
                return one(value)
            except _NotPlain:
                continue
        raise _NotPlain

    return check


def _list(item: Check, max_length: int | None = None) -> Check:
    def check(value: Any) -> list[Any]:
        if type(value) is not list or (max_length is not None and len(value) > max_length):
            raise _NotPlain
        return [item(v) for v in value]

    return check


def _mapping(item: Check) -> Check:
    def check(value: Any) -> dict[str, Any]:
        if type(value) is not dict or not all(type(k) is str for k in value):
            raise _NotPlain
        return {k: item(v) for k, v in value.items()}

    return check


def _anything(value: Any) -> Any:
    """Any value, as validate.py gives it back: its lists and mappings copied."""
    if type(value) is list:
        return [_anything(v) for v in value]
    if type(value) is dict:
        return {k: _anything(v) for k, v in value.items()}
    return value


_SAFETY = {
    "check": ("check", _optional(_boolean)),
    "mode": ("mode", _optional(_word("none", "fast", "full"))),
    "on_flag": ("on_flag", _optional(_word("fail", "keep"))),
    "block": ("block", _optional(_boolean)),
}
_SETTINGS: dict[str, tuple[str, Check]] = {
    "provider": ("provider", _optional(_string)),
    "model": ("model", _optional(_string)),
    "size": ("size", _optional(_string)),
    "quality": ("quality", _optional(_word_or_template(QUALITIES))),
    "background": ("background", _optional(_word_or_template(BACKGROUNDS))),
    "format": ("format", _optional(_word_or_template(FORMATS))),
    "output_quality": ("output_quality", _optional(_integer_or_template(20, 99))),
    "results": ("results", _optional(_integer_or_template(1, 20))),
    "candidates": ("candidates", _optional(_integer_or_template(1, 20))),
    "safety": ("safety", _optional(_of(values.Safety, _SAFETY))),
    "ttl": ("ttl", _optional(_integer_or_template(60, 2_592_000))),
}
_URL_REFERENCE = {"url": ("url", _string), "pin": ("pin", _optional(_string))}
_DERIVE = {
    "out": ("out", _string),
    "crop": ("crop", _optional(_either(_string, _list(_whole)))),
    "resize": ("resize", _optional(_either(_whole, _string))),
    "format": ("format", _optional(_word(*FORMATS))),
    "quality": ("quality", _optional(_integer(1, 100))),
}
_ASSET: dict[str, tuple[str, Check]] = {
    **_SETTINGS,
    "prompt": ("prompt", _string),
    "out": ("out", _string),
    "references": (
        "references",
        _list(_either(_string, _of(values.UrlReference, _URL_REFERENCE)), max_length=64),
    ),
    "derive": ("derive", _list(_of(values.DeriveStep, _DERIVE))),
    "for_each": ("for_each", _optional(_either(_string, _list(_anything)))),
    "matrix": ("matrix", _optional(_mapping(_list(_anything)))),
    "as": ("as_", _string),
}
_DELIVERY = {
    "method": ("method", _word("async", "sync")),
    "output": ("output", _word("url", "base64")),
}
_PROVIDER = {
    "concurrency": ("concurrency", _either(_integer(1, 64), _word("auto"))),
    "delivery": ("delivery", _either(_word("async", "sync"), _of(values.Delivery, _DELIVERY))),
    "webhook_url": ("webhook_url", _optional(_url)),
    "upload_endpoint": ("upload_endpoint", _optional(_url)),
    "references": ("references", _word("upload", "inline")),
    "poll_interval": ("poll_interval", _positive_float(60)),
    "retry_backoff": ("retry_backoff", _positive_float(60)),
}
_LIMITS = {"assets": ("assets", _integer(1)), "render_chars": ("render_chars", _integer(1))}
_CACHE = {
    "remote": ("remote", _optional(_string)),
    "options": ("options", _mapping(_anything)),
}
_SPEC: dict[str, tuple[str, Check]] = {
    "version": ("version", _integer(1, 1)),
    "defaults": ("defaults", _of(values.Settings, _SETTINGS)),
    "vars": ("vars", _mapping(_anything)),
    "data": ("data", _mapping(_string)),
    "profiles": ("profiles", _mapping(_of(values.Settings, _SETTINGS))),
    "providers": ("providers", _mapping(_of(values.ProviderConfig, _PROVIDER))),
    "limits": ("limits", _of(values.Limits, _LIMITS)),
    "cache": ("cache", _of(values.CacheConfig, _CACHE)),
}
_asset_decl = _of(values.AssetDecl, _ASSET)
_REQUIRED: dict[type[Any], set[str]] = {
    values.Spec: {"version"},
    values.AssetDecl: {"prompt", "out"},
    values.UrlReference: {"url"},
    values.DeriveStep: {"out"},
}
# Each model's keys as this module reads them (aliases), for the guard test.
KEYS: dict[str, set[str]] = {
    "Spec": {*_SPEC, "assets"},
    "Settings": set(_SETTINGS),
    "Safety": set(_SAFETY),
    "UrlReference": set(_URL_REFERENCE),
    "DeriveStep": set(_DERIVE),
    "AssetDecl": set(_ASSET),
    "Delivery": set(_DELIVERY),
    "ProviderConfig": set(_PROVIDER),
    "Limits": set(_LIMITS),
    "CacheConfig": set(_CACHE),
}
