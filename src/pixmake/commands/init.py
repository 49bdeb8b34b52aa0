"""`pixmake init`: a starter pixmake.yaml, and .pixmake/ ignored by git."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixmake.project import SPEC_NAME
from pixmake.store import STATE_DIR, Store

if TYPE_CHECKING:
    from pathlib import Path

STARTER = """\
# pixmake.yaml: the images of this project. `pixmake build` makes what changed.
version: 1
defaults:
  model: gpt-image-1-mini     # or gpt-image-1
  size: 1024x1024             # 1024x1024, 1536x1024 or 1024x1536
  quality: medium             # low | medium | high | auto
  format: png                 # png | jpg | webp
vars:
  style: flat vector illustration, soft light
assets:
  logo:
    prompt: "A friendly robot mascot holding a paintbrush, {{ style }}"
    background: transparent
    out: images/logo.png
"""


def init(root: Path) -> list[str]:
    """Create a starter pixmake.yaml (if none) and ignore .pixmake/ in git. Returns what it did."""
    done = []
    spec = root / SPEC_NAME
    if not spec.exists():
        spec.write_text(STARTER, encoding="utf-8")
        done.append(f"created {SPEC_NAME}")
    ignore = root / ".gitignore"
    text = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    if not any(
        line.strip() in (STATE_DIR, f"{STATE_DIR}/", f"/{STATE_DIR}/") for line in text.splitlines()
    ):
        with ignore.open("a", encoding="utf-8") as handle:
            if text and not text.endswith("\n"):
                handle.write("\n")
            handle.write(f"{STATE_DIR}/\n")
        done.append(f"added {STATE_DIR}/ to .gitignore")
    Store(root).ensure_dir()
    return done
