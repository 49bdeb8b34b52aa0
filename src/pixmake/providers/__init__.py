"""Image providers behind one small async interface (see `base.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixmake.errors import UsageError

if TYPE_CHECKING:
    from pixmake.providers.base import ImageProvider


def make_provider(name: str) -> ImageProvider:
    """The provider called `name`, ready to use. Raises MissingKeyError/UsageError."""
    if name == "placeholder":
        from pixmake.providers.placeholder import PlaceholderProvider

        return PlaceholderProvider()
    if name == "runware":
        raise UsageError(
            "the runware provider is not available in this version yet\n"
            "  fix: build with `--provider placeholder`"
        )
    raise UsageError(f"unknown provider `{name}`; use runware or placeholder")
