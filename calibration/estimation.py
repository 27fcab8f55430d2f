"""Marginal maximum likelihood calibration (Bock-Aitkin EM) of item response models.

The estimator follows the scikit-learn idiom: :class:`Calibrator` stores its options in
``__init__``; :meth:`Calibrator.fit` validates the data, estimates and returns ``self``
with learned attributes ending in ``_`` (``result_``, ``converged_``, ``n_iter_``,
``loglik_history_``). The results object :class:`~calibration.results.CalibrationResult`
holds parameters, standard errors, fit and scores.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.linalg import lapack

from calibration import _se
from calibration._em import EMProblem
from calibration._layout import (
    FloatArray,
    build_design,
    build_groups,
    common_slope,
    start_values,
)
from calibration._squarem import squarem
from calibration._threads import blas_threads
from calibration.data import ResponseData, read_responses
from calibration.priors import DEFAULT_PRIORS, Prior, parse_prior
from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError, ConvergenceWarning, ZapcatError
from item_banks.models import get_model

if TYPE_CHECKING:  # results import this module's layout helpers at run time
    from calibration.results import CalibrationResult

SE_METHODS = ("louis", "crossprod", "none")
LATENT = ("fixed", "estimate")
MAX_LATENT_CYCLES = 500


def quadrature(
    n_points: int = 61, theta_range: tuple[float, float] = (-6.0, 6.0)
) -> tuple[FloatArray, FloatArray]:
    """Equally spaced standard-normal quadrature.

    Parameters
    ----------
    n_points : int, >= 5
    theta_range : (float, float)

    Returns
    -------
    theta : ndarray, (n_points,)
    log_weights : ndarray, (n_points,)
        Log of normal densities normalised to sum to one.

    Examples
    --------
    >>> theta, logw = quadrature(5, (-2, 2))
    >>> round(float(np.exp(logw).sum()), 12)
    1.0
    """
    if n_points < 5:
        raise CalibrationError(f"n_quad must be at least 5, got {n_points}")
    lo, hi = float(theta_range[0]), float(theta_range[1])
    if not lo < hi:
        raise CalibrationError(f"theta_range must be increasing, got {theta_range}")
    theta = np.linspace(lo, hi, n_points)
    logw = -0.5 * theta**2  # the normal density up to its constant, normalised below
    logw -= np.logaddexp.reduce(logw)
    return theta, logw


def normal_log_weights(theta: FloatArray, mean: float, sd: float) -> FloatArray:
    """Log weights of a normal N(mean, sd^2) on the points ``theta``, normalised to sum to 1.

    Examples
    --------
    >>> w = np.exp(normal_log_weights(np.linspace(-6, 6, 61), 0.5, 1.2))
    >>> round(float(w @ np.linspace(-6, 6, 61)), 3)
    0.5
    """
    logw = -0.5 * ((np.asarray(theta) - mean) / sd) ** 2  # the constant cancels below
    return logw - np.logaddexp.reduce(logw)


def _latent_moments(problem: EMProblem, beta: FloatArray) -> tuple[float, float]:
    """Mean and SD of the persons' posterior distribution pooled over the grid."""
    _, _, post = problem.estep(beta, keep_posterior=True)
    assert post is not None
    f = problem.design.counts @ post
    f = f / f.sum()
    mean = float(f @ problem.theta)
    return mean, float(np.sqrt(f @ (problem.theta - mean) ** 2))


