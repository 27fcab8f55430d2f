"""Roles as strategies: a prior per test, the two newest rules, configuration forms.

Truths: ``scipy.integrate.quad`` and ``scipy.optimize`` on the posterior written out
here from the item models; the same test run through the configuration's prior; the
flat configuration form of earlier versions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.stats import norm

from engine._core import get_plan, rows_from_history
from engine.config import CATConfig
from engine.session import respond, start
from engine.simulation import simulate
from engine.state import CATState
from item_banks.errors import InvalidConfigError, InvalidStateError


def _answer(bank, item_id, theta, rng):
    p = bank.prob([theta], [bank.index_of(item_id)])[0, 0]
    return int(min(np.searchsorted(np.cumsum(p), rng.random()), bank[item_id].n_categories - 1))


def _play(bank, config, seed, theta, n_steps, prior=None):
    rng = np.random.default_rng(seed)
    state = start(bank, config, seed=seed, prior=prior)
    for _ in range(n_steps):
        if state.finished:
            break
        state = respond(bank, config, state, state.pending_item,
                        _answer(bank, state.pending_item, theta, rng))  # fmt: skip
    return state


def _scored(bank, state):
    items = [bank.index_of(i) for i, s in zip(state.administered, state.scored, strict=True) if s]
    resp = [r for r, s in zip(state.responses, state.scored, strict=True) if s]
    return items, resp


def _log_post(bank, items, resp, mean, sd):
    def f(t):
        ll = bank.log_likelihood(np.array([t]), items, resp)[0] if items else 0.0
        return float(ll + norm.logpdf(t, mean, sd))

    return f


# --------------------------------------------------------------------- prior per test
@pytest.mark.parametrize("prior", [(0.8, 0.6), (-1.5, 1.4)])
def test_eap_under_the_tests_own_prior_matches_quad(mixed_bank, prior):
    config = CATConfig(n_points=401, max_items=10, stop_se=None)
    state = _play(mixed_bank, config, 3, 0.4, 7, prior=prior)
    assert state.prior == prior
    items, resp = _scored(mixed_bank, state)
    lp = _log_post(mixed_bank, items, resp, *prior)
    shift = max(lp(t) for t in np.linspace(-4, 4, 81))
    dens = lambda t: np.exp(lp(t) - shift)  # noqa: E731
    z = integrate.quad(dens, -4, 4, limit=200)[0]
    mean = integrate.quad(lambda t: t * dens(t), -4, 4, limit=200)[0] / z
    var = integrate.quad(lambda t: (t - mean) ** 2 * dens(t), -4, 4, limit=200)[0] / z
    assert state.theta == pytest.approx(mean, abs=2e-5)
    assert state.se == pytest.approx(np.sqrt(var), abs=2e-5)
    # before any item: the (truncated) prior itself
    first = start(mixed_bank, config, seed=3, prior=prior)
    z0 = norm.cdf(4, *prior) - norm.cdf(-4, *prior)
    m0 = integrate.quad(lambda t: t * norm.pdf(t, *prior), -4, 4)[0] / z0
    assert first.theta == pytest.approx(m0, abs=2e-5)


def test_map_under_the_tests_own_prior_is_the_posterior_mode(mixed_bank):
    prior = (0.7, 0.5)
    config = CATConfig(estimator="map", max_items=10, stop_se=None)
    state = _play(mixed_bank, config, 5, 1.0, 6, prior=prior)
    items, resp = _scored(mixed_bank, state)
    lp = _log_post(mixed_bank, items, resp, *prior)
    mode = optimize.minimize_scalar(lambda t: -lp(t), bounds=(-4, 4), method="bounded",
                                    options={"xatol": 1e-10}).x  # fmt: skip
    assert state.theta == pytest.approx(mode, abs=1e-6)
    info = mixed_bank.information([mode], items)[0].sum()
    assert state.se == pytest.approx(1 / np.sqrt(info + 1 / prior[1] ** 2), rel=1e-6)


@pytest.mark.parametrize("selector", ["kl", "mepv", "mpwi", "mfi"])
@pytest.mark.parametrize("estimator", ["eap", "map"])
def test_own_prior_gives_the_test_of_a_config_with_that_prior(mixed_bank, selector, estimator):
    """The prior in the state acts exactly as the configuration's prior (no plan per prior)."""
    m, s = 0.6, 0.7
    own = CATConfig(selector=selector, estimator=estimator, max_items=8, stop_se=None)
    same = own.replace(prior_mean=m, prior_sd=s, start_theta=m)
    a = _play(mixed_bank, own, 11, 0.2, 8, prior=(m, s))
    b = _play(mixed_bank, same, 11, 0.2, 8)
    assert a.administered == b.administered
    np.testing.assert_allclose(a.theta_history, b.theta_history, rtol=0, atol=1e-12)
    # and the prior changes the test: a confident low prior starts lower
    low = _play(mixed_bank, own, 11, 0.2, 1, prior=(-2.0, 0.3))
    assert low.start_theta < a.start_theta


