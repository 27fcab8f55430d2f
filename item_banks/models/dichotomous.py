"""Dichotomous logistic models: Rasch, 1PL, 2PL, 3PL and 4PL.

All share the four-parameter logistic curve in the logistic metric (no 1.702)::

    P(X = 1 | theta) = c + (u - c) / (1 + exp(-a (theta - b)))

with ``a > 0`` the discrimination, ``b`` the difficulty, ``0 <= c < u <= 1`` the lower and
upper asymptotes. The models differ only in which of ``a, b, c, u`` are free.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from item_banks.models._base import FloatArray, ItemModel, register_model
from item_banks.models._special import log_expit


def _log_or_neg_inf(x: FloatArray) -> FloatArray:
    """``log(x)`` with ``log(0) = -inf`` and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(x)


class LogisticModel(ItemModel):
    """Four-parameter logistic family; subclasses fix some of ``a, b, c, u``.

    ``free`` lists the free parameters in column order; the others take the values in
    ``fixed``.
    """

    free: ClassVar[tuple[str, ...]] = ("a", "b", "c", "u")
    fixed: ClassVar[dict[str, float]] = {}
    min_categories = 2
    max_categories = 2

    def param_names(self, n_categories: int) -> tuple[str, ...]:
        return self.free

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        roles = {"a": "slope", "b": "location", "c": "lower", "u": "upper"}
        return tuple(roles[name] for name in self.free)

    def _admissible(
        self, params: FloatArray, n_categories: int, reverse_slopes: bool
    ) -> np.ndarray:
        col = {name: params[:, j] for j, name in enumerate(self.free)}
        ok = np.ones(params.shape[0], dtype=bool)
        if "a" in col:
            ok &= np.abs(col["a"]) > 1e-6 if reverse_slopes else col["a"] > 0
        c = col.get("c", 0.0)
        top, gap = (0.999, 1e-3) if reverse_slopes else (1.0, 0.0)
        if "c" in col:
            ok &= (c >= 0.0) & (c < top)
        if "u" in col:
            ok &= (col["u"] <= 1.0) & (col["u"] > c + gap)
        return ok

    @property
    def _no_asymptotes(self) -> bool:
        """Whether ``c = 0`` and ``u = 1`` are fixed (Rasch, 1PL, 2PL)."""
        return (
            "c" not in self.free
            and "u" not in self.free
            and self.fixed.get("c", 0.0) == 0.0
            and self.fixed.get("u", 1.0) == 1.0
        )

    def _full(self, params: FloatArray) -> tuple[FloatArray, ...]:
        """Return ``a, b, c, u`` as arrays of shape (n_items,)."""
        n = params.shape[0]
        values = {name: params[:, j] for j, name in enumerate(self.free)}
        full = {"a": 1.0, "c": 0.0, "u": 1.0, **self.fixed}
        return tuple(
            values[k] if k in values else np.full(n, full[k]) for k in ("a", "b", "c", "u")
        )

    def _parts(self, theta: FloatArray, params: FloatArray) -> dict[str, FloatArray]:
        a, b, c, u = self._full(params)
        dt = theta[:, None] - b
        z = a * dt  # (T, I)
        ls_pos, ls_neg = log_expit(z), log_expit(-z)
        if self._no_asymptotes:
            # c = 0, u = 1 (Rasch, 1PL, 2PL): log P = log s, log (1 - s); the ratios
            # s (1 - s) / P are 1 - s and s (what the general path gives to rounding)
            return {
                "a": a, "b": b, "c": c, "u": u, "dt": dt,
                "ls_pos": ls_pos, "ls_neg": ls_neg, "logp1": ls_pos, "logp0": ls_neg,
                "r1": np.exp(ls_neg), "r0": np.exp(ls_pos),
            }  # fmt: skip
        log_span = _log_or_neg_inf(u - c)
        logp1 = np.logaddexp(_log_or_neg_inf(c), log_span + ls_pos)
        logp0 = np.logaddexp(_log_or_neg_inf(1.0 - u), log_span + ls_neg)
        log_slope = log_span + ls_pos + ls_neg  # log of (u - c) s (1 - s)
        return {
            "a": a,
            "b": b,
            "c": c,
            "u": u,
            "dt": dt,
            "ls_pos": ls_pos,
            "ls_neg": ls_neg,
            "logp1": logp1,
            "logp0": logp0,
            "r1": np.exp(log_slope - logp1),
            "r0": np.exp(log_slope - logp0),
        }

    def _log_prob(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        q = self._parts(theta, params)
        return np.stack([q["logp0"], q["logp1"]], axis=-1)

    def _dlog_prob_dtheta(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        q = self._parts(theta, params)
        return np.stack([-q["a"] * q["r0"], q["a"] * q["r1"]], axis=-1)

    def _dlog_prob_dparams(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        q = self._parts(theta, params)
        a, r0, r1 = q["a"], q["r0"], q["r1"]
        grads = {
            "a": (-q["dt"] * r0, q["dt"] * r1),
            "b": (a * r0, -a * r1),
            "c": (-np.exp(q["ls_neg"] - q["logp0"]), np.exp(q["ls_neg"] - q["logp1"])),
            "u": (-np.exp(q["ls_pos"] - q["logp0"]), np.exp(q["ls_pos"] - q["logp1"])),
        }
        return np.stack(
            [np.stack(grads[name], axis=-1) for name in self.free], axis=-1
        )  # (T, I, 2, P)

    def _information(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        q = self._parts(theta, params)
        # a^2 [(u-c) s (1-s)]^2 / (P1 P0), in logs
        log_slope = _log_or_neg_inf(q["u"] - q["c"]) + q["ls_pos"] + q["ls_neg"]
        return q["a"] ** 2 * np.exp(2.0 * log_slope - q["logp1"] - q["logp0"])

    def _check_finite_params(
        self, params: FloatArray, names: tuple[str, ...]
    ) -> list[tuple[int, str, str]]:
        problems: list[tuple[int, str, str]] = []
        col = {name: params[:, j] for j, name in enumerate(names)}
        for row in range(params.shape[0]):
            a = col["a"][row] if "a" in col else 1.0
            c = col["c"][row] if "c" in col else 0.0
            u = col["u"][row] if "u" in col else 1.0
            if "a" in col and np.isfinite(a) and a <= 0:
                problems.append((row, "a", f"discrimination a must be > 0, got {float(a)!r}"))
            if "c" in col and np.isfinite(c) and not 0.0 <= c < 1.0:
                problems.append(
                    (row, "c", f"lower asymptote c must be in [0, 1), got {float(c)!r}")
                )
            if "u" in col and np.isfinite(u) and np.isfinite(c):
                if u > 1.0:
                    problems.append((row, "u", f"upper asymptote u must be <= 1, got {float(u)!r}"))
                elif u <= c:
                    problems.append(
                        (
                            row,
                            "u",
                            f"upper asymptote u must exceed c = {float(c)!r}, got {float(u)!r}",
                        )
                    )
        return problems


@register_model
class Rasch(LogisticModel):
    """Rasch model: ``a = 1``, free difficulty ``b``."""

    name = "rasch"
    description = "Rasch: P = 1 / (1 + exp(-(theta - b)))"
    free = ("b",)
    score_sufficient = True


@register_model
class OnePL(LogisticModel):
    """One-parameter logistic with a slope ``a`` common to all items of a calibration."""

    name = "1pl"
    description = "1PL: 2PL with one slope a shared by all 1PL items"
    free = ("a", "b")
    shared_params = ("a",)
    score_sufficient = True


@register_model
class TwoPL(LogisticModel):
    """Two-parameter logistic: discrimination ``a`` and difficulty ``b``."""

    name = "2pl"
    description = "2PL: P = 1 / (1 + exp(-a (theta - b)))"
    free = ("a", "b")
    score_sufficient = True


@register_model
class ThreePL(LogisticModel):
    """Three-parameter logistic: adds a lower asymptote (guessing) ``c``."""

    name = "3pl"
    description = "3PL: P = c + (1 - c) / (1 + exp(-a (theta - b)))"
    free = ("a", "b", "c")


@register_model
class FourPL(LogisticModel):
    """Four-parameter logistic: adds an upper asymptote (slipping) ``u``."""

    name = "4pl"
    description = "4PL: P = c + (u - c) / (1 + exp(-a (theta - b)))"
    free = ("a", "b", "c", "u")
