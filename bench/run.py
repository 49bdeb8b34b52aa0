"""pixmake benchmarks: medians of several runs, with references measured in the same run.

    python bench/run.py                     # 1,000 assets, 5 runs each, writes bench/RESULTS.md
    python bench/run.py --sizes 1000 10000 --runs 5

The generated project: one series over an N-row CSV (prompts of about 300 characters), 100 shared
reference files of 256 KiB, built with the placeholder provider. References: the bare interpreter
start, and ninja and GNU make doing a no-op over the equivalent graph (N outputs, each depending
on its row and a shared reference), which compare mtimes only.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
PIXMAKE = [sys.executable, "-m", "pixmake"]
GIT_ENV = {  # commits of the benchmarks' own repositories
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
WORDS = [
    "ornate",
    "brass",
    "compass",
    "weathered",
    "leather",
    "strap",
    "engraved",
    "runes",
    "soft",
    "rim",
    "light",
    "painterly",
    "texture",
    "isometric",
    "view",
    "muted",
    "palette",
    "gentle",
    "shadow",
    "high",
    "detail",
    "game",
    "inventory",
    "icon",
]


DEFAULTS = "{model: gpt-image-1-mini, quality: low, provider: placeholder}"
SMALL = "{model: 'runware:100@1', size: 128x128, provider: placeholder}"  # any Runware id: any
# size from 128 px, so the placeholder's PNG encoding does not drown what pixmake itself costs


def generate(root: Path, n: int, refs: int = 100, defaults: str = DEFAULTS) -> None:
    """Write the benchmark project (spec, CSV, references); outputs are built separately."""
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    (root / "refs").mkdir()
    rng = _Random(42)
    for i in range(refs):
        (root / "refs" / f"r{i:03d}.png").write_bytes(rng.bytes(256 * 1024))
    lines = ["slug,ref,words"]
    for i in range(n):
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(36))
        lines.append(f"item{i:05d},refs/r{i % refs:03d}.png,{words}")
    (root / "data/items.csv").write_text("\n".join(lines) + "\n")
    (root / "pixmake.yaml").write_text(
        "version: 1\n"
        f"defaults: {defaults}\n"
        "data: {items: data/items.csv}\n"
        "assets:\n"
        "  'icon-{{ item.slug }}':\n"
        "    for_each: items\n"
        "    prompt: 'A single game icon number {{ index }}: {{ item.words }}'\n"
        "    references: ['{{ item.ref }}']\n"
        "    out: 'icons/{{ item.slug }}.png'\n"
    )
    _reference_builds(root, n, refs)


def _reference_builds(root: Path, n: int, refs: int) -> None:
    """Equivalent graphs for ninja and make: out/itemN depends on its row file and a reference."""
    rows = root / "ref-build/rows"
    out = root / "ref-build/out"
    rows.mkdir(parents=True)
    out.mkdir()
    ninja = ["rule cp\n  command = cat $in > $out\n"]
    make = []
    for i in range(n):
        (rows / f"item{i:05d}").write_text(str(i))
        deps = f"rows/item{i:05d} ../refs/r{i % refs:03d}.png"
        ninja.append(f"build out/item{i:05d}: cp {deps}\n")
        make.append(f"out/item{i:05d}: {deps}\n\tcat $^ > $@\n")
    targets = " ".join(f"out/item{i:05d}" for i in range(n))
    (root / "ref-build/build.ninja").write_text("".join(ninja))
    (root / "ref-build/Makefile").write_text(f"all: {targets}\n" + "".join(make))


class _Random:
    """A tiny deterministic byte source (no numpy)."""

    def __init__(self, seed: int) -> None:
        self.state = seed

    def bytes(self, size: int) -> bytes:
        self.state += 1
        block = self.state.to_bytes(8, "little") * 128
        return (block * (size // len(block) + 1))[:size]


def clean_build(root: Path, outputs: str = "out") -> None:
    """Remove what a build wrote (the outputs' folder, the lock, .pixmake/): the next is a
    first."""
    for name in (outputs, ".pixmake", "pixmake.lock", "pixmake.lock.d"):
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def timed(cmd: list[str], cwd: Path, runs: int, setup: object = None) -> list[float]:
    times = []
    for _ in range(runs):
        if callable(setup):
            setup()
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return times


def fmt(times: list[float]) -> str:
    return f"{statistics.median(times):.3f} s ({min(times):.3f}–{max(times):.3f})"


Row = tuple[str, list[float], str]


def bench_size(n: int, runs: int, peers: Path | None) -> list[Row]:
    root = WORK / f"p{n}"
    generate(root, n)
    rows: list[Row] = []

    rss: list[float] = []
    build = timed_rss(
        [*PIXMAKE, "build", "-j", "4"], root, runs, lambda: clean_build(root, "icons"), rss
    )
    after = timed([*PIXMAKE, "status"], root, 1)  # the outputs and lock are racily clean
    rows.append((f"`status` right after the build, {n} assets", after, "one run"))
    per_asset = f"{statistics.median(build) / n * 1000:.2f} ms/asset"
    memory = f"peak RSS {statistics.median(rss):.0f} MB"
    rows.append((f"full placeholder build, {n} assets", build, f"{per_asset}; {memory}"))
    # Settle: files written within a tick (filestat.TICK_NS) of their stat are checked by
    # content; a user's next command, seconds later, finds them settled.
    time.sleep(2.1)
    subprocess.run([*PIXMAKE, "status"], cwd=root, capture_output=True, check=True)
    rows.append((f"no-op `status`, {n} assets", timed([*PIXMAKE, "status"], root, runs), ""))
    rows.append((f"no-op `build`, {n} assets", timed([*PIXMAKE, "build"], root, runs), ""))
    rows.append((f"no-op `check`, {n} assets", timed([*PIXMAKE, "check"], root, runs), ""))
    csv = root / "data/items.csv"
    original = csv.read_text()
    edited = original.replace("\nitem00007,refs/r007.png,", "\nitem00007,refs/r007.png,edited ", 1)
    csv.write_text(edited)
    plan = timed([*PIXMAKE, "plan"], root, runs)
    rows.append((f"`plan` after one row changed, {n} assets", plan, ""))
    flips = iter([original, edited] * runs)
    one = timed([*PIXMAKE, "build"], root, runs, setup=lambda: csv.write_text(next(flips)))
    rows.append((f"`build` after one row changed, {n} assets", one, "generates or restores one"))
    csv.write_text(original)
    subprocess.run([*PIXMAKE, "build"], cwd=root, capture_output=True, check=True)
    rows += _spec_edits(root, n, runs)
    rows += _straight(root, n, runs)
    rows += _peers(root, n, runs, peers)
    return rows


def _spec_edits(root: Path, n: int, runs: int) -> list[Row]:
    """`status` after edits of pixmake.yaml, each run seeing the other text than the last."""
    spec = root / "pixmake.yaml"
    original = spec.read_text()
    edits = {
        "a comment": original + "# a comment\n",
        "an unused var": original.replace("data:", "vars: {unused: 1}\ndata:", 1),
        "quality low -> medium (all changed)": original.replace("quality: low", "quality: medium"),
    }
    rows: list[Row] = []
    for name, edited in edits.items():
        flips = iter([edited, original] * runs)
        times = timed(
            [*PIXMAKE, "status"], root, runs, setup=lambda f=flips: spec.write_text(next(f))
        )
        rows.append((f"`status` after {name} in pixmake.yaml, {n} assets", times, ""))
    spec.write_text(original)
    subprocess.run([*PIXMAKE, "status"], cwd=root, capture_output=True, check=True)
    return rows


HASH_ALL = """
import os, sys, xxhash
total = 0
for top in sys.argv[1:]:
    for base, _, names in os.walk(top):
        for name in names:
            with open(os.path.join(base, name), "rb") as handle:
                xxhash.xxh3_128_hexdigest(handle.read())
"""


def _straight(root: Path, n: int, runs: int) -> list[Row]:
    """`check` with nothing remembered (a fresh clone: no .pixmake/), against reading and
    xxh3-hashing every output and reference in the same run."""
    state = root / ".pixmake"
    kept = root / ".pixmake-kept"
    shutil.move(state, kept)
    try:
        check = timed([*PIXMAKE, "check"], root, runs)
        assert not state.exists(), "check wrote .pixmake/"
        hashing = timed([sys.executable, "-c", HASH_ALL, "icons", "refs"], root, runs)
    finally:
        shutil.move(kept, state)
    ratio = statistics.median(check) / statistics.median(hashing)
    return [
        (f"`check` with nothing remembered, {n} assets", check, f"{ratio:.2f} x the hashing below"),
        (f"reference: read and xxh3 every output and reference, {n} assets", hashing, ""),
    ]


def timed_rss(cmd: list[str], cwd: Path, runs: int, setup: object, rss: list[float]) -> list[float]:
    """Like `timed`, also recording each run's peak RSS in MB (GNU time)."""
    times = []
    for _ in range(runs):
        if callable(setup):
            setup()
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *cmd], cwd=cwd, capture_output=True, text=True
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
        rss.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
    return times


