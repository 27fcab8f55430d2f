"""The HTML report of a calibration (``zapcat calibrate ... --report``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from calibration import plots as calibration_plots
from calibration.results import CalibrationResult
from item_banks import plots
from item_banks.bank import ItemBank
from item_banks.report import HtmlReport, new_figure


def calibration_report(
    result: CalibrationResult, *, bank: ItemBank | None = None, title: str | None = None
) -> HtmlReport:
    """A self-contained HTML report of a calibration.

    Sections: summary (data, models, priors, log-likelihood, AIC/BIC, convergence,
    quadrature, excluded items and persons), parameters with standard errors and 95%
    intervals, item fit (S-X2, infit/outfit, RMSD; overview plot and table), test
    information with conditional SE, and a Wright map of the persons' EAP abilities
    (:meth:`CalibrationResult.scores`) against the item locations.

    Parameters
    ----------
    result : CalibrationResult
    bank : ItemBank, optional
        The bank written from ``result`` (default ``result.to_item_bank()``). When some
        items have negative slopes there is no bank: the report names them and leaves out
        the test information and the Wright map.
    title : str, optional

    Returns
    -------
    HtmlReport

    Examples
    --------
    >>> import numpy as np
    >>> from calibration import calibrate
    >>> from calibration.data import ResponseData
    >>> rng = np.random.default_rng(1)
    >>> theta, b = rng.normal(size=1000), np.linspace(-1, 1, 6)
    >>> x = (rng.random((1000, 6)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(int)
    >>> calibration_report(calibrate(ResponseData.from_matrix(x), "2pl")).figure_ids
    ['fig-item-fit-overview', 'fig-test-information-and-conditional-se', 'fig-wright-map']
    """
    negative = list(result.negative_slopes())
    if bank is None and not negative:
        bank = result.to_item_bank()
    prov = result.provenance()
    report = HtmlReport(title or f"Calibration of {result.data.source}")
    report.heading("Summary")
    summary: dict[str, Any] = {
        "data": f"{prov['data_file']} ({prov['n_persons']} persons, {prov['n_items']} items, "
        f"{prov['n_responses']} responses, {100 * result.data.density:.1f}% observed)",
        "data SHA-256": prov["data_sha256"],
        "models": ", ".join(f"{m}: {n}" for m, n in prov["models"].items()),
        "method": prov["method"],
        "priors": ", ".join(f"{k} ~ {v}" for k, v in prov["priors"].items()) or "none",
        "log-likelihood": result.summary()._loglik_line(),
        "AIC / BIC": f"{result.aic:.2f} / {result.bic:.2f}",
        "parameters": result.n_params,
        "EM steps": result.summary()._em_line(),
        "quadrature": f"{prov['quadrature']['n_points']} points on "
        f"{prov['quadrature']['range']}, {prov['quadrature']['latent']}",
        "standard errors": prov["standard_errors"],
        "excluded items": "; ".join(f"{k} ({v})" for k, v in result.excluded_items.items())
        or "none",
        "excluded persons": len(result.excluded_persons),
        "software": prov["software"],
    }
    categories = result.summary().category_lines()
    if categories:
        summary["categories (data code -> category)"] = "; ".join(categories)
    report.summary(summary)
    for note in (*result.data.notes, *result.notes):
        report.paragraph(f"Note: {note}")
    report.heading("Diagnostics")
    if result.flags:
        n_items = len({f.item_id for f in result.flags})
        report.paragraph(
            f"{n_items} item(s) have parameters that ran off or mean little. The bank records "
            "each flag on its item and the engine does not administer a flagged item until "
            "its owner accepts it (zapcat bank accept BANK --item ID, or calibrate with "
            "--accept-flagged)."
        )
        report.table(
            pd.DataFrame([f.to_dict() for f in result.flags]),
            caption="Flagged parameters: reason and remedy",
        )
    else:
        report.paragraph(
            "No parameter ran off: every location is on the quadrature range, every slope "
            "is finite and distinguishable from zero, every SE is meaningful."
        )
    if negative:
        slopes = ", ".join(f"{i} (a = {result.params.loc[i, 'a']:.3f})" for i in negative)
        report.paragraph(
            f"Items with negative slopes: {slopes}. An item bank needs a > 0: reverse their "
            "scoring or leave them out and calibrate again. Test information and the Wright "
            "map need a bank and are left out of this report."
        )

    report.heading("Parameters")
    report.paragraph("Logistic metric (no 1.702); standard errors beside each parameter.")
    report.table(
        result.params.reset_index(), caption="Item parameters and standard errors", scroll=True
    )
    report.table(result.conf_int(0.05), caption="95% Wald confidence intervals", scroll=True)

    fit = result.item_fit()
    report.heading("Item fit")
    for note in fit.attrs.get("notes", []):
        report.paragraph(f"Note: {note}")
    fig, ax = new_figure((7.0, max(3.0, 0.22 * len(fit) + 1.2)))
    calibration_plots.item_fit_overview(fit, ax=ax)
    report.figure(fig, caption="Item fit overview")
    report.table(fit.reset_index(), caption="Item fit statistics", scroll=True)

    if bank is not None:
        report.heading("Test information")
        fig, ax = new_figure()
        plots.test_information(bank, ax=ax, label=f"{len(bank)} calibrated items")
        report.figure(fig, caption="Test information and conditional SE")

    report.heading("Persons and items")
    scores = result.scores("eap")
    theta, se = scores["theta"].to_numpy(), scores["se"].to_numpy()
    report.paragraph(
        f"EAP abilities (N(0, 1) prior) of the {theta.size} persons: mean {theta.mean():.2f}, "
        f"SD {theta.std():.2f}, mean SE {se.mean():.2f}."
    )
    for note in scores.attrs.get("notes", []):
        report.paragraph(f"Note: {note}")
    if bank is not None:
        fig, ax = new_figure((8.0, 6.0))
        calibration_plots.wright_map(bank, theta, ax=ax)
        report.figure(fig, caption="Wright map")
    return report


__all__ = ["calibration_report"]