def test_state_prior_survives_json_and_old_states_load(mixed_bank):
    config = CATConfig(max_items=5)
    state = _play(mixed_bank, config, 2, 0.0, 2, prior=(1.0, 0.5))
    again = CATState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state and again.prior == (1.0, 0.5)
    old = state.to_dict()
    del old["prior_mean"], old["prior_sd"]  # a state written before the fields existed
    assert CATState.from_dict(old).prior is None
    with pytest.raises(InvalidStateError, match="prior"):
        start(mixed_bank, config, seed=1, prior=(0.0, 0.0))
    as_mapping = start(mixed_bank, config, seed=2, prior={"mean": 1.0, "sd": 0.5})
    assert as_mapping == start(mixed_bank, config, seed=2, prior=(1.0, 0.5))
    for bad in ((0.0, float("nan")), (float("inf"), 1.0), "wide", (1.0,)):
        with pytest.raises(InvalidStateError, match="prior"):
            start(mixed_bank, config, seed=1, prior=bad)
    with pytest.raises(InvalidStateError, match="prior"):
        CATState.from_dict({**state.to_dict(), "prior_sd": None})


def test_batch_simulation_with_priors_equals_live_sessions(mixed_bank):
    config = CATConfig(selector="kl", max_items=8, stop_se=0.5)
    theta = np.linspace(-1.5, 1.5, 12)
    prior = (np.linspace(-1, 1, 12), np.full(12, 0.8))
    batch = simulate(mixed_bank, config, true_theta=theta, seed=4, prior=prior)
    live = simulate(mixed_bank, config, true_theta=theta, seed=4, prior=prior, batch=False)
    np.testing.assert_array_equal(batch.items, live.items)
    np.testing.assert_allclose(batch.theta, live.theta, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------- new rules
def test_mpwi_is_the_posterior_weighted_information_by_quad(mixed_bank):
    config = CATConfig(selector="mpwi", n_points=201, max_items=12, stop_se=None)
    prior = (0.3, 0.9)
    state = _play(mixed_bank, config, 7, -0.3, 5, prior=prior)
    items, resp = _scored(mixed_bank, state)
    lp = _log_post(mixed_bank, items, resp, *prior)
    shift = max(lp(t) for t in np.linspace(-4, 4, 81))
    z = integrate.quad(lambda t: np.exp(lp(t) - shift), -4, 4, limit=200)[0]
    given = set(state.administered)
    groups = {g for i in given for g in mixed_bank[i].enemy_groups}
    elig = [j for j, it in enumerate(mixed_bank.items) if it.item_id not in given
            and it.status == "operational" and not groups & set(it.enemy_groups)]  # fmt: skip
    values = np.array([
        integrate.quad(lambda t, j=j: mixed_bank.information([t], [j])[0, 0]
                       * np.exp(lp(t) - shift), -4, 4, limit=200)[0] / z
        for j in elig
    ])  # fmt: skip
    chosen = elig.index(mixed_bank.index_of(state.pending_item))
    assert values[chosen] >= values.max() * (1 - 1e-4)
    # the engine's criterion itself, against quad
    plan = get_plan(mixed_bank, config)
    rows = rows_from_history(plan, state.seed, mixed_bank.indices_of(state.administered),
                             np.asarray(state.responses), np.zeros(0, dtype=np.intp),
                             state.pretest_positions, state.start_theta, prior=prior)  # fmt: skip
    crit = plan.selector.criterion(rows, np.zeros(1, dtype=np.intp), np.array([state.theta]))[0]
    np.testing.assert_allclose(crit[elig], values, rtol=2e-4)


def _plateau_length(se_path, se0, tolerance, window, min_items, max_items):
    """First scored length at which the SE-plateau rule stops, from the SEs directly."""
    values = [se0, *se_path]
    for m in range(1, len(se_path) + 1):
        if m >= max_items:
            return m
        if m >= max(window, min_items):
            recent = values[m - window : m + 1]
            if max(recent) - min(recent) <= tolerance:
                return m
    return None


@pytest.mark.parametrize("tolerance,window", [(0.02, 2), (0.01, 3), (0.006, 2)])
def test_se_plateau_stops_exactly_when_the_se_stops_improving(mixed_bank, tolerance, window):
    config = CATConfig.from_dict({
        "max_items": 30, "pretest_count": 1, "pretest_first": 3, "pretest_last": 6,
        "stopping": {"rules": [{"name": "se_plateau", "tolerance": tolerance,
                                "window": window}]},
    })  # fmt: skip
    assert config.stop_se is None
    reasons = set()
    for seed in range(6):
        state = _play(mixed_bank, config, seed, float(np.linspace(-2, 2, 6)[seed]), 40)
        assert state.finished
        se_scored = [e for e, s in zip(state.se_history, state.scored, strict=True) if s]
        se0 = start(mixed_bank, config, seed=seed).se
        expected = _plateau_length(se_scored, se0, tolerance, window, 1, 30)
        assert state.n_scored == expected
        reasons.add(state.stop_reason)
    assert "se_plateau" in reasons


@pytest.mark.parametrize("selector", ["mfi", "mpwi", "kl", "shadow"])
def test_se_plateau_keeps_the_contract_of_every_rule(mixed_bank, selector):
    from tests.engine.test_cat_contract import SELECTORS, _run

    config = CATConfig.from_dict({
        **SELECTORS[selector], "max_items": 12, "min_items": 4, "stop_se": None,
        "content": {"alg": {"min": 2, "max": 5}}, "pretest_count": 1, "pretest_first": 2,
        "pretest_last": 4, "stopping": {"rules": [{"name": "se_plateau", "tolerance": 0.03}]},
    })  # fmt: skip
    for seed in range(3):
        states = _run(mixed_bank, config, seed, seed + 1)
        final = states[-1]
        assert len(set(final.administered)) == final.n_items
        assert final.stop_reason in ("se_plateau", "max_items")
        assert 4 <= final.n_scored <= 12
        assert _run(mixed_bank, config, seed, seed + 1, via_json=True)[-1] == final


# ------------------------------------------------------------------- configurations
def test_config_reports_every_problem_at_once_and_refuses_non_finite_numbers():
    with pytest.raises(InvalidConfigError) as info:
        CATConfig.from_dict({"selector": "mfy", "stop_se": "0.3", "max_items": 0})
    text = " | ".join(info.value.problems)
    assert "selector" in text and "'mfy'" in text and "stop_se" in text and "max_items" in text
    for bad in (float("inf"), float("nan"), float("-inf")):
        with pytest.raises(InvalidConfigError) as info:
            CATConfig.from_dict(json.loads(json.dumps({"stop_se": bad, "prior_sd": bad,
                                                       "theta_range": [-4, bad]})))  # fmt: skip
        text = " | ".join(info.value.problems)
        assert text.count("finite") >= 3 and "stop_se" in text and "prior_sd" in text
    with pytest.raises(InvalidConfigError) as info:
        CATConfig.from_dict({"stopping": {"rules": [{"name": "se_plateau", "window": 0,
                                                     "tolerance": -1}, {"name": "nope"}]},
                             "selection": {"method": "mpwi",
                                           "params": {"n_strata": 3}}})  # fmt: skip
    text = " | ".join(info.value.problems)
    assert "window" in text and "tolerance" in text and "'nope'" in text and "n_strata" in text


def test_flat_and_nested_forms_give_the_same_config_and_tests(mixed_bank):
    flat = {  # the complete flat dict earlier versions stored (CATConfig.to_dict of /1)
        "estimator": "eap", "prior_mean": 0.0, "prior_sd": 1.0, "n_points": 61,
        "theta_range": [-4.0, 4.0], "start_theta": 0.0, "start_spread": 1.0,
        "start_randomesque": 5, "selector": "kl", "randomesque": 2, "n_strata": 4,
        "exposure": "sympson_hetter", "exposure_params": {"q001": 0.5},
        "max_exposure_rate": None, "content": {"alg": {"min": 2, "max": 6}},
        "content_proportions": {}, "enemies": True, "pretest_count": 1, "pretest_first": 2,
        "pretest_last": 5, "min_items": 3, "max_items": 12, "stop_se": 0.4,
        "cut_scores": [0.0], "classification": "sprt", "sprt_delta": 0.3, "sprt_alpha": 0.1,
        "sprt_beta": 0.05, "ci_level": 0.95, "stop_combine": "any", "show_results": False,
    }  # fmt: skip
    config = CATConfig.from_dict(flat, mixed_bank)
    assert config.to_flat() == flat
    nested = json.loads(json.dumps(config.to_dict()))
    assert nested["format"] == "zapcat-cat-config/2"
    assert CATConfig.from_dict(nested) == config == CATConfig(**flat)
    assert [r["name"] for r in nested["stopping"]["rules"]] == ["se", "sprt"]
    a = _play(mixed_bank, config, 9, 0.5, 15)
    b = _play(mixed_bank, CATConfig.from_dict(nested), 9, 0.5, 15)
    assert a == b
    # flat keys still apply over nested sections (command-line overrides)
    over = CATConfig.from_dict({**nested, "max_items": 20, "stop_se": None})
    assert over.max_items == 20 and over.stopping.rules[0][0] == "sprt"


def test_a_huge_max_items_costs_no_more_than_the_bank(mixed_bank):
    config = CATConfig(max_items=10**9, stop_se=None)
    res = simulate(mixed_bank, config, n=3, seed=2)
    assert res.items.shape[1] == len(mixed_bank)
    assert set(res.stop_reason) == {"bank_exhausted"}
