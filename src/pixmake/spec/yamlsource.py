"""Read YAML keeping the line of every key, so that errors can point at it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixmake.errors import Problem, SpecError

if TYPE_CHECKING:
    from pathlib import Path

    import yaml

PathKey = tuple[str | int, ...]

# Aliases may make a document at most this many times its written size (and always this many
# nodes): beyond that it is an alias bomb ("billion laughs"), refused before it is built.
ALIAS_FACTOR = 100
ALIAS_MINIMUM = 10_000


@dataclass(slots=True)
class LineMap:
    """Line numbers (1-based) of the nodes of one YAML document, by their path in it."""

    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


def format_path(path: PathKey) -> str:
    """`assets.hero.size`, with odd keys quoted: `assets["icon-{{ x }}"].prompt`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum():
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def load_yaml(path: Path, display: str) -> tuple[Any, LineMap]:
    """Parse one YAML file. Raises SpecError (with the line) on bad syntax or duplicate keys."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(
            [Problem(display, None, "", "file not found", "create it, or run `pixmake init`")]
        ) from None
    except OSError as exc:
        raise SpecError([Problem(display, None, "", f"cannot read: {exc}", "")]) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([not_utf8(display, exc)]) from None
    check_conflict(text, display)
    return parse_yaml(text, display)


def check_conflict(text: str, display: str) -> None:
    """Refuse a file git left with conflict markers, naming it as a merge conflict."""
    if not (text.startswith("<<<<<<< ") or "\n<<<<<<< " in text):
        return
    lines = text.split("\n")
    starts = [n for n, line in enumerate(lines, 1) if line.startswith("<<<<<<< ")]
    shown = ", ".join(map(str, starts[:10])) + (" ..." if len(starts) > 10 else "")
    where = f"line{'s' if len(starts) > 1 else ''} {shown}"
    raise SpecError(
        [
            Problem(
                display,
                starts[0],
                "",
                f"unresolved merge conflict (git's `<<<<<<<` markers on {where})",
                f"keep one side of each conflict and remove the markers, or take one side "
                f"whole: `git checkout --ours -- {shlex.quote(display)}` (or `--theirs`)",
            )
        ]
    )


def not_utf8(display: str, exc: UnicodeDecodeError) -> Problem:
    """The line of the first byte that is not UTF-8, and how to convert the file."""
    data = exc.object  # what was decoded: after a UTF-8 byte order mark, if one was dropped
    line = data.count(b"\n", 0, exc.start) + 1
    bad = data[exc.start : exc.end].hex(" ")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        found, line = "it is UTF-16 (it starts with a UTF-16 byte order mark)", 1
        encoding = "UTF-16"
    else:
        found = f"byte 0x{bad} cannot be decoded"
        encoding = "WINDOWS-1252"  # what Excel and Windows editors write, most often
    converted = shlex.quote(display + ".utf8")
    spreadsheet = " (from a spreadsheet: as CSV UTF-8)" if display.endswith(".csv") else ""
    return Problem(
        display,
        line,
        "",
        f"not UTF-8: {found}",
        f"save {display} as UTF-8{spreadsheet}, or convert it, e.g. "
        f"`iconv -f {encoding} -t UTF-8 {shlex.quote(display)} > {converted}`, "
        "and put the converted file in its place",
    )


def parse_yaml(text: str, display: str) -> tuple[Any, LineMap]:
    import yaml  # here, not at the top: a cached LineMap is unpickled without it

    # libyaml is much faster on large data tables
    loader_class: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_aliases(node, display, yaml.MappingNode)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_syntax_problem(exc, text, display)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(display, None, "", f"invalid YAML: {exc}", "")]) from None
    finally:
        loader.dispose()
    lines = LineMap(display)
    problems: list[Problem] = []
    if node is not None:
        _walk(node, (), lines, problems, yaml.MappingNode, yaml.SequenceNode)
    if problems:
        raise SpecError(problems)
    return data, lines


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks
_UNCLOSED = {  # a construct that runs to its closing character: its name, and the fix
    "while scanning a quoted scalar": (
        "quoted string",
        "end it with the quote it starts with (a ' inside '...' is written '', "
        'a " inside "..." as \\")',
    ),
    "while parsing a flow mapping": (
        "`{` mapping",
        "close it with `}`, and check the commas between its items",
    ),
    "while parsing a flow sequence": (
        "`[` list",
        "close it with `]`, and check the commas between its items",
    ),
}


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, display: str) -> Problem:
    """Where the parser stopped and, for a construct left open (a quote, a `{` or a `[`),
    where it opened: that is usually the line to fix. A tab is named as a tab."""
    stop, start = exc.problem_mark or exc.context_mark, exc.context_mark
    problem = str(exc.problem or exc.context)
    if stop is None:
        return Problem(display, None, "", f"invalid YAML: {problem}", "")
    lines = _BREAK.split(text)
    source = lines[stop.line] if stop.line < len(lines) else ""
    indent = source[: len(source) - len(source.lstrip(" \t"))]
    if "\t" in indent or source[stop.column : stop.column + 1] == "\t":
        column = (indent.index("\t") if "\t" in indent else stop.column) + 1
        where = " in the indentation" if "\t" in indent else ""
        return Problem(
            display,
            stop.line + 1,
            "",
            f"invalid YAML: a tab character{where} (column {column})",
            "YAML does not allow tabs there: indent with spaces",
        )
    unclosed = _UNCLOSED.get(str(exc.context))
    if start is not None and unclosed is not None and start.line != stop.line:
        construct, fix = unclosed
        return Problem(
            display,
            start.line + 1,
            "",
            f"invalid YAML: a {construct} opened here is not closed "
            f"(the parser stopped on line {stop.line + 1}: {problem})",
            fix,
        )
    context = ""
    if exc.context and start is not None and start.line != stop.line:
        context = f", {exc.context} that starts on line {start.line + 1}"
    return Problem(
        display,
        stop.line + 1,
        "",
        f"invalid YAML: {problem}{context}",
        "check the indentation, the colons and the quoting on this line and the one above",
    )


def _check_aliases(root: yaml.Node, display: str, mapping: type[yaml.MappingNode]) -> None:
    """Refuse a document whose aliases expand it past ALIAS_FACTOR times its written size,
    or that contains itself; counted on the composed graph, before anything is built.

    `size[node]` is the number of nodes the subtree expands to, counted once per distinct
    node (post-order, iteratively, so deep documents do not exhaust the stack)."""
    size: dict[int, int] = {}
    heaviest: tuple[int, int] = (0, 0)  # (expanded size, line) of the largest alias use
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children = _children(node, mapping)
        if done:
            total = 1
            for line, child in children:
                total += size[id(child)]
                if not _inside(child, node) and size[id(child)] > heaviest[0]:
                    heaviest = (size[id(child)], line)
            size[id(node)] = total
            continue
        if id(node) in size:
            continue
        size[id(node)] = -1  # in progress: meeting it again below means a cycle
        stack.append((node, True))
        for line, child in children:
            seen = size.get(id(child))
            if seen == -1:
                raise SpecError(
                    [
                        Problem(
                            display,
                            line,
                            "",
                            "an alias refers to a node that contains it",
                            "point the alias at an anchor defined outside this node",
                        )
                    ]
                )
            if seen is None:
                stack.append((child, False))
    written = len(size)
    bound = max(ALIAS_FACTOR * written, ALIAS_MINIMUM)
    if size[id(root)] > bound:
        expanded, line = heaviest
        raise SpecError(
            [
                Problem(
                    display,
                    line,
                    "",
                    f"aliases expand this document to {size[id(root)]:,} nodes "
                    f"(this alias alone to {expanded:,}); the limit is {bound:,} "
                    f"({ALIAS_FACTOR}x its {written:,} written nodes)",
                    "write the values out, or use fewer levels of aliases of aliases",
                )
            ]
        )


def _children(node: yaml.Node, mapping: type[yaml.MappingNode]) -> list[tuple[int, yaml.Node]]:
    """A node's child nodes, each with the line it is used on (a mapping value: its key's)."""
    if isinstance(node.value, str):
        return []
    if isinstance(node, mapping):
        found = []
        for key, value in node.value:
            line = key.start_mark.line + 1
            found += [(line, key), (line, value)]
        return found
    line = node.start_mark.line + 1
    return [(line, item) for item in node.value]


def _inside(child: yaml.Node, parent: yaml.Node) -> bool:
    """Whether `child` is written inside `parent` (else it is used there through an alias)."""
    return bool(parent.start_mark.index <= child.start_mark.index <= parent.end_mark.index)


def _walk(
    node: yaml.Node,
    path: PathKey,
    lines: LineMap,
    problems: list[Problem],
    mapping: type[yaml.MappingNode],
    sequence: type[yaml.SequenceNode],
) -> None:
    lines.lines[path] = node.start_mark.line + 1
    if isinstance(node, mapping):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        lines.file,
                        line,
                        format_path((*path, key)),
                        f"duplicate key (first defined on line {seen[key]})",
                        "remove one of the two, or merge them",
                    )
                )
            seen[key] = line
            _walk(value_node, (*path, key), lines, problems, mapping, sequence)
            lines.lines[(*path, key)] = line
    elif isinstance(node, sequence):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems, mapping, sequence)
