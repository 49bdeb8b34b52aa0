"""A `pixmake.lock` as git leaves it after a conflicting merge, explained: where each
conflict is, which entries each side has there, and the command that keeps one side with its
outputs (what that side built is in git, so keeping it costs nothing)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from pixmake.errors import LockfileError
from pixmake.lockparts import LOCK_NAME, PARTS_DIR

_ENTRY_START = re.compile(r'    ("(?:[^"\\]|\\.)*"): \{\Z')  # an entry's first line, as written
_OUTPUT_PATH = re.compile(r'\s*"path": ("(?:[^"\\]|\\.)*"),?\Z')
_PARTS_LIST = re.compile(r'^\s*"parts": \[', re.MULTILINE)  # pixmake.lock listing its parts
_SHOWN_IDS = 10
_SHOWN_PATHS = 5


@dataclass(slots=True)
class _Hunk:
    """One conflict git left: its `<<<<<<<` line, each side's label and entry ids."""

    line: int
    labels: list[str]
    ids: list[list[str]]


def conflict_error(text: str, source: str = LOCK_NAME) -> LockfileError:
    """The lock as git left it after a conflicting merge: where each conflict is, which
    entries each side has there, and the command that keeps one side with its outputs."""
    if source == LOCK_NAME and _PARTS_LIST.search(text) and '"assets"' not in text:
        return LockfileError(
            f"{LOCK_NAME}: unresolved merge conflict in its list of parts (the lock is split "
            f"into {PARTS_DIR}/, and both sides changed which parts there are)\n  fix: remove "
            f"the conflict markers and list, sorted, every file that is in {PARTS_DIR}/ now "
            f"(`ls {PARTS_DIR}`), then `pixmake build`; a conflict inside a part is explained "
            "when the list is whole"
        )
    hunks: list[_Hunk] = []
    entry: str | None = None  # the entry the line is in, on the side being read
    before: str | None = None  # ... and at the start of the conflict
    side: int | None = None  # 0 ours, 1 the base (diff3 style), 2 theirs; None outside
    paths: dict[str, list[str]] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith("<<<<<<<"):
            inside = [entry] if entry is not None else []  # the entry the conflict splits
            hunks.append(
                _Hunk(number, [line[7:].strip(), ""], [inside, list(inside), list(inside)])
            )
            before, side = entry, 0
        elif side is not None and line.startswith(("|||||||", "=======")):
            entry, side = before, (1 if line.startswith("|") else 2)
        elif side is not None and line.startswith(">>>>>>>"):
            hunks[-1].labels[1] = line[7:].strip()
            side = None
        elif (start := _ENTRY_START.match(line)) is not None:
            entry = json.loads(start.group(1))
        elif line in ("    }", "    },"):
            entry = None
        elif entry is not None and (found := _OUTPUT_PATH.match(line)) is not None:
            paths.setdefault(entry, []).append(json.loads(found.group(1)))
        if side is not None and entry is not None and entry not in hunks[-1].ids[side]:
            hunks[-1].ids[side].append(entry)
    lines = [
        f"ours{_label(h.labels[0])} has {_ids(h.ids[0])}, "
        f"theirs{_label(h.labels[1])} has {_ids(h.ids[2])}"
        for h in hunks
    ]
    if len(hunks) == 1:
        head = f"{source}:{hunks[0].line}: unresolved merge conflict: {lines[0]}"
    else:
        head = f"{source}: {len(hunks)} unresolved merge conflicts" + "".join(
            f"\n{source}:{h.line}: {text}" for h, text in zip(hunks, lines, strict=True)
        )
    touched = {i for h in hunks for i in (*h.ids[0], *h.ids[2])}
    outputs = sorted({p for i in touched for p in paths.get(i, [])})
    files = " ".join(shlex.quote(p) for p in [source, *outputs])
    if len(outputs) > _SHOWN_PATHS:
        files = f"{source} <the {len(outputs)} outputs of those entries>"
    return LockfileError(
        f"{head}\n  fix: keep one side's entries with their outputs, the side whose "
        f"pixmake.yaml you keep: `git checkout --theirs -- {files}` (or `--ours`), then "
        "`pixmake build`: what that side built is in git, so it is not generated again"
    )


def _label(label: str) -> str:
    return f" ({label})" if label else ""


def _ids(ids: list[str]) -> str:
    if not ids:
        return "no entry"
    shown = ", ".join(f"`{i}`" for i in ids[:_SHOWN_IDS])
    return shown + (f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else "")
