"""A table of plain-text cells printed as rich prints it, without laying out every cell.

``zapcat bank show`` prints one row per item. rich's :class:`~rich.table.Table` measures,
wraps and pads every cell through its layout engine: 60 ms of the command's 250 ms for
the 250-item demo bank. :class:`PlainTable` gives the same characters (and the same
styles on a terminal): rich lays out a table of the header and the few rows that set the
columns' widths (the widest and the longest-word cell of each column), which gives the
widths, the top border, the header and the bottom border; every other row is padded text,
folded by rich's own text wrapping where a cell is too long for its column. When the
layout cannot be read back (another box, or a column rich left narrower than its padding
and one character), the whole rich table is printed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

MIN_FOLD_WIDTH = 8
"""Characters a folding column keeps before the one-line columns give up their widths."""


class PlainTable:
    """Rows of plain text, printed as ``Table(header_style=..., pad_edge=False)`` would.

    Parameters
    ----------
    columns : sequence of (str, bool)
        Each column's title and whether its long cells fold onto more lines (else the
        column is as wide as its widest cell, counted in characters).
    rows : sequence of sequence of str
        The cells, one string per column; shown as plain text (no markup).
    header_style : str
        rich style of the header row.
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, bool]],
        rows: Sequence[Sequence[str]],
        *,
        header_style: str = "bold",
    ) -> None:
        self.columns = list(columns)
        self.rows = [tuple(row) for row in rows]
        self.header_style = header_style
        self._widths = [
            None if fold else max(len(title), *(len(r[c]) for r in self.rows))
            for c, (title, fold) in enumerate(self.columns)
        ]

    def layout(self, max_width: int | None) -> list[tuple[int | None, bool]]:
        """Each column's fixed width (None: rich chooses) and whether it folds.

        The one-line columns are as wide as their widest cell when that leaves every
        folding column :data:`MIN_FOLD_WIDTH` characters in ``max_width``; on a narrower
        terminal every column folds and rich shares out the width (with fixed widths it
        gave the folding columns none: the demo bank's content and tags vanished at 80
        columns).
        """
        plain = [(w, fold) for w, (_, fold) in zip(self._widths, self.columns, strict=True)]
        if max_width is None:
            return plain
        n = len(self.columns)
        # borders n + 1, padding one space each side inside the table (not at its edges)
        frame = n + 1 + 2 * (n - 1)
        need = frame + sum(w if w is not None else MIN_FOLD_WIDTH for w, _ in plain)
        return plain if need <= max_width else [(None, True)] * n

    def rich_table(
        self, rows: Sequence[Sequence[str]] | None = None, max_width: int | None = None
    ) -> Table:
        """The rich table of ``rows`` (default: all of them) for a ``max_width`` console."""
        table = Table(header_style=self.header_style, pad_edge=False)
        for (title, _), (width, fold) in zip(self.columns, self.layout(max_width), strict=True):
            table.add_column(title, no_wrap=not fold, overflow="fold", width=width)
        for row in self.rows if rows is None else rows:
            table.add_row(*(Text(cell) for cell in row))
        return table

    def _deciding_rows(self, console: Console, options: ConsoleOptions) -> list[int]:
        """Rows holding each column's widest cell and its cell with the longest word."""
        best: dict[tuple[int, int], tuple[int, int]] = {}  # (column, min|max) -> (width, row)
        for r, row in enumerate(self.rows):
            for c, cell in enumerate(row):
                if cell.isascii() and cell.isprintable():
                    words = cell.split()
                    widest = len(cell)
                    longest_word = max(map(len, words)) if words else widest
                else:  # as rich measures a Text (control codes removed, wide characters)
                    longest_word, widest = Measurement.get(console, options, Text(cell))
                for k, width in enumerate((longest_word, widest)):
                    if width > best.get((c, k), (-1, 0))[0]:
                        best[c, k] = (width, r)
        return sorted({r for _, r in best.values()})

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        width_limit = options.max_width
        if not self.rows:
            yield self.rich_table(max_width=width_limit)
            return
        deciding = [self.rows[r] for r in self._deciding_rows(console, options)]
        sample = self.rich_table(deciding, width_limit)
        folds = [fold for _, fold in self.layout(width_limit)]
        lines = console.render_lines(sample, options, pad=False)
        texts = ["".join(segment.text for segment in line) for line in lines]
        safe = console.safe_box if sample.safe_box is None else sample.safe_box
        box = sample.box.substitute(options, safe=safe)  # type: ignore[union-attr]
        top = texts[0]
        if not (len(top) > 2 and top[0] == box.top_left and top[-1] == box.top_right):
            yield self.rich_table(max_width=width_limit)
            return
        widths = [len(part) for part in top[1:-1].split(box.top_divider)]
        pads = [(0 if c == 0 else 1, 0 if c == len(widths) - 1 else 1) for c in range(len(widths))]
        head_row = box.get_row(widths, "head", edge=True)
        if (
            len(widths) != len(self.columns)
            or box.get_top(widths) != top
            or texts[-1] != box.get_bottom(widths)
            or head_row not in texts
            or any(0 < w < left + right + 1 for w, (left, right) in zip(widths, pads, strict=True))
        ):
            yield self.rich_table(max_width=width_limit)
            return
        new_line = Segment.line()
        for line in lines[: texts.index(head_row) + 1]:
            yield from line
            yield new_line
        for r, row in enumerate(self.rows):
            last = r == len(self.rows) - 1
            left_edge, divider, right_edge = (
                (box.foot_left, box.foot_vertical, box.foot_right)
                if last
                else (box.mid_left, box.mid_vertical, box.mid_right)
            )
            cells = [
                self._cell_lines(console, options, cell, width - left - right, no_wrap=not fold)
                if width
                else [""]  # a column rich gave no width to (a terminal too narrow for all)
                for cell, width, (left, right), fold in zip(row, widths, pads, folds, strict=True)
            ]
            for line_no in range(max(map(len, cells))):
                parts = [
                    (" " * left + lines_[line_no] + " " * right if width else "")
                    if line_no < len(lines_)
                    else " " * width
                    for lines_, width, (left, right) in zip(cells, widths, pads, strict=True)
                ]
                yield Segment(left_edge + divider.join(parts) + right_edge)
                yield new_line
        yield from lines[-1]
        yield new_line

    @staticmethod
    def _cell_lines(
        console: Console, options: ConsoleOptions, cell: str, width: int, *, no_wrap: bool
    ) -> list[str]:
        """The lines of a cell ``width`` wide, as rich lays out ``Text(cell)`` in a column."""
        if cell.isascii() and cell.isprintable() and len(cell) <= width:
            return [cell.ljust(width)]
        cell_options = options.update(
            width=width,
            justify="left",
            no_wrap=no_wrap,
            overflow="fold",
            height=None,
            highlight=False,
        )
        rendered = console.render_lines(Text(cell), cell_options, pad=True)
        return ["".join(segment.text for segment in line) for line in rendered]
