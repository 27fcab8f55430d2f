"""A psychometrician's first day with ``zapcat calibrate``: real files, real mistakes."""

from __future__ import annotations

import json
import shlex

import pandas as pd
import pytest
from calib_helpers import DATA
from typer.testing import CliRunner

from api.cli import app
from calibration import calibrate, read_responses
from item_banks.io import read_bank

runner = CliRunner()
ENV = {"COLUMNS": "400"}


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


@pytest.fixture(scope="module")
def bfi_agree(tmp_path_factory):
    """The agreeableness scale of bfi (A1 reverse keyed), with its missing cells."""
    frame = pd.read_csv(DATA / "bfi.csv", dtype=str, keep_default_na=False)
    path = tmp_path_factory.mktemp("bfi") / "bfi_a.csv"
    frame[["person", "A1", "A2", "A3", "A4", "A5"]].to_csv(path, index=False)
    return path


# ----------------------------------------------------------- 2. a refused fit
def test_refused_fit_still_writes_scores_fit_summary_and_the_fixing_command(tmp_path, bfi_agree):
    out, scores, fit = tmp_path / "a.json", tmp_path / "scores.csv", tmp_path / "fit.csv"
    res = _run("calibrate", bfi_agree, "--model", "grm", "--out", out, "--scores", scores,
               "--fit", fit)  # fmt: skip
    assert res.exit_code == 1
    assert "Zapcat calibration" in res.stdout  # the summary
    assert not out.exists()
    assert len(pd.read_csv(scores)) == 2800
    assert list(pd.read_csv(fit)["item_id"]) == ["A1", "A2", "A3", "A4", "A5"]
    command = (
        f"zapcat calibrate {bfi_agree} --model grm --out {out} --scores {scores} --fit {fit} "
        "--reverse A1"
    )
    assert f"not written: {out}. To reverse-score them:\n  {command}\n" in res.stderr
    assert "or leave them out with --drop A1" in res.stderr
    # the command printed is the way forward
    again = _run(*shlex.split(command)[1:])
    assert again.exit_code == 0, again.stderr
    bank = read_bank(out)
    assert bank["A1"].params["a"] > 0
    assert bank["A1"].codes == (6, 5, 4, 3, 2, 1)
    assert bank["A2"].codes == (1, 2, 3, 4, 5, 6)


def test_drop_and_reverse_options(tmp_path, bfi_agree):
    out = tmp_path / "a.json"
    res = _run("calibrate", bfi_agree, "--model", "grm", "--out", out, "--drop", "A1")
    assert res.exit_code == 0, res.stderr
    assert read_bank(out).item_ids == ("A2", "A3", "A4", "A5")
    res = _run("calibrate", bfi_agree, "--model", "grm", "--out", out, "--drop", "A9")
    assert res.exit_code == 1
    assert "--drop names item(s) not in the data: 'A9'; items: A1, A2, A3, A4, A5" in res.stderr
    # reversing is exact: same fit as recoding the file by hand
    frame = pd.read_csv(bfi_agree)
    frame["A1"] = 7 - frame["A1"]
    by_hand = calibrate(read_responses(frame), "grm")
    res = _run("calibrate", bfi_agree, "--model", "grm", "--out", out, "--reverse", "A1")
    assert res.exit_code == 0
    bank = read_bank(out)
    assert bank["A1"].params["a"] == pytest.approx(by_hand.params.loc["A1", "a"], rel=1e-6)


# ----------------------------------------------------------------- 3. data files
def test_missing_codes_are_not_categories(tmp_path):
    frame = pd.read_csv(DATA / "science_attitude.csv")
    frame.loc[::7, "Work"] = 9
    frame.loc[::11, "Future"] = -1
    path = tmp_path / "coded.csv"
    frame.to_csv(path, index=False)
    plain = read_responses(path)
    assert plain.category_codes[2] == (1, 2, 3, 4, 9)  # what happened before --missing
    data = read_responses(path, missing="-1,9,NA")
    assert data.category_codes[2] == (1, 2, 3, 4)
    assert data.category_codes[3] == (1, 2, 3, 4)
    assert data.n_observed == 392 * 7 - len(frame.loc[::7]) - len(frame.loc[::11])
    out = tmp_path / "b.json"
    res = _run("calibrate", path, "--model", "grm", "--out", out, "--missing", "-1,9")
    assert res.exit_code == 0
    assert "note: missing-value codes: -1, 9" in res.stdout
    assert read_bank(out)["Work"].n_categories == 4


