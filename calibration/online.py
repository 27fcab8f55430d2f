"""Online calibration of pretest items onto a bank's scale from adaptive (CAT) data.

The operational items are held at their bank values (anchors); the pretest items seeded
into live tests are estimated, together with the mean and SD of the live population
(normal; a live population is not N(0, 1) on the bank's scale). Two methods (Wainer &
Mislevy, 1990; Ban, Hanson, Wang, Yi & Harris, 2001; mirt's ``fixedCalib``):

* **MEM** (multiple EM cycles), the default: fixed-parameter calibration by the ordinary
  marginal-likelihood EM of :class:`~calibration.estimation.Calibrator` with
  ``fixed=operational items`` and ``latent="estimate"``: every cycle's posterior of each
  person uses the operational *and* the pretest responses, until convergence. SEs from
  the observed information (Louis), as any calibration.
* **OEM** (one EM cycle): the posterior of each person from the operational items only
  (with the population's mean and SD estimated from them), then one M-step maximised to
  convergence for each pretest item. Cheap, and biased (slopes shrink) because a
  pretest response does not inform the posterior it is fitted to; kept for comparison.
  Its SEs come from the complete-data information of that M-step (they understate the
  uncertainty).

Results: a :class:`PretestCalibration` with, per pretest item, the parameters and SEs,
the number of responses, RMSD fit and flags (``few_responses``, ``misfit``, ``no_se``,
``negative_slope``);
``to_dict()`` is the ``zapcat-candidates/1`` document that ``zapcat bank promote`` reads.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from calibration._em import EMProblem
from calibration._layout import FloatArray, build_design, build_groups, start_values
from calibration._mstep import _score_info
from calibration.data import ResponseData, _file_hash, read_responses
from calibration.estimation import (
    Calibrator,
    _as_priors,
    _category_counts,
    normal_log_weights,
    quadrature,
)
from calibration.fit import rmsd_from_counts
from calibration.latent import estimate_latent, person_loglik, person_posterior
from calibration.results import _zapcat_version
from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError, ResponseDataError
from item_banks.models import get_model

METHODS = ("mem", "oem")
CANDIDATES_FORMAT = "zapcat-candidates/1"
EXPORT_COLUMNS = ("person", "session_id", "item", "response")


def read_export(source: str | Path | pd.DataFrame, bank: ItemBank) -> ResponseData:
    """Read a response export (long format) for calibration against ``bank``.

    Parameters
    ----------
    source : path or DataFrame
        CSV or Parquet written by ``zapcat responses export`` (columns ``person,
        session_id, item, response, ...``), or any long table with ``person, item,
        response`` columns.
    bank : ItemBank
        The bank the responses were given from: its items' categories are declared
        (``0 .. K - 1``), so a category nobody used is reported, never silently recoded.

    Returns
    -------
    ResponseData
        One person per test session (``session_id``) when that column is present.
    """
    path = None if isinstance(source, pd.DataFrame) else Path(source)
    if path is None:
        frame = source
    elif not path.exists():
        raise ResponseDataError([f"file not found: {str(path)!r}"], source=str(path))
    elif path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype={"person": str, "session_id": str, "item": str})
    person = "session_id" if "session_id" in frame.columns else "person"
    items = set(frame["item"].astype(str)) if "item" in frame.columns else set()
    categories = {it.item_id: list(range(it.n_categories)) for it in bank if it.item_id in items}
    columns = [c for c in (person, "item", "response") if c in frame.columns]
    data = read_responses(frame[columns], layout="long", id_column=person, categories=categories)
    if path is not None:  # the file, not the in-memory table, is what provenance names
        data = dataclasses.replace(data, source=str(path), sha256=_file_hash(path))
    return data


@dataclass(eq=False)
class PretestCalibration:
    """Estimates of pretest items on a bank's scale.

    Attributes
    ----------
    method : {"mem", "oem"}
    items : DataFrame
        By ``item_id``: ``model, n_categories``, each parameter and ``<name>_se``,
        ``n_responses, rmsd, flags`` (``;``-separated, empty when none) and ``accepted``
        (no flag).
    latent_mean, latent_sd : float
        Estimated normal distribution of the persons on the bank's scale.
    excluded : dict of item id to reason
        Pretest items that could not be estimated.
    """

    method: str
    items: pd.DataFrame
    latent_mean: float
    latent_sd: float
    bank_name: str
    bank_version: str
    data_source: str
    data_sha256: str
    n_persons: int
    n_responses: int
    operational_items: tuple[str, ...]
    converged: bool
    n_iter: int
    settings: dict[str, Any]
    excluded: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The ``zapcat-candidates/1`` document (JSON-ready)."""
        rows = []
        for item_id, row in self.items.iterrows():
            names = get_model(row["model"]).param_names(int(row["n_categories"]))
            se = {n: float(row[f"{n}_se"]) for n in names if np.isfinite(row[f"{n}_se"])}
            rows.append(
                {
                    "item_id": str(item_id),
                    "model": row["model"],
                    "n_categories": int(row["n_categories"]),
                    "params": {n: float(row[n]) for n in names},
                    "se": se,
                    "n_responses": int(row["n_responses"]),
                    "rmsd": float(row["rmsd"]),
                    "flags": [f for f in str(row["flags"]).split(";") if f],
                    "accepted": bool(row["accepted"]),
                }
            )
        return {
            "format": CANDIDATES_FORMAT,
            "bank": {"name": self.bank_name, "version": self.bank_version},
            "method": self.method,
            "latent": {"mean": self.latent_mean, "sd": self.latent_sd},
            "data": {
                "source": self.data_source,
                "sha256": self.data_sha256,
                "n_persons": self.n_persons,
                "n_responses": self.n_responses,
                "operational_items": len(self.operational_items),
            },
            "settings": dict(self.settings),
            "converged": self.converged,
            "n_iter": self.n_iter,
            "seconds": self.seconds,
            "software": f"zapcat {_zapcat_version()}",
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "items": rows,
            "excluded": dict(self.excluded),
        }


