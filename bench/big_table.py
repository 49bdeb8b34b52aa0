"""A 1,000,000-row data table in bounded memory: time and peak RSS of `status` and `plan`.

    python bench/big_table.py                      # 100,000 and 1,000,000 rows, 3 runs each
    python bench/big_table.py --sizes 10000 100000 --runs 5

One series over an N-row CSV (slug, name), nothing built (every asset `new`): the case of a
catalogue declared and planned before any image is paid for. For each size: `status` with no
`.pixmake/` (cold), `status` again (with the trace the first one wrote), and `plan`. Each run is
a fresh interpreter; its peak RSS is its own `ru_maxrss`. The ratio of times between sizes,
against the ratio of sizes, shows whether the time is linear. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "big-table"
SPEC = """\
version: 1
defaults: {provider: placeholder}
data:
  rows: rows.csv
assets:
  "label-{{ item.slug }}":
    for_each: rows
    prompt: "A bottle label for {{ item.name }}, letterpress, cream paper"
    out: "labels/{{ item.slug }}.png"
"""
# Runs pixmake in this interpreter and reports its own peak RSS (Linux: KiB).
RUNNER = """\
import resource, sys
from pixmake.cli import main
code = main(sys.argv[1:])
print("RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "CODE", code, file=sys.stderr)
"""


def make(rows: int) -> Path:
    root = WORK / str(rows)
    if not (root / "rows.csv").is_file():
        root.mkdir(parents=True, exist_ok=True)
        with open(root / "rows.csv", "w", encoding="utf-8") as table:
            table.write("slug,name\n")
            table.writelines(f"item{i},Item number {i}\n" for i in range(rows))
        (root / "pixmake.yaml").write_text(SPEC, encoding="utf-8")
    shutil.rmtree(root / ".pixmake", ignore_errors=True)
    return root


def run(root: Path, *args: str) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, "-C", str(root), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    line = [x for x in done.stderr.splitlines() if x.startswith("RSS ")][-1].split()
    if line[3] != "0":
        raise SystemExit(f"pixmake {' '.join(args)} failed: {done.stderr[-2000:]}")
    return seconds, int(line[1]) * 1024


def measure(rows: int, runs: int) -> dict[str, tuple[float, int]]:
    found: dict[str, list[tuple[float, int]]] = {"status (cold)": [], "status": [], "plan": []}
    for _ in range(runs):
        root = make(rows)
        found["status (cold)"].append(run(root, "status"))
        found["status"].append(run(root, "status"))
        found["plan"].append(run(root, "plan"))
    return {
        name: (statistics.median(t for t, _ in values), max(m for _, m in values))
        for name, values in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = {rows: measure(rows, args.runs) for rows in args.sizes}
    small, big = min(results), max(results)
    head = " | ".join(f"{n:,} rows: median s, peak RSS" for n in results)
    print(f"| command | {head} | time ratio ({big // small}x rows) |")
    print("| --- |" + " --- |" * (len(results) + 1))
    for name in results[small]:
        cells = [
            f"{results[n][name][0]:.2f} s, {results[n][name][1] / 2**20:.0f} MiB" for n in results
        ]
        ratio = results[big][name][0] / results[small][name][0]
        print(f"| `{name}` | " + " | ".join(cells) + f" | {ratio:.1f} |")
    print(json.dumps({str(n): r for n, r in results.items()}), file=sys.stderr)


if __name__ == "__main__":
    main()
