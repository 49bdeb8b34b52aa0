"""Pillow, in one place: encoding, checking provider images, and the local `derive` steps."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from pixmake.errors import ProviderRejectedError

if TYPE_CHECKING:
    from pathlib import Path

    from pixmake.spec.asset import Derived

PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def encode(image: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    """Encode deterministically. JPEG has no alpha, so it is flattened onto white."""
    buffer = io.BytesIO()
    if fmt == "jpg":
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image = flat
        image.save(buffer, "JPEG", quality=quality or 95)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality or 95, method=2)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def check_image(source: bytes | Path, fmt: str, width: int, height: int) -> None:
    """Raise ProviderRejectedError unless `source` (bytes or a file) is a whole `fmt` image of
    width x height.

    Checked structurally, not by decoding every pixel (2-8 ms an image): the header, the size
    and the format; for PNG every chunk's CRC through IEND; for JPEG the end-of-image marker;
    for WebP the RIFF length. These catch what goes wrong in transfer: a truncated or damaged
    file, the wrong size or format.
    """
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            actual = image.format
            size = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ProviderRejectedError(
            f"the provider returned an image that does not decode: {exc}"
        ) from exc
    head, tail, length = _ends(source)
    if (actual == "JPEG" and not tail.rstrip(b"\x00").endswith(b"\xff\xd9")) or (
        actual == "WEBP" and int.from_bytes(head[4:8], "little") + 8 != length
    ):
        raise ProviderRejectedError(
            "the provider returned an image that does not decode: cut short"
        )
    if actual != PIL_FORMATS[fmt]:
        raise ProviderRejectedError(f"the provider returned {actual}, not {PIL_FORMATS[fmt]}")
    if size != (width, height):
        raise ProviderRejectedError(
            f"the provider returned {size[0]}x{size[1]}, not the {width}x{height} asked for"
        )


def _ends(source: bytes | Path, span: int = 4096) -> tuple[bytes, bytes, int]:
    """The first 8 bytes, the last `span` bytes and the length, without reading the middle."""
    if isinstance(source, bytes):
        return source[:8], source[-span:], len(source)
    with open(source, "rb") as handle:
        head = handle.read(8)
        length = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, length - span))
        return head, handle.read(), length


def derive(source: bytes, step: Derived) -> tuple[bytes, int, int]:
    """Apply one derive step (crop, then resize, then encode). Returns (bytes, width, height)."""
    with Image.open(io.BytesIO(source)) as opened:
        image = opened.copy()
    if step.crop is not None:
        image = _crop(image, step.crop)
    if step.resize is not None:
        image = _resize(image, step.resize)
    if step.format == "jpg" and image.mode not in ("RGB", "L", "RGBA", "LA", "P"):
        image = image.convert("RGB")
    data = encode(image, step.format, step.quality)
    return data, image.width, image.height


def _crop(image: Image.Image, box: tuple[int, ...]) -> Image.Image:
    if len(box) == 4:
        return image.crop(box)
    width, height = min(box[0], image.width), min(box[1], image.height)
    left = (image.width - width) // 2
    top = (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _resize(image: Image.Image, size: tuple[int, ...]) -> Image.Image:
    if len(size) == 1:
        scale = size[0] / max(image.width, image.height)
        target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    else:
        target = (size[0], size[1])
    return image.resize(target, Image.Resampling.LANCZOS)


def dimensions(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size
