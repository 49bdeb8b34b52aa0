"""Pillow, in one place: encoding, checking provider images, and the local `derive` steps.

Every image is opened through `_open`, under the decompression-bomb guard: an image of more
than MAX_PIXELS pixels (or one that does not decode) is an error naming it, never a traceback.
"""

from __future__ import annotations

import io
import os
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from pixmake.errors import ProviderRejectedError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pixmake.spec.asset import Derived

PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}
MAX_PIXELS = 8192 * 8192  # 16 times the pixels of the largest size a model makes (2048x2048)
# NOTE: Pillow warns above this bound and refuses twice it; `_open` turns both into our error.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


class ImageReadError(ValueError):
    """An image that cannot be opened; callers say whose and raise their own PixmakeError."""


@contextmanager
def _open(source: bytes | Path) -> Iterator[Image.Image]:
    """Image.open under the decompression-bomb guard. Raises ImageReadError."""
    try:
        with warnings.catch_warnings():
            # NOTE: the filter is process-wide; a thread racing it at worst lets Pillow's
            # warning through, and the size check below still refuses the image.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(_too_large()) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError("is not an image (no known image format)") from exc
    except _UNREADABLE as exc:
        raise ImageReadError(f"does not decode: {exc}") from exc
    with image:
        if image.width * image.height > MAX_PIXELS:
            raise ImageReadError(_too_large(image.size))
        yield image


def _too_large(size: tuple[int, int] | None = None) -> str:
    shown = f"{size[0]}x{size[1]}, " if size else ""
    return (
        f"is too large to open ({shown}more than {MAX_PIXELS:,} pixels): "
        "refused as a possible decompression bomb"
    )


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
        with _open(source) as image:
            actual = image.format
            size = image.size
            image.verify()
    except ImageReadError as exc:
        raise ProviderRejectedError(
            f"the provider returned an image that does not decode: it {exc}"
        ) from exc
    except _UNREADABLE as exc:
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
    """Apply one derive step (crop, then resize, then encode). Returns (bytes, width, height).

    Raises:
        ProviderRejectedError: the source image cannot be opened (recorded for the asset).
    """
    try:
        with _open(source) as opened:
            image = opened.copy()
    except ImageReadError as exc:
        raise ProviderRejectedError(f"cannot derive `{step.path}`: its source image {exc}") from exc
    except _UNREADABLE as exc:
        raise ProviderRejectedError(
            f"cannot derive `{step.path}`: its source image does not decode: {exc}"
        ) from exc
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


_PILLOW_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}


def dimensions(source: bytes | Path, name: str, fmt: str | None = None) -> tuple[int, int]:
    """The width and height of an image the user supplies, shown as `name` in errors; with
    `fmt`, it must be in that format (a JPEG saved as `.png` is refused).

    Raises:
        UsageError: it is not a whole image pixmake opens (or is too large to open), or not
        in `fmt`.
    """
    try:
        with _open(source) as image:
            size = image.size
            wanted = _PILLOW_FORMATS.get(fmt or "", fmt)
            if fmt is not None and image.format != wanted:
                raise UsageError(f"`{name}` is a {image.format} image, not {wanted}")
            image.verify()  # the whole file is there: for PNG, every chunk's CRC through IEND
    except ImageReadError as exc:
        raise UsageError(f"`{name}` {exc}") from exc
    except _UNREADABLE as exc:
        raise UsageError(f"`{name}` does not decode: {exc}") from exc
    return size


def preview(source: bytes | Path, max_side: int) -> tuple[bytes, int, int]:
    """A WebP no larger than `max_side` on either side (alpha kept), for the gallery.

    Raises:
        ImageReadError: the image cannot be opened.
    """
    image = _decoded(source, max_side)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=82, method=2)
    return buffer.getvalue(), image.width, image.height


def _decoded(
    source: bytes | Path, max_side: int | None = None, mode: str | None = None
) -> Image.Image:
    """The whole image decoded, in RGB or RGBA (or `mode`). Raises ImageReadError."""
    with _open(source) as opened:
        try:
            if max_side is not None:  # a JPEG decodes at a fraction of its size
                opened.draft("RGB", (max_side, max_side))
            alpha = opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info
            return opened.convert(mode or ("RGBA" if alpha else "RGB"))
        except ImageReadError:
            raise
        except _UNREADABLE as exc:
            raise ImageReadError(f"does not decode: {exc}") from exc


def difference(before: bytes | Path, after: bytes | Path, max_side: int) -> tuple[bytes, int, int]:
    """A WebP of where two images differ, with its width and height: every changed pixel
    bright on a faint grey ghost of `after`, amplified so that a change of one level in one
    channel shows. `before` is scaled to `after`'s size when they differ. Alpha counts as a
    channel.

    Raises:
        ImageReadError: either image cannot be opened.
    """
    from PIL import ImageChops, ImageOps

    old, new = _decoded(before, mode="RGBA"), _decoded(after, mode="RGBA")
    new.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if old.size != new.size:
        old = old.resize(new.size, Image.Resampling.LANCZOS)
    channels = ImageChops.difference(old, new).split()
    changed = channels[0]
    for channel in channels[1:]:
        changed = ImageChops.lighter(changed, channel)
    amplified = changed.point([0] + [min(255, 96 + 8 * v) for v in range(1, 256)])
    heat = ImageOps.colorize(amplified, black="#000000", white="#ff3d9a")
    ghost = new.convert("L").point([v // 5 for v in range(256)]).convert("RGB")
    buffer = io.BytesIO()
    # NOTE: lossless: a lossy encoder smears away the one-pixel changes this is for
    ImageChops.lighter(ghost, heat).save(buffer, "WEBP", lossless=True, quality=10, method=0)
    return buffer.getvalue(), new.width, new.height