def _peers(root: Path, n: int, runs: int, peers: Path | None) -> list[Row]:
    rows: list[Row] = []
    ref = root / "ref-build"
    if shutil.which("ninja"):
        subprocess.run(["ninja", "-C", str(ref)], capture_output=True, check=True)
        ninja = timed(["ninja", "-C", str(ref)], ref, runs)
        rows.append((f"peer: ninja no-op, {n} targets (mtimes only)", ninja, ""))
    if shutil.which("make"):
        subprocess.run(["make", "-C", str(ref), "-j4"], capture_output=True, check=True)
        make = timed(["make", "-C", str(ref)], ref, runs)
        rows.append((f"peer: GNU make no-op, {n} targets (mtimes only)", make, ""))
    doit = peers / "doit" if peers else None
    if doit is not None and doit.exists():
        (ref / "dodo.py").write_text(
            "def task_copy():\n"
            f"    for i in range({n}):\n"
            "        row, ref = f'rows/item{i:05d}', f'../refs/r{i % 100:03d}.png'\n"
            "        out = f'doit/item{i:05d}'\n"
            "        yield {'name': row, 'file_dep': [row, ref], 'targets': [out],\n"
            "               'actions': [f'mkdir -p doit && cat {row} {ref} > {out}']}\n"
        )
        subprocess.run([str(doit)], cwd=ref, capture_output=True, check=True)
        no_op = timed([str(doit)], ref, runs)
        rows.append((f"peer: doit no-op, {n} tasks (content hashes, mtime shortcut)", no_op, ""))
    return rows


