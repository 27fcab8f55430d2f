"""A live adaptive test: pure functions of (bank, config, state).

:func:`start` opens a test, :func:`respond` records one response and chooses the next item
(or finishes the test), :func:`result` reports it. The state is an immutable
:class:`~engine.state.CATState`; nothing is kept between calls except caches of arrays
derived from the (immutable) bank and config. Batch simulation runs the same kernels
(:mod:`engine._core`) on many examinees at once.

Examples
--------
>>> from item_banks import read_bank
>>> from item_banks.examples import DEMO_BANK_PATH
>>> from engine.config import CATConfig
>>> bank, config = read_bank(DEMO_BANK_PATH), CATConfig(max_items=5)
>>> state = start(bank, config, seed=7)
>>> while not state.finished:
...     state = respond(bank, config, state, state.pending_item, 1)
>>> result(bank, config, state)["n_items"]
5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine._core import Rows, classified, estimate, get_plan, record, rows_from_history, select
from engine.config import CATConfig
from engine.exposure import capped_items
from engine.state import CATState
from engine.stopping import STOP_REASONS, stop_codes
from item_banks.bank import ItemBank
from item_banks.errors import (
    BankExhaustedError,
    InvalidResponseError,
    InvalidStateError,
    ItemMismatchError,
    TestFinishedError,
)


def _item_id(plan, index: int) -> str:
    return plan.item_ids[index]


def _new_state(plan, rows: Rows, base: CATState | None, pending: int, code: int) -> CATState:
    finished = code >= 0 or pending < 0
    reason = STOP_REASONS[code] if code >= 0 else ("bank_exhausted" if pending < 0 else None)
    m = int(rows.n_total[0])
    ids = plan.item_ids
    return CATState(
        administered=tuple(map(ids.__getitem__, rows.hist_items[0, :m].tolist())),
        responses=tuple(rows.hist_resp[0, :m].tolist()),
        theta=float(rows.theta[0]),
        se=float(rows.se[0]),
        pending_item=None if finished else ids[pending],
        finished=finished,
        stop_reason=reason,
        seed=int(rows.seed[0]),
        scored=tuple(rows.hist_scored[0, :m].tolist()),
        rejected=tuple(map(ids.__getitem__, rows.rejected[0])),
        pretest_positions=tuple(rows.pretest_pos[0].tolist()),
        start_theta=float(rows.start_theta[0]),
        theta_history=(*base.theta_history, float(rows.theta[0])) if base else (),
        se_history=(*base.se_history, float(rows.se[0])) if base else (),
        prior_mean=None if rows.prior is None else float(rows.prior[0][0]),
        prior_sd=None if rows.prior is None else float(rows.prior[1][0]),
    )


def start(
    bank: ItemBank,
    config: CATConfig,
    *,
    seed: int,
    exposure: Mapping[str, int] | None = None,
    prior: tuple[float, float] | None = None,
) -> CATState:
    """Open a test and choose its first item.

    Parameters
    ----------
    bank : ItemBank
    config : CATConfig
        Validated against the bank on first use (then cached).
    seed : int
        Seed of every random draw of the test, ``0 <= seed < 2**53``.
    exposure : mapping of str to int, optional
        Exposure counts kept outside the bank: ``{item_id: tests that gave it,
        "__tests__": tests started}``; used by ``config.max_exposure_rate``.
    prior : (float, float) or {"mean": float, "sd": float}, optional
        The test's own normal prior ``(mean, sd)``, ``sd > 0`` (for example a returning
        examinee's last ``(theta, se)``, or a battery's conditional prior); kept in the
        state. The test starts at the prior mean (plus the start spread), EAP/MAP and
        the posterior-weighted selectors use it. By default the configuration's prior.

    Returns
    -------
    CATState
        ``pending_item`` is the first item, or the state is finished with stop reason
        ``"bank_exhausted"`` when no item can be given.

    Raises
    ------
    InvalidConfigError
        When the config does not fit the bank.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**53:
        raise InvalidStateError(f"seed must be an integer in 0..2**53-1, got {seed!r}")
    plan = get_plan(bank, config)
    own = None
    if prior is not None:
        mean, sd = _check_prior(prior)
        own = (np.array([mean]), np.array([sd]))
    rows = Rows(plan, np.array([int(seed)]), prior=own)
    idx = np.zeros(1, dtype=np.intp)
    pending = int(select(plan, rows, idx, capped_items(plan, exposure))[0])
    return _new_state(plan, rows, None, pending, -1)


def _check_prior(prior: Any) -> tuple[float, float]:
    if isinstance(prior, Mapping) and set(prior) == {"mean", "sd"}:
        prior = (prior["mean"], prior["sd"])
    try:
        mean, sd = (float(v) for v in prior)
    except (TypeError, ValueError):
        raise InvalidStateError(f"prior must be (mean, sd), got {prior!r}") from None
    if not (math.isfinite(mean) and math.isfinite(sd) and sd > 0):
        raise InvalidStateError(
            f"prior must be a finite mean and an sd > 0, got ({mean!r}, {sd!r})",
            details={"prior": [repr(mean), repr(sd)]},
        )
    return mean, sd


def _check_response(bank: ItemBank, item_id: str, response: Any) -> int:
    k = int(bank.n_categories[bank.index_of(item_id)])
    if isinstance(response, bool) or not isinstance(response, int | np.integer):
        raise InvalidResponseError(
            f"response to item {item_id!r} must be an integer category 0..{k - 1}, "
            f"got {response!r}",
            details={"item_id": item_id, "response": repr(response)},
        )
    if not 0 <= int(response) < k:
        raise InvalidResponseError(
            f"response {int(response)} to item {item_id!r} is not a category 0..{k - 1}",
            details={"item_id": item_id, "response": int(response)},
        )
    return int(response)


