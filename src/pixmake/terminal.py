"""What the terminal gets: whether a stream is one, whether to colour, and the state colours.

Colour follows no-color.org and force-color.org: `NO_COLOR` (any non-empty value) turns it
off, `FORCE_COLOR` (any non-empty value) turns it on in a pipe, and otherwise only a terminal
gets it. Plain ANSI, no rich: `status` and `plan` stay as light as they were.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Mapping

_GREEN, _YELLOW, _RED, _CYAN, _DIM = "32", "33", "31", "36", "2"

# Asset states (planner.STATES) and plan actions.
_COLOURS = {
    "fresh": _GREEN,
    "new": _YELLOW,
    "changed": _YELLOW,
    "upstream-changed": _YELLOW,
    "missing": _YELLOW,
    "modified": _RED,
    "orphaned": _DIM,
    "generate": _YELLOW,
    "restore": _CYAN,
    "derive": _CYAN,
    "blocked": _RED,
}


def is_terminal(stream: TextIO) -> bool:
    """A terminal that can redraw a line (not TERM=dumb)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or stream-like object
        return False
    return tty and os.environ.get("TERM") != "dumb"


def color_enabled(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return is_terminal(stream)


def paint(text: str, word: str, color: bool) -> str:
    """`text` in the colour of a state or an action (`word`), when colour is on."""
    code = _COLOURS.get(word)
    if not color or code is None:
        return text
    return f"\x1b[{code}m{text}\x1b[0m"
