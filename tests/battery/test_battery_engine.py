"""engine.battery: sections in order, collateral priors, minimums, budget, live = batch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.battery import (
    collateral_prior,
    next_section,
    respond,
    result,
    section_info,
    section_seeds,
    start,
)
from engine.battery_prior import conditional_prior, own_likelihood
from engine.battery_sim import simulate_battery, simulated_answer
from engine.battery_state import BatteryState
from item_banks.errors import InvalidStateError, ItemMismatchError, TestFinishedError
from tests.battery.conftest import demo_dict, plan_from


def run_live(plan, seed: int, theta) -> BatteryState:
    state = start(plan, seed=seed)
    seeds = section_seeds(seed, plan.k)
    while not state.finished:
        k = state.current
        answer = simulated_answer(plan.banks[k], theta[k], state.pending_item, seeds[k],
                                  state.tests[k].n_items)  # fmt: skip
        state = respond(plan, state, state.pending_item, answer)
        # the state survives JSON at every step
        assert BatteryState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    return state


def test_one_earlier_skill_closed_form():
    # N(0, 1) prior, posterior N(t, se^2): the prior of the next skill is N(r t, 1-r^2+r^2 se^2)
    r, t, se = 0.6, 0.8, 0.4
    y, lam = own_likelihood(np.array([t]), np.array([se]), np.array([0.0]), np.array([1.0]))
    corr = np.array([[1.0, r], [r, 1.0]])
    mean, sd = conditional_prior(corr, 1, [0], y[:, None], lam[:, None])
    assert mean[0] == pytest.approx(r * t, abs=1e-12)
    assert sd[0] ** 2 == pytest.approx(1 - r**2 + r**2 * se**2, abs=1e-12)


def test_two_earlier_skills_equal_the_mixture_over_their_joint_posterior():
    # independent route: joint posterior of theta_S under MVN(0, R_SS) and normal likelihoods,
    # then the mixture of the conditional normal over it (mean and variance by the laws of
    # total expectation and variance)
    corr = np.array([[1, 0.5, 0.6], [0.5, 1, 0.4], [0.6, 0.4, 1.0]])
    y = np.array([0.9, -0.4])
    lam = np.array([6.0, 9.0])
    mean, sd = conditional_prior(corr, 2, [0, 1], y[None, :], lam[None, :])
    rss, rks = corr[:2, :2], corr[2, :2]
    post_cov = np.linalg.inv(np.linalg.inv(rss) + np.diag(lam))
    post_mean = post_cov @ (lam * y)
    b = np.linalg.solve(rss, rks)
    assert mean[0] == pytest.approx(b @ post_mean, abs=1e-12)
    assert sd[0] ** 2 == pytest.approx(1 - b @ rks + b @ post_cov @ b, abs=1e-12)


def test_live_sections_take_the_collateral_prior_of_the_earlier_estimates(demo_plan):
    state = run_live(demo_plan, 11, [0.5, -0.2, 1.0])
    first, second, third = state.tests
    assert first.prior is None  # nothing to borrow from yet
    r = demo_plan.battery.correlations[0, 1]
    assert second.prior[0] == pytest.approx(r * first.theta, abs=1e-9)
    assert second.prior[1] ** 2 == pytest.approx(1 - r**2 + r**2 * first.se**2, abs=1e-9)
    assert third.prior == pytest.approx(collateral_prior(demo_plan, 2, [first, second, None]))
    info = result(demo_plan, state)
    assert [s["n_items"] for s in info["skills"]] == [t.n_scored for t in state.tests]


def test_a_borrowing_skill_never_stops_before_its_minimum():
    data = demo_dict()
    for sec in data["sections"]:
        sec["cat"] = {"stop_se": 0.99, "min_items": 1, "max_items": 20}
        sec["collateral"]["min_items"] = 6
    plan = plan_from(data)
    state = run_live(plan, 3, [0.0, 0.0, 0.0])
    assert state.tests[0].n_scored == 1  # no prior borrowed: its own minimum
    assert state.tests[1].prior[1] < 0.99  # the prior alone would meet the SE target ...
    assert [t.n_scored for t in state.tests[1:]] == [6, 6]  # ... the minimum holds
    plan_off = plan_from(data, collateral=False)
    off = run_live(plan_off, 3, [0.0, 0.0, 0.0])
    assert all(t.prior is None for t in off.tests)
    assert [t.n_scored for t in off.tests] == [1, 1, 1]


def test_budget_caps_the_total_and_keeps_every_minimum():
    data = demo_dict()
    data["budget"] = 20
    for sec in data["sections"]:
        sec["cat"] = {"stop_se": 0.2, "min_items": 4, "max_items": 15}
    plan = plan_from(data)
    for seed in range(5):
        state = run_live(plan, seed, [1.0, -1.0, 0.0])
        n = [t.n_items for t in state.tests]
        assert sum(n) == 20 and min(n) >= 6  # collateral min 6 for sections 2, 3
        assert state.stop_reason == "budget"
        assert result(plan, state)["stop_reason"] == "budget"


def test_budget_below_the_minimums_is_refused():
    data = demo_dict()
    data["budget"] = 10
    with pytest.raises(Exception, match="cannot hold every section's minimum"):
        plan_from(data)


def test_adaptive_order_opens_the_skill_furthest_from_its_target():
    data = demo_dict()
    data["order"] = "adaptive"
    data["sections"][2]["cat"]["stop_se"] = 0.2  # design: furthest from its target
    plan = plan_from(data)
    state = start(plan, seed=1)
    assert section_info(plan, state) == {"skill_id": "design", "index": 1, "of": 3}
    tests = list(state.tests)
    while not state.finished and state.current == 2:
        state = respond(plan, state, state.pending_item, 1)
    tests = list(state.tests)
    # next: the larger of (conditional prior SD - target) over the two left
    tests[state.current] = None
    priors = {k: collateral_prior(plan, k, tests) for k in (0, 1)}
    assert priors[0] is None and priors[1] is not None  # coding may not borrow
    gaps = {0: 1.0 - plan.targets[0], 1: priors[1][1] - plan.targets[1]}
    assert state.current == max(gaps, key=gaps.get) == next_section(plan, tests)
    assert section_info(plan, state)["index"] == 2


@pytest.mark.parametrize("order", ["fixed", "adaptive"])
def test_batch_simulation_equals_live_sessions(order):
    data = demo_dict()
    data["order"] = order
    data["budget"] = 36
    plan = plan_from(data)
    sim = simulate_battery(plan, n=300, seed=4)
    for i in range(0, 300, 15):
        state = run_live(plan, int(sim.seeds[i]), sim.true_theta[i])
        assert [t.theta for t in state.tests] == sim.theta[i].tolist()
        assert [t.se for t in state.tests] == sim.se[i].tolist()
        assert [t.n_scored for t in state.tests] == sim.n_items[i].tolist()
        for k, t in enumerate(state.tests):
            given = sim.items[k][i][sim.items[k][i] >= 0]
            assert list(plan.banks[k].indices_of(t.administered)) == given.tolist()
        assert state.stop_reason == sim.stop_reason[i]
        assert [state.opened.index(k) for k in range(3)] == sim.position[i].tolist()


def test_replay_never_gives_an_item_the_learner_did_not_answer(demo_plan):
    rng = np.random.default_rng(0)
    n = 200
    full = [rng.integers(0, b.n_categories, size=(n, len(b))) for b in demo_plan.banks]
    sparse = [np.where(rng.random(m.shape) < 0.7, m, -1) for m in full]
    sim = simulate_battery(demo_plan, replay=sparse, seed=1)
    assert np.isnan(sim.true_theta).all()
    for k in range(3):
        items = sim.items[k]
        rows, cols = np.nonzero(items >= 0)
        assert (sparse[k][rows, items[rows, cols]] >= 0).all()
    # with complete data, replay equals live sessions answering from the same matrix
    sim = simulate_battery(demo_plan, replay=full, seed=2)
    for i in range(0, n, 20):
        state = start(demo_plan, seed=int(sim.seeds[i]))
        while not state.finished:
            k = state.current
            answer = int(full[k][i, demo_plan.banks[k].index_of(state.pending_item)])
            state = respond(demo_plan, state, state.pending_item, answer)
        assert [t.theta for t in state.tests] == sim.theta[i].tolist()


def test_replay_input_problems_are_named(demo_plan):
    with pytest.raises(Exception, match=r"replay\[1\] \(project-management\): shape"):
        simulate_battery(demo_plan, replay=[np.zeros((3, 120)), np.zeros((3, 5)),
                                            np.zeros((3, 120))])  # fmt: skip


def test_state_errors(demo_plan):
    state = start(demo_plan, seed=5)
    with pytest.raises(ItemMismatchError):
        respond(demo_plan, state, "nope", 1)
    data = state.to_dict()
    data["current"] = 2
    with pytest.raises(InvalidStateError, match="current"):
        BatteryState.from_dict(data)
    done = run_live(demo_plan, 5, [0, 0, 0])
    with pytest.raises(TestFinishedError):
        respond(demo_plan, done, "coding-001", 1)
    other = plan_from({**demo_dict(), "sections": demo_dict()["sections"][:2],
                       "correlations": None})  # fmt: skip
    with pytest.raises(InvalidStateError, match="sections"):
        respond(other, state, state.pending_item, 1)
