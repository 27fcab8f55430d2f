"""A model defined only here, with its own parameter names, works everywhere.

``TwoPLRenamed`` is the 2PL under other names (``disc``, ``diff``): it declares its
parameter contract (roles, admissible region) and nothing else. With no other change it
calibrates (start values, slope-intercept form and admissible region from the contract),
round-trips through bank files (JSON and CSV) and runs adaptive tests. The truth is the
built-in 2PL on the same data: the same likelihood, hence the same estimates and tests.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_expit

from calibration import calibrate
from calibration.simulate import simulate_responses
from engine.config import CATConfig
from engine.simulation import simulate
from item_banks import Item, ItemBank
from item_banks.io import bank_from_csv, bank_from_json, bank_to_csv, bank_to_json
from item_banks.models import ItemModel, register_model, unregister_model


class TwoPLRenamed(ItemModel):
    """2PL with parameters ``disc`` and ``diff``: ``P = 1 / (1 + exp(-disc (theta - diff)))``."""

    name = "2pl_renamed"
    description = "2PL with other parameter names"

    def param_names(self, n_categories: int) -> tuple[str, ...]:
        return ("disc", "diff")

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        return ("slope", "location")

    def _admissible(self, params, n_categories, reverse_slopes):
        disc = params[:, 0]
        return np.abs(disc) > 1e-6 if reverse_slopes else disc > 0

    def _check_finite_params(self, params, names):
        return [(int(r), "disc", f"disc must be > 0, got {params[r, 0]!r}")
                for r in np.nonzero(params[:, 0] <= 0)[0]]  # fmt: skip

    def _log_prob(self, theta, params):
        z = params[:, 0] * (theta[:, None] - params[:, 1])
        return np.stack([log_expit(-z), log_expit(z)], axis=-1)


@pytest.fixture(scope="module")
def renamed():
    register_model(TwoPLRenamed)
    yield "2pl_renamed"
    unregister_model("2pl_renamed")


def _banks(model_names, n=30, seed=4):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.7, 2.0, n), rng.normal(0, 1, n)
    out = []
    for model in model_names:
        keys = ("a", "b") if model == "2pl" else ("disc", "diff")
        out.append(ItemBank([Item(f"q{j:02d}", model, dict(zip(keys, (float(a[j]), float(b[j])),
                                                           strict=True)))
                             for j in range(n)], name=model))  # fmt: skip
    return out


def test_a_model_defined_in_a_test_calibrates_round_trips_and_runs_a_cat(renamed):
    builtin, custom = _banks(["2pl", renamed])
    theta = np.random.default_rng(1).normal(size=3000)
    x = simulate_responses(builtin, theta, np.random.default_rng(2))
    data = pd.DataFrame(x, columns=builtin.item_ids)
    ref = calibrate(data, "2pl")
    got = calibrate(data, renamed)
    assert list(got.params.columns[:6]) == ["model", "n_categories", "disc", "disc_se", "diff",
                                            "diff_se"]  # fmt: skip
    np.testing.assert_allclose(got.params["disc"], ref.params["a"], atol=2e-4)
    np.testing.assert_allclose(got.params["diff"], ref.params["b"], atol=2e-4)
    np.testing.assert_allclose(got.params["disc_se"], ref.params["a_se"], rtol=2e-3)
    assert got.loglik == pytest.approx(ref.loglik, abs=1e-6)
    # bank files
    bank = got.to_item_bank(name="renamed")
    assert bank_from_json(bank_to_json(bank)).items == bank.items
    from_csv = bank_from_csv(io.StringIO(bank_to_csv(bank)), name="renamed")
    for a, b in zip(from_csv.items, bank.items, strict=True):
        assert a.model == b.model and set(a.params) == {"disc", "diff"}
        assert [a.params[k] for k in ("disc", "diff")] == pytest.approx(
            [b.params[k] for k in ("disc", "diff")], rel=1e-12)
    with pytest.raises(Exception, match="disc must be > 0"):
        ItemBank([Item("bad", renamed, {"disc": -1.0, "diff": 0.0})], name="bad")
    # adaptive tests: the same as with the built-in 2PL (the a-stratified selector reads the
    # slope and location roles; pair evaluation shifts the location)
    for selector in ("mfi", "kl", "a_stratified"):
        config = CATConfig(selector=selector, estimator="wle", max_items=10, stop_se=None)
        a = simulate(builtin, config, n=40, seed=3)
        b = simulate(custom, config, n=40, seed=3)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_allclose(a.theta, b.theta, atol=1e-9)


def test_a_model_with_other_names_must_declare_their_roles():
    class Undeclared(TwoPLRenamed):
        name = "undeclared"
        param_roles = ItemModel.param_roles  # the default: the conventional names only

    with pytest.raises(Exception, match="must declare param_roles: parameter 'disc'"):
        Undeclared().param_roles(2)
    conventional = type("Conventional", (Undeclared,), {"param_names": lambda self, k: ("a", "b")})
    assert conventional().param_roles(2) == ("slope", "location")
