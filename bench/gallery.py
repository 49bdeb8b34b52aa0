"""`pixmake gallery` at 1,000 and 10,000 assets: generation time, and the page's load in chromium.

    python bench/gallery.py                         # 1,000 and 10,000 assets, 3 runs each
    python bench/gallery.py --sizes 1000 --runs 5

One series of N placeholder icons (1024x1024 PNG), built and committed; then 1% of the rows
changed and built again, so that the page shows that many before/after pairs. Measured, each
in a fresh interpreter: `gallery` with no picture made yet (cold: every thumbnail and preview
made, in worker processes), and `gallery` again (warm: every picture cached). Then the page,
opened from file:// in Debian's headless chromium: the time from navigation to its first
cards and to its load event, and the time a search takes to show its match. Prints a
Markdown table of medians (min-max).
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

from run import GIT_ENV

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "gallery"
SPEC = """\
version: 1
defaults: {provider: placeholder, model: gpt-image-1-mini, quality: low}
data:
  rows: rows.csv
assets:
  "icon-{{ item.slug }}":
    for_each: rows
    prompt: "A game icon of {{ item.name }}, flat colours, soft shadow, {{ item.style }}"
    out: "icons/{{ item.slug }}.png"
"""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pixmake(root: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pixmake", "-C", str(root), *args],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def git(root: Path, *args: str) -> None:
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def rows(n: int, changed: int = 0) -> str:
    lines = ["slug,name,style"]
    for i in range(n):
        style = "isometric" if i < changed else "front view"
        lines.append(f"item{i:05d},item number {i},{style}")
    return "\n".join(lines) + "\n"


def make(n: int) -> Path:
    """The project built and committed, then 1% of it changed and built (kept between runs)."""
    root = WORK / str(n)
    if (root / "ready").is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "pixmake.yaml").write_text(SPEC)
    (root / "rows.csv").write_text(rows(n))
    (root / ".gitignore").write_text(".pixmake/\n")
    print(f"building {n} placeholder images (once) ...", file=sys.stderr)
    pixmake(root, "build", "-j", "2")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "icons")
    (root / "rows.csv").write_text(rows(n, changed=n // 100))
    pixmake(root, "build", "-j", "2")
    (root / "ready").write_text("")
    return root


def page_times(index: Path, n: int, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    found: dict[str, list[float]] = {"first cards": [], "load": [], "search": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            start = time.perf_counter()
            page.goto(index.as_uri())
            marks = page.evaluate(
                "[performance.getEntriesByName('pixmake-cards')[0].startTime,"
                " performance.getEntriesByType('navigation')[0].loadEventEnd]"
            )
            found["first cards"].append(marks[0] / 1000)
            found["load"].append(marks[1] / 1000)
            start = time.perf_counter()
            page.fill("#search", f"item number {n // 2 + 7}")  # one match
            page.wait_for_function("document.querySelectorAll('.card').length === 1")
            found["search"].append(time.perf_counter() - start)
            page.close()
        browser.close()
    return found


def fmt(times: list[float]) -> str:
    return f"{statistics.median(times):.3f} s ({min(times):.3f}–{max(times):.3f})"


def bench(n: int, runs: int) -> list[tuple[str, list[float], str]]:
    root = make(n)
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(runs):
        shutil.rmtree(root / ".pixmake/thumbs", ignore_errors=True)
        shutil.rmtree(root / ".pixmake/gallery", ignore_errors=True)
        cold.append(pixmake(root, "gallery"))
        warm.append(pixmake(root, "gallery"))
    index = root / ".pixmake/gallery/index.html"
    size = f"index.html {index.stat().st_size / 1e6:.1f} MB"
    pictures = len(os.listdir(root / ".pixmake/gallery/pictures"))
    rows_out = [
        (f"{n:,}: `gallery`, no picture cached", cold, f"{pictures} pictures made"),
        (f"{n:,}: `gallery`, pictures cached", warm, size),
    ]
    for name, times in page_times(index, n, runs).items():
        rows_out.append((f"{n:,}: page {name} (chromium)", times, ""))
    return rows_out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    table = ["| measurement | median (min–max) | note |", "| --- | --- | --- |"]
    for n in args.sizes:
        for name, times, note in bench(n, args.runs):
            table.append(f"| {name} | {fmt(times)} | {note} |")
    print("\n".join(table))


if __name__ == "__main__":
    main()
