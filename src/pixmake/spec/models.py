"""The shape of pixmake.yaml as pydantic models; also the source of schema/pixmake.schema.json.

Settings may be Jinja templates (`quality: "{{ item.quality }}"`): they are checked against the
model catalog after rendering, per asset, in `pixmake.spec.resolve`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Template = Annotated[str, StringConstraints(pattern=r"\{\{|\{%")]
Quality = Literal["low", "medium", "high", "auto"]
Background = Literal["opaque", "transparent", "auto"]
Format = Literal["png", "jpg", "webp"]


class _Strict(BaseModel):
    # defer_build: the validators are built on first use, not at import; a run whose
    # pixmake.yaml is unchanged takes the validated spec from the cache and never needs them.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class Safety(_Strict):
    """Runware's content safety (`safety`); not in the key: it does not change the image, only
    whether the request is refused before generating (`block`) or the image is flagged
    (NSFWContent) and so whether it is kept."""

    check: bool | None = Field(None, description="check every image; true means mode fast")
    mode: Literal["none", "fast", "full"] | None = Field(
        None, description="none, fast or full; wins over `check` when both are set"
    )
    on_flag: Literal["fail", "keep"] | None = Field(
        None, description="a flagged image fails the asset (fail, the default) or is kept"
    )
    block: bool | None = Field(
        None,
        description="check the prompt and references before generating; a flagged request "
        "is refused (sensitiveContentDetected) and not charged",
    )


class Settings(_Strict):
    """What determines a generation; set in `defaults`, a profile, or an asset."""

    provider: str | None = Field(
        None, description="runware (default) or placeholder; --provider overrides it"
    )
    model: str | None = Field(
        None,
        description=(
            "an alias (gpt-image-1, gpt-image-1-mini, gpt-image-1.5, gpt-image-2, ...) or any "
            "Runware model id, provider:name@version (openai:gpt-image@2, runware:100@1)"
        ),
    )
    size: str | None = Field(None, description="WIDTHxHEIGHT, e.g. 1536x1024")
    quality: Quality | Template | None = None
    background: Background | Template | None = Field(
        None, description="transparent needs format png or webp"
    )
    format: Format | Template | None = None
    output_quality: Annotated[int, Field(ge=20, le=99)] | Template | None = Field(
        None, description="compression quality for jpg and webp, 20-99"
    )
    results: Annotated[int, Field(ge=1, le=20)] | Template | None = Field(
        None, description="images per request; outputs are numbered -1, -2, ..."
    )
    candidates: Annotated[int, Field(ge=1, le=20)] | Template | None = Field(
        None,
        description="images to choose from (each `results` images); the first is the output "
        "until `pixmake pick` chooses another",
    )
    safety: Safety | None = Field(
        None,
        description="Runware's content safety: {block: true, check: true, mode: fast, "
        "on_flag: fail}",
    )
    ttl: Annotated[int, Field(ge=60, le=2_592_000)] | Template | None = Field(
        None,
        description="seconds Runware keeps the image URL (60 or more); not in the key, "
        "not sent with `delivery: {output: base64}`",
    )


class UrlReference(_Strict):
    """A reference image on the web; `pin` puts its content hash in the key instead of its URL."""

    url: str
    pin: str | None = Field(None, description="xxh3-128 hex of the URL's content")


Reference = Annotated[
    str | UrlReference,
    Field(description="a project file, an https URL, or asset:ID for another asset's output"),
]


class DeriveStep(_Strict):
    """A free, local post-processing of the generated image into another file."""

    out: str = Field(description="path of the derived file; its extension sets the format")
    crop: str | list[int] | None = Field(
        None, description="WxH centred, or [left, top, right, bottom]"
    )
    resize: int | str | None = Field(
        None, description="N fits the longest side to N; WxH scales to exactly that size"
    )
    format: Format | None = None
    quality: Annotated[int, Field(ge=1, le=100)] | None = None


class AssetDecl(Settings):
    """One asset, or a series of them when `for_each` or `matrix` is given."""

    prompt: str = Field(description="Jinja template; undefined variables are errors")
    out: str = Field(description="output path inside the project")
    references: list[Reference] = Field(default_factory=list, max_length=64)
    derive: list[DeriveStep] = Field(default_factory=list)
    for_each: str | list[Any] | None = Field(
        None, description="name of a data table, or an inline list"
    )
    matrix: dict[str, list[Any]] | None = Field(
        None, description="axes whose cartesian product makes the series"
    )
    as_: str = Field("item", alias="as", description="name of the loop variable")


class Delivery(_Strict):
    """How Runware answers: polled or waited for, and the image as a URL or in the answer."""

    method: Literal["async", "sync"] = Field(
        "async", description="poll getResponse (async) or wait for the answer (sync)"
    )
    output: Literal["url", "base64"] = Field(
        "url",
        description="url: download each image; base64: the image comes in the answer and "
        "no download is made (bigger answers)",
    )


Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2048)]


class ProviderConfig(_Strict):
    """Per-provider options in the spec."""

    concurrency: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = Field(
        "auto",
        description="at most this many requests in flight to this provider; auto (runware): "
        "start at 4 and follow the account's answers, up to 32 (-j caps it too)",
    )
    delivery: Literal["async", "sync"] | Delivery = Field(
        "async",
        description="runware: async or sync, or {method: async|sync, output: url|base64}",
    )
    webhook_url: Url | None = Field(
        None,
        description="runware: passed through as webhookURL; Runware also POSTs each result "
        "there (pixmake itself never needs it)",
    )
    upload_endpoint: Url | None = Field(
        None,
        description="runware: passed through as uploadEndpoint; Runware also PUTs each image "
        "there (pixmake itself never needs it)",
    )
    references: Literal["upload", "inline"] = Field(
        "upload",
        description="runware: upload local references once and reuse them, or send data URIs",
    )
    poll_interval: Annotated[float, Field(gt=0, le=60)] = Field(
        0.25, description="runware: seconds before the first poll, while no task has finished"
    )
    retry_backoff: Annotated[float, Field(gt=0, le=60)] = Field(
        1.0, description="runware: seconds before the first retry; then doubling, up to 30 s"
    )


class Limits(_Strict):
    """Bounds on the work a spec may ask for; raise them here when a project really needs more."""

    assets: Annotated[int, Field(ge=1)] = Field(
        1_000_000, description="at most this many assets from one series (for_each or matrix)"
    )
    render_chars: Annotated[int, Field(ge=1)] = Field(
        1_000_000,
        description="at most this many characters (and loop steps) in one template render",
    )


class CacheConfig(_Strict):
    """Where built images are shared with other machines (`PIXMAKE_REMOTE` overrides `remote`)."""

    remote: str | None = Field(
        None,
        description="an fsspec URL: s3://bucket/prefix, gs://..., az://..., file:///path, or "
        "a shared directory; credentials come from the environment, never from here",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="storage options for the fsspec backend, e.g. {endpoint_url: ...} for an "
        "S3-compatible server",
    )


class Spec(_Strict):
    """pixmake.yaml."""

    version: Literal[1]
    defaults: Settings = Field(default_factory=lambda: Settings())
    vars: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, str] = Field(
        default_factory=dict, description="name: path of a csv, json or yaml table"
    )
    profiles: dict[str, Settings] = Field(default_factory=dict)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    assets: dict[str, AssetDecl] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=lambda: Limits())
    cache: CacheConfig = Field(default_factory=lambda: CacheConfig())


SETTING_FIELDS: tuple[str, ...] = tuple(Settings.model_fields)


def json_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pixmake.yaml"
    return schema