def bench_dvc(n: int, runs: int, peers: Path, limit: float = 300.0) -> list[Row]:
    """DVC, which hashes content too: a pipeline of n copy stages; its first build, then
    `dvc status` with nothing to do. Skipped past `limit` seconds."""
    dvc = peers / "dvc"
    root = WORK / f"dvc{n}"
    if root.exists():
        shutil.rmtree(root)
    (root / "rows").mkdir(parents=True)
    stages = []
    for i in range(n):
        (root / "rows" / f"item{i:05d}").write_text(str(i))
        stages.append(
            f"  s{i}:\n    cmd: cp rows/item{i:05d} out{i:05d}\n"
            f"    deps: [rows/item{i:05d}]\n    outs: [out{i:05d}]\n"
        )
    (root / "dvc.yaml").write_text("stages:\n" + "".join(stages))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([str(dvc), "init", "-q"], cwd=root, check=True, capture_output=True)
    start = time.perf_counter()
    try:
        subprocess.run(
            [str(dvc), "repro", "-q"], cwd=root, capture_output=True, timeout=limit, check=True
        )
    except subprocess.TimeoutExpired:
        return [(f"peer: DVC first build, {n} stages", [limit], f"did not finish in {limit:.0f} s")]
    first = time.perf_counter() - start
    status = timed([str(dvc), "status", "-q"], root, runs)
    return [
        (f"peer: DVC first build, {n} stages", [first], f"{first / n * 1000:.0f} ms/stage"),
        (f"peer: DVC `status` no-op, {n} stages", status, ""),
    ]


def bench_startup(runs: int) -> list[Row]:
    return [
        ("`pixmake --version`", timed([*PIXMAKE, "--version"], HERE, runs), ""),
        ("`pixmake --help`", timed([*PIXMAKE, "--help"], HERE, runs), ""),
    ]