def _rebuild(plan, state: CATState) -> Rows:
    index = plan.index
    try:
        items = np.array([index[i] for i in state.administered], dtype=np.intp)
        rejected = np.array([index[i] for i in state.rejected], dtype=np.intp)
    except KeyError as error:
        raise InvalidStateError(
            f"state refers to unknown item id {error.args[0]!r} in bank {plan.bank.name!r}"
        ) from None
    resp = np.array(state.responses, dtype=np.intp)
    rows = rows_from_history(
        plan, state.seed, items, resp, rejected, state.pretest_positions, state.start_theta,
        prior=state.prior, se_history=state.se_history,
    )  # fmt: skip
    rows.theta[0], rows.se[0] = state.theta, state.se
    return rows


def respond(
    bank: ItemBank,
    config: CATConfig,
    state: CATState,
    item_id: str,
    response: int,
    *,
    exposure: Mapping[str, int] | None = None,
) -> CATState:
    """Record the response to the pending item, re-estimate, stop or choose the next item.

    Parameters
    ----------
    bank, config : the test's bank and configuration
    state : CATState
        Current state (not modified).
    item_id : str
        Must equal ``state.pending_item``.
    response : int
        Category ``0 .. K-1`` of that item.
    exposure : mapping, optional
        Exposure counts (see :func:`start`).

    Returns
    -------
    CATState
        The new state: finished (with ``stop_reason``) or with the next ``pending_item``.

    Raises
    ------
    TestFinishedError
        When ``state.finished``.
    ItemMismatchError
        When ``item_id`` is not the pending item.
    InvalidResponseError
        When ``response`` is not an integer category of the item.
    """
    if state.finished:
        raise TestFinishedError(
            f"the test has finished ({state.stop_reason}); no more responses are accepted",
            details={"stop_reason": state.stop_reason},
        )
    if item_id != state.pending_item:
        raise ItemMismatchError(
            f"response is for item {item_id!r} but the pending item is {state.pending_item!r}",
            details={"item_id": item_id, "pending_item": state.pending_item},
        )
    value = _check_response(bank, item_id, response)
    plan = get_plan(bank, config)
    rows = _rebuild(plan, state)
    idx = np.zeros(1, dtype=np.intp)
    item = np.array([bank.index_of(item_id)], dtype=np.intp)
    record(plan, rows, idx, item, np.array([value], dtype=np.intp))
    estimate(plan, rows, idx)
    code = int(stop_codes(plan, rows, idx)[0])
    pending = -1
    if code < 0:
        pending = int(select(plan, rows, idx, capped_items(plan, exposure))[0])
    return _new_state(plan, rows, state, pending, code)


def result(bank: ItemBank, config: CATConfig, state: CATState) -> dict[str, Any]:
    """JSON-ready report of a test (finished or not).

    Returns
    -------
    dict
        ``theta``, ``se``, ``n_items`` (scored), ``n_administered``, ``finished``,
        ``stop_reason``, ``items`` (``item_id``, ``response``, ``scored``, ``theta``,
        ``se`` after it), ``show_results``, and ``classification`` (``category`` = number
        of cut scores at or below theta, ``cut_scores``, ``decided``) when cut scores are
        set.
    """
    out: dict[str, Any] = {
        "theta": state.theta,
        "se": state.se,
        "n_items": state.n_scored,
        "n_administered": state.n_items,
        "finished": state.finished,
        "stop_reason": state.stop_reason,
        "estimator": config.estimator,
        "show_results": config.show_results,
        "items": [],
    }
    history = zip(state.administered, state.responses, state.scored, state.theta_history,
                  state.se_history, strict=True)  # fmt: skip
    for i, r, s, t, e in history:
        out["items"].append({"item_id": i, "response": r, "scored": s, "theta": t, "se": e})
    if config.cut_scores:
        cuts = np.asarray(config.cut_scores)
        category = int(np.searchsorted(cuts, state.theta, side="right"))
        decided = None
        if config.classification is not None and state.administered:
            plan = get_plan(bank, config)
            decided = bool(classified(plan, _rebuild(plan, state), np.zeros(1, dtype=np.intp))[0])
        out["classification"] = {
            "cut_scores": list(config.cut_scores),
            "category": category,
            "rule": config.classification,
            "decided": decided,
        }
    return out


def next_item(
    bank: ItemBank,
    config: CATConfig,
    state: CATState,
    *,
    exposure: Mapping[str, int] | None = None,
) -> str:
    """The item the engine would administer next from ``state`` (no state change).

    Sympson-Hetter refusals made on the way are not recorded (use :func:`respond`,
    which does).

    Raises
    ------
    BankExhaustedError
        When no admissible item is left (already given, refused, enemy of a given item,
        not operational, or excluded by a content maximum).
    TestFinishedError
        When ``state.finished``.
    """
    if state.finished:
        raise TestFinishedError(f"the test has finished ({state.stop_reason})")
    plan = get_plan(bank, config)
    rows = _rebuild(plan, state)
    pick = int(select(plan, rows, np.zeros(1, dtype=np.intp), capped_items(plan, exposure))[0])
    if pick < 0:
        raise BankExhaustedError(
            f"no admissible item is left in bank {bank.name!r} after {state.n_items} items",
            details={"n_items": state.n_items},
        )
    return plan.item_ids[pick]


__all__ = ["next_item", "respond", "result", "start"]
