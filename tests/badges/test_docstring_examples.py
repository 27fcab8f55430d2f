"""The Examples sections of the badge modules run and hold (so they cannot go stale)."""

from __future__ import annotations

import doctest

import pytest

import guidance.badges.jwt
import guidance.badges.status_list
import guidance.badges.verify


@pytest.mark.parametrize(
    "module", [guidance.badges.jwt, guidance.badges.status_list, guidance.badges.verify],
    ids=lambda m: m.__name__,
)  # fmt: skip
def test_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
