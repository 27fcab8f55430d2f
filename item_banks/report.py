"""Self-contained HTML reports with embedded PNG figures, and the item bank report.

:class:`HtmlReport` is the one report builder of the project: the bank report here, the
calibration and simulation reports beside those packages all add headings, key/value
summaries, pandas tables and matplotlib figures to it and write one HTML file that needs
nothing else (no scripts, no external style sheets, figures as ``data:`` URIs).

Figures for reports are made with :func:`new_figure`, which does not go through pyplot,
so building a report leaves no open pyplot figures behind.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from item_banks import plots
from item_banks.bank import ItemBank
from item_banks.io import bank_to_frame

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { border-bottom: 2px solid #446; padding-bottom: .2em; }
h2 { margin-top: 1.6em; color: #335; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption, caption { font-size: .9em; color: #555; text-align: left; padding: .3em 0; }
table.data { border-collapse: collapse; font-size: .85em; margin: 1em 0; }
table.data th, table.data td { border: 1px solid #ccc; padding: .2em .5em; text-align: right; }
table.data th { background: #eef; }
div.scroll { max-height: 40em; overflow: auto; }
pre.code { background: #f6f6fa; border: 1px solid #ddd; padding: .6em; font-size: .85em;
           overflow: auto; max-height: 30em; }
footer { margin-top: 3em; font-size: .8em; color: #777; }
"""


def new_figure(figsize: tuple[float, float] = (7.0, 4.0)) -> tuple[Figure, Axes]:
    """A figure with one axes, made without pyplot (nothing to close afterwards).

    Returns
    -------
    (Figure, Axes)

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> fig.axes == [ax]
    True
    """
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def figure_to_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """Render ``fig`` to PNG bytes with the Agg renderer.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> figure_to_png(fig)[1:4]
    b'PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


class HtmlReport:
    """A self-contained HTML document built section by section.

    Parameters
    ----------
    title : str
        Title of the page and its ``<h1>``.

    Attributes
    ----------
    figure_ids, table_ids : list of str
        Ids of the embedded figures and tables, in order (``fig-<slug>``, ``table-<slug>``).

    Examples
    --------
    >>> report = HtmlReport("Demo")
    >>> report.heading("Numbers")
    >>> report.table(pd.DataFrame({"x": [1.0, 2.0]}), caption="Two numbers")
    'table-two-numbers'
    >>> "table-two-numbers" in report.to_html()
    True
    """

    def __init__(self, title: str) -> None:
        self.title = str(title)
        self._parts: list[str] = []
        self.figure_ids: list[str] = []
        self.table_ids: list[str] = []

    def _unique(self, prefix: str, text: str, taken: list[str]) -> str:
        base = f"{prefix}-{_slug(text)}"
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}-{n}", n + 1
        taken.append(ident)
        return ident

    def heading(self, text: str, *, level: int = 2) -> None:
        """Add a section heading (``<h2>`` by default)."""
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str) -> None:
        """Add a paragraph of plain text (escaped)."""
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def code(self, text: str, *, caption: str | None = None) -> None:
        """Add preformatted text (a JSON document, a command line), escaped."""
        head = f'<p class="caption">{html.escape(caption)}</p>' if caption else ""
        self._parts.append(
            f'<div class="code">{head}<pre class="code">{html.escape(text)}</pre></div>'
        )

    def summary(self, values: Mapping[str, Any]) -> None:
        """Add key/value pairs as a definition list; dicts and lists are shown as JSON."""
        rows = []
        for key, value in values.items():
            if isinstance(value, Mapping | list | tuple):
                value = json.dumps(value, default=str)
            rows.append(f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(str(value))}</dd>")
        self._parts.append('<dl class="summary">' + "".join(rows) + "</dl>")

    def figure(self, fig: Figure, *, caption: str, dpi: int = 100) -> str:
        """Embed ``fig`` as a PNG ``data:`` URI with a caption; returns the figure's id."""
        ident = self._unique("fig", caption, self.figure_ids)
        data = base64.b64encode(figure_to_png(fig, dpi=dpi)).decode("ascii")
        cap = html.escape(caption)
        self._parts.append(
            f'<figure id="{ident}"><img src="data:image/png;base64,{data}" alt="{cap}">'
            f"<figcaption>{cap}</figcaption></figure>"
        )
        return ident

    def table(
        self,
        frame: pd.DataFrame,
        *,
        caption: str,
        index: bool = False,
        float_format: str = "{:.3f}",
        scroll: bool = False,
    ) -> str:
        """Add a pandas table (values escaped, floats formatted, missing as blank).

        Returns
        -------
        str
            The table's id.
        """
        ident = self._unique("table", caption, self.table_ids)
        body = frame.to_html(
            index=index,
            na_rep="",
            float_format=float_format.format,
            classes="data",
            table_id=ident,
            border=0,
            escape=True,
        )
        body = body.replace(">\n", f"><caption>{html.escape(caption)}</caption>\n", 1)
        self._parts.append(f'<div class="scroll">{body}</div>' if scroll else body)
        return ident

    def to_html(self) -> str:
        """The whole document."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        title = html.escape(self.title)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_CSS}</style></head>\n<body>\n<h1>{title}</h1>\n"
            + "\n".join(self._parts)
            + f"\n<footer>Made by Zapcat on {stamp}.</footer>\n</body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        """Write the document to ``path`` (UTF-8) and return the path."""
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        """Inline view for notebooks, in an iframe so the page's styles stay inside it."""
        return (
            f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" '
            'style="width: 100%; height: 640px; border: 1px solid #ccc"></iframe>'
        )


