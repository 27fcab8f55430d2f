"""Plot tests draw with the non-interactive Agg backend and close every figure."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import matplotlib
import matplotlib.image as mpimg

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from item_banks import read_bank
from item_banks.examples import DEMO_BANK_PATH


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def demo_bank():
    return read_bank(DEMO_BANK_PATH)


class ReportParser(HTMLParser):
    """Collects the figures (id, PNG bytes, caption) and tables (id, caption, rows) of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict] = {}
        self.tables: dict[str, dict] = {}
        self.headings: list[str] = []
        self.external: list[str] = []
        self._figure = self._table = self._row = self._cell = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("href", "src"):
            if key in attrs and not attrs[key].startswith("data:"):
                self.external.append(attrs[key])
        if tag in ("script", "link"):
            self.external.append(tag)
        if tag == "figure":
            self._figure = self.figures.setdefault(attrs["id"], {"png": None, "caption": ""})
        elif tag == "img" and self._figure is not None:
            head, data = attrs["src"].split(",", 1)
            assert head == "data:image/png;base64"
            self._figure["png"] = base64.b64decode(data)
        elif tag == "table":
            self._table = self.tables.setdefault(attrs["id"], {"caption": "", "rows": []})
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if tag in ("figcaption", "caption", "h1", "h2"):
            self._text = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table["rows"].append(self._row)
            self._row = None
        elif tag == "figcaption":
            self._figure["caption"] = "".join(self._text)
        elif tag == "caption":
            self._table["caption"] = "".join(self._text)
        elif tag in ("h1", "h2"):
            self.headings.append("".join(self._text))
        if tag in ("figcaption", "caption", "h1", "h2"):
            self._text = None
        elif tag == "figure":
            self._figure = None
        elif tag == "table":
            self._table = None


def parse_report(text: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(text)
    parser.close()
    return parser


def png_image(data: bytes):
    """Decode PNG bytes to an (H, W, channels) array; fails on anything but a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(io.BytesIO(data), format="png")


@pytest.fixture
def report_tools():
    return parse_report, png_image
