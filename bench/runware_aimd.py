"""`concurrency: auto` against the fake Runware server's hidden per-account limit.

    python bench/runware_aimd.py                  # N = 6 and N = 24, 3 runs each
    python bench/runware_aimd.py --limits 6 --runs 5 --assets 1000 --latency 0.2

Each run builds `--assets` assets of `--latency` s each with `-j 32` and the default
`concurrency: auto`, against a fake that answers 429 while N tasks are processing. The ideal is
assets x latency / N; the target is within 1.15x of it, with fewer than 5 % of submissions
answered 429. Prints the medians, and as a reference the same build with a fixed
`concurrency: N` (the limit known in advance), which measures pixmake's own overhead.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import PIXMAKE, WORK, clean_build


def project(n: int, concurrency: str = "auto") -> Path:
    root = WORK / f"aimd{n}-{concurrency}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ids = ", ".join(str(i) for i in range(n))
    (root / "pixmake.yaml").write_text(
        f"version: 1\nproviders: {{runware: {{concurrency: {concurrency}}}}}\n"
        "defaults: {model: gpt-image-1-mini, quality: low}\nassets:\n"
        f"  'a{{{{ item }}}}': {{for_each: [{ids}], prompt: 'icon {{{{ item }}}}', "
        "out: 'out/{{ item }}.png'}\n"
    )
    return root


def run_once(root: Path, n: int, limit: int, latency: float, jobs: int) -> tuple[float, int, int]:
    """(wall seconds, submissions, 429 answers) of one clean build."""
    from pixmake.testing.fake_runware import FakeRunware

    clean_build(root)
    with FakeRunware("bench-key", latency=latency, account_limit=limit) as fake:
        env = {**os.environ, "RUNWARE_BASE_URL": fake.url, "RUNWARE_API_KEY": "bench-key"}
        start = time.perf_counter()
        done = subprocess.run(
            [*PIXMAKE, "build", "-j", str(jobs)], cwd=root, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        if done.returncode != 0 or len(fake.charges()) != n:
            raise SystemExit(f"aimd bench failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return wall, fake.count("imageInference"), fake.busy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", type=int, nargs="+", default=[6, 24])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-j", "--jobs", type=int, default=32)
    args = parser.parse_args()
    for limit in args.limits:
        ideal = args.assets * args.latency / limit
        for concurrency in ("auto", str(limit)):
            root = project(args.assets, concurrency)
            walls, shares = [], []
            for _ in range(args.runs):
                wall, sent, busy = run_once(root, args.assets, limit, args.latency, args.jobs)
                walls.append(wall)
                shares.append(busy / sent)
                print(f"  N={limit}, {concurrency}: {wall:.2f} s, {busy} of {sent} answered 429")
            wall = statistics.median(walls)
            print(
                f"N={limit}, concurrency {concurrency}: median {wall:.2f} s = "
                f"{wall / ideal:.3f} x ideal ({ideal:.2f} s); median "
                f"{statistics.median(shares):.1%} of submissions answered 429",
                flush=True,
            )


if __name__ == "__main__":
    main()