def bench_runware(n: int, runs: int, latency: float = 0.2, in_flight: int = 8) -> list[Row]:
    """N assets against the fake Runware server: latency per task, `in_flight` at most at once."""
    import resource

    from pixmake.testing.fake_runware import FakeRunware

    root = WORK / f"runware{n}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ids = ", ".join(str(i) for i in range(n))
    (root / "pixmake.yaml").write_text(
        "version: 1\ndefaults: {model: gpt-image-1-mini, quality: low}\nassets:\n"
        f"  'a{{{{ item }}}}': {{for_each: [{ids}], prompt: 'icon {{{{ item }}}}', "
        "out: 'out/{{ item }}.png'}\n"
    )
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        clean_build(root)
        with FakeRunware("bench-key", latency=latency, max_in_flight=in_flight) as fake:
            env = {**os.environ, "RUNWARE_BASE_URL": fake.url, "RUNWARE_API_KEY": "bench-key"}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                [*PIXMAKE, "build", "-j", str(in_flight)],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
            )
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0 or len(fake.charges()) != n:
                raise SystemExit(f"runware bench failed:\n{done.stdout}\n{done.stderr}")
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    alone_walls: list[float] = []
    alone_cpus: list[float] = []
    wakes: list[float] = []
    for _ in range(runs):
        with FakeRunware("bench-key", latency=latency, max_in_flight=in_flight) as fake:
            done = subprocess.run(
                [sys.executable, str(HERE / "runware_alone.py"), fake.url, str(n), str(in_flight)],
                capture_output=True,
                text=True,
                check=True,
            )
        cpu_ms, wake_us, wall = done.stdout.split()
        alone_walls.append(float(wall))
        alone_cpus.append(float(cpu_ms))
        wakes.append(float(wake_us))
    ideal = n * latency / in_flight
    ratio = f"{statistics.median(walls) / ideal:.3f} x ideal ({ideal:.1f} s)"
    cpu = f"{statistics.median(cpus) / n * 1000:.2f} ms CPU/asset"
    alone = (
        f"{statistics.median(alone_walls) / ideal:.3f} x ideal; "
        f"{statistics.median(alone_cpus):.2f} ms CPU/asset; an idle asyncio wake-up costs "
        f"{statistics.median(wakes):.0f} µs CPU here"
    )
    return [
        (f"runware build, {n} assets, {latency} s/task, -j {in_flight}", walls, f"{ratio}; {cpu}"),
        (f"reference: the Runware provider alone, {n} assets, -j {in_flight}", alone_walls, alone),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--peers",
        type=Path,
        default=None,
        metavar="BIN",
        help="a bin/ folder holding doit and dvc (e.g. of a separate venv)",
    )
    parser.add_argument(
        "--dvc", type=int, default=0, metavar="N", help="also time DVC on N stages (needs --peers)"
    )
    parser.add_argument(
        "--runware",
        type=int,
        default=0,
        metavar="N",
        help="also build N assets against the fake Runware server",
    )
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    _bytecode()
    python = timed([sys.executable, "-c", "pass"], HERE, args.runs)
    results: list[Row] = [("reference: `python -c pass`", python, "")]
    results += bench_startup(args.runs)
    for n in args.sizes:
        results += bench_size(n, args.runs, args.peers)
    if args.dvc and args.peers:
        results += bench_dvc(args.dvc, args.runs, args.peers)
    if args.runware:
        results += bench_runware(args.runware, args.runs)
    floor = statistics.median(python)
    lines = [
        "| measurement | median (min–max) | × python start | note |",
        "| --- | --- | --- | --- |",
    ]
    for name, times, note in results:
        ratio = statistics.median(times) / floor
        lines.append(f"| {name} | {fmt(times)} | {ratio:.1f} | {note} |")
    table = "\n".join(lines)
    print(table)
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {args.runs} runs each "
        f"(`python bench/run.py --sizes {' '.join(map(str, args.sizes))} --runs {args.runs}"
        + (f" --runware {args.runware}" if args.runware else "")
        + (f" --peers BIN --dvc {args.dvc}" if args.dvc else "")
        + "`)."
    )
    write_section(args.out, "latest run", header + "\n\n" + table)


def _bytecode() -> None:
    """Measure pixmake as installed: its modules compiled to bytecode, as pip does when it
    installs a wheel. (An environment with PYTHONDONTWRITEBYTECODE would otherwise compile
    every module of an editable install from source on every run: ~35 ms.)"""
    import compileall

    import pixmake

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(pixmake.__file__).parent, quiet=1)


def write_section(path: Path, title: str, body: str) -> None:
    """Replace (or append) the `## title` section of RESULTS.md, keeping the notes around it."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    marker = f"## {title}\n"
    start = text.find(marker)
    section = f"{marker}\n{body}\n"
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(marker))
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    path.write_text(text)


if __name__ == "__main__":
    main()
