"""Planning the collect job of a sharded build: a machine with no lock and no `.pixmake/` plans
N assets that the remote cache has, over S3 (moto's server on 127.0.0.1). Interleaved with an
earlier pixmake (`--before`, its src/), each plan on a fresh copy of the machine.

    git worktree add /tmp/before 3ed2fad
    python bench/remote_plan.py --before /tmp/before/src --assets 2000 --runs 5

moto answers on the same 2 cores as pixmake, one request at a time, in a few milliseconds of
its own CPU; a real bucket answers in tens of milliseconds of latency, many at once. So the
figure that carries over is the count of requests (counted in moto's request log) and how
many of them wait one after another, not the time here.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import run

BUCKET = "bench-cache"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the earlier pixmake's src/")
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import boto3
    import httpx
    from moto.server import ThreadedMotoServer

    run._bytecode()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(env)
    requests = _Counter()
    log = logging.getLogger("werkzeug")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(requests)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        httpx.post(f"{endpoint}/moto-api/reset").raise_for_status()
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        spec = (
            "version: 1\n"
            f"defaults: {run.SMALL}\n"
            f"cache: {{remote: 's3://{BUCKET}/pixmake', options: {{endpoint_url: '{endpoint}'}}}}\n"
            "assets:\n"
            f"  'a{{{{ item }}}}': {{for_each: [{', '.join(map(str, range(args.assets)))}], "
            "prompt: 'icon {{ item }}', out: 'out/{{ item }}.png'}\n"
        )
        shard = run.WORK / "remote-shard"
        shutil.rmtree(shard, ignore_errors=True)
        shard.mkdir(parents=True)
        (shard / "pixmake.yaml").write_text(spec)
        started = time.perf_counter()
        subprocess.run([*run.PIXMAKE, "build", "-j", "4"], cwd=shard, env=env, check=True,
                       capture_output=True)  # fmt: skip
        print(f"shard build and push of {args.assets}: {time.perf_counter() - started:.1f} s")
        versions = {"before": str(args.before.resolve()), "after": ""}
        times: dict[str, list[float]] = {name: [] for name in versions}
        counts: dict[str, list[int]] = {name: [] for name in versions}
        collect = run.WORK / "remote-collect"
        for _ in range(args.runs):
            for name, path in versions.items():
                shutil.rmtree(collect, ignore_errors=True)
                collect.mkdir()
                (collect / "pixmake.yaml").write_text(spec)
                started, before = time.perf_counter(), requests.count
                done = subprocess.run(
                    [*run.PIXMAKE, "plan"], cwd=collect, env={**env, "PYTHONPATH": path},
                    capture_output=True, text=True,
                )  # fmt: skip
                times[name].append(time.perf_counter() - started)
                counts[name].append(requests.count - before)
                summary = done.stdout.strip().rsplit("\n", 1)[-1]
                assert summary.startswith(f"{args.assets} to do (0 to generate)"), summary
        for name, found in times.items():
            print(
                f"{name}: `plan` of {args.assets} assets the remote has: {run.fmt(found)}, "
                f"{statistics.median(counts[name]):.0f} requests"
            )
        ratio = statistics.median(times["before"]) / statistics.median(times["after"])
        print(f"before / after: {ratio:.1f} x")
    finally:
        server.stop()


class _Counter(logging.Handler):
    """Counts moto's request log lines (one a request), printing none."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


if __name__ == "__main__":
    sys.exit(main())
