"""Data tables (CSV, JSON, YAML) whose rows drive a series."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixmake.confine import FIX, Confinement
from pixmake.errors import Problem, SpecError
from pixmake.spec.yamlsource import check_conflict, load_yaml, not_utf8

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(slots=True)  # not frozen: 10,000 are made per read, and frozen ones build slowly
class Row:
    """One row of a table: its values and where it came from (for error messages)."""

    values: Any
    file: str
    line: int | None

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(slots=True)
class Table:
    rows: list[Row]


def read_table(root: Path, rel: str) -> Table:
    """Read a table by its path relative to the project root. Raises SpecError naming the file."""
    path = root / rel
    why = Confinement(root).regular(rel, "data table")
    if why is not None:
        raise SpecError([Problem(rel, None, "", why, FIX)])
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", ".yaml", ".yml"):
        raise SpecError(
            [Problem(rel, None, "", "unknown table format", "use a .csv, .json or .yaml file")]
        )
    if suffix in (".yaml", ".yml"):
        data, lines = load_yaml(path, rel)
        return Table(_rows(data, rel, lambda i: lines.line((i,))))
    text = read_text(root, rel)
    if suffix == ".csv":
        return Table(_csv_rows(text, rel))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [Problem(rel, exc.lineno, "", f"invalid JSON: {exc.msg}", "check commas and quotes")]
        ) from None
    return Table(_rows(data, rel, lambda i: None))


def read_text(root: Path, rel: str, data: bytes | None = None) -> str:
    """A table's text (`data`: its bytes, read already); raises SpecError naming the file."""
    try:
        if data is None:
            data = (root / rel).read_bytes()
    except FileNotFoundError:
        raise SpecError(
            [Problem(rel, None, "", "data table not found", "create it or fix its path")]
        ) from None
    except OSError as exc:
        raise SpecError([Problem(rel, None, "", f"cannot read: {exc}", "")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError([not_utf8(rel, exc)]) from None
    check_conflict(text, rel)
    return text


def _csv_rows(text: str, rel: str) -> list[Row]:
    plain = plain_lines(text)
    if plain is not None:
        return _unquoted_rows(plain, rel)
    lines = text.splitlines()
    reader = csv.reader(lines)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return []
    except csv.Error as exc:
        raise _csv_problem(exc, rel, reader.line_num) from None
    problems = []
    rows = []
    before = reader.line_num  # the line before the row being read
    try:
        for values in reader:
            start, before = before + 1, reader.line_num
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != len(header):
                if _unclosed(values, len(header), reader.line_num == len(lines)):
                    problems.append(_unclosed_problem(rel, reader.line_num, start))
                else:
                    problems.append(_width_problem(rel, reader.line_num, len(values), len(header)))
                continue
            rows.append(Row(dict(zip(header, values, strict=True)), rel, reader.line_num))
    except csv.Error as exc:
        problems.append(_csv_problem(exc, rel, reader.line_num).problems[0])
    if problems:
        raise SpecError(problems)
    return rows


def plain_lines(text: str) -> list[str] | None:
    """A CSV's lines, if it has no quote character (so that every line is one row, its
    cells split at the commas); None if it needs the csv module."""
    lines = text.splitlines()
    plain = lines and lines[0] and '"' not in text and "\0" not in text
    if plain and max(map(len, lines)) <= csv.field_size_limit():
        return lines
    return None


def rows_at(lines: list[str], numbers: list[int], rel: str) -> list[tuple[int, Row]]:
    """Rows of a plain CSV (plain_lines) by their place in `lines` (the header is 0), each
    with its index among the rows, as `_unquoted_rows` reads them when no line is blank.
    Raises SpecError for a blank line (it is no row: the indexes after it move) or a row
    of the wrong width."""
    header = [name.strip() for name in lines[0].split(",")]
    found = []
    for number in numbers:
        values = lines[number].split(",")
        if len(values) == 1 and not values[0].strip():
            raise SpecError([Problem(rel, number + 1, "", "a blank line", "")])
        if len(values) != len(header):
            raise SpecError([_width_problem(rel, number + 1, len(values), len(header))])
        found.append((number - 1, Row(dict(zip(header, values, strict=True)), rel, number + 1)))
    return found


def _unquoted_rows(lines: list[str], rel: str) -> list[Row]:
    """The rows of a CSV with no quote character in it, as the csv module reads them: every
    line is one row, its cells split at the commas (twice as fast on a large table)."""
    header = [name.strip() for name in lines[0].split(",")]
    width = len(header)
    problems = []
    rows = []
    for number, line in enumerate(lines[1:], 2):
        values = line.split(",")
        if len(values) == 1 and not values[0].strip():
            continue
        if len(values) != width:
            problems.append(_width_problem(rel, number, len(values), width))
            continue
        rows.append(Row(dict(zip(header, values, strict=True)), rel, number))
    if problems:
        raise SpecError(problems)
    return rows


def _width_problem(rel: str, line: int, found: int, width: int) -> Problem:
    return Problem(
        rel,
        line,
        "",
        f"row has {found} columns, the header has {width}",
        "quote values that contain commas",
    )


def _unclosed(values: list[str], width: int, at_end: bool) -> bool:
    """Whether a row of the wrong width is what a quote left open makes: too few cells, one
    holding commas or line ends, read to the end of the file."""
    return at_end and len(values) < width and any("," in v or "\n" in v for v in values)


def _unclosed_problem(rel: str, line: int, start: int) -> Problem:
    return Problem(
        rel,
        line,
        "",
        f"a quote opened on line {start} is not closed: the rest of the file was read as one cell",
        'close the quote (a quote inside a quoted value is written twice: "")',
    )


def _csv_problem(exc: csv.Error, rel: str, line: int) -> SpecError:
    """A row the csv module cannot read; `line` is the last line it read of that row."""
    if "field larger than field limit" in str(exc):
        limit = csv.field_size_limit()
        return SpecError(
            [
                Problem(
                    rel,
                    line,
                    "",
                    f"a cell is longer than {limit:,} characters, the most a CSV cell may hold",
                    "check for an unclosed quote above; keep long text in a template file "
                    "and `{% include %}` it, or use a .json or .yaml table",
                )
            ]
        )
    return SpecError([Problem(rel, line, "", f"invalid CSV: {exc}", "check the quoting")])


def _rows(data: Any, rel: str, line_of: Any) -> list[Row]:
    if not isinstance(data, list):
        raise SpecError(
            [Problem(rel, 1, "", "a data table must be a list of rows", "write a list of mappings")]
        )
    return [Row(item, rel, line_of(i)) for i, item in enumerate(data)]
