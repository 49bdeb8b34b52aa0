"""The straight path and one changed row, on run.py's project, without rebuilding it.

    python bench/straight.py                 # 10,000 assets, 5 runs of each
    python bench/straight.py --size 1000 --runs 7

Builds bench/work/pN as run.py does (placeholder provider) only when it is not there yet, and a
copy of it, pN-row, whose CSV has one row changed. Then, runs interleaved (a no-op `status` of
pN, a `plan` of pN-row, ...): `plan` after one row changed against a no-op `status`, issue 9's
target being the first within the second + 0.2 s; the first `plan` after a new edit of the row
(each run edits it anew, so that run renders it and writes the trace back); and `check` with
nothing remembered (no `.pixmake/`) against reading and xxh3-hashing every output and
reference (target: at most 2.5 x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import run

from pixmake import filestat

if TYPE_CHECKING:
    from pathlib import Path


def built(n: int) -> Path:
    root = run.WORK / f"p{n}"
    if not (root / "pixmake.lock").is_file():
        run.generate(root, n)
        subprocess.run(
            [*run.PIXMAKE, "build", "-j", "4"], cwd=root, check=True, capture_output=True
        )
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    run.WORK.mkdir(exist_ok=True)
    run._bytecode()
    root, runs, pixmake = built(args.size), args.runs, run.PIXMAKE
    row = root.with_name(root.name + "-row")
    lock = "pixmake.lock"
    if not row.exists() or (row / lock).stat().st_mtime < (root / lock).stat().st_mtime:
        shutil.rmtree(row, ignore_errors=True)
        shutil.copytree(root, row, symlinks=True)
    csv = row / "data/items.csv"
    original = (root / "data/items.csv").read_text()
    csv.write_text(original)  # fresh, its answer recorded (as a user has it), then edited
    for project in (root, row, root, row):  # a copy's files are hashed anew, once settled
        run.timed([*pixmake, "status"], project, 1)
        time.sleep(filestat.TICK_NS / 1e9 / 2 + 0.1)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    first: list[float] = []
    for k in range(runs):  # each `plan` the first after its edit
        csv.write_text(_edited(original, f"edit{k}"))
        first += run.timed([*pixmake, "plan"], row, 1)
    csv.write_text(_edited(original, "edited"))
    for project, command in ((root, "status"), (row, "plan"), (root, "status"), (row, "plan")):
        run.timed([*pixmake, command], project, 1)  # the trace as a run after it finds it
    noop: list[float] = []
    plan: list[float] = []
    for _ in range(runs):
        noop += run.timed([*pixmake, "status"], root, 1)
        plan += run.timed([*pixmake, "plan"], row, 1)
    check, hashing = _cold_check(root, runs)
    median = statistics.median
    print(f"no-op `status`                {run.fmt(noop)}")
    print(
        f"`plan` after one row changed  {run.fmt(plan)}  "
        f"= no-op + {median(plan) - median(noop):.3f} s"
    )
    print(
        f"first `plan` after an edit    {run.fmt(first)}  "
        f"= no-op + {median(first) - median(noop):.3f} s"
    )
    print(
        f"`check`, nothing remembered   {run.fmt(check)}  = {median(check) / median(hashing):.2f} x"
    )
    print(f"read and xxh3 every file      {run.fmt(hashing)}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def _edited(text: str, word: str) -> str:
    """The CSV with row item00007's words prefixed by `word`."""
    return text.replace("\nitem00007,refs/r007.png,", f"\nitem00007,refs/r007.png,{word} ", 1)


def _cold_check(root: Path, runs: int) -> tuple[list[float], list[float]]:
    """`check` with no `.pixmake/`, and hashing every file, interleaved."""
    pixmake = run.PIXMAKE
    state, kept = root / ".pixmake", root / ".pixmake-kept"
    shutil.move(state, kept)
    check: list[float] = []
    hashing: list[float] = []
    try:
        for _ in range(runs):
            check += run.timed([*pixmake, "check"], root, 1)
            assert not state.exists(), "check wrote .pixmake/"
            hashing += run.timed([sys.executable, "-c", run.HASH_ALL, "icons", "refs"], root, 1)
    finally:
        shutil.move(kept, state)
    return check, hashing


if __name__ == "__main__":
    main()
