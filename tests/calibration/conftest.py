from __future__ import annotations

from pathlib import Path

import pytest
from calib_helpers import DATA


@pytest.fixture(scope="session")
def lsat7_path() -> Path:
    return DATA / "lsat7.csv"
