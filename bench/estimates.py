"""How close `plan`'s estimate comes to what the fake Runware server charged.

    python bench/estimates.py [SCALE ...]    # prints one table per price scale (default 1.0 0.8)

For each `price_scale` of the fake (what the account pays relative to the list prices), a
project of 100 assets over two models, four qualities, three sizes (every tenth with
`results: 2`) is planned and built, then every prompt changes and it is planned and built
again; and the seed examples are planned, built, planned with `--reroll '*'` and built so.
Each row is the estimate, what the fake's ledger charged, the difference, and where the
estimates came from.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from pixmake.cli import main
from pixmake.testing.fake_runware import FakeRunware

KEY = "bench-key"
FAST = "providers:\n  runware: {poll_interval: 0.01, retry_backoff: 0.01}\n"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(root: Path, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["-C", str(root), *args])
    if code != 0:
        raise SystemExit(f"pixmake {' '.join(args)} exited {code}")
    return out.getvalue()


def _hundred(root: Path, season: int) -> None:
    classes = itertools.cycle(
        itertools.product(
            ("gpt-image-1-mini", "gpt-image-1"),
            ("low", "medium", "high", "auto"),
            ("1024x1024", "1536x1024", "1024x1536"),
        )
    )
    lines = [
        f"  a{i}: {{prompt: 'season {season} item {i}', model: {m}, quality: {q}, size: {s},"
        f" results: {2 if i % 10 == 0 else 1}, out: a{i}.png}}\n"
        for i, (m, q, s) in zip(range(100), classes, strict=False)
    ]
    (root / "pixmake.yaml").write_text(f"version: 1\n{FAST}assets:\n" + "".join(lines))


def _row(name: str, fake: FakeRunware, root: Path, *args: str) -> None:
    plan: dict[str, Any] = json.loads(_run(root, "plan", "--json", *args))
    sources = sorted(
        {a["estimate_source"] for a in plan["assets"] if a["action"] == "generate"} - {None}
    )
    before = fake.total_cost()
    _run(root, "build", "-j", "8", "--json", *args)
    charged = fake.total_cost() - before
    estimate = plan["estimated_cost_usd"]
    off = (estimate - charged) / charged * 100
    print(f"| {name} | {estimate:.4f} | {charged:.4f} | {off:+.1f} % | {', '.join(sources)} |")


def bench(scale: float) -> None:
    print(f"\nprice_scale {scale}\n")
    print("| run | estimate USD | charged USD | difference | from |")
    print("| --- | --- | --- | --- | --- |")
    with FakeRunware(api_key=KEY, price_scale=scale) as fake, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(RUNWARE_BASE_URL=fake.url, RUNWARE_API_KEY=KEY)
        root = Path(tmp) / "hundred"
        root.mkdir()
        _hundred(root, 1)
        _row("100 assets, first build", fake, root)
        _hundred(root, 2)
        _row("100 assets, every prompt changed", fake, root)
        for example in ("website", "game-icons", "labels"):
            root = Path(tmp) / example
            shutil.copytree(EXAMPLES / example, root)
            with (root / "pixmake.yaml").open("a") as spec:
                spec.write(FAST)
            _row(f"{example}, first build", fake, root)
            _row(f"{example}, `--reroll '*'`", fake, root, "--reroll", "*")


if __name__ == "__main__":
    for scale in [float(a) for a in sys.argv[1:]] or [1.0, 0.8]:
        bench(scale)
