"""What git's history as a source of content costs, in a fresh clone (no `.pixmake/`).

    python bench/git_history.py                       # 1,000 assets, 10 lock commits, 5 runs
    python bench/git_history.py --assets 10000 --commits 10 --runs 3 --out /tmp/x.md

The project is bench/run.py's (one series over a CSV), built with the placeholder provider and
committed; then `--commits - 1` more commits each change the prompts of 10 rows. In a clone:
- `status`, nothing changed: the reference (git is never asked).
- `status` with one new row: its key is in no lock version, so every version is searched.
- the same in a copy without `.git/` (a tarball): what the search above adds.
- `status` with the CSV as the first commit had it: those rows are found in the oldest version.
- `build` after deleting 100 committed originals: each restored from a blob at HEAD.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import GIT_ENV, HERE, PIXMAKE, WORK, Row, fmt, generate, timed, write_section


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=os.environ)


def build(root: Path) -> None:
    subprocess.run([*PIXMAKE, "build"], cwd=root, check=True, capture_output=True)


def upstream(n: int, commits: int) -> tuple[Path, str]:
    """The committed project; returns it and the CSV as the first commit had it."""
    root = WORK / f"git{n}"
    generate(root, n)
    shutil.rmtree(root / "ref-build")
    build(root)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    first = (root / "data/items.csv").read_text()
    for c in range(1, commits):
        lines = (root / "data/items.csv").read_text().splitlines()
        for row in range(1 + 10 * (c - 1), 1 + 10 * c):
            lines[row] += f" v{c}"
        (root / "data/items.csv").write_text("\n".join(lines) + "\n")
        build(root)
        git(root, "commit", "-q", "-am", f"v{c + 1}")
    return root, first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    os.environ.update(GIT_ENV)
    WORK.mkdir(exist_ok=True)
    source, first = upstream(args.assets, args.commits)
    clone = WORK / f"git{args.assets}-clone"
    shutil.rmtree(clone, ignore_errors=True)
    git(WORK, "clone", "-q", str(source), str(clone))
    tarball = WORK / f"git{args.assets}-tarball"
    shutil.rmtree(tarball, ignore_errors=True)
    shutil.copytree(clone, tarball, ignore=shutil.ignore_patterns(".git"))
    csv = (clone / "data/items.csv").read_text()
    status = [*PIXMAKE, "status"]

    def fresh(root: Path, table: str) -> object:
        def setup() -> None:
            shutil.rmtree(root / ".pixmake", ignore_errors=True)
            (root / "data/items.csv").write_text(table)

        return setup

    new_row = csv + "new00001,refs/r000.png,a brand new row\n"
    older = f"`status`, the first commit's CSV ({10 * (args.commits - 1)} rows in older versions)"
    cases = [
        ("reference: `status`, nothing changed", clone, csv),
        ("`status`, one new row (every lock version searched)", clone, new_row),
        ("the same without `.git/` (a tarball)", tarball, new_row),
        (older, clone, first),
    ]
    rows: list[Row] = [
        (name, timed(status, root, args.runs, fresh(root, table)), "")
        for name, root, table in cases
    ]

    def deleted() -> None:
        subprocess.run(["git", "checkout", "-q", "--", "."], cwd=clone, check=True)
        shutil.rmtree(clone / ".pixmake", ignore_errors=True)
        for path in sorted((clone / "icons").iterdir())[:100]:
            path.unlink()

    restored = timed([*PIXMAKE, "build"], clone, args.runs, deleted)
    rows.append(("`build` after 100 originals deleted (restored from git)", restored, ""))
    deleted()
    done = subprocess.run([*PIXMAKE, "build", "--json"], cwd=clone, capture_output=True, text=True)
    summary = json.loads(done.stdout.splitlines()[-1])
    assert (summary["generated"], summary["restored"]) == (0, 100), summary  # measured what it says
    git(clone, "checkout", "-q", "--", ".")
    lines = ["| measurement | median (min–max) |", "| --- | --- |"]
    lines += [f"| {name} | {fmt(times)} |" for name, times, _ in rows]
    table = "\n".join(lines)
    print(table)
    header = (
        f"{args.assets} assets, {args.commits} commits of the lock, {args.runs} runs each, in a "
        f"fresh clone with nothing remembered (`python bench/git_history.py --assets "
        f"{args.assets} --commits {args.commits} --runs {args.runs}`)."
    )
    write_section(args.out, "git history as a source", header + "\n\n" + table)


if __name__ == "__main__":
    main()
