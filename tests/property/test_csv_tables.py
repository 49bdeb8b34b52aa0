"""A CSV table reads as the csv module reads it, whichever way pixmake takes.

A table with no quote character is split at its commas line by line (the common case, and
twice as fast on a large table); any other goes through the csv module. The oracle here is
the csv module itself on the same lines: the same rows with the same line numbers, or the
same problems at the same lines.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pixmake.errors import SpecError
from pixmake.spec.tables import read_table

SETTINGS = settings(
    database=None,
    derandomize=True,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Characters that matter to a CSV reader or to line splitting, and some that do not.
CHARS = st.sampled_from(list('ab ,,\n\n\r\t"é\x85\u2028\x0b\x1c;'))


def expected(text: str) -> Any:
    """What the csv module reads: the rows as (values, line), or the problems' lines."""
    reader = csv.reader(text.removeprefix("\ufeff").splitlines())
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return []
    rows, problems = [], []
    for values in reader:
        if not values or (len(values) == 1 and not values[0].strip()):
            continue
        if len(values) != len(header):
            problems.append(reader.line_num)
            continue
        rows.append((dict(zip(header, values, strict=True)), reader.line_num))
    return ("problems", problems) if problems else rows


def read(root: Path, text: str) -> Any:
    (root / "t.csv").write_text(text, encoding="utf-8", newline="")
    try:
        table = read_table(root, "t.csv")
    except SpecError as exc:
        return ("problems", [p.line for p in exc.problems])
    return [(row.values, row.line) for row in table.rows]


@SETTINGS
@given(text=st.text(CHARS, max_size=60))
@example(text="a,b\n1,2\n\n3,4\n")
@example(text="\na,b\n1,2\n")  # an empty first line: the csv module's header is []
@example(text="a\n \n1\n")  # a blank line in a one-column table is no row
@example(text="a,b\n1\n1,2,3\n")  # two rows of the wrong width: two problems
@example(text='a,b\n"1,\n2",3\n')  # a quoted cell over two lines
@example(text="a,b\r\n1,2\x853,4\n")  # every line break splitlines knows
def test_a_table_reads_as_the_csv_module_reads_it(tmp_path: Path, text: str) -> None:
    assert read(tmp_path, text) == expected(text)


def test_a_large_unquoted_table_keeps_its_line_numbers(tmp_path: Path) -> None:
    lines = ["slug,words"] + [f"item{i},word {i}" for i in range(5000)]
    lines[2500] = "broken"  # line 2501 of the file
    text = "\n".join(lines) + "\n"
    assert read(tmp_path, text) == ("problems", [2501]) == expected(text)
