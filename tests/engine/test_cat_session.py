"""Live session: errors, config/state serialisation, and each rule against a direct
computation written here from the item models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import optimize, sparse
from scipy.stats import norm

from engine._core import _shadow_solve, get_plan, rows_from_history
from engine.ability import get_estimator
from engine.config import CATConfig
from engine.session import next_item, respond, result, start
from engine.state import CATState
from item_banks.errors import (
    InvalidConfigError,
    InvalidResponseError,
    InvalidStateError,
    ItemMismatchError,
    TestFinishedError,
)


def _answer(bank, item_id, theta, rng):
    p = bank.prob([theta], [bank.index_of(item_id)])[0, 0]
    return int(min(np.searchsorted(np.cumsum(p), rng.random()), bank[item_id].n_categories - 1))


def _play(bank, config, seed, theta, n_steps=None, answer_seed=0):
    rng = np.random.default_rng(answer_seed)
    state = start(bank, config, seed=seed)
    steps = 0
    while not state.finished and (n_steps is None or steps < n_steps):
        state = respond(bank, config, state, state.pending_item,
                        _answer(bank, state.pending_item, theta, rng))  # fmt: skip
        steps += 1
    return state


# ------------------------------------------------------------------------------ errors
def test_session_errors_have_codes(mixed_bank):
    config = CATConfig(max_items=3)
    state = start(mixed_bank, config, seed=1)
    other = next(i for i in mixed_bank.item_ids if i != state.pending_item)
    with pytest.raises(ItemMismatchError) as info:
        respond(mixed_bank, config, state, other, 0)
    assert info.value.code == "item_mismatch" and other in info.value.message
    k = mixed_bank[state.pending_item].n_categories
    for bad in (k, -1, True, "1", 1.0, None):
        with pytest.raises(InvalidResponseError) as info:
            respond(mixed_bank, config, state, state.pending_item, bad)
        assert info.value.code == "invalid_response"
        assert state.pending_item in info.value.message
    while not state.finished:
        state = respond(mixed_bank, config, state, state.pending_item, 0)
    with pytest.raises(TestFinishedError) as info:
        respond(mixed_bank, config, state, "q000", 0)
    assert info.value.code == "test_finished"
    with pytest.raises(InvalidStateError):
        start(mixed_bank, config, seed=-1)


def test_state_with_unknown_item_is_invalid(mixed_bank):
    config = CATConfig(max_items=3)
    state = _play(mixed_bank, config, 2, 0.0, n_steps=1)
    data = state.to_dict()
    data["administered"] = ["nope"]
    bad = CATState.from_dict(data)
    with pytest.raises(InvalidStateError, match="nope"):
        respond(mixed_bank, config, bad, bad.pending_item, 0)


# --------------------------------------------------------------------- config / state
def test_config_round_trip_and_defaults(mixed_bank):
    config = CATConfig.from_dict(
        {
            "selector": "shadow", "estimator": "wle", "content": {"alg": {"min": 1, "max": 4}},
            "cut_scores": [-1, 1], "classification": "ci", "exposure": "sympson_hetter",
            "exposure_params": {"q001": 0.5}, "pretest_count": 1, "theta_range": [-3, 3],
        },
        bank=mixed_bank,
    )  # fmt: skip
    again = CATConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and hash(again) == hash(config)
    default = CATConfig()
    assert (default.estimator, default.selector, default.stop_se, default.max_items) == (
        "eap",
        "mfi",
        0.3,
        40,
    )
    assert default.start_spread > 0


def test_config_lists_every_problem(mixed_bank):
    with pytest.raises(InvalidConfigError) as info:
        CATConfig.from_dict({"selector": "best", "stop_se": -1, "max_items": 0, "colour": 1,
                             "prior_sd": "wide"})  # fmt: skip
    problems = info.value.problems
    assert info.value.code == "invalid_config"
    assert any("unknown key 'colour'" in p for p in problems)
    assert any("prior_sd" in p for p in problems)
    with pytest.raises(InvalidConfigError) as info:
        CATConfig.from_dict({"selector": "best", "stop_se": -1, "max_items": 0})
    text = " ".join(info.value.problems)
    assert "selector" in text and "stop_se" in text and "max_items" in text
    with pytest.raises(InvalidConfigError) as info:
        CATConfig.from_dict({"content": {"calculus": {"min": 1, "max": 2}},
                             "exposure": "sympson_hetter", "exposure_params": {"zz": 0.5}},
                            bank=mixed_bank)  # fmt: skip
    text = " ".join(info.value.problems)
    assert "'calculus'" in text and "'zz'" in text
    with pytest.raises(InvalidConfigError, match="cut_scores"):
        CATConfig(classification="sprt")


def test_state_json_round_trip_and_validation(mixed_bank):
    config = CATConfig(max_items=6, pretest_count=1, pretest_first=2, pretest_last=3)
    state = _play(mixed_bank, config, 4, 0.5, n_steps=4)
    data = json.loads(json.dumps(state.to_dict()))
    assert CATState.from_dict(data) == state
    broken = dict(data)
    del broken["seed"]
    broken["responses"] = ["x"]
    with pytest.raises(InvalidStateError) as info:
        CATState.from_dict(broken)
    assert "seed" in info.value.message and "responses" in info.value.message


# ------------------------------------------------------------------------------ start
def test_default_start_spreads_first_items(bank500):
    config = CATConfig()
    firsts = [start(bank500, config, seed=s).pending_item for s in range(400)]
    share = max(firsts.count(i) for i in set(firsts)) / len(firsts)
    assert share < 0.25 and len(set(firsts)) >= 15
    fixed = config.replace(start_spread=0.0, start_randomesque=1)
    assert len({start(bank500, fixed, seed=s).pending_item for s in range(20)}) == 1


# ---------------------------------------------------------------------- estimation
@pytest.mark.parametrize("name", ["eap", "map", "ml", "wle"])
def test_session_estimate_equals_estimator_on_scored_items(mixed_bank, name):
    config = CATConfig(estimator=name, max_items=8, stop_se=None, pretest_count=2,
                       pretest_first=1, pretest_last=4)  # fmt: skip
    state = _play(mixed_bank, config, 9, 0.8, answer_seed=3)
    assert state.n_items == 10 and state.n_scored == 8
    scored = [i for i, s in zip(state.administered, state.scored, strict=True) if s]
    resp = [r for r, s in zip(state.responses, state.scored, strict=True) if s]
    assert all(mixed_bank[i].status == "operational" for i in scored)
    ref = get_estimator(name).estimate(mixed_bank, mixed_bank.indices_of(scored), resp)
    assert state.theta == pytest.approx(ref.theta, abs=1e-9)
    assert state.se == pytest.approx(ref.se, rel=1e-7)


# ------------------------------------------------------------------------- selection
def _eligible(bank, state):
    given = set(state.administered)
    used_groups = {g for i in given for g in bank[i].enemy_groups}
    return [j for j, it in enumerate(bank.items)
            if it.item_id not in given and it.status == "operational"
            and not used_groups & set(it.enemy_groups)]  # fmt: skip


def _posterior(bank, state, config):
    pts = np.linspace(*config.theta_range, config.n_points)
    scored = [i for i, s in zip(state.administered, state.scored, strict=True) if s]
    resp = [r for r, s in zip(state.responses, state.scored, strict=True) if s]
    ll = bank.log_likelihood(pts, bank.indices_of(scored), resp) if scored else 0 * pts
    trap = np.ones_like(pts)
    trap[[0, -1]] = 0.5
    w = np.exp(ll - ll.max()) * norm.pdf(pts, config.prior_mean, config.prior_sd) * trap
    return pts, w / w.sum()


def test_mfi_picks_the_most_informative_eligible_item(mixed_bank):
    config = CATConfig(max_items=12, stop_se=None)
    rng = np.random.default_rng(1)
    state = start(mixed_bank, config, seed=5)
    while not state.finished:
        state = respond(mixed_bank, config, state, state.pending_item,
                        _answer(mixed_bank, state.pending_item, 0.3, rng))  # fmt: skip
        if state.finished:
            break
        elig = _eligible(mixed_bank, state)
        info = mixed_bank.information([state.theta], elig)[0]
        chosen = mixed_bank.information([state.theta], [mixed_bank.index_of(state.pending_item)])
        assert chosen[0, 0] >= (1 - 1e-4) * info.max()


@pytest.mark.parametrize("criterion", ["kl", "mepv"])
def test_posterior_selectors_match_direct_computation(mixed_bank, criterion):
    config = CATConfig(selector=criterion, max_items=10, stop_se=None)
    rng = np.random.default_rng(2)
    state = start(mixed_bank, config, seed=8)
    for _ in range(6):
        state = respond(mixed_bank, config, state, state.pending_item,
                        _answer(mixed_bank, state.pending_item, -0.4, rng))  # fmt: skip
        pts, w = _posterior(mixed_bank, state, config)
        elig = _eligible(mixed_bank, state)
        values = []
        for j in elig:
            k = mixed_bank.n_categories[j]
            p_grid = mixed_bank.prob(pts, [j])[:, 0, :k]  # (Q, K)
            if criterion == "kl":
                p_hat = mixed_bank.prob([state.theta], [j])[0, 0, :k]
                kl = (p_hat * (np.log(p_hat) - np.log(p_grid))).sum(axis=1)
                values.append(np.sum(w * kl))
            else:
                epv = 0.0
                for c in range(k):
                    post = w * p_grid[:, c]
                    m0 = post.sum()
                    mean = (post * pts).sum() / m0
                    epv += m0 * ((post * (pts - mean) ** 2).sum() / m0)
                values.append(-epv)
        assert elig[int(np.argmax(values))] == mixed_bank.index_of(state.pending_item)


def test_a_stratified_uses_low_a_items_first_and_matches_b(bank500):
    config = CATConfig(selector="a_stratified", n_strata=4, max_items=20, stop_se=None)
    a = np.array([it.params["a"] for it in bank500])
    b = np.array([it.params["b"] for it in bank500])
    low = set(np.argsort(a, kind="stable")[:125].tolist())
    state = start(bank500, config, seed=3)
    rng = np.random.default_rng(0)
    while state.n_scored < 4:  # stage = n_scored * 4 // 20 stays 0
        state = respond(bank500, config, state, state.pending_item,
                        _answer(bank500, state.pending_item, 0.0, rng))  # fmt: skip
        j = bank500.index_of(state.pending_item)
        assert j in low
        free = [i for i in low if bank500.item_ids[i] not in state.administered]
        assert abs(b[j] - state.theta) == pytest.approx(min(abs(b[free] - state.theta)))


def test_randomesque_chooses_among_best_k(bank500):
    config = CATConfig(randomesque=5, start_randomesque=1, start_spread=0.0, max_items=6,
                       stop_se=None)  # fmt: skip
    picks = set()
    for seed in range(30):
        state = _play(bank500, config, seed, 0.0, n_steps=1, answer_seed=seed)
        state = CATState.from_dict({**state.to_dict()})
        picks.add(state.pending_item)
        info = bank500.information([state.theta])[0]
        given = bank500.index_of(state.administered[0])
        info[given] = -1
        top5 = set(np.argsort(-info)[:5].tolist())
        assert bank500.index_of(state.pending_item) in top5
    assert len(picks) > 3


# ----------------------------------------------------------------------------- rules
def test_sprt_stops_exactly_when_every_cut_is_decided(mixed_bank):
    config = CATConfig(stop_se=None, cut_scores=(-0.5, 0.5), classification="sprt",
                       sprt_delta=0.3, sprt_alpha=0.1, sprt_beta=0.1, max_items=30)  # fmt: skip
    upper, lower = np.log(0.9 / 0.1), np.log(0.1 / 0.9)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        state = start(mixed_bank, config, seed=seed)
        true = 1.5 * seed - 2
        while not state.finished:
            answer = _answer(mixed_bank, state.pending_item, true, rng)
            state = respond(mixed_bank, config, state, state.pending_item, answer)
            items = mixed_bank.indices_of([i for i, s in zip(state.administered, state.scored,
                                                             strict=True) if s])  # fmt: skip
            resp = [r for r, s in zip(state.responses, state.scored, strict=True) if s]
            decided = True
            for c in config.cut_scores:
                ll = mixed_bank.log_likelihood([c - 0.3, c + 0.3], items, resp)
                ratio = ll[1] - ll[0]
                decided &= bool(ratio >= upper or ratio <= lower)
            if state.n_scored < config.max_items:
                assert state.finished == decided
        rep = result(mixed_bank, config, state)
        assert rep["classification"]["category"] == int(
            np.searchsorted([-0.5, 0.5], state.theta, side="right")
        )


def test_ci_rule_and_all_combination(mixed_bank):
    config = CATConfig(stop_se=0.5, cut_scores=(0.0,), classification="ci", ci_level=0.9,
                       stop_combine="all", min_items=2, max_items=25)  # fmt: skip
    z = norm.ppf(0.95)
    rng = np.random.default_rng(3)
    state = start(mixed_bank, config, seed=1)
    while not state.finished:
        state = respond(mixed_bank, config, state, state.pending_item,
                        _answer(mixed_bank, state.pending_item, 1.0, rng))  # fmt: skip
        both = abs(state.theta) > z * state.se and state.se <= 0.5
        if 2 <= state.n_scored < 25:
            assert state.finished == both
    assert state.stop_reason in ("all_rules", "max_items")


def test_content_minimums_defer_se_stop(mixed_bank):
    config = CATConfig(stop_se=0.9, min_items=1, max_items=12,
                       content=(("geo", 3, 4), ("num", 3, 4)))  # fmt: skip
    state = _play(mixed_bank, config, 2, 0.0)
    counts = {a: sum(a in mixed_bank[i].content_areas for i in state.administered)
              for a in ("geo", "num")}  # fmt: skip
    assert all(3 <= v <= 4 for v in counts.values())
    assert state.n_scored >= 6


def test_online_exposure_cap(bank500):
    config = CATConfig(max_exposure_rate=0.2, start_spread=0.0, start_randomesque=1)
    free = start(bank500, config, seed=1).pending_item
    counts = {"__tests__": 10, free: 2}
    capped = start(bank500, config, seed=1, exposure=counts).pending_item
    assert capped != free
    assert start(bank500, config, seed=1, exposure={"__tests__": 10, free: 1}).pending_item == free


@pytest.mark.parametrize("seed, steps", [(3, 5), (4, 2), (5, 9), (6, 12)])
def test_shadow_pruned_solution_is_optimal(mixed_bank, seed, steps):
    config = CATConfig(
        selector="shadow",
        max_items=15,
        stop_se=None,
        content=(("alg", 3, 6), ("geo", 3, 6), ("num", 2, 6)),
    )
    state = _play(mixed_bank, config, seed, 0.2, n_steps=steps, answer_seed=seed)
    plan = get_plan(mixed_bank, config)
    items = mixed_bank.indices_of(state.administered)
    rows = rows_from_history(
        plan,
        state.seed,
        items,
        np.asarray(state.responses),
        np.zeros(0, dtype=np.intp),
        state.pretest_positions,
        state.start_theta,
    )
    info = plan.tables.information_at(np.array([state.theta]), -4, 4)[0].astype(float)
    cand = ~(rows.given[0] | rows.blocked[0]) & plan.operational
    pick = _shadow_solve(plan, rows, 0, cand, info)
    # full problem, no pruning, every item a variable
    n = len(mixed_bank)
    given = rows.given[0] & plan.operational
    lb, ub = given.astype(float), (given | cand).astype(float)
    areas = {
        a: np.array([a in it.content_areas for it in mixed_bank.items], float)
        for a in ("alg", "geo", "num")
    }
    groups = sorted({g for it in mixed_bank.items for g in it.enemy_groups})
    rows_a = [np.ones(n)] + [areas[a] for a in ("alg", "geo", "num")]
    rows_a += [np.array([g in it.enemy_groups for it in mixed_bank.items], float) for g in groups]
    lo = [15, 3, 3, 2] + [0] * len(groups)
    hi = [15, 6, 6, 6] + [1] * len(groups)
    res = optimize.milp(
        -info,
        integrality=np.ones(n),
        bounds=optimize.Bounds(lb, ub),
        constraints=optimize.LinearConstraint(sparse.csr_matrix(np.array(rows_a)), lo, hi),
    )
    free = (res.x > 0.5) & ~given
    assert pick == int(np.flatnonzero(free)[np.argmax(info[free])])


def test_result_report(mixed_bank):
    config = CATConfig(max_items=5, cut_scores=(0.0,), show_results=False)
    state = _play(mixed_bank, config, 1, 0.0)
    rep = result(mixed_bank, config, state)
    json.dumps(rep)
    assert rep["n_items"] == 5 and rep["stop_reason"] == "max_items"
    assert rep["show_results"] is False
    assert [e["item_id"] for e in rep["items"]] == list(state.administered)
    assert rep["items"][-1]["theta"] == state.theta
    assert next_item  # public
