"""Item diagnostics: no degenerate estimate reaches a bank, or a test, silently."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from calib_helpers import DATA

from calibration import ResponseData, calibrate, read_responses
from engine import CATConfig, simulate
from item_banks.io import bank_from_json, bank_to_csv, bank_to_json, read_bank


@pytest.fixture(scope="module")
def kct():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow leaks out
        warnings.simplefilter("ignore", UserWarning)
        return calibrate(read_responses(DATA / "kct.csv"), "2pl")


def test_kct_diverged_slopes_are_flagged_and_fit_not_called_converged(kct):
    by_item = {}
    for flag in kct.flags:
        by_item.setdefault(flag.item_id, set()).add(flag.kind)
    # kct16/kct17: a perfect split of the persons, slope runs to infinity (a > 200)
    assert kct.params.loc["kct16", "a"] > 100
    for item in ("kct08", "kct13", "kct16", "kct17"):
        assert "slope_diverging" in by_item[item]
    assert "location_off_scale" in by_item["kct14"]  # b = 13 on a [-6, 6] scale
    assert kct.em_converged and not kct.converged
    assert kct.diverged_items() == ["kct08", "kct09", "kct13", "kct14", "kct16", "kct17"]
    text = str(kct.summary())
    assert "(converged)" not in text
    assert (
        "EM steps          "
        f"{kct.n_iter} (NOT converged: parameters diverged in kct08, kct09, kct13, kct14, "
        "kct16, kct17; EM's steps became small because those parameters ran off)"
    ) in text
    flag = next(f for f in kct.flags if f.item_id == "kct16" and f.param == "a")
    # a slope running off makes the information (numerically) singular or not, depending on
    # the last bits of the sums (BLAS threads): the SE is shown when there is one
    se = kct.params.loc["kct16", "a_se"]
    se_text = f" (SE {se:.4g})" if np.isfinite(se) else ""
    assert str(flag) == (
        f"kct16: slope a = {kct.params.loc['kct16', 'a']:.4g}{se_text} is diverging (above "
        "10); a prior takes it (--prior 'a=lognormal(0,0.5)'), or leave it out (--drop kct16), "
        "or more data"
    )
    assert f"  - {flag.item_id} {flag.param}: {flag.reason}; {flag.remedy}" in text
    assert kct.provenance()["converged"] is False


def test_kct_bank_records_flags_and_engine_skips_them_unless_accepted(kct):
    bank = kct.to_item_bank("kct")
    flagged = {it.item_id for it in bank if it.flags}
    assert {"kct08", "kct13", "kct16", "kct17"} <= flagged
    assert not bank["kct16"].flags_accepted
    assert bank["kct16"].flags[0].startswith("a: slope a = ")
    # JSON and CSV round-trip the flags and codes
    assert bank_from_json(bank_to_json(bank)) == bank
    import io

    from item_banks.io import bank_from_csv

    assert list(bank_from_csv(io.StringIO(bank_to_csv(bank)), name="kct")) == list(bank)
    config = CATConfig.from_dict({"max_items": 10, "stop_se": 0.01}, bank=bank)
    sims = simulate(bank, config, n=200, seed=3)
    given = {bank.item_ids[i] for i in sims.items.ravel() if i >= 0}
    assert given and not (given & flagged)
    accepted = kct.to_item_bank("kct", accept_flagged=True)
    assert all(it.flags_accepted for it in accepted if it.flags)
    positions = simulate(accepted, config, n=200, seed=3).items.ravel()
    given = {accepted.item_ids[i] for i in positions if i >= 0}
    assert given & flagged  # once accepted, the most informative items are given again


def test_science_attitude_grm_flags_the_two_runaway_items():
    result = calibrate(read_responses(DATA / "science_attitude.csv"), "grm")
    kinds = {(f.item_id, f.param): f.kind for f in result.flags}
    for item in ("Technology", "Environment"):
        assert kinds[(item, "b1")] == "location_off_scale"
        assert kinds[(item, "a")] == "slope_near_zero"
        assert result.params.loc[item, "b1"] < -30
    assert not result.converged
    for item in ("Comfort", "Work", "Future", "Benefit"):
        assert not any(f.item_id == item for f in result.flags)
    # reversing the negatively worded items does not fix a slope near zero: it is the data
    assert "Technology" in result.diverged_items()


def _simulated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    a = rng.uniform(0.8, 2.0, 10)
    b = rng.uniform(-1.5, 1.5, 10)
    p = 1 / (1 + np.exp(-a * (theta[:, None] - b)))
    return (rng.random(p.shape) < p).astype(int), theta


def test_healthy_simulated_2pl_has_no_flag():
    x, _ = _simulated(3000, 5)
    result = calibrate(ResponseData.from_matrix(x), "2pl")
    assert result.flags == []
    assert result.converged
    assert "(converged)" in str(result.summary())


def test_simulated_failures_are_each_flagged():
    x, theta = _simulated(1000, 8)
    rng = np.random.default_rng(9)
    guttman = (theta > 0.3).astype(int)  # a perfect split: the ML slope is infinite
    rare = (rng.random(theta.size) < 0.004).astype(int)  # unrelated to theta, 4 in 1000
    data = ResponseData.from_matrix(np.column_stack([x, guttman, rare]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = calibrate(data, "2pl")
    kinds = {f.item_id: set() for f in result.flags}
    for f in result.flags:
        kinds[f.item_id].add(f.kind)
    assert "slope_diverging" in kinds["item11"]
    assert {"slope_near_zero", "location_off_scale"} <= kinds["item12"]
    assert set(kinds) == {"item11", "item12"}
    assert result.diverged_items() == ["item11", "item12"]
    assert not result.converged
    # the remedy named works: a prior on the slope keeps the Guttman item finite
    fixed = calibrate(data, "2pl", priors={"a": "lognormal(0,0.5)", "b": "normal(0,2)"})
    assert fixed.params.loc["item11", "a"] < 10
    assert "item11" not in fixed.diverged_items()


def test_bank_file_reader_keeps_flags(tmp_path, kct):
    path = tmp_path / "kct.json"
    path.write_text(bank_to_json(kct.to_item_bank("kct")))
    bank = read_bank(path)
    assert bank["kct16"].flags and not bank["kct16"].usable
    assert bank["kct04"].codes == (0.0, 1.0)
