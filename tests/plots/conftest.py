"""Plot tests draw with the non-interactive Agg backend and close every figure."""

from __future__ import annotations

import matplotlib

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