class OnlineCalibrator:
    """Calibrate the pretest items of CAT data onto a bank's scale (MEM or OEM).

    Parameters
    ----------
    bank : ItemBank
        The bank the data were collected with. Its items with status other than
        ``pretest`` that appear in the data are held fixed; its ``pretest`` items and items
        not in the bank are estimated (pretest items keep their bank model).
    method : {"mem", "oem"}, default "mem"
    model : str, default "2pl"
        Model of estimated items that are not in the bank (or not in ``item_models``).
    item_models : mapping of item id to model, optional
    priors : as :class:`~calibration.estimation.Calibrator`, default "default"
    min_responses : int, default 200
        Pretest items with fewer responses are estimated but flagged ``few_responses``.
    max_rmsd : float, default 0.1
        Items whose RMSD exceeds it are flagged ``misfit``.
    n_quad, theta_range, max_iter, tol, se_method
        As :class:`~calibration.estimation.Calibrator`.

    Examples
    --------
    >>> from calibration.online import OnlineCalibrator
    >>> # fit = OnlineCalibrator(bank).fit(read_export("export.csv", bank))
    >>> # fit.result_.items[["a", "a_se", "b", "b_se", "n_responses", "flags"]]
    """

    def __init__(
        self,
        bank: ItemBank,
        *,
        method: str = "mem",
        model: str = "2pl",
        item_models: Mapping[str, str] | None = None,
        priors: Any = "default",
        min_responses: int = 200,
        max_rmsd: float = 0.1,
        n_quad: int = 61,
        theta_range: tuple[float, float] = (-6.0, 6.0),
        max_iter: int = 2000,
        tol: float = 1e-4,
        se_method: str = "louis",
    ) -> None:
        self.bank = bank
        self.method = method
        self.model = model
        self.item_models = item_models
        self.priors = priors
        self.min_responses = min_responses
        self.max_rmsd = max_rmsd
        self.n_quad = n_quad
        self.theta_range = theta_range
        self.max_iter = max_iter
        self.tol = tol
        self.se_method = se_method

    def _split(self, data: ResponseData) -> tuple[list[str], list[str]]:
        operational = [
            i for i in data.item_ids if i in self.bank and self.bank[i].status != "pretest"
        ]
        pretest = [i for i in data.item_ids if i not in set(operational)]
        if not operational:
            raise CalibrationError(
                f"no operational item of bank {self.bank.name!r} is in the data: online "
                "calibration needs anchors (check that the export is of this bank)"
            )
        if not pretest:
            raise CalibrationError(
                f"no pretest item in the data: every item is operational in bank {self.bank.name!r}"
            )
        return operational, pretest

    def _models(self, pretest: list[str]) -> dict[str, str]:
        out = {i: self.bank[i].model for i in pretest if i in self.bank}
        out.update({str(k): str(v) for k, v in (self.item_models or {}).items()})
        return out

    def fit(self, data: ResponseData | str | Path | pd.DataFrame) -> OnlineCalibrator:
        """Estimate the pretest items; sets ``result_`` (a :class:`PretestCalibration`).

        Raises
        ------
        CalibrationError
            Unknown method, no operational or no pretest item in the data.
        """
        started = time.perf_counter()
        if self.method not in METHODS:
            raise CalibrationError(
                f"method must be one of {', '.join(METHODS)}, got {self.method!r}"
            )
        if self.min_responses < 1:
            raise CalibrationError(f"min_responses must be >= 1, got {self.min_responses!r}")
        if not isinstance(data, ResponseData):
            data = read_export(data, self.bank)
        operational, pretest = self._split(data)
        anchors = self.bank.subset(operational, name=self.bank.name)
        if self.method == "mem":
            params, rmsd, latent, excluded, converged, n_iter = self._mem(data, anchors, pretest)
        else:
            params, rmsd, latent, excluded, converged, n_iter = self._oem(
                data, anchors, operational, pretest
            )
        n_resp = pd.Series(np.bincount(data.item, minlength=data.n_items), index=data.item_ids)
        table = params.copy()
        table["n_responses"] = n_resp.loc[table.index].to_numpy()
        table["rmsd"] = rmsd
        flags = []
        for _, row in table.iterrows():
            f = []
            if row["n_responses"] < self.min_responses:
                f.append("few_responses")
            if row["rmsd"] > self.max_rmsd:
                f.append("misfit")
            names = get_model(row["model"]).param_names(int(row["n_categories"]))
            if not all(np.isfinite(row[f"{n}_se"]) for n in names):
                f.append("no_se")
            if "a" in names and not row["a"] > 0:
                f.append("negative_slope")  # a bank item needs a > 0 (reverse-keyed?)
            flags.append(";".join(f))
        table["flags"] = flags
        table["accepted"] = table["flags"] == ""
        self.result_ = PretestCalibration(
            method=self.method,
            items=table,
            latent_mean=latent[0],
            latent_sd=latent[1],
            bank_name=self.bank.name,
            bank_version=self.bank.version,
            data_source=data.source,
            data_sha256=data.sha256,
            n_persons=data.n_persons,
            n_responses=data.n_observed,
            operational_items=tuple(operational),
            converged=converged,
            n_iter=n_iter,
            settings={
                "min_responses": self.min_responses,
                "max_rmsd": self.max_rmsd,
                "n_quad": self.n_quad,
                "theta_range": list(self.theta_range),
                "se_method": self.se_method if self.method == "mem" else "complete-data",
            },
            excluded=excluded,
            seconds=time.perf_counter() - started,
        )
        return self

    # ------------------------------------------------------------------------ MEM
    def _mem(
        self, data: ResponseData, anchors: ItemBank, pretest: list[str]
    ) -> tuple[pd.DataFrame, FloatArray, tuple[float, float], dict[str, str], bool, int]:
        from calibration.fit import rmsd

        fitted = Calibrator(
            self.model,
            item_models=self._models(pretest),
            priors=self.priors,
            fixed=anchors,
            n_quad=self.n_quad,
            theta_range=self.theta_range,
            max_iter=self.max_iter,
            tol=self.tol,
            se_method=self.se_method,
            latent="estimate",
        ).fit(data)
        result = fitted.result_
        self.calibration_ = result
        keep = [i for i in pretest if i in result.item_ids]
        fit_all = pd.Series(rmsd(result), index=result.item_ids)
        excluded = {i: r for i, r in result.excluded_items.items() if i in set(pretest)}
        latent = (fitted.latent_mean_, fitted.latent_sd_)
        return (
            result.params.loc[keep],
            fit_all.loc[keep].to_numpy(),
            latent,
            excluded,
            fitted.converged_,
            fitted.n_iter_,
        )

    # ------------------------------------------------------------------------ OEM
    def _oem(
        self, data: ResponseData, anchors: ItemBank, operational: list[str], pretest: list[str]
    ) -> tuple[pd.DataFrame, FloatArray, tuple[float, float], dict[str, str], bool, int]:
        theta, _ = quadrature(self.n_quad, self.theta_range)
        is_op = np.array([i in set(operational) for i in data.item_ids])
        loglik = person_loglik(data.subset_items(is_op), anchors, theta)  # (n_persons, Q)
        mean, sd, n_latent = estimate_latent(loglik, theta, tol=self.tol)
        post = person_posterior(loglik, normal_log_weights(theta, mean, sd))
        helper = Calibrator(self.model, item_models=self._models(pretest), priors=self.priors)
        pre = data.subset_items(~is_op)
        names = helper._models_of(pre)
        pre, names, excluded, _ = helper._screen(pre, names)
        models = [get_model(n) for n in names]
        k = pre.n_categories
        groups = build_groups(models, k, {}, _as_priors(self.priors, set(names)))
        design = build_design(pre, k, dense=False)
        problem = EMProblem(groups, design, theta, normal_log_weights(theta, mean, sd))
        # expected counts of the pretest responses under the operational-only posterior
        position = {p: n for n, p in enumerate(data.person_ids)}
        rows = np.array([position[p] for p in pre.person_ids], dtype=np.int64)
        cols = design.col_offset[pre.item] + pre.category
        y = sparse.csr_array(
            (np.ones(cols.size), (pre.person, cols)), shape=(pre.n_persons, design.n_cols)
        )
        counts = np.asarray(y.T @ post[rows])
        cat_counts = _category_counts(pre, int(k.max()))
        beta = np.zeros(problem.n_beta)
        for g in groups:
            init = start_values(g, cat_counts[g.items, : g.n_categories])
            beta[g.beta_start : g.beta_start + g.n_beta] = g.pack(init)
        converged = False
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007 - the count is reported
            new = problem.mstep(beta, counts)
            change = float(np.abs(new - beta).max()) if beta.size else 0.0
            beta = new
            if change < self.tol:
                converged = True
                break
        values = problem.unpack(beta)
        table = []
        for g, v in zip(groups, values, strict=True):
            r = counts[problem.group_cols[groups.index(g)]]
            se = np.full(v.shape, np.nan)
            if not g.shared:
                _, info = _score_info(g, v, r, theta)
                for n in range(v.shape[0]):
                    try:
                        se[n] = np.sqrt(np.diag(np.linalg.inv(info[n])))
                    except np.linalg.LinAlgError:
                        pass
            for row, j in enumerate(g.items):
                rec: dict[str, Any] = {
                    "item_id": pre.item_ids[j],
                    "model": g.model.name,
                    "n_categories": g.n_categories,
                }
                for c, name in enumerate(g.names):
                    rec[name] = float(v[row, c])
                    rec[f"{name}_se"] = float(se[row, c])
                table.append(rec)
        params = pd.DataFrame(table).set_index("item_id").loc[list(pre.item_ids)]
        logp = problem.log_prob_matrix(values)
        fit = rmsd_from_counts(counts, logp, design.col_offset)
        return params, fit, (mean, sd), excluded, converged, n_iter + n_latent
