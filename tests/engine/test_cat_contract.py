"""One contract suite over every selector and every stopping rule.

For each combination: no item is ever given twice, given while retired, refused by
exposure control, an enemy of a given item, or a pretest item outside the seeded
positions; the same seed gives the same test; a state survives JSON at every step; an
exhausted bank ends the test (``bank_exhausted``) and ``next_item`` raises the one named
error.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.config import CATConfig
from engine.session import next_item, respond, result, start
from engine.state import CATState
from item_banks.errors import BankExhaustedError

SELECTORS = {
    "mfi": {"selector": "mfi"},
    "kl": {"selector": "kl"},
    "mepv": {"selector": "mepv"},
    "mpwi": {"selector": "mpwi"},
    "a_stratified": {"selector": "a_stratified", "n_strata": 3},
    "shadow": {"selector": "shadow"},
    "randomesque": {"selector": "mfi", "randomesque": 4},
    "sympson_hetter": {"selector": "mfi", "exposure": "sympson_hetter",
                       "exposure_params": {"q005": 0.3, "q006": 0.3, "q010": 0.2, "q015": 0.4}},
}  # fmt: skip
STOPPERS = {
    "se": {"stop_se": 0.45, "max_items": 12},
    "length": {"stop_se": None, "min_items": 8, "max_items": 8},
    "sprt": {"stop_se": None, "cut_scores": [0.0], "classification": "sprt", "max_items": 12},
    "ci": {"stop_se": None, "cut_scores": [-0.5, 0.7], "classification": "ci", "max_items": 12},
    "all": {"stop_se": 0.5, "cut_scores": [0.0], "classification": "ci", "stop_combine": "all",
            "max_items": 12, "min_items": 3},
}  # fmt: skip


def _config(sel: str, stop: str, **extra) -> CATConfig:
    data = {
        **SELECTORS[sel],
        **STOPPERS[stop],
        "content": {"alg": {"min": 2, "max": 5}},
        "pretest_count": 1,
        "pretest_first": 2,
        "pretest_last": 4,
        **extra,
    }
    return CATConfig.from_dict(data)


def _run(bank, config, seed, answer_seed, *, via_json=False):
    rng = np.random.default_rng(answer_seed)
    state = start(bank, config, seed=seed)
    states = [state]
    while not state.finished:
        k = bank[state.pending_item].n_categories
        if via_json:
            state = CATState.from_dict(json.loads(json.dumps(state.to_dict())))
        state = respond(bank, config, state, state.pending_item, int(rng.integers(0, k)))
        states.append(state)
    return states


@pytest.mark.parametrize("stop", list(STOPPERS))
@pytest.mark.parametrize("sel", list(SELECTORS))
def test_contract(mixed_bank, sel, stop):
    bank = mixed_bank
    config = _config(sel, stop)
    for seed in (1, 2):
        states = _run(bank, config, seed, seed + 10)
        final = states[-1]
        given: list[str] = []
        for state in states[:-1]:
            item = state.pending_item
            assert item is not None and item not in given, "item given twice"
            meta = bank[item]
            assert meta.status != "retired"
            assert item not in state.rejected
            position = state.n_items + 1
            if meta.status == "pretest":
                assert position in state.pretest_positions
            for other in given:
                assert not set(bank[other].enemy_groups) & set(meta.enemy_groups), "enemies"
            given.append(item)
        assert list(final.administered) == given
        assert final.finished and final.pending_item is None
        n_scored = final.n_scored
        assert n_scored <= config.max_items
        reason = final.stop_reason
        assert reason in ("se", "classified", "all_rules", "max_items", "bank_exhausted")
        if reason != "bank_exhausted":
            assert n_scored >= config.min_items
            alg = sum("alg" in bank[i].content_areas for i, s in
                      zip(final.administered, final.scored, strict=True) if s)  # fmt: skip
            assert 2 <= alg <= 5
        if reason == "se":
            assert final.se <= config.stop_se
        if reason == "max_items":
            assert n_scored == config.max_items
        # same seed, same answers: same test
        again = _run(bank, config, seed, seed + 10, via_json=True)
        assert again[-1] == final
        assert again[-1].to_dict() == final.to_dict()
        report = result(bank, config, final)
        assert report["n_items"] == n_scored
        assert len(report["items"]) == final.n_items


@pytest.mark.parametrize("sel", list(SELECTORS))
def test_exhausted_bank_finishes_and_next_item_raises(mixed_bank, sel):
    small = mixed_bank.subset([f"q{i:03d}" for i in range(12, 22)], name="tiny")
    extra = {"exposure_params": {}} if sel == "sympson_hetter" else {}
    config = CATConfig.from_dict({**SELECTORS[sel], **extra, "stop_se": None, "max_items": 30})
    states = _run(small, config, 5, 6)
    final = states[-1]
    assert final.stop_reason == "bank_exhausted"
    n_oper = sum(item.status == "operational" for item in small.items)
    assert final.n_scored == n_oper
    unfinished = CATState.from_dict({**final.to_dict(), "finished": False, "stop_reason": None})
    with pytest.raises(BankExhaustedError) as info:
        next_item(small, config, unfinished)
    assert info.value.code == "bank_exhausted"


def test_next_item_matches_session_choice(mixed_bank):
    config = CATConfig(max_items=6)
    state = start(mixed_bank, config, seed=3)
    state = respond(mixed_bank, config, state, state.pending_item, 1)
    assert next_item(mixed_bank, config, state) == state.pending_item


def test_different_seeds_give_different_tests(bank500):
    config = CATConfig()
    firsts = {start(bank500, config, seed=s).pending_item for s in range(40)}
    assert len(firsts) > 10
