"""The command line: parse, call `pixmake.api`, print. No logic lives here.

Exit codes: 0 ok; 1 assets failed, were skipped, or `check` found work; 2 spec or usage error;
130 interrupted. Tracebacks only with --verbose (and for bugs, which are reported as such).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixmake import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pixmake.planner import Plan

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    # A command loads tens of thousands of objects and makes few garbage cycles: the
    # collector's passes over them are wasted. A build of many assets turns it on for its run
    # (asyncio and httpx do make cycles); it is as it was once the command returns.
    enabled = gc.isenabled()
    gc.disable()
    # httpx imports its own command line (click, rich's syntax and tables, pygments: about
    # 30 ms) whenever click is installed, and this process never runs it: httpx then keeps
    # the stub `httpx.main` it has for when those are missing.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    try:
        return _main(argv)
    finally:
        if enabled:
            gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    root = Path(args.directory).resolve()
    if not root.is_dir():
        print(f"error: -C {args.directory}: no such directory", file=sys.stderr)
        return EXIT_USAGE
    from pixmake.errors import PixmakeError, PixmakeWarning

    def show(message: Any, category: Any, *_: Any, **__: Any) -> None:
        print(f"warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():  # as the caller had them, once the command returns
            warnings.simplefilter("always", PixmakeWarning)
            warnings.showwarning = show
            code: int = args.handler(root, args)
        return code
    except PixmakeError as exc:
        if args.verbose:
            traceback.print_exc()
        from pixmake.redact import redact

        secret = os.environ.get("RUNWARE_API_KEY", "").strip()  # the provider's KEY_VARIABLE
        print(f"error: {redact(str(exc), secret)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: everything finished is kept in pixmake.lock", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # a file-system fault no command turned into its own message
        if args.verbose:
            traceback.print_exc()
        from pixmake.fsutil import describe_os_error

        print(f"error: {describe_os_error(exc, root, doing='use')}", file=sys.stderr)
        return EXIT_FAILED
    except Exception:
        traceback.print_exc()
        print(
            "error: this is a bug in pixmake; please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixmake",
        description="make for AI-generated images: build only the images whose request changed.",
        epilog="exit codes: 0 ok, 1 assets failed or check found work, 2 spec or usage error, "
        "130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"pixmake {__version__}")
    parser.add_argument("-C", dest="directory", default=".", metavar="DIR", help="run in DIR")
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks on errors")
    parser.set_defaults(command=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Any, help: str, spec: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(command=name, handler=handler)
        if spec:
            p.add_argument("--profile", help="apply a profile from pixmake.yaml (e.g. draft)")
            p.add_argument("--provider", choices=["runware", "placeholder"], help="override")
        return p

    command("init", _init, "create a starter pixmake.yaml and ignore .pixmake/", spec=False)
    p = command("plan", _plan, "what a build would do, why, and what it would cost (dry run)")
    p.add_argument("targets", nargs="*", metavar="TARGET", help="ids or globs (icon-*)")
    p.add_argument("--reroll", action="store_true", help="as `build --reroll` would")
    p.add_argument("--json", action="store_true")
    p = command("build", _build, "generate, restore or derive what is not up to date")
    p.add_argument("targets", nargs="*", metavar="TARGET", help="ids or globs; upstream included")
    p.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        help="parallel jobs (default 4, or what a provider's `concurrency` allows: up to 32 with "
        "`auto`)",
    )
    p.add_argument(
        "-k", "--keep-going", action="store_true", help="the default: go on past failures"
    )
    p.add_argument("--fail-fast", action="store_true", help="start nothing new after a failure")
    p.add_argument("-n", "--dry-run", action="store_true", help="same as `pixmake plan`")
    p.add_argument(
        "--force", action="store_true", help="overwrite hand-edited or untracked outputs"
    )
    p.add_argument("--max-cost", type=_usd, metavar="USD", help="refuse or stop past this spend")
    p.add_argument("--max-new", type=_count, metavar="N", help="generate at most N assets")
    p.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="generate only share K of N of the requests (by key); restores and derives all",
    )
    p.add_argument(
        "--reroll",
        action="store_true",
        help="a new image of each target's unchanged request (paid; the old one stays a candidate)",
    )
    p.add_argument("--json", action="store_true", help="JSON lines; the summary is the last")
    p.add_argument("-q", "--quiet", action="store_true", help="only failures and the summary")
    p = command("status", _status, "each asset's state and the reasons for it")
    p.add_argument("--all", action="store_true", help="list fresh assets too")
    p.add_argument("--json", action="store_true")
    p = command(
        "check", _check, "exit 1 unless every asset is fresh (for CI; no network, no writes)"
    )
    p.add_argument(
        "--approved", action="store_true", help="and every asset's current output approved"
    )
    p = command("explain", _explain, "why an asset is in its state: old and new values, the key")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = command("accept", _accept, "record the files on disk as these assets' outputs")
    p.add_argument("ids", nargs="+", metavar="ID", help="ids or globs")
    p = command("history", _history, "every image an asset has had, numbered for `pick`")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = command("pick", _pick, "make image N of `pixmake history ID` the output (free)")
    p.add_argument("id")
    p.add_argument("image", metavar="N", help="its number in `pixmake history ID`, or its hash")
    p.add_argument("--force", action="store_true", help="overwrite a hand-edited output")
    p.add_argument("--json", action="store_true")
    p = command("cost", _cost_report, "what pixmake.lock says was spent, by series, model, quality")
    p.add_argument(
        "--since", metavar="REV", help="only what changed since REV's pixmake.lock (a branch's)"
    )
    p.add_argument("--json", action="store_true")
    p = command("approve", _approve, "record these assets' current outputs as approved")
    p.add_argument("ids", nargs="+", metavar="ID", help="ids or globs")
    p = command("gallery", _gallery, "a static page of every image, with before and after")
    p.add_argument("targets", nargs="*", metavar="TARGET", help="ids or globs; upstream included")
    p.add_argument(
        "-o", dest="out", metavar="DIR", help="its folder in the project (default .pixmake/gallery)"
    )
    p.add_argument(
        "--since", metavar="REV", default="HEAD", help="compare with REV's pixmake.lock (HEAD)"
    )
    p.add_argument("--json", action="store_true")
    p = command(
        "review", _review, "serve the gallery on 127.0.0.1 with pick, accept, reroll, approve"
    )
    p.add_argument("targets", nargs="*", metavar="TARGET", help="ids or globs; upstream included")
    p.add_argument("--port", type=_port, default=0, help="its port (default: any free one)")
    p.add_argument("--no-open", action="store_true", help="do not open a browser")
    p.add_argument("--max-cost", type=_usd, metavar="USD", help="refuse a reroll estimated above")
    p = command("render", _render, "the resolved request of an asset")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="the exact Runware task (taskUUID aside)")
    command("graph", _graph, "the asset graph in Graphviz dot")
    p = command("prune", _prune, "drop lock entries (and unedited outputs) of removed assets")
    p.add_argument("--dry-run", action="store_true")
    p = command("gc", _gc, "remove stored images the lockfile no longer uses", spec=False)
    p.add_argument("--dry-run", action="store_true")
    p = command("cache", _cache, "the remote cache: status, push or pull the lock's images", False)
    p.add_argument("action", choices=["status", "push", "pull"])
    p.add_argument("--json", action="store_true")
    command("schema", _schema, "print the JSON Schema of pixmake.yaml", spec=False)
    return parser


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _count(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _shard(text: str) -> tuple[int, int]:
    share, _, count = text.partition("/")
    try:
        k, n = int(share), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError("must be K/N, e.g. 2/3") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"must be K/N with K from 1 to N, not {text}")
    return k, n


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number, 0 to 65535 (0: any free one)")
    return value


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD (say 2.50)") from None
    if not value >= 0:  # NaN too: it would compare as no limit at all
        raise argparse.ArgumentTypeError("must be an amount of 0 or more, in USD")
    return value


def _spec_kw(args: argparse.Namespace) -> dict[str, Any]:
    return {"profile": args.profile, "provider": args.provider}


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# -- handlers --------------------------------------------------------------------------------


def _init(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.init import init

    done = init(root)
    _out("\n".join(done) if done else "nothing to do: pixmake.yaml and .gitignore are set up")
    return EXIT_OK


def _status(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.status import flagged, status

    plan = status(root, **_spec_kw(args))
    marked = flagged(root)
    if args.json:
        assets = [
            {"id": p.id, "state": p.state, "reasons": p.reasons}
            | ({"flagged": marked[p.id]} if p.id in marked else {})
            for p in _items(plan)
        ]
        _out(json.dumps({"assets": assets, "counts": plan.counts()}, indent=2, ensure_ascii=False))
        return EXIT_OK
    from pixmake.terminal import color_enabled, paint

    color = color_enabled(sys.stdout)
    width = max((len(p.id) for p in plan.assets.values()), default=0)
    for item in _items(plan):
        if item.state == "fresh" and not args.all and item.id not in marked:
            continue
        reasons = item.reasons
        if item.id in marked:
            reasons = [
                *reasons,
                f"flagged by Runware's content check: {', '.join(marked[item.id])}",
            ]
        line = f"{item.id:<{width}}  {'; '.join(reasons)}".rstrip()
        _out(paint(f"{item.state:<17}", item.state, color) + line)
    _out(_counts_line(plan, color))
    return EXIT_OK


def _items(plan: Plan) -> list[Any]:
    return [plan.assets[i] for i in plan.order]


def _counts_line(plan: Plan, color: bool = False) -> str:
    from pixmake.terminal import paint

    counts = {k: v for k, v in plan.counts().items() if v}
    total = sum(counts.values())
    detail = ", ".join(paint(f"{v} {k}", k, color) for k, v in counts.items())
    return f"{total} asset{'s' if total != 1 else ''}: {detail or 'none declared'}"


def _plan(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.status import status

    plan = status(root, args.targets, reroll=args.reroll, **_spec_kw(args))
    items = _items(plan)
    work = [p for p in items if p.action != "none"]  # only these have an estimate or are paid
    paid = sum(1 for p in work if p.paid)
    if args.json:
        total = plan.estimated_cost()
        unpriced = len(plan.unpriced())
        document = {
            "assets": [p.to_json() for p in items],
            "estimated_cost_usd": None if total is None else round(total, 6),
            "unpriced": unpriced,
            "paid_to_collect": paid,
            "counts": plan.counts(),
        }
        _out(json.dumps(document, indent=2, ensure_ascii=False))
        return EXIT_OK
    from pixmake.terminal import color_enabled, paint

    color = color_enabled(sys.stdout)
    width = max((len(p.id) for p in work), default=0)
    for item in work:
        line = f"{item.id:<{width}}  {_cost(item):>19}  {'; '.join(item.reasons)}"
        _out(paint(f"{item.action:<9}", item.action, color) + line)
    generate = sum(1 for p in work if p.action == "generate") - paid
    doing = f"{generate} to generate" + (f", {paid} paid, to collect" if paid else "")
    counts = plan.counts()
    fresh, orphaned = counts["fresh"], counts["orphaned"]
    left = f", {orphaned} orphaned (`pixmake prune`)" if orphaned else ""
    _out(f"{len(work)} to do ({doing}), {fresh} fresh{left}; {_total(work)}")
    return EXIT_OK


def _cost(item: Any) -> str:
    if item.paid:
        return "paid"
    if item.estimate_usd is None:
        return "unknown"
    if not item.estimate_usd:
        return ""
    return f"~{item.estimate_usd:.3f} USD ({_SOURCES.get(item.estimate_source, '')})"


_SOURCES = {"lock": "lock", "price table": "table"}  # where an estimate came from, in short


def _total(work: list[Any]) -> str:
    """The estimate of the assets to work on (the others cost nothing)."""
    unpriced = [p for p in work if p.estimate_usd is None]
    known = sum(p.estimate_usd or 0.0 for p in work)
    learned = sum(1 for p in work if p.estimate_usd and p.estimate_source == "lock")
    tabled = sum(1 for p in work if p.estimate_usd and p.estimate_source != "lock")
    sources = ""
    if learned:  # otherwise every figure is a list price, as it always was
        sources = f" ({learned} from costs in pixmake.lock, {tabled} from the price table)"
    if not unpriced:
        return f"estimated cost {known:.4f} USD{sources}"
    return f"estimated cost unknown ({len(unpriced)} with no known price; the rest {known:.4f} USD)"


def _build(root: Path, args: argparse.Namespace) -> int:
    if args.dry_run:
        return _plan(root, args)
    from pixmake.commands.build import build
    from pixmake.report import ConsoleReporter, JsonReporter
    from pixmake.results import BuildOptions

    console = None if args.json else ConsoleReporter(quiet=args.quiet)
    reporter = console or JsonReporter()

    options = BuildOptions(
        jobs=args.jobs, fail_fast=args.fail_fast, max_cost=args.max_cost, max_new=args.max_new,
        shard=args.shard,
    )  # fmt: skip
    try:
        result = build(
            root, args.targets, options=options, reporter=reporter, force=args.force,
            reroll=args.reroll, **_spec_kw(args),
        )  # fmt: skip
    finally:
        if console is not None:  # off the terminal before an error is printed
            console.close()
    return EXIT_OK if result.ok else EXIT_FAILED


def _check(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.check import check

    problems = check(root, approved=args.approved, **_spec_kw(args))
    for line in problems:
        _out(line)
    if problems:
        stale = sum(1 for line in problems if not line.startswith("not approved: "))
        counts = [f"{stale} not up to date"] if stale else []
        if len(problems) > stale:
            counts.append(f"{len(problems) - stale} not approved")
        _out(f"check: {', '.join(counts)}")
        return EXIT_FAILED
    _out("check: every asset is fresh" + (" and approved" if args.approved else ""))
    return EXIT_OK


def _explain(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.explain import explain

    info = explain(root, args.id, **_spec_kw(args))
    if args.json:
        _out(json.dumps(info, indent=2, ensure_ascii=False))
        return EXIT_OK
    _out(f"{info['id']}: {info['state']} (action: {info['action']})")
    for reason in info["reasons"]:
        _out(f"  - {reason}")
    for change in info["changes"]:
        _out(f"  {change['field']}:")
        _out(f"    old: {change['old']}")
        _out(f"    new: {change['new']}")
    if info["key"]:
        _out(f"  key: {info['key']}")
    if info["paid"]:
        _out("  estimated cost: none (paid for by an interrupted build)")
    elif info["estimated_cost_usd"] is None:
        _out("  estimated cost: unknown (its model has no known price)")
    elif info["estimated_cost_usd"]:
        source = _ESTIMATE_FROM.get(info["estimate_source"], "")
        _out(f"  estimated cost: {info['estimated_cost_usd']:.4f} USD{source}")
    request = info["request"]
    if request:
        for name in ("provider", "model", "quality", "background", "format", "results"):
            _out(f"  {name}: {request[name]}")
        _out(f"  size: {request['width']}x{request['height']}")
        _out(f"  prompt: {request['prompt']}")
        for ref in request["references"]:
            _out(f"  reference: {ref}")
        for path in request["outputs"]:
            _out(f"  output: {path}")
    lock = info["lock"]
    if lock:
        record = lock.get("record", {})
        cost = record.get("cost_usd")
        _out(f"  locked key: {lock['key']}" + (f" (cost {cost} USD)" if cost else ""))
    if info["flagged"]:
        _out(f"  flagged by Runware's content check (NSFWContent): {', '.join(info['flagged'])}")
    return EXIT_OK


_ESTIMATE_FROM = {
    "lock": " (what Runware charged for this model, quality and size, as pixmake.lock records)",
    "price table": " (the list price: pixmake.lock has no cost for this model, quality and size)",
}


def _cost_report(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.cost import cost

    report = cost(root, args.since, **_spec_kw(args))
    if args.json:
        _out(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    if report.note:
        _out(report.note)
    header = ("series", "model", "quality", "assets", "images", "USD")
    table = [header] + [
        (r.series, r.model, r.quality, str(r.assets), str(r.images), f"{r.cost_usd:.4f}")
        for r in report.rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table if report.rows else ():
        left = [f"{v:<{w}}" for v, w in zip(row[:3], widths, strict=False)]
        right = [f"{v:>{w}}" for v, w in zip(row[3:], widths[3:], strict=True)]
        _out("  ".join(left + right))
    assets = sum(r.assets for r in report.rows)
    since = f" since {args.since}" if args.since else ""
    extra = [f"{report.placeholder} placeholder (free)"] if report.placeholder else []
    if report.unknown:
        extra.append(f"{len(report.unknown)} with no recorded cost")
    detail = f" ({', '.join(extra)})" if extra else ""
    _out(f"spent{since}: {report.total_usd:.4f} USD on {assets} asset{'s' * (assets != 1)}{detail}")
    return EXIT_OK


def _accept(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.accept import accept

    for asset_id in accept(root, args.ids, **_spec_kw(args)):
        _out(f"accepted {asset_id}")
    return EXIT_OK


def _history(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.history import history

    items = history(root, args.id, **_spec_kw(args))
    if args.json:
        document = {"id": args.id, "images": [i.to_json() for i in items]}
        _out(json.dumps(document, indent=2, ensure_ascii=False))
        return EXIT_OK
    for item in items:
        marks = [m for m, on in (("current", item.current), ("approved", item.approved)) if on]
        if not item.available:
            marks.append("unavailable")
        cost = "" if item.cost_usd is None else f"  {item.cost_usd:.4f} USD"
        date = item.date[:10] if item.date else "uncommitted"
        request = item.request
        _out(
            f"{item.number:>3}  {item.hash[:12]}  {item.source:<5}  {date}{cost}  "
            f"{request.get('model')} {request.get('quality')}"
            + (f"  [{', '.join(marks)}]" if marks else "")
        )
        _out(f"     {request.get('prompt')}")
    if not items:
        _out(f"{args.id} has no image yet; `pixmake build {args.id}` makes one")
    return EXIT_OK


def _pick(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.pick import pick

    item = pick(root, args.id, args.image, force=args.force, **_spec_kw(args))
    if args.json:
        _out(json.dumps({"id": args.id, "picked": item.to_json()}, indent=2, ensure_ascii=False))
        return EXIT_OK
    _out(f"picked image {item.number} ({item.hash[:12]}) as the output of {args.id}")
    _dependents_hint(root, args.id, args)
    return EXIT_OK


def _dependents_hint(root: Path, asset_id: str, args: argparse.Namespace) -> None:
    """Say so when assets reference the one whose output changed: they are stale now."""
    from pixmake.project import load_project

    graph = load_project(root, **_spec_kw(args)).graph
    dependents = sorted(i for i, ups in graph.upstream.items() if asset_id in ups)
    if dependents:
        shown = ", ".join(dependents[:5]) + (
            f" and {len(dependents) - 5} more" if len(dependents) > 5 else ""
        )
        _out(
            f"  {len(dependents)} asset{'s' if len(dependents) > 1 else ''} "
            f"({shown}) reference{'' if len(dependents) > 1 else 's'} it and will be made "
            "again: `pixmake plan` shows what that costs"
        )


def _approve(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.approve import approve

    for asset_id in approve(root, args.ids, **_spec_kw(args)):
        _out(f"approved {asset_id}")
    return EXIT_OK


def _gallery(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.gallery import gallery

    result = gallery(root, args.targets, out=args.out, since=args.since, **_spec_kw(args))
    if args.json:
        document = {
            "index": str(result.index),
            "assets": result.assets,
            "changed": result.changed,
            "since": result.since,
            "note": result.note,
            "pictures_made": result.pictures_made,
        }
        _out(json.dumps(document, indent=2, ensure_ascii=False))
        return EXIT_OK
    shown = os.path.relpath(result.index, Path.cwd())
    compared = f", {len(result.changed)} changed since {args.since}" if result.since else ""
    _out(f"gallery: {shown} ({result.assets} assets{compared})")
    if result.note:
        _out(f"  note: {result.note}")
    _out(f"  open {result.index.as_uri()}")
    return EXIT_OK


def _review(root: Path, args: argparse.Namespace) -> int:
    from pixmake.review.server import ReviewServer

    server = ReviewServer(
        root, args.targets, port=args.port, max_cost=args.max_cost, **_spec_kw(args)
    )
    _out(f"review: {server.url}")
    _out("  Ctrl-C stops it; the address carries a token that any other visitor lacks")
    sys.stdout.flush()  # the address is what a caller waits for, on a pipe too
    if not args.no_open:
        _open_browser(server.url)
    gc.enable()  # a server runs for long: the cycles of its requests must not pile up
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        if server.busy:
            print("review: stopping once the action under way is done", file=sys.stderr)
    finally:
        server.close()
    _out("review: stopped")
    return EXIT_OK  # Ctrl-C is how a server is stopped: not an interrupted command


def _open_browser(url: str) -> None:
    """Open a graphical browser, where there may be one (not a text browser on a console,
    which `webbrowser` would start in this terminal)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return
    import contextlib
    import webbrowser

    with contextlib.suppress(webbrowser.Error):
        webbrowser.open(url)


