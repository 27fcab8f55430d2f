"""Polytomous models: graded response (GRM) and the partial credit family (GPCM, PCM, RSM).

Logistic metric, no 1.702. An item has ``K`` ordered categories ``0 .. K-1`` and ``m = K-1``
thresholds or steps.

* GRM (Samejima): ``P(X >= k) = 1 / (1 + exp(-a (theta - b_k)))``, ``b_1 < ... < b_m``.
* GPCM (Muraki): ``P(X = k) ∝ exp(sum_{j<=k} a (theta - b_j))``, step difficulties ``b_j``.
* PCM (Masters): the GPCM with ``a = 1``.
* RSM (Andrich): the PCM with steps ``b + t_j``; the thresholds ``t_j`` are shared by the
  items of one rating scale in calibration.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from item_banks.models._base import FloatArray, ItemModel, register_model
from item_banks.models._special import expit, log_expit, logsumexp


@register_model
class GradedResponse(ItemModel):
    """Samejima's graded response model; parameters ``a, b1 .. b{K-1}``.

    Category log-probabilities use ``P_k = s(z_k) s(-z_{k+1}) (1 - exp(z_{k+1} - z_k))``
    with ``z_k = a (theta - b_k)`` and ``s`` the logistic function, which stays accurate
    where ``P(X >= k)`` and ``P(X >= k+1)`` are both close to 1 or 0.
    """

    name = "grm"
    description = "graded response: P(X >= k) = 1 / (1 + exp(-a (theta - b_k)))"
    min_categories = 2
    max_categories = None
    location_kind = "thresholds"

    def param_names(self, n_categories: int) -> tuple[str, ...]:
        return ("a", *tuple(f"b{k}" for k in range(1, n_categories)))

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        return ("slope", *("location",) * (n_categories - 1))

    def _admissible(
        self, params: FloatArray, n_categories: int, reverse_slopes: bool
    ) -> np.ndarray:
        a = params[:, 0]
        if reverse_slopes:  # P(X >= k) decreasing in k
            ok = np.abs(a) > 1e-6
            if n_categories > 2:
                ok &= np.all(np.diff(params[:, 1:], axis=1) * np.sign(a)[:, None] > 1e-8, axis=1)
            return ok
        return (a > 0) & np.all(np.diff(params[:, 1:], axis=1) > 0, axis=1)

    def _parts(self, theta: FloatArray, params: FloatArray) -> dict[str, FloatArray]:
        a, b = params[:, 0], params[:, 1:]  # (I,), (I, m)
        dt = theta[:, None, None] - b[None]  # (T, I, m)
        z = a[None, :, None] * dt
        gap = np.diff(b, axis=1) * a[:, None]  # a (b_{k+1} - b_k), (I, m-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            log_gap = np.log(-np.expm1(-gap))
        zeros = np.zeros((*z.shape[:2], 1))
        # lower part uses z_k (k = 1..m) for categories 1..m; upper uses z_{k+1} for 0..m-1
        lower_log = np.concatenate([zeros, log_expit(z)], axis=-1)
        upper_log = np.concatenate([log_expit(-z), zeros], axis=-1)
        pad = np.zeros((b.shape[0], 1))
        mid = np.concatenate([pad, log_gap, pad], axis=1)  # (I, K): middle categories only
        return {"a": a, "dt": dt, "z": z, "gap": gap, "logp": lower_log + upper_log + mid[None]}

    def _log_prob(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        return self._parts(theta, params)["logp"]

    def _dlog_prob_dtheta(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        q = self._parts(theta, params)
        lower, upper = self._pieces(q["z"])
        return q["a"][None, :, None] * (lower - upper)

    @staticmethod
    def _pieces(z: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``s(-z_k)`` for categories 1..m and ``s(z_{k+1})`` for 0..m-1, zero-padded."""
        zeros = np.zeros((*z.shape[:2], 1))
        lower = np.concatenate([zeros, expit(-z)], axis=-1)
        upper = np.concatenate([expit(z), zeros], axis=-1)
        return lower, upper

    def _dlog_prob_dparams(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        q = self._parts(theta, params)
        a, dt, z, gap = q["a"], q["dt"], q["z"], q["gap"]
        n_theta, n_items, m = z.shape
        k_cat = m + 1
        lower, upper = self._pieces(z)  # (T, I, K)
        zeros = np.zeros((n_theta, n_items, 1))
        dt_lower = np.concatenate([zeros, dt], axis=-1)
        dt_upper = np.concatenate([dt, zeros], axis=-1)
        # d log(1 - exp(-a gap_b)) : w.r.t. a: gap_b / expm1(a gap_b); w.r.t. the gap: a / expm1
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / np.expm1(gap)  # (I, m-1)
        gap_b = np.diff(params[:, 1:], axis=1)
        pad = np.zeros((n_items, 1))
        inv_cat = np.concatenate([pad, inv, pad], axis=1)  # (I, K): middle categories only
        gapb_cat = np.concatenate([pad, gap_b, pad], axis=1)
        out = np.zeros((n_theta, n_items, k_cat, m + 1))
        out[..., 0] = dt_lower * lower - dt_upper * upper + (gapb_cat * inv_cat)[None]
        for j in range(1, m + 1):  # parameter b_j, threshold between categories j-1 and j
            # category j (lower bound b_j): -a s(-z_j) - a / expm1(gap_j) [j <= m-1]
            # category j-1 (upper bound b_j): a s(z_j) + a / expm1(gap_{j-1}) [j-1 >= 1]
            col = np.zeros((n_theta, n_items, k_cat))
            col[..., j] = -a * lower[..., j] - a * inv_cat[:, j]
            col[..., j - 1] = a * upper[..., j - 1] + a * inv_cat[:, j - 1]
            out[..., j] = col
        return out

    def _check_finite_params(
        self, params: FloatArray, names: tuple[str, ...]
    ) -> list[tuple[int, str, str]]:
        problems: list[tuple[int, str, str]] = []
        for row in range(params.shape[0]):
            a = params[row, 0]
            if np.isfinite(a) and a <= 0:
                problems.append((row, "a", f"discrimination a must be > 0, got {float(a)!r}"))
            b = params[row, 1:]
            for k in range(1, b.size):
                if np.isfinite(b[k - 1]) and np.isfinite(b[k]) and not b[k] > b[k - 1]:
                    problems.append(
                        (
                            row,
                            names[k + 1],
                            f"thresholds must increase: {names[k]} = "
                            f"{float(b[k - 1])!r} but {names[k + 1]} = {float(b[k])!r}",
                        )
                    )
        return problems


def _partial_credit(
    theta: FloatArray, a: FloatArray, steps: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Core of the partial credit family.

    Parameters
    ----------
    theta : ndarray, shape (T,)
    a : ndarray, shape (I,)
    steps : ndarray, shape (I, m)

    Returns
    -------
    logp : (T, I, K)
    dtheta : (T, I, K), d log P / d theta
    da : (T, I, K), d log P / d a
    dsteps : (T, I, K, m), d log P / d step_j
    """
    n_items, m = steps.shape
    k = np.arange(m + 1)
    cum = np.concatenate([np.zeros((n_items, 1)), np.cumsum(steps, axis=1)], axis=1)  # (I, K)
    r = theta[:, None, None] * k[None, None, :] - cum[None]  # (T, I, K)
    s = a[None, :, None] * r
    logp = s - logsumexp(s, axis=-1, keepdims=True)
    p = np.exp(logp)
    mean_k = np.sum(p * k, axis=-1, keepdims=True)
    dtheta = a[None, :, None] * (k - mean_k)
    da = r - np.sum(p * r, axis=-1, keepdims=True)
    # P(X >= j) for j = 1..m
    tail = np.flip(np.cumsum(np.flip(p, axis=-1), axis=-1), axis=-1)[..., 1:]  # (T, I, m)
    indicator = (k[:, None] >= np.arange(1, m + 1)[None, :]).astype(float)  # (K, m)
    dsteps = a[None, :, None, None] * (tail[:, :, None, :] - indicator[None, None])
    return logp, dtheta, da, dsteps


class _PartialCreditFamily(ItemModel):
    """Shared code: subclasses map their parameters to ``a`` and steps and back."""

    min_categories = 2
    max_categories = None
    location_kind = "steps"

    def _admissible(
        self, params: FloatArray, n_categories: int, reverse_slopes: bool
    ) -> np.ndarray:
        slope = self.columns(n_categories, "slope")
        if not slope:
            return np.ones(params.shape[0], dtype=bool)
        a = params[:, slope[0]]
        return np.abs(a) > 1e-6 if reverse_slopes else a > 0

    @abstractmethod
    def _slope_steps(self, params: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return the slopes ``a`` (I,) and step difficulties (I, m)."""

    @abstractmethod
    def _chain(self, da: FloatArray, dsteps: FloatArray) -> FloatArray:
        """Map derivatives w.r.t. ``a`` and the steps to the model's own parameters."""

    def _log_prob(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        a, steps = self._slope_steps(params)
        return _partial_credit(theta, a, steps)[0]

    def _dlog_prob_dtheta(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        a, steps = self._slope_steps(params)
        return _partial_credit(theta, a, steps)[1]

    def _dlog_prob_dparams(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        a, steps = self._slope_steps(params)
        _, _, da, dsteps = _partial_credit(theta, a, steps)
        return self._chain(da, dsteps)

    def _information(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        a, steps = self._slope_steps(params)
        logp = _partial_credit(theta, a, steps)[0]
        p = np.exp(logp)
        k = np.arange(p.shape[-1])
        mean = np.sum(p * k, axis=-1)
        var = np.sum(p * k**2, axis=-1) - mean**2
        return a[None, :] ** 2 * np.maximum(var, 0.0)

    def _check_finite_params(
        self, params: FloatArray, names: tuple[str, ...]
    ) -> list[tuple[int, str, str]]:
        problems: list[tuple[int, str, str]] = []
        if names[0] == "a":
            for row in np.nonzero(params[:, 0] <= 0)[0]:
                problems.append(
                    (int(row), "a", f"discrimination a must be > 0, got {float(params[row, 0])!r}")
                )
        return problems


@register_model
class GeneralizedPartialCredit(_PartialCreditFamily):
    """Muraki's generalized partial credit model; parameters ``a, b1 .. b{K-1}``.

    Step difficulties need not be ordered.
    """

    name = "gpcm"
    description = "generalized partial credit: P(X=k) ∝ exp(sum_{j<=k} a (theta - b_j))"
    score_sufficient = True

    def param_names(self, n_categories: int) -> tuple[str, ...]:
        return ("a", *tuple(f"b{k}" for k in range(1, n_categories)))

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        return ("slope", *("location",) * (n_categories - 1))

    def _slope_steps(self, params: FloatArray) -> tuple[FloatArray, FloatArray]:
        return params[:, 0], params[:, 1:]

    def _chain(self, da: FloatArray, dsteps: FloatArray) -> FloatArray:
        return np.concatenate([da[..., None], dsteps], axis=-1)


@register_model
class PartialCredit(_PartialCreditFamily):
    """Masters' partial credit model (GPCM with ``a = 1``); parameters ``b1 .. b{K-1}``."""

    name = "pcm"
    description = "partial credit: GPCM with a = 1"
    score_sufficient = True

    def param_names(self, n_categories: int) -> tuple[str, ...]:
        return tuple(f"b{k}" for k in range(1, n_categories))

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        return ("location",) * (n_categories - 1)

    def _slope_steps(self, params: FloatArray) -> tuple[FloatArray, FloatArray]:
        return np.ones(params.shape[0]), params

    def _chain(self, da: FloatArray, dsteps: FloatArray) -> FloatArray:
        return dsteps


@register_model
class RatingScale(_PartialCreditFamily):
    """Andrich's rating scale model; parameters ``b, t1 .. t{K-1}``, steps ``b + t_j``.

    The thresholds ``t_j`` are shared by the items of one rating scale in calibration
    (conventionally they sum to zero); per item they are ordinary parameters.
    """

    name = "rsm"
    description = "rating scale: PCM with steps b + t_j, thresholds t_j shared"
    min_categories = 3
    shared_params = ("t",)
    score_sufficient = True

    def param_names(self, n_categories: int) -> tuple[str, ...]:
        return ("b", *tuple(f"t{k}" for k in range(1, n_categories)))

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        return ("location", *("offset",) * (n_categories - 1))

    def start_params(
        self, counts: FloatArray, n_categories: int, prior_modes: list[float | None]
    ) -> FloatArray:
        # the location at the mean step, the offsets at the steps' mean deviations
        scale = np.sqrt(1.0 + np.pi / 8.0)
        steps = np.log((counts[:, :-1] + 0.5) / (counts[:, 1:] + 0.5)) * scale
        dev = steps - steps.mean(axis=1, keepdims=True)
        out = np.empty((counts.shape[0], n_categories))
        out[:, 0] = steps.mean(axis=1)
        out[:, 1:] = dev.mean(axis=0)[None, :]
        return out

    def _slope_steps(self, params: FloatArray) -> tuple[FloatArray, FloatArray]:
        return np.ones(params.shape[0]), params[:, :1] + params[:, 1:]

    def _chain(self, da: FloatArray, dsteps: FloatArray) -> FloatArray:
        return np.concatenate([dsteps.sum(axis=-1, keepdims=True), dsteps], axis=-1)
