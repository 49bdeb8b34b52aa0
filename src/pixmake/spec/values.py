"""The validated spec as plain values: the shapes of models.py without pydantic.

pydantic validates pixmake.yaml once (validate.py) and the result is converted to these; the
resolver and everything after it read only these, and the trace keeps them pickled. A
run whose pixmake.yaml is unchanged never imports pydantic. `fields_set` is what the
YAML set explicitly (pydantic's `model_fields_set`), sorted so that reprs are stable.
A guard test keeps the fields equal to the models'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Safety:
    check: bool | None = None
    mode: str | None = None
    on_flag: str | None = None
    block: bool | None = None
    fields_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    provider: str | None = None
    model: str | None = None
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    format: str | None = None
    output_quality: int | str | None = None
    results: int | str | None = None
    candidates: int | str | None = None
    safety: Safety | None = None
    ttl: int | str | None = None
    fields_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UrlReference:
    url: str
    pin: str | None = None
    fields_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeriveStep:
    out: str
    crop: str | list[int] | None = None
    resize: int | str | None = None
    format: str | None = None
    quality: int | None = None
    fields_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AssetDecl(Settings):
    prompt: str = ""
    out: str = ""
    references: list[str | UrlReference] = field(default_factory=list)
    derive: list[DeriveStep] = field(default_factory=list)
    for_each: str | list[Any] | None = None
    matrix: dict[str, list[Any]] | None = None
    as_: str = "item"


@dataclass(frozen=True, slots=True)
class Delivery:
    method: str = "async"
    output: str = "url"
    fields_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    concurrency: int | str = "auto"
    delivery: str | Delivery = "async"
    references: str = "upload"
    poll_interval: float = 0.25
    retry_backoff: float = 1.0
    webhook_url: str | None = None
    upload_endpoint: str | None = None
    fields_set: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        """async or sync, however `delivery` was written."""
        return self.delivery if isinstance(self.delivery, str) else self.delivery.method

    @property
    def output(self) -> str:
        """url or base64."""
        return "url" if isinstance(self.delivery, str) else self.delivery.output


@dataclass(frozen=True, slots=True)
class Limits:
    assets: int = 1_000_000
    render_chars: int = 1_000_000
    fields_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CacheConfig:
    remote: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    fields_set: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Spec:
    version: int = 1
    defaults: Settings = field(default_factory=Settings)
    vars: dict[str, Any] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, Settings] = field(default_factory=dict)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    assets: dict[str, AssetDecl] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    cache: CacheConfig = field(default_factory=CacheConfig)
    fields_set: tuple[str, ...] = ()


SETTING_FIELDS: tuple[str, ...] = tuple(
    f for f in Settings.__dataclass_fields__ if f != "fields_set"
)
CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Safety,
        Settings,
        Delivery,
        UrlReference,
        DeriveStep,
        AssetDecl,
        ProviderConfig,
        Limits,
        CacheConfig,
        Spec,
    )
}


def fields(value: Any) -> dict[str, Any]:
    """A value's fields (not `fields_set`), in declaration order."""
    return {f: getattr(value, f) for f in value.__dataclass_fields__ if f != "fields_set"}
