"""Where each lock entry is written: `pixmake.lock` alone, or parts of it beside it.

```
entries ≤ PART_SIZE           pixmake.lock                      every entry (version 1)
entries ≤ PART_SIZE x 16      pixmake.lock                      the parts' list (version 2)
                              pixmake.lock.d/0.lock … f.lock    the entries whose id hashes there
entries ≤ PART_SIZE x 256     pixmake.lock.d/00.lock … ff.lock  (and so on)
```
A large project's lock (a 100,000-row series) would be a file git hosting refuses; split,
each part holds at most about PART_SIZE entries. An entry's part is the first hex
digits of the xxh3 of its asset id, so it depends on the id alone (and on how many digits the
number of entries calls for): adding or changing an asset changes one part, two branches that
changed different assets change different parts or different lines of one, and the same
entries are always written the same way. Each part is an ordinary version-1 lock of its
entries; `pixmake.lock` lists the parts by name, so a part gone missing is an error, not
assets silently become new, and a pixmake that predates parts refuses the version-2 list
instead of reading it as an empty lock.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import xxhash

if TYPE_CHECKING:
    from collections.abc import Iterable

LOCK_NAME = "pixmake.lock"
PARTS_DIR = "pixmake.lock.d"
PARTS_VERSION = 2
PART_SIZE = 8192  # entries a part holds at most: far under what git hosting refuses, even
# with several candidates an entry (bench/RESULTS.md has the sizes measured)
TEST_PART_SIZE = "PIXMAKE_TEST_LOCK_PART_SIZE"  # the tests' way to split a small lock


def depth(count: int) -> int:
    """How many hex digits name a part, for a lock of `count` entries (0: not split)."""
    given = os.environ.get(TEST_PART_SIZE, "")
    size = int(given) if given.isdigit() and int(given) > 0 else PART_SIZE
    digits = 0
    while count > size * 16**digits:
        digits += 1
    return digits


def part_name(asset_id: str, digits: int) -> str:
    """The file (relative to the project) that holds the entry of `asset_id`."""
    if digits == 0:
        return LOCK_NAME
    return f"{PARTS_DIR}/{xxhash.xxh3_64_hexdigest(asset_id.encode())[:digits]}.lock"


def digits_of(name: str) -> int:
    """How many hex digits name the part `name` (see is_part)."""
    return len(name) - len(PARTS_DIR) - len("/.lock")


def layout(ids: Iterable[str]) -> dict[str, list[str]]:
    """Each file's asset ids, sorted as they are written, by file name."""
    ids = sorted(ids)
    digits = depth(len(ids))
    files: dict[str, list[str]] = {}
    for asset_id in ids:
        files.setdefault(part_name(asset_id, digits), []).append(asset_id)
    return dict(sorted(files.items()))


def index_text(parts: Iterable[str]) -> str:
    """`pixmake.lock` when the entries are in parts: their names, sorted."""
    return json.dumps({"parts": sorted(parts), "version": PARTS_VERSION}, indent=2) + "\n"


def is_part(name: str) -> bool:
    """Whether `name` (relative to the project) is a part as pixmake names them."""
    folder, _, file = name.partition("/")
    digits = file.removesuffix(".lock")
    return (
        folder == PARTS_DIR
        and file.endswith(".lock")
        and 0 < len(digits) <= 16
        and all(c in "0123456789abcdef" for c in digits)
    )
