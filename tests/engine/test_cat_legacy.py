"""Flat configurations of an earlier version give the tests that version gave.

``tests/data/legacy/legacy_simulations_v1.json`` was written by
``tests/data/legacy/make_legacy_simulations.py`` with the engine of commit 4d98325 (before
the roles became registered strategies): for ten flat configurations covering every
selector, estimator, exposure control, constraint and stopping rule of that version, the
items, responses, estimates and stop reasons of 24 simulees. Read through today's
``CATConfig.from_dict`` (the migration of the flat form) and through its nested form.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.config import CATConfig
from engine.simulation import simulate

LEGACY = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "legacy" / "legacy_simulations_v1.json")
    .read_text()
)
NAMES = [k for k in LEGACY if k != "written_by"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", ["flat", "nested"])
def test_legacy_configuration_gives_identical_tests(mixed_bank, name, form):
    want = LEGACY[name]
    config = CATConfig.from_dict(want["config"])
    if form == "nested":
        config = CATConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    got = simulate(mixed_bank, config, n=24, seed=7)
    np.testing.assert_array_equal(got.items, np.asarray(want["items"]))
    np.testing.assert_array_equal(got.responses, np.asarray(want["responses"]))
    np.testing.assert_allclose(got.theta, want["theta"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.se, want["se"], rtol=0, atol=1e-12)
    assert list(got.stop_reason) == want["stop_reason"]
