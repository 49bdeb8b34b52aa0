"""Issue 9's two figures for an earlier pixmake and this one, interleaved in one sitting.

    git worktree add /tmp/before 30b882a            # the earlier pixmake, any revision
    python bench/before_after.py --before /tmp/before/src --rounds 15

Each round runs, for the earlier pixmake and then this one: a no-op `status`, `plan` after one
CSV row changed, `check` with nothing remembered (no `.pixmake/`), and reading and xxh3-hashing
every output and reference. Each pixmake has its own copies of run.py's project (a clean one and
one with a row changed), since their traces need not be the same format. Prints medians
(min-max) and the targets' terms: plan - no-op (at most 0.2 s) and check / hashing (at most 2.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import run
import straight

from pixmake import filestat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the earlier pixmake's src/")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    run.WORK.mkdir(exist_ok=True)
    run._bytecode()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(args.before)], check=True)
    root = straight.built(args.size)
    original = (root / "data/items.csv").read_text()
    versions = {"before": str(args.before.resolve()), "after": ""}
    projects = {}
    for name in versions:
        clean, edited = (root.with_name(f"{root.name}-{name}-{kind}") for kind in ("clean", "row"))
        for copy in (clean, edited):
            if not copy.exists():
                shutil.copytree(root, copy, symlinks=True)
        if (clean / "data/items.csv").read_text() != original:
            (clean / "data/items.csv").write_text(original)
        # The edited copy as a user has it: fresh, its answer recorded, then one row edited.
        (edited / "data/items.csv").write_text(original)
        env = {**os.environ, "PYTHONPATH": versions[name]}
        subprocess.run([*run.PIXMAKE, "status"], cwd=edited, env=env, capture_output=True)
        (edited / "data/items.csv").write_text(straight._edited(original, "edited"))
        projects[name] = (clean, edited)
    times: dict[tuple[str, str], list[float]] = {}

    def timed(name: str, what: str, command: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": versions[name]}
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
        times.setdefault((name, what), []).append(time.perf_counter() - start)

    for _ in range(2):  # a copy's files are hashed anew, then settled a tick later
        for name, (clean, edited) in projects.items():
            timed(name, "warm-up", [*run.PIXMAKE, "status"], clean)
            timed(name, "warm-up", [*run.PIXMAKE, "plan"], edited)
        time.sleep(filestat.TICK_NS / 1e9 + 0.2)
    for _ in range(args.rounds):
        for name, (clean, edited) in projects.items():
            timed(name, "no-op", [*run.PIXMAKE, "status"], clean)
            timed(name, "plan", [*run.PIXMAKE, "plan"], edited)
            state, kept = clean / ".pixmake", clean / ".pixmake-kept"
            shutil.move(state, kept)
            try:
                timed(name, "check", [*run.PIXMAKE, "check"], clean)
            finally:
                shutil.rmtree(state, ignore_errors=True)
                shutil.move(kept, state)
            timed(name, "hashing", [sys.executable, "-c", run.HASH_ALL, "icons", "refs"], clean)
    median = statistics.median
    print(f"{args.rounds} rounds, load average after: {os.getloadavg()[0]:.2f}")
    for name in versions:
        got = {what: times[(name, what)] for what in ("no-op", "plan", "check", "hashing")}
        print(
            f"{name}: no-op `status` {run.fmt(got['no-op'])}; `plan` after one row changed "
            f"{run.fmt(got['plan'])} = no-op + {median(got['plan']) - median(got['no-op']):.3f} s; "
            f"`check` with nothing remembered {run.fmt(got['check'])} = "
            f"{median(got['check']) / median(got['hashing']):.2f} x hashing "
            f"{run.fmt(got['hashing'])}"
        )


if __name__ == "__main__":
    main()
