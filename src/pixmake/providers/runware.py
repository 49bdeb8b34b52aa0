"""Runware's REST API: the only module that knows Runware's JSON (see RUNWARE_API.md)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pixmake import catalog

if TYPE_CHECKING:
    from pixmake.providers.base import GenerationRequest, RequestReference

DEFAULT_BASE_URL = "https://api.runware.ai/v1"
_MIME = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"RIFF", "image/webp"))


def inference_task(
    request: GenerationRequest, references: list[str], *, delivery: str = "async"
) -> dict[str, Any]:
    """The `imageInference` task for a request (without `taskUUID`).

    `references` are the values for `inputs.referenceImages`, in order: URLs, data URIs or
    uploaded image UUIDs.
    """
    task: dict[str, Any] = {
        "taskType": "imageInference",
        "model": request.model,
        "positivePrompt": request.prompt,
        "width": request.width,
        "height": request.height,
        "numberResults": request.results,
        "outputFormat": request.format.upper(),
        "outputType": "URL",
        "deliveryMethod": delivery,
        "includeCost": True,
    }
    if request.output_quality is not None:
        task["outputQuality"] = request.output_quality
    model = catalog.resolve_model(request.model)
    if model is not None and model.openai:
        task["providerSettings"] = {
            "openai": {"quality": request.quality, "background": request.background}
        }
    if references:
        task["inputs"] = {"referenceImages": list(references)}
    return task


def reference_values(request: GenerationRequest) -> list[str]:
    """`inputs.referenceImages` sent inline: URLs as they are, local files as data URIs."""
    return [r.value if r.kind == "url" else data_uri(r) for r in request.references]


def data_uri(reference: RequestReference) -> str:
    """A local reference as a data URI, its MIME type read from the bytes."""
    assert reference.path is not None
    data = reference.path.read_bytes()
    mime = next((m for magic, m in _MAGIC if data.startswith(magic)), "image/png")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