def test_category_mapping_is_kept_in_the_bank_and_said(tmp_path):
    out = tmp_path / "lfs.json"
    res = _run("calibrate", DATA / "liking_for_science.csv", "--model", "pcm", "--out", out)
    assert res.exit_code == 0
    assert (
        "categories        act12: codes 1->0, 2->1 (code 0 of other items not used: 2 categories)"
    ) in res.stdout
    doc = json.loads(out.read_text())
    act12 = next(it for it in doc["items"] if it["item_id"] == "act12")
    assert act12["codes"] == [1, 2] and act12["n_categories"] == 2
    res = _run("calibrate", DATA / "liking_for_science.csv", "--model", "rsm", "--out", out)
    assert res.exit_code == 1
    assert (
        "way out: leave the items out (--drop act12), or calibrate with --model pcm"
    ) in res.stderr


def test_utf16_and_semicolon_files_are_read(tmp_path):
    frame = pd.read_csv(DATA / "science_attitude.csv")
    reference = read_responses(DATA / "science_attitude.csv")
    utf16, semi = tmp_path / "u16.csv", tmp_path / "semi.csv"
    frame.to_csv(utf16, index=False, encoding="utf-16")
    frame.to_csv(semi, index=False, sep=";")
    for path, note in ((utf16, "read as UTF-16 (byte-order mark)"),
                       (semi, "columns separated by semicolons")):  # fmt: skip
        data = read_responses(path)
        assert data.item_ids == reference.item_ids
        assert (data.to_matrix() == reference.to_matrix()).all()
        assert note in data.notes


def test_long_file_without_layout_and_unnamed_id_column_say_the_fix(tmp_path):
    frame = pd.read_csv(DATA / "science_attitude.csv")
    long = frame.melt(id_vars="person", var_name="item", value_name="response")
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False)
    res = _run("calibrate", path, "--out", tmp_path / "x.json")
    assert res.exit_code == 1
    assert (
        "  - likely cause: the file looks like the long layout (one row per response, columns "
        "person, item, response): use --layout long with --id-column, --item-column and "
        "--response-column naming its columns"
    ) in res.stderr
    assert len(res.stderr.splitlines()) < 30  # capped: the first problems, then a count
    assert "  ... and 2344 more" in res.stderr
    renamed = tmp_path / "student.csv"
    frame.rename(columns={"person": "student"}).to_csv(renamed, index=False)
    res = _run("calibrate", renamed, "--model", "grm", "--out", tmp_path / "x.json")
    assert res.exit_code == 1
    assert (
        "column 'student' has a different value in every row (392), as a person id has, not "
        "an item: use --id-column student"
    ) in res.stderr
    ok = _run("calibrate", renamed, "--model", "grm", "--id-column", "student",
              "--out", tmp_path / "x.json")  # fmt: skip
    assert ok.exit_code == 0


def test_bank_validate_on_a_response_file_is_short_and_says_what_it_is():
    res = _run("bank", "validate", DATA / "bfi.csv")
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert len(lines) < 10
    assert "this does not look like an item bank table" in res.stderr
    assert "`zapcat calibrate`" in res.stderr


def test_long_bank_error_listing_is_capped_with_all_option(tmp_path):
    rows = ["item_id,model,a,b"] + [f"q{i},2pl,-1,0" for i in range(60)]
    path = tmp_path / "neg.csv"
    path.write_text("\n".join(rows) + "\n")
    res = _run("bank", "validate", path)
    assert res.exit_code == 1
    assert "  - row 2, item 'q0', field 'a': discrimination a must be > 0, got -1.0" in res.stderr
    assert "  ... and 40 more (--all lists every one)" in res.stderr
    assert len(res.stderr.splitlines()) == 22
    res = _run("bank", "validate", path, "--all")
    assert len(res.stderr.splitlines()) == 61
    assert "np.float64" not in res.stderr


# ------------------------------------------------------------------- 4. fit tables
def test_sx2_blank_says_why_in_cli_and_csv(tmp_path, bfi_agree):
    fit = tmp_path / "fit.csv"
    res = _run("calibrate", bfi_agree, "--model", "grm", "--reverse", "A1", "--out",
               tmp_path / "b.json", "--fit", fit)  # fmt: skip
    assert res.exit_code == 0
    table = pd.read_csv(fit)
    assert table["sx2"].isna().all()
    assert (table["sx2_note"] == "incomplete data").all()
    n_missing = 2800 * 5 - read_responses(bfi_agree).n_observed
    assert (
        f"note: S-X2 needs complete data: {n_missing} of 14000 responses are missing"
    ) in res.stdout


