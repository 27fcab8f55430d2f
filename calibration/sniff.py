"""Response files as users really have them: encoding, delimiter, missing codes, hints.

A small layer of its own, used by whatever parses the table (:mod:`calibration.data`):

* :func:`sniff_text` finds the encoding (a byte-order mark: UTF-8, UTF-16, UTF-32; else
  UTF-8, else Windows-1252) and the delimiter (comma, semicolon, tab or bar, by
  :class:`csv.Sniffer` on the first lines);
* :func:`mask_missing` turns declared missing-value codes (``--missing -1,9,NA``) into
  missing cells before codes become categories;
* :func:`layout_hints` says the likely cause of a wide file that does not read as one (a
  long-format file, a person-id column not called ``person`` / ``id``) and the option that
  fixes it.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
DELIMITERS = ",;\t|"
"""Delimiters recognised in text response files."""


@dataclass(frozen=True)
class TextFormat:
    """How a text table is written.

    Attributes
    ----------
    encoding : str
        Python codec name.
    delimiter : str
    notes : tuple of str
        What was detected that a user may not expect (said in the summary).
    """

    encoding: str
    delimiter: str
    notes: tuple[str, ...] = ()


def sniff_text(path: Path, default_delimiter: str = ",") -> TextFormat:
    """Detect the encoding and the delimiter of a text table.

    Parameters
    ----------
    path : Path
    default_delimiter : str
        Used when the first lines do not tell (a one-column file).

    Returns
    -------
    TextFormat
    """
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    notes = []
    encoding = ""
    for bom, name in _BOMS:
        if head.startswith(bom):
            encoding = name
            break
    if not encoding:
        try:
            head.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the chunk end
                encoding = "cp1252"
                notes.append("the file is not UTF-8: read as Windows-1252 (Latin-1)")
            else:
                encoding = "utf-8"
    elif encoding != "utf-8-sig":
        notes.append(f"read as {encoding.upper()} (byte-order mark)")
    text = head.decode(encoding, errors="ignore")
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    delimiter = default_delimiter
    if lines:
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
        except csv.Error:
            counts = {d: lines[0].count(d) for d in DELIMITERS}
            best = max(counts, key=lambda d: counts[d])
            delimiter = best if counts[best] else default_delimiter
    if delimiter != default_delimiter:
        shown = {"\t": "tab", ";": "semicolon", "|": "bar", ",": "comma"}[delimiter]
        notes.append(f"columns separated by {shown}s")
    return TextFormat(encoding, delimiter, tuple(notes))


def parse_missing(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Missing-value codes from ``"-1,9,NA"`` or a list of strings."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _same_code(cell: str, code: str) -> bool:
    if cell == code:
        return True
    try:
        return float(cell) == float(code)
    except ValueError:
        return cell.lower() == code.lower()


def mask_missing(
    frame: pd.DataFrame, codes: Sequence[str], keep: Iterable[str] = ()
) -> pd.DataFrame:
    """The frame with every cell equal to a missing code made empty (missing).

    Parameters
    ----------
    frame : DataFrame
    codes : sequence of str
        Missing-value codes; numbers match numerically (``9`` matches ``9.0``), words
        case-insensitively (``NA`` matches ``na``).
    keep : iterable of str
        Columns left as they are (the person-id column).

    Returns
    -------
    DataFrame
        A copy; numeric columns get NaN, text columns an empty string.

    Examples
    --------
    >>> frame = pd.DataFrame({"q1": ["1", "9", "-1"], "q2": [0, 1, 9]})
    >>> mask_missing(frame, ["-1", "9"]).to_dict("list")
    {'q1': ['1', '', ''], 'q2': [0.0, 1.0, nan]}
    """
    if not codes:
        return frame
    keep = set(keep)
    out = frame.copy()
    numbers = []
    for code in codes:
        try:
            numbers.append(float(code))
        except ValueError:
            pass
    for col in out.columns:
        if col in keep:
            continue
        values = out[col]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
            out[col] = values.astype(float).where(~values.isin(numbers))
            continue
        text = values.astype("string").str.strip()
        unique = pd.unique(text.dropna())
        hit = {u for u in unique if any(_same_code(str(u), c) for c in codes)}
        if hit:
            out[col] = values.where(~text.isin(hit), "")
    return out


def layout_hints(frame: pd.DataFrame, id_column: str | None, layout: str) -> list[str]:
    """Likely causes of a table that does not read in ``layout``, with the fixing option.

    Parameters
    ----------
    frame : DataFrame
        The table as read (text cells).
    id_column : str or None
        The person-id column given, if any.
    layout : {"wide", "long"}

    Returns
    -------
    list of str
        Empty when nothing looks wrong.
    """
    hints: list[str] = []
    cols = [str(c) for c in frame.columns]
    if layout != "wide" or not cols:
        return hints
    lower = [c.lower() for c in cols]
    long_names = {"item", "items", "question", "response", "score", "answer", "value"}
    first = frame.iloc[:, 0].astype("string")
    repeats = bool(first.duplicated().any())
    numeric = bool(pd.to_numeric(first, errors="coerce").notna().all())
    if len(cols) <= 4 and (set(lower) & long_names or (repeats and not numeric)):
        hints.append(
            "the file looks like the long layout (one row per response, columns "
            f"{', '.join(cols)}): use --layout long with --id-column, --item-column and "
            "--response-column naming its columns"
        )
    if id_column is None:
        for col in cols[:3]:
            values = frame[col].astype("string").str.strip()
            n_distinct = values.nunique()
            if len(frame) >= 20 and n_distinct == len(frame) and n_distinct > 20:
                hints.append(
                    f"column {col!r} has a different value in every row ({n_distinct}), as "
                    f"a person id has, not an item: use --id-column {col}"
                )
                break
    return hints


def looks_like_id(frame: pd.DataFrame, col: str) -> bool:
    """Whether a column has a distinct value in each of more than 20 rows."""
    values = frame[col].astype("string").str.strip()
    return len(frame) > 20 and values.nunique() == len(frame)
