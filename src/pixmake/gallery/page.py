"""The gallery's one page: the template, its style and script, and its data, inline.

Opened from file://, a page may load nothing else reliably, so the style, the script and
the data (JSON in a `<script type="application/json">`) are written into index.html. The
data is escaped so that no string in it can close that element.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files
from typing import Any

GENERATOR = "pixmake gallery"  # named in the page: an earlier gallery is known by it
HOST_MARKER = "<!--pixmake-host-->"  # where a host page's own elements go, before gallery.js


def _resource(name: str) -> str:
    return files("pixmake.gallery").joinpath(name).read_text(encoding="utf-8")


def page_data(data: dict[str, Any]) -> str:
    """The data as JSON that is safe inside a `<script>` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _plain(value: Any) -> Any:
    to_json = getattr(value, "to_json", None)
    if to_json is None:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return to_json()


def render_page(data: dict[str, Any]) -> str:
    """index.html for `data` (see commands/gallery.py for its shape)."""
    parts = {
        "<!--title-->": html.escape(f"{data['project']} · pixmake gallery"),
        "<!--generator-->": html.escape(str(data["generator"])),
        "/*style*/": _resource("gallery.css"),
        "/*script*/": _resource("gallery.js"),
        "<!--data-->": page_data(data),
    }
    text = _resource("page.html")
    for marker, value in parts.items():
        text = text.replace(marker, value, 1)
    return text


def host_page(page: str, elements: str) -> str:
    """The page with a host's elements (pixmake review's style and scripts) where gallery.js
    finds them when it runs: before it. No data string can hold the marker (`<` is escaped),
    so the first one is the template's."""
    if HOST_MARKER not in page:
        raise ValueError("not a page written by this version of pixmake gallery")
    return page.replace(HOST_MARKER, elements, 1)