def test_sx2_df_never_negative_on_kct(tmp_path):
    result = calibrate(read_responses(DATA / "kct.csv"), "2pl")
    fit = result.item_fit()
    df = fit["sx2_df"].dropna()
    assert (df > 0).all()
    reasons = fit.attrs["item_notes"]
    assert reasons  # the items without S-X2 say why
    for item in fit.index[fit["sx2"].isna()]:
        assert reasons[item].startswith("too few persons: pooled to expected counts >= 1,")


def test_prior_in_effect_shows_penalised_loglik():
    from calibration import ResponseData

    rng = __import__("numpy").random.default_rng(2)
    import numpy as np

    theta = rng.normal(size=1500)
    b = np.linspace(-1.5, 1.5, 10)
    p = 0.2 + 0.8 / (1 + np.exp(-1.2 * (theta[:, None] - b)))
    data = ResponseData.from_matrix((rng.random(p.shape) < p).astype(int))
    result = calibrate(data, "3pl")
    assert result.priors
    penalised = result.loglik + result.problem.log_prior(result.beta)
    assert result.penalised_loglik == pytest.approx(penalised)
    assert result.penalised_loglik != pytest.approx(result.loglik)
    text = str(result.summary())
    assert (
        f"log-likelihood    {result.loglik:.3f} (penalised by the priors: "
        f"{result.penalised_loglik:.3f}; a prior is in effect"
    ) in text
    assert result.provenance()["penalised_loglik"] == pytest.approx(penalised)


# ------------------------------------------------------------------ 5. bank files
def test_bank_csv_with_fixed_default_columns_is_accepted(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text(
        "item_id,model,a,b,c,u\nq1,2pl,1.2,0.5,0,1\nq2,3pl,1.0,0.0,0.2,1\nq3,rasch,1,0.3,0,1\n"
    )
    bank = read_bank(path)
    assert dict(bank["q1"].params) == {"a": 1.2, "b": 0.5}
    assert dict(bank["q2"].params) == {"a": 1.0, "b": 0.0, "c": 0.2}
    assert dict(bank["q3"].params) == {"b": 0.3}
    path.write_text("item_id,model,a,b,c\nq1,2pl,1.2,0.5,0.2\n")
    res = _run("bank", "validate", path)
    assert res.exit_code == 1
    assert (
        "row 2, item 'q1', field 'n_categories': model '2pl' takes parameters a, b; "
        "got a = 1.2, b = 0.5, c = 0.2"
    ) in res.stderr


def test_capped_data_errors_and_the_option_listing_every_one(tmp_path):
    frame = pd.read_csv(DATA / "science_attitude.csv")
    path = tmp_path / "long.csv"
    frame.melt(id_vars="person", var_name="item", value_name="response").to_csv(path, index=False)
    capped = _run("calibrate", path, "--out", tmp_path / "x.json")
    assert "  ... and 2344 more (--all-problems lists every one)" in capped.stderr
    every = _run("calibrate", path, "--out", tmp_path / "x.json", "--all-problems")
    assert every.exit_code == 1
    assert len([x for x in every.stderr.splitlines() if x.startswith("  - ")]) == 20 + 2344


def test_simulate_says_which_flagged_items_it_leaves_out(tmp_path):
    result = calibrate(read_responses(DATA / "kct.csv"), "2pl")
    path = tmp_path / "kct.json"
    from item_banks.io import write_bank

    write_bank(result.to_item_bank("kct"), path)
    held = result.diverged_items()
    flagged = list(dict.fromkeys(f.item_id for f in result.flags))
    res = _run("simulate", path, "--n", "50", "--out", tmp_path / "sim.json")
    assert res.exit_code == 0
    assert (
        f"note: {len(flagged)} flagged item(s) are not administered ({', '.join(flagged)})"
    ) in res.stderr
    assert set(held) <= set(flagged)
    rep = json.loads((tmp_path / "sim.json").read_text())
    assert not set(rep["exposure"]["rates"]) & set(flagged)


def test_flagged_fit_prints_the_command_whose_priors_take_the_flags(tmp_path):
    out = tmp_path / "kct.json"
    res = _run("calibrate", DATA / "kct.csv", "--model", "2pl", "--out", out)
    assert res.exit_code == 0
    assert "(converged)" not in res.stdout
    command = (
        f"zapcat calibrate {DATA / 'kct.csv'} --out {out} --prior 'a=lognormal(0,0.5)' "
        "--prior 'b=normal(0,2)'"
    )
    assert f"to refit with priors that take the flagged parameters:\n  {command}\n" in res.stdout
    assert "or leave the flagged items out:\n" in res.stdout
    again = _run(*shlex.split(command)[1:])
    assert again.exit_code == 0
    assert "EM steps          " in again.stdout and " (converged)" in again.stdout
    assert "flagged items" not in again.stdout
    assert not any(it.flags for it in read_bank(out))
