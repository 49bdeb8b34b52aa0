"""The straight path and one changed row, on run.py's project, without rebuilding it.

    python bench/straight.py                 # 10,000 assets, 5 runs of each
    python bench/straight.py --size 1000 --runs 7

Builds bench/work/pN as run.py does (placeholder provider) only when it is not there yet,
then measures in one run, runs interleaved where they can be: `check` with nothing
remembered (no `.pixmake/`) against reading and xxh3-hashing every output and reference,
and `plan` after one CSV row changed against a no-op `status`. Prints medians and the ratios
of issue 9's targets (check at most 2.5 x the hashing; plan within no-op status + 0.2 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from typing import TYPE_CHECKING

import run

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
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    subprocess.run([*pixmake, "status"], cwd=root, capture_output=True, check=True)
    noop = run.timed([*pixmake, "status"], root, runs)
    csv = root / "data/items.csv"
    original = csv.read_text()
    edited = original.replace("\nitem00007,refs/r007.png,", "\nitem00007,refs/r007.png,edited ", 1)
    csv.write_text(edited)
    try:
        plan = run.timed([*pixmake, "plan"], root, runs)
    finally:
        csv.write_text(original)
    subprocess.run([*pixmake, "status"], cwd=root, capture_output=True, check=True)
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
    median = statistics.median
    print(f"no-op `status`                {run.fmt(noop)}")
    print(
        f"`plan` after one row changed  {run.fmt(plan)}  "
        f"= no-op + {median(plan) - median(noop):.3f} s"
    )
    print(
        f"`check`, nothing remembered   {run.fmt(check)}  = {median(check) / median(hashing):.2f} x"
    )
    print(f"read and xxh3 every file      {run.fmt(hashing)}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