def composition_table(bank: ItemBank) -> pd.DataFrame:
    """Items by model (rows) and content area (columns), with totals.

    An item in several content areas is counted in each; the ``total`` column counts
    items once.

    Returns
    -------
    pandas.DataFrame
        Index: model labels (``"3pl"``, ``"grm K=4"``) then ``"total"``; integer counts.

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> int(composition_table(read_bank(DEMO_BANK_PATH)).loc["total", "total"])
    250
    """
    rows = [
        (plots.model_label(it.model, it.n_categories), area)
        for it in bank
        for area in (it.content_areas or ("(none)",))
    ]
    frame = pd.DataFrame(rows, columns=["model", "content area"])
    table = pd.crosstab(frame["model"], frame["content area"])
    per_model = Counter(plots.model_label(it.model, it.n_categories) for it in bank)
    table["total"] = [per_model[m] for m in table.index]
    table.loc["total"] = [*table.drop(columns="total").sum(axis=0), len(bank)]
    table.columns.name = None
    return table


def parameter_table(bank: ItemBank) -> pd.DataFrame:
    """Parameters with their standard errors beside them, one row per item.

    Returns
    -------
    pandas.DataFrame
        :func:`~item_banks.io.bank_to_frame` with each ``<param>_se`` column moved right
        after its parameter and empty columns dropped.

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> list(parameter_table(read_bank(DEMO_BANK_PATH)).columns[:6])
    ['item_id', 'model', 'n_categories', 'a', 'b', 'c']
    """
    frame = bank_to_frame(bank)
    ordered = []
    for col in frame.columns:
        if col.endswith("_se"):
            continue
        ordered.append(col)
        if f"{col}_se" in frame.columns:
            ordered.append(f"{col}_se")
    return frame[ordered].dropna(axis=1, how="all")


def bank_report(bank: ItemBank, *, theta: ArrayLike | None = None) -> HtmlReport:
    """The HTML report of an item bank.

    Sections: summary (name, version, counts by model and status, provenance); items by
    model and content area (table and figure); test information with conditional SE of
    the operational items (of all items when none is operational) and of the whole bank;
    the parameter table with standard errors.

    Parameters
    ----------
    bank : ItemBank
    theta : array_like, shape (n_theta,), optional
        Ability grid of the information plot (default 161 points on [-4, 4]).

    Returns
    -------
    HtmlReport

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> report = bank_report(read_bank(DEMO_BANK_PATH))
    >>> report.figure_ids
    ['fig-items-by-content-area-and-model', 'fig-test-information-and-conditional-se']
    """
    grid = plots.theta_grid(theta)
    models = Counter(plots.model_label(it.model, it.n_categories) for it in bank)
    status = Counter(it.status for it in bank)
    report = HtmlReport(f"Item bank {bank.name} (version {bank.version})")
    report.heading("Summary")
    values: dict[str, Any] = {"name": bank.name, "version": bank.version}
    if bank.description:
        values["description"] = bank.description
    values["items"] = len(bank)
    values["models"] = ", ".join(f"{m}: {n}" for m, n in sorted(models.items()))
    values["status"] = ", ".join(f"{s}: {n}" for s, n in sorted(status.items()))
    values["items with standard errors"] = sum(1 for it in bank if it.se)
    if bank.provenance:
        values["provenance"] = dict(bank.provenance)
    report.summary(values)

    report.heading("Items by model and content area")
    report.table(composition_table(bank).reset_index(), caption="Items by model and content area")
    n_areas = len({area for it in bank for area in (it.content_areas or ("(none)",))})
    fig, ax = new_figure((7.0, max(2.5, 0.45 * n_areas + 1.2)))
    plots.bank_composition(bank, ax=ax)
    report.figure(fig, caption="Items by content area and model")

    report.heading("Test information")
    operational = [it.item_id for it in bank if it.status == "operational"] or list(bank.item_ids)
    fig, ax = new_figure()
    plots.test_information(
        bank, operational, theta=grid, ax=ax, label=f"{len(operational)} operational items"
    )
    if len(operational) < len(bank):
        info = bank.information(grid).sum(axis=1)
        line = ax.plot(grid, info, color="C0", alpha=0.5, linestyle=":", label="all items")[0]
        ax.set_ylim(0.0, 1.05 * float(info.max()))
        handles = [*ax.get_legend().legend_handles, line]
        plots.legend_below(ax, handles)
    report.figure(fig, caption="Test information and conditional SE")
    peak = int(np.argmax(bank.information(grid, bank.indices_of(operational)).sum(axis=1)))
    report.paragraph(
        f"The {len(operational)} operational items give most information at θ = "
        f"{grid[peak]:.2f}; the conditional SE 1/√I(θ) is what a test of all of them would "
        "reach (an adaptive test uses fewer items)."
    )

    report.heading("Parameters")
    report.paragraph("Logistic metric (no 1.702); blank cells: parameter or SE not applicable.")
    report.table(parameter_table(bank), caption="Item parameters and standard errors", scroll=True)
    return report


__all__ = [
    "HtmlReport",
    "bank_report",
    "composition_table",
    "figure_to_png",
    "new_figure",
    "parameter_table",
]