def _render(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.explain import key_of, render

    if args.json:
        _out(json.dumps(render(root, args.id, **_spec_kw(args)), indent=2, ensure_ascii=False))
        return EXIT_OK
    info = key_of(root, args.id, **_spec_kw(args))
    _out(json.dumps(info, indent=2, ensure_ascii=False))
    return EXIT_OK


def _graph(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.explain import graph_dot

    _out(graph_dot(root, **_spec_kw(args)))
    return EXIT_OK


def _prune(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.prune import prune

    removed = prune(root, dry_run=args.dry_run, **_spec_kw(args))
    verb = "would prune" if args.dry_run else "pruned"
    for asset_id in removed:
        _out(f"{verb} {asset_id}")
    if not removed:
        _out("nothing to prune")
    return EXIT_OK


def _gc(root: Path, args: argparse.Namespace) -> int:
    from pixmake.commands.prune import gc

    result = gc(root, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    _out(
        f"{verb} {result.objects} images ({result.bytes / 1e6:.1f} MB) and "
        f"{result.actions} cache entries"
    )
    return EXIT_OK


def _cache(root: Path, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from pixmake.commands import cache

    if args.action == "status":
        found = cache.status(root)
        if args.json:
            _out(json.dumps(asdict(found), indent=2))
        elif not found.reachable:
            _out(f"remote cache: {found.url} {found.problem}")
        else:
            _out(f"remote cache: {found.url} (reachable)")
            _out(f"  images:  {found.objects} there, {found.objects_missing} missing")
            _out(f"  entries: {found.actions} there, {found.actions_missing} missing")
        return EXIT_OK if found.reachable else EXIT_FAILED
    done = cache.push(root) if args.action == "push" else cache.pull(root)
    if args.json:
        _out(json.dumps(asdict(done), indent=2))
        return EXIT_OK
    if args.action == "push":
        _out(f"pushed {done.objects} images and {done.actions} entries to {done.url}")
    else:
        _out(f"pulled {done.objects} images from {done.url}")
    if done.unavailable:
        where = "this machine" if args.action == "push" else "the remote"
        _out(f"  {len(done.unavailable)} images the lock records are not on {where}")
    return EXIT_OK


def _schema(root: Path, args: argparse.Namespace) -> int:
    from pixmake.spec.models import json_schema

    _out(json.dumps(json_schema(), indent=2))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
