"""The examples in the docstrings of the plot and report modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "item_banks.plots",
    "item_banks.report",
    "calibration.plots",
    "calibration.report",
    "engine.plots",
    "engine.report",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0
    assert failures == 0
