"""Free disk space, checked before paid work: images that cannot be written are paid for
and then wait in a provider's queue until the disk is freed (or expire there).

The need is an estimate from the requested sizes: a GPT Image PNG is about 2 bytes a pixel
(1.3 to 2.6 MB at 1024x1024), a WebP or JPEG under half a byte; each image is written twice
(the store, then the output), with a margin for the lock and the journal.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

MARGIN = 16 << 20
_BYTES_PER_PIXEL = {"png": 2.0}
_OTHER_BYTES_PER_PIXEL = 0.5


def free_bytes(path: Path) -> int:
    """Bytes free for this user on the file system holding `path`."""
    return shutil.disk_usage(path).free


def expected_bytes(images: Iterable[tuple[int, int, str, int]]) -> int:
    """Disk needed for (width, height, format, count) images, written twice, with the margin."""
    total = 0.0
    for width, height, fmt, count in images:
        total += width * height * _BYTES_PER_PIXEL.get(fmt, _OTHER_BYTES_PER_PIXEL) * count
    return int(2 * total) + MARGIN


def shortfall(where: Path, images: Iterable[tuple[int, int, str, int]]) -> tuple[int, int] | None:
    """(needed, free) when the file system at `where` has less free than the images need."""
    needed, free = expected_bytes(images), free_bytes(where)
    return (needed, free) if free < needed else None


def mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"
