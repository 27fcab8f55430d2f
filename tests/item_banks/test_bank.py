"""ItemBank: grouping, vectorised maths against the models, validation, immutability."""

from __future__ import annotations

import numpy as np
import pytest

from item_banks import BankValidationError, Item, ItemBank, get_model
from item_banks.errors import UnknownItemError
from item_banks.examples import DEMO_BANK_PATH, build_skills_demo
from item_banks.io import read_bank


def _mixed_bank() -> ItemBank:
    return ItemBank(
        [
            Item("m1", "3pl", {"a": 1.2, "b": 0.3, "c": 0.2}),
            Item("g1", "grm", {"a": 1.5, "b1": -1.0, "b2": 0.0, "b3": 1.2}),
            Item("t1", "2pl", {"a": 0.8, "b": -0.5}),
            Item("p1", "gpcm", {"a": 0.9, "b1": 0.4, "b2": -0.2}),
            Item("m2", "3pl", {"a": 2.0, "b": -1.0, "c": 0.1}),
        ],
        name="mixed",
    )


def test_bank_maths_equals_each_items_model() -> None:
    bank = _mixed_bank()
    theta = np.array([-2.0, 0.0, 1.5])
    logp = bank.log_prob(theta)
    info = bank.information(theta)
    dth = bank.dlog_prob_dtheta(theta)
    assert logp.shape == (3, 5, 4)
    for i, item in enumerate(bank):
        model, k = get_model(item.model), item.n_categories
        p = item.param_vector()
        np.testing.assert_allclose(logp[:, i, :k], model.log_prob(theta, p)[:, 0])
        assert np.all(logp[:, i, k:] == -np.inf)
        np.testing.assert_allclose(dth[:, i, :k], model.dlog_prob_dtheta(theta, p)[:, 0])
        np.testing.assert_allclose(info[:, i], model.information(theta, p)[:, 0])
    np.testing.assert_allclose(bank.prob(theta).sum(-1), 1.0)


def test_selected_items_follow_the_requested_order() -> None:
    bank = _mixed_bank()
    sel = bank.indices_of(["p1", "m1", "m2"])
    theta = [0.3]
    np.testing.assert_allclose(bank.information(theta, sel), bank.information(theta)[:, sel])
    np.testing.assert_allclose(bank.log_prob(theta, sel), bank.log_prob(theta)[:, sel, :3])


def test_log_likelihood_sums_the_answered_categories() -> None:
    bank = _mixed_bank()
    items = bank.indices_of(["g1", "t1", "m2"])
    responses = [3, 0, 1]
    theta = np.linspace(-3, 3, 7)
    expected = sum(
        get_model(bank[iid].model).log_prob(theta, bank[iid].param_vector())[:, 0, x]
        for iid, x in zip(["g1", "t1", "m2"], responses, strict=True)
    )
    np.testing.assert_allclose(bank.log_likelihood(theta, items, responses), expected)


def test_groups_are_read_only_and_cover_every_item() -> None:
    bank = _mixed_bank()
    covered = np.sort(np.concatenate([g.indices for g in bank.groups]))
    np.testing.assert_array_equal(covered, np.arange(len(bank)))
    with pytest.raises(ValueError):
        bank.groups[0].params[0, 0] = 5.0
    with pytest.raises(AttributeError):
        bank.items[0].item_id = "x"  # type: ignore[misc]


def test_unknown_item_id_is_a_named_error() -> None:
    with pytest.raises(UnknownItemError, match="'nope'"):
        _mixed_bank().index_of("nope")


def test_every_problem_is_reported_at_once_with_item_and_field() -> None:
    items = [
        Item("q1", "2pl", {"a": -0.5, "b": 0.0}),
        Item("q1", "2pl", {"a": 1.0, "b": 0.0}),
        Item("q2", "5pl", {"a": 1.0, "b": 0.0}),
        Item("q3", "3pl", {"a": 1.0, "b": 0.0, "c": 1.3}),
        Item("q4", "4pl", {"a": 1.0, "b": 0.0, "c": 0.3, "u": 0.2}),
        Item("q5", "grm", {"a": 1.0, "b1": 0.5, "b2": 0.1}),
        Item("q6", "2pl", {"a": 1.0, "b": float("inf")}),
        Item("q7", "rsm", {"b": 0.0, "t1": 0.1}),
        Item("q8", "2pl", {"a": 1.0, "b": 0.0}, n_categories=3),
        Item("q9", "2pl", {"a": 1.0, "b": 0.0}, status="archived"),
    ]
    with pytest.raises(BankValidationError) as info:
        ItemBank(items, name="bad")
    found = {(p.item_id, p.field) for p in info.value.problems}
    assert found == {
        ("q1", "a"),
        ("q1", "item_id"),
        ("q2", "model"),
        ("q3", "c"),
        ("q4", "u"),
        ("q5", "b2"),
        ("q6", "b"),
        ("q7", "n_categories"),
        ("q8", "n_categories"),
        ("q9", "status"),
    }
    message = str(info.value)
    assert "10 problems" in message
    for fragment in ("-0.5", "duplicate", "'5pl'", "1.3", "0.2", "inf", "archived"):
        assert fragment in message


def test_demo_bank_file_is_what_the_generator_makes() -> None:
    assert read_bank(DEMO_BANK_PATH) == build_skills_demo()
    bank = read_bank(DEMO_BANK_PATH)
    assert {it.model for it in bank} == {"2pl", "3pl", "grm"}
    assert {it.status for it in bank} == {"operational", "pretest"}
    enemies = [g for it in bank for g in it.enemy_groups]
    assert enemies and all(enemies.count(g) == 2 for g in enemies)


def test_practice_demo_file_is_reproducible_and_all_practice():
    from item_banks.examples.practice_demo import PRACTICE_DEMO_PATH, build_practice_demo

    bank = read_bank(PRACTICE_DEMO_PATH)
    assert bank.to_dict() == build_practice_demo().to_dict()
    assert {it.status for it in bank} == {"practice"}
    assert all(set(it.feedback) == set(range(it.n_categories)) for it in bank)