def _covariance(info: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """Inverse of the information matrix and the parameters it cannot identify.

    When the matrix is not positive definite (an item the data cannot identify, such as a
    3PL item whose lower asymptote and difficulty trade off), the directions with
    eigenvalues below ``1e-9`` of the largest are left out (pseudo-inverse) and the
    parameters loading on them get NaN variances; the other SEs stay exact.
    """
    n = info.shape[0]
    # the inverse of a large information on the configured BLAS threads (one large call)
    with blas_threads(float(n) ** 3):
        try:
            # info = L L', so info^-1 = L^-T L^-1: the triangular inverse (n^3 / 3 flops)
            # instead of a general one of L (LU, about 2 n^3)
            chol = np.linalg.cholesky(info)
            inv_chol, failed = lapack.dtrtri(chol, lower=1)
            if failed == 0:
                cov = inv_chol.T @ inv_chol
                return cov, np.zeros(n, dtype=bool)
        except np.linalg.LinAlgError:
            pass
        values, vectors = np.linalg.eigh(info)
    small = values <= 1e-9 * max(values.max(), 1e-300)
    keep = ~small
    cov = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    weak = np.abs(vectors[:, small]).max(axis=1) > 0.05 if small.any() else np.zeros(0, bool)
    weak = weak if weak.size else np.zeros(info.shape[0], dtype=bool)
    cov[weak, :] = np.nan
    cov[:, weak] = np.nan
    return cov, weak


def _items_of(problem: EMProblem, positions: np.ndarray, item_ids: tuple[str, ...]) -> list[str]:
    """Item ids owning the given positions of ``beta`` (shared parameters: every item)."""
    out: list[str] = []
    for g in problem.groups:
        local = positions[(positions >= g.beta_start) & (positions < g.beta_start + g.n_beta)]
        if local.size == 0:
            continue
        if g.jac is not None:
            rows = np.nonzero(np.abs(g.jac[:, local - g.beta_start]).sum(axis=1))[0] // g.n_params
        else:
            rows = g.free_rows[(local - g.beta_start) // g.n_params]
        out += [item_ids[g.items[r]] for r in np.unique(rows)]
    return sorted(set(out), key=item_ids.index)


def _category_counts(data: ResponseData, k_max: int) -> FloatArray:
    """Number of responses in each category of each item, (n_items, k_max)."""
    if hasattr(data, "category_counts"):  # partitioned over a cluster
        return data.category_counts(k_max)
    key = data.item.astype(np.int64) * k_max + data.category
    flat = np.bincount(key, minlength=data.n_items * k_max)
    return flat.reshape(data.n_items, k_max).astype(float)


def _as_priors(priors: Any, model_names: set[str]) -> dict[str, Prior]:
    if priors is None or priors == "none":
        return {}
    if priors == "default":
        out: dict[str, Prior] = {}
        for name in model_names:
            out.update(DEFAULT_PRIORS.get(name, {}))
        return out
    if not isinstance(priors, Mapping):
        raise CalibrationError(f"priors must be 'default', None or a mapping, got {priors!r}")
    out = {}
    for name, prior in priors.items():
        out[str(name)] = prior if isinstance(prior, Prior) else parse_prior(str(prior))
    return out


class Calibrator:
    """Marginal maximum likelihood (Bayes modal with priors) item calibration.

    Parameters
    ----------
    model : str, default "2pl"
        Model of every item not listed in ``item_models`` (see
        :func:`item_banks.models.model_names`).
    item_models : mapping of item id to model name, optional
        A different model per item (for example 3PL items beside GRM items).
    priors : "default", None or mapping of parameter name to Prior or text
        ``"default"``: Beta(5, 17) on the 3PL/4PL lower asymptote ``c`` (BILOG-MG's
        default) and Beta(17, 2) on the 4PL upper asymptote, nothing else. ``None``: pure
        maximum likelihood. A mapping such as ``{"a": "lognormal(0, 0.5)"}`` (``"b"``
        covers GRM/GPCM thresholds ``b1..``) replaces the defaults.
    fixed : mapping of item id to parameter dict, or ItemBank, optional
        Anchor items held at the given values (their model comes from the bank, or from
        ``item_models`` / ``model``).
    n_quad : int, default 61
        Quadrature points; with ``theta_range`` (-6, 6) the spacing is 0.2, fine enough for
        tests of 100 items and more (21 points visibly shrink slopes on long tests).
    theta_range : (float, float), default (-6, 6)
    max_iter : int, default 2000
        Largest number of EM steps.
    tol : float, default 1e-4
        Convergence when one EM step changes no parameter by more than ``tol`` (as mirt;
        far below the standard errors of any realistic calibration).
    se_method : {"louis", "crossprod", "none"}, default "louis"
        Standard errors from the exact observed information (Louis' identity; agrees with
        the numerical Hessian) or its cross-product approximation.
    min_responses : int, default 10
        Items with fewer responses are reported and left out.
    accelerate : bool, default True
        SQUAREM acceleration (monotone: a step that would lower the likelihood is
        replaced by the plain EM step).
    dense : bool, optional
        Force a dense or sparse design; by default chosen from the data's density.
    callback : callable(n_steps, loglik, change), optional
        Called after each accepted EM point (for progress bars).
    client : dask.distributed.Client, optional
        Calibrate on this Dask cluster: the persons are split over its workers (a long
        Parquet file is read there, by row groups), each computes its E-step and its part
        of the information, and only item-sized sums come back (see
        :mod:`calibration.distributed`). Same estimates and SEs as in memory.
    latent : {"fixed", "estimate"}, default "fixed"
        The persons' distribution: N(0, 1) (the scale of a free calibration), or a normal
        whose mean and SD are estimated with the item parameters (needs anchors, which
        fix the scale; for example a live population calibrated onto a bank's scale).
        Each EM cycle fits the items at the current distribution, then moves the mean and
        SD to those of the persons' posterior, until neither the items nor the mean and SD
        change by more than ``tol``. The estimates are in ``latent_mean_`` and
        ``latent_sd_`` (and the result's ``latent``).

    Examples
    --------
    >>> from calibration import Calibrator, ResponseData
    >>> rng = np.random.default_rng(1)
    >>> theta = rng.normal(size=2000)
    >>> b = np.linspace(-1, 1, 5)
    >>> x = (rng.random((2000, 5)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(int)
    >>> fit = Calibrator("2pl").fit(ResponseData.from_matrix(x))
    >>> fit.converged_
    True
    """

    def __init__(
        self,
        model: str = "2pl",
        *,
        item_models: Mapping[str, str] | None = None,
        priors: Any = "default",
        fixed: Mapping[str, Mapping[str, float]] | ItemBank | None = None,
        n_quad: int = 61,
        theta_range: tuple[float, float] = (-6.0, 6.0),
        max_iter: int = 2000,
        tol: float = 1e-4,
        se_method: str = "louis",
        min_responses: int = 10,
        accelerate: bool = True,
        dense: bool | None = None,
        callback: Callable[[int, float, float], None] | None = None,
        client: Any = None,
        latent: str = "fixed",
    ) -> None:
        self.model = model
        self.item_models = item_models
        self.priors = priors
        self.fixed = fixed
        self.n_quad = n_quad
        self.theta_range = theta_range
        self.max_iter = max_iter
        self.tol = tol
        self.se_method = se_method
        self.min_responses = min_responses
        self.accelerate = accelerate
        self.dense = dense
        self.callback = callback
        self.client = client
        self.latent = latent

    # ----------------------------------------------------------------------- checks
    def _models_of(self, data: ResponseData) -> list[str]:
        get_model(self.model)  # raises UnknownModelError
        mapping = dict(self.item_models or {})
        unknown = [i for i in mapping if i not in data.item_ids]
        if unknown:
            raise CalibrationError(
                f"item_models names item(s) not in the data: {', '.join(map(repr, unknown[:10]))}"
            )
        names = []
        for item_id in data.item_ids:
            if isinstance(self.fixed, ItemBank) and item_id in self.fixed:
                names.append(self.fixed[item_id].model)
            else:
                names.append(get_model(mapping.get(item_id, self.model)).name)
        return names

    def _anchors(self, data: ResponseData, names: list[str]) -> dict[str, FloatArray]:
        if self.fixed is None:
            return {}
        if isinstance(self.fixed, ItemBank):
            source = {
                it.item_id: dict(it.params) for it in self.fixed if it.item_id in data.item_ids
            }
        else:
            source = {str(k): dict(v) for k, v in self.fixed.items()}
        out = {}
        problems = []
        for item_id, params in source.items():
            if item_id not in data.item_ids:
                problems.append(f"anchor item {item_id!r} is not in the data")
                continue
            j = data.item_ids.index(item_id)
            model = get_model(names[j])
            k = int(data.n_categories[j])
            expected = model.param_names(k)
            if set(params) != set(expected):
                problems.append(
                    f"anchor item {item_id!r} ({model.name}, {k} categories) needs "
                    f"parameters {', '.join(expected)}, got {', '.join(params)}"
                )
                continue
            vec = np.array([float(params[n]) for n in expected])
            for _, fld, msg in model.check_params(vec[None, :], k):
                problems.append(f"anchor item {item_id!r}, {fld}: {msg}")
            out[item_id] = vec
        if problems:
            raise CalibrationError("invalid anchors:\n  - " + "\n  - ".join(problems))
        return out

    def _screen(
        self, data: ResponseData, names: list[str]
    ) -> tuple[ResponseData, list[str], dict[str, str], dict[str, str]]:
        """Leave out unestimable items and then empty persons, saying why."""
        k_all = data.n_categories
        counts = _category_counts(data, int(k_all.max()))
        n_resp = counts.sum(axis=1)
        excluded: dict[str, str] = {}
        problems = []
        for j, item_id in enumerate(data.item_ids):
            model = get_model(names[j])
            k = int(k_all[j])
            used = counts[j, :k] > 0
            if n_resp[j] < self.min_responses:
                excluded[item_id] = (
                    f"{int(n_resp[j])} responses, fewer than min_responses = {self.min_responses}"
                )
            elif used.sum() < 2:
                excluded[item_id] = "no variance: every response is in one category"
            elif not used.all():
                never = [f"{data.category_codes[j][c]:g}" for c in np.nonzero(~used)[0]]
                excluded[item_id] = f"category (code) {', '.join(never)} never used"
            else:
                msg = model.check_n_categories(k)
                if msg:
                    problems.append(
                        f"item {item_id!r}: {msg} (codes "
                        f"{', '.join(f'{c:g}' for c in data.category_codes[j])})"
                    )
        if problems:
            raise CalibrationError("items do not fit their models:\n  - " + "\n  - ".join(problems))
        keep = np.array([i not in excluded for i in data.item_ids])
        if not keep.any():
            raise CalibrationError(
                "no item can be estimated: "
                + "; ".join(f"{k}: {v}" for k, v in list(excluded.items())[:10])
            )
        if not keep.all():
            data = data.subset_items(keep)
        names = [n for n, k in zip(names, keep, strict=True) if k]
        if hasattr(data, "drop_empty_persons"):  # partitioned over a cluster
            data, empty = data.drop_empty_persons()
            reason = "no responses to the calibrated items"
            return data, names, excluded, dict.fromkeys(empty, reason)
        answered = np.bincount(data.person, minlength=data.n_persons) > 0
        excluded_persons = {
            p: "no responses to the calibrated items"
            for p, a in zip(data.person_ids, answered, strict=True)
            if not a
        }
        if excluded_persons:
            data = data.subset_persons(answered)
        return data, names, excluded, excluded_persons

    # ------------------------------------------------------------------------ fit
    def fit(self, data: ResponseData | pd.DataFrame | str | Path) -> Calibrator:
        """Estimate item parameters from response data.

        Parameters
        ----------
        data : ResponseData, DataFrame (wide) or path to a wide CSV/Parquet file

        Returns
        -------
        Calibrator
            ``self``, with ``result_`` (a CalibrationResult), ``converged_``, ``n_iter_``
            and ``loglik_history_`` (penalised log-likelihood after each accepted EM point,
            never decreasing).

        Raises
        ------
        CalibrationError
            Bad options, items whose categories do not fit their model, invalid anchors
            or nothing left to estimate.
        ResponseDataError
            Invalid response data.
        """
        with blas_threads():  # one BLAS thread unless one product is large (see _threads)
            return self._fit(data)

    def _fit(self, data: ResponseData | pd.DataFrame | str | Path) -> Calibrator:
        """Body of :meth:`fit`."""
        from calibration.results import CalibrationResult

        started = time.perf_counter()
        if self.se_method not in SE_METHODS:
            raise CalibrationError(
                f"se_method must be one of {', '.join(SE_METHODS)}, got {self.se_method!r}"
            )
        if self.latent not in LATENT:
            raise CalibrationError(
                f"latent must be one of {', '.join(LATENT)}, got {self.latent!r}"
            )
        if self.client is not None and self.latent != "fixed":
            raise CalibrationError("latent='estimate' is not available on a cluster (client=...)")
        if self.client is not None:
            from calibration.distributed import PartitionedResponses, partition

            if not isinstance(data, PartitionedResponses):
                data = partition(self.client, data if isinstance(data, ResponseData | str | Path)
                                 else read_responses(data))  # fmt: skip
        elif not isinstance(data, ResponseData):
            data = read_responses(data)
        names = self._models_of(data)
        anchors_by_id = self._anchors(data, names)
        if self.latent == "estimate" and not anchors_by_id:
            raise CalibrationError(
                "latent='estimate' needs anchor items (fixed=...): without them the mean and "
                "SD of the persons are not identified (a free calibration sets them to 0 and 1)"
            )
        data, names, excluded_items, excluded_persons = self._screen(data, names)
        models = [get_model(n) for n in names]
        priors = _as_priors(self.priors, set(names))
        k = data.n_categories
        anchors = {
            data.item_ids.index(i): v for i, v in anchors_by_id.items() if i in data.item_ids
        }
        groups = build_groups(models, k, anchors, priors)
        theta, logw = quadrature(self.n_quad, self.theta_range)
        if self.client is not None:
            from calibration.distributed import PartitionedProblem

            problem: EMProblem = PartitionedProblem(
                data, groups, k, theta, logw, dense=self.dense, score_groups=common_slope(groups)
            )
        else:
            design = build_design(data, k, dense=self.dense, score_groups=common_slope(groups))
            problem = EMProblem(groups, design, theta, logw)
        if problem.n_beta == 0:
            raise CalibrationError("nothing to estimate: every item is anchored")
        counts = _category_counts(data, int(k.max()))
        beta = np.zeros(problem.n_beta)
        for g in groups:
            init = start_values(g, counts[g.items, : g.n_categories])
            init[g.anchored] = g.offset[g.anchored]
            beta[g.beta_start : g.beta_start + g.n_beta] = g.pack(init)
        if not problem.valid(beta):
            raise CalibrationError("could not find admissible start values")  # pragma: no cover
        with np.errstate(over="ignore", under="ignore"):
            beta, history, steps, converged, latent = self._em(problem, beta)
        if not converged:
            warnings.warn(
                f"EM did not converge in {steps} steps (max_iter={self.max_iter}, "
                f"tol={self.tol}); estimates may be inaccurate",
                ConvergenceWarning,
                stacklevel=2,
            )
        em_seconds = time.perf_counter() - started
        loglik, counts, post = problem.estep(beta, keep_posterior=self.client is None)
        cov = None
        se_note = ""
        singular: list[str] = []
        if self.se_method != "none":
            try:
                with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                    info = _se.information(problem, beta, self.se_method, estep=(counts, post))
                    cov, weak = _covariance(info)
                if weak.any():
                    ids = _items_of(problem, np.nonzero(weak)[0], data.item_ids)
                    singular = ids
                    se_note = (
                        "information matrix singular (parameters not identified by the data): "
                        f"no standard errors for item(s) {', '.join(ids)}"
                    )
            except (np.linalg.LinAlgError, ZapcatError) as exc:
                cov = None
                se_note = f"standard errors not available: {exc}"
        self.problem_ = problem
        self.latent_mean_, self.latent_sd_ = latent
        self.beta_ = beta
        self.converged_ = converged
        self.n_iter_ = steps
        self.loglik_history_ = history
        self.result_ = CalibrationResult(
            data=data,
            problem=problem,
            beta=beta,
            cov=cov,
            loglik=loglik,
            posterior=post,
            models=tuple(names),
            priors=priors,
            converged=converged,
            n_iter=steps,
            loglik_history=tuple(history),
            excluded_items=excluded_items,
            excluded_persons=excluded_persons,
            se_method=self.se_method if cov is not None else "none",
            notes=(se_note,) if se_note else (),
            anchored=tuple(anchors_by_id),
            latent=latent if self.latent == "estimate" else None,
            seconds={"em": em_seconds, "total": time.perf_counter() - started},
            singular=tuple(singular),
        )
        self.converged_ = self.result_.converged
        diverged = self.result_.diverged_items()
        if converged and diverged:
            warnings.warn(
                f"EM stopped after {steps} steps, but parameters diverged in "
                f"{', '.join(diverged[:10])}{' ...' if len(diverged) > 10 else ''}: see "
                "result.flags for each reason and remedy",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _em(
        self, problem: EMProblem, beta: FloatArray
    ) -> tuple[FloatArray, list[float], int, bool, tuple[float, float]]:
        """EM of the items, alternating with the latent mean and SD when estimated."""
        if self.latent == "fixed":
            out = squarem(
                problem,
                beta,
                max_iter=self.max_iter,
                tol=self.tol,
                accelerate=self.accelerate,
                callback=self.callback,
            )
            return (*out, (0.0, 1.0))
        mean, sd = 0.0, 1.0
        history: list[float] = []
        steps = 0
        converged = False
        for _cycle in range(MAX_LATENT_CYCLES):
            problem.log_weights = normal_log_weights(problem.theta, mean, sd)
            beta, hist, n, items_converged = squarem(
                problem,
                beta,
                max_iter=max(self.max_iter - steps, 1),
                tol=self.tol,
                accelerate=self.accelerate,
                callback=self.callback,
            )
            steps += n
            history += hist if not history else hist[1:]
            new_mean, new_sd = _latent_moments(problem, beta)
            change = max(abs(new_mean - mean), abs(new_sd - sd))
            mean, sd = new_mean, new_sd
            if steps >= self.max_iter:
                break
            if change < self.tol and items_converged:
                converged = True
                break
        problem.log_weights = normal_log_weights(problem.theta, mean, sd)
        return beta, history, steps, converged, (mean, sd)


def calibrate(
    data: ResponseData | pd.DataFrame | str | Path, model: str = "2pl", **options: Any
) -> CalibrationResult:
    """Calibrate and return the :class:`~calibration.results.CalibrationResult`.

    Shorthand for ``Calibrator(model, **options).fit(data).result_``.

    Examples
    --------
    >>> from calibration import calibrate
    >>> # result = calibrate("responses.csv", "grm")
    """
    return Calibrator(model, **options).fit(data).result_
