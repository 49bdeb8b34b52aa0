"""The offline, free provider: a deterministic image of the right size and format from the key.

It draws the asset id and the start of the prompt, with alpha where the background is
transparent, so layouts can be built and tested with no API key. Its lock entries say
`placeholder: true`, and its key differs from a real provider's, so a real build replaces them.
"""

from __future__ import annotations

import asyncio
import colorsys
import textwrap
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from pixmake.hashing import content_hash
from pixmake.imaging import encode
from pixmake.providers.base import GenerationRequest, GenerationResult

if TYPE_CHECKING:
    from pixmake.providers.base import TaskJournal
    from pixmake.staging import StagedImage, Staging


class PlaceholderProvider:
    name = "placeholder"
    paid = False
    trusted = True

    async def generate(
        self, request: GenerationRequest, tasks: TaskJournal, staging: Staging
    ) -> GenerationResult:
        images = await asyncio.to_thread(self._draw_all, request, staging)
        return GenerationResult(images, {"placeholder": True, "provider": self.name}, 0.0)

    async def aclose(self) -> None:
        return None

    def _draw_all(self, request: GenerationRequest, staging: Staging) -> list[StagedImage]:
        images: list[StagedImage] = []
        try:
            for index in range(request.results):
                images.append(staging.put(draw(request, index)))
        except BaseException:
            staging.discard(images)
            raise
        return images


def draw(request: GenerationRequest, index: int = 0) -> bytes:
    seed = int(request.key[:8], 16) + index * 0x9E3779B1
    if len(request.key) > 32:  # a reroll's task: the request key and a nonce
        seed += int(content_hash(request.key[32:].encode())[:8], 16)
    hue = (seed % 360) / 360.0
    fill = _rgb(hue, 0.45, 0.85)
    ink = _rgb(hue, 0.8, 0.25)
    width, height = request.width, request.height
    transparent = request.background == "transparent"
    image = Image.new(
        "RGBA" if transparent else "RGB", (width, height), (0, 0, 0, 0) if transparent else fill
    )
    pen = ImageDraw.Draw(image)
    margin = min(width, height) // 12
    box = (margin, margin, width - margin, height - margin)
    if transparent:
        pen.rounded_rectangle(box, radius=margin, fill=(*fill, 255), outline=(*ink, 255), width=6)
    else:
        pen.rectangle(box, outline=ink, width=6)
    unit = min(width, height)
    title = ImageFont.load_default(size=max(12, unit // 14))
    body = ImageFont.load_default(size=max(10, unit // 30))
    x, y = margin * 2, margin * 2
    pen.text((x, y), request.asset_id, font=title, fill=ink)
    y += unit // 10
    chars = max(16, int((width - 4 * margin) / (unit / 55)))
    for line in textwrap.wrap(request.prompt, chars)[:8]:
        pen.text((x, y), line, font=body, fill=ink)
        y += unit // 24
    label = f"PLACEHOLDER {width}x{height} {request.model} {request.quality}"
    if request.results > 1:
        label += f" #{index + 1}"
    small = ImageFont.load_default(size=max(8, unit // 40))
    pen.text((x, height - margin * 2 - unit // 30), label, font=small, fill=ink)
    return encode(image, request.format, request.output_quality)


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)
