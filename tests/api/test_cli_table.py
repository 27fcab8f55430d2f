"""``api.cli._table.PlainTable`` prints what rich's ``Table`` prints, character for character.

The reference is rich itself: the same rows in a ``rich.table.Table`` (``rich_table()``,
the code ``zapcat bank show`` used before), printed by the same console. Compared at many
widths, on a plain file and on a colour terminal (the header's styles), with an ASCII-only
console (rich swaps the box), and for cells that fold, are empty, hold wide or control
characters, tabs or trailing blanks.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from api.cli import app
from api.cli._table import PlainTable
from api.cli.bank import _SHOW_COLUMNS, show_rows
from item_banks.examples import DEMO_BANK_PATH
from item_banks.io import read_bank


class AsciiFile(io.StringIO):
    encoding = "ascii"


def printed(renderable: object, width: int, kind: str = "plain") -> str:
    file: io.StringIO = AsciiFile() if kind == "ascii" else io.StringIO()
    console = Console(
        file=file,
        width=width,
        force_terminal=kind == "terminal",
        color_system="truecolor" if kind == "terminal" else None,
        legacy_windows=False,
        emoji=False,
    )
    console.print(renderable)
    return file.getvalue()


def demo_rows() -> list[tuple[str, ...]]:
    """The rows of ``zapcat bank show DEMO``."""
    return show_rows(read_bank(DEMO_BANK_PATH).items)


@pytest.mark.parametrize("kind", ["plain", "terminal", "ascii"])
def test_the_demo_table_at_every_width(kind: str) -> None:
    rows = demo_rows()
    for width in sorted({*range(20, 161, 7), 50, 80, 81, 84, 86, 100, 200, 300}):
        for shown in (rows, rows[:3], rows[:1]):
            table = PlainTable(_SHOW_COLUMNS, shown)
            reference = printed(table.rich_table(max_width=width), width, kind)
            assert printed(table, width, kind) == reference, width


def test_the_fast_layout_is_used_where_the_columns_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 80 (where rich gives two columns no width), 120 and 200 columns only the
    deciding rows go through rich (else the test above would compare rich with itself)."""
    laid_out: list[int] = []
    original = PlainTable.rich_table

    def spy(self: PlainTable, rows: object = None, max_width: int | None = None) -> object:
        laid_out.append(len(self.rows) if rows is None else len(rows))  # type: ignore[arg-type]
        return original(self, rows, max_width)  # type: ignore[arg-type]

    monkeypatch.setattr(PlainTable, "rich_table", spy)
    table = PlainTable(_SHOW_COLUMNS, demo_rows())
    for width in (80, 120, 200):
        laid_out.clear()
        printed(table, width)
        assert len(laid_out) == 1 and laid_out[0] <= 2 * len(_SHOW_COLUMNS)


cells = st.one_of(
    st.text(alphabet="ab -,", max_size=30),
    st.text(max_size=12),  # any character: wide, combining, control, tabs
    st.sampled_from(
        ["", " ", "x ", " x", "\t", "a\tb", "a\nb", "全角テキスト", "e\u0301", "\x1b[1m"]
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(cells, cells, cells), min_size=1, max_size=6),
    fold=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    width=st.integers(min_value=8, max_value=90),
    kind=st.sampled_from(["plain", "terminal"]),
)
def test_any_cells(
    rows: list[tuple[str, str, str]], fold: tuple[bool, bool, bool], width: int, kind: str
) -> None:
    columns = [("id", fold[0]), ("some title", fold[1]), ("t", fold[2])]
    table = PlainTable(columns, rows)
    assert printed(table, width, kind) == printed(table.rich_table(max_width=width), width, kind)


def test_bank_show_prints_the_rich_table() -> None:
    """The command's output equals the table rich would print, after the summary lines."""
    rows = demo_rows()
    for columns in ("100", "120", "200"):
        out = (
            CliRunner()
            .invoke(app, ["bank", "show", str(DEMO_BANK_PATH)], env={"COLUMNS": columns})
            .output
        )
        table = PlainTable(_SHOW_COLUMNS, rows).rich_table(max_width=int(columns))
        reference = printed(table, int(columns))
        assert reference in out and out.index(reference) > 0


def test_every_column_keeps_room_on_a_narrow_terminal() -> None:
    """At 60 and 80 columns every column gets a width (below 86 columns the content and
    tags columns got none while the one-line columns kept their full widths)."""
    rows = demo_rows()
    for width in (60, 80):
        lines = printed(PlainTable(_SHOW_COLUMNS, rows), width).splitlines()
        assert max(map(len, lines)) <= width
        widths = [len(part) for part in lines[0][1:-1].split("┳")]
        assert len(widths) == len(_SHOW_COLUMNS) and min(widths) >= 5, (width, widths)
        # each column's text, read back from every line of the body, is its cells in order
        body = [line[1:-1].split("│") for line in lines if line.startswith("│")]
        for c, column in enumerate(zip(*body, strict=True)):
            printed_text = "".join("".join(part.split()) for part in column)
            assert printed_text == "".join("".join(row[c].split()) for row in rows), (width, c)
