"""Base class and registry of item response models.

Every model maps an ability ``theta`` and an item's parameters to the probabilities of the
item's response categories ``0 .. K-1``. Models are vectorised over many thetas and many
items of the same model and number of categories at once:

* ``theta`` has shape ``(n_theta,)`` (a scalar is treated as ``(1,)``);
* ``params`` has shape ``(n_items, n_params)``, columns in the order of
  :meth:`ItemModel.param_names` (a 1-D array is one item);
* category outputs have shape ``(n_theta, n_items, n_categories)``;
* derivatives with respect to parameters add a last axis of length ``n_params``.

Public methods validate and broadcast, then call private methods that hold the formulas
(the pattern of ``scipy.stats``). A new model defines ``name``, ``param_names`` and
``_log_prob``; the derivatives fall back to central finite differences, so analytic ones
are an optimisation (see ``_template.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from item_banks.errors import UnknownModelError, ZapcatError

FloatArray = NDArray[np.float64]


class ItemModel(ABC):
    """An item response model: category probabilities and their derivatives.

    Subclasses set the class attributes and implement :meth:`param_names` and
    :meth:`_log_prob`; they may override ``_dlog_prob_dtheta`` and
    ``_dlog_prob_dparams`` with analytic derivatives.

    Attributes
    ----------
    name : str
        Registry name, lower case (for example ``"2pl"``).
    description : str
        One line for help texts.
    min_categories, max_categories : int or None
        Allowed numbers of response categories (``None``: no upper limit).
    shared_params : tuple of str
        Parameters constrained equal across the items of one calibration (the common slope
        of the 1PL, the thresholds of the rating scale model). Per item they are ordinary
        parameters.
    score_sufficient : bool
        Whether ``log P(X = k | theta) - log P(X = 0 | theta)`` is ``k * a * theta`` plus
        terms free of ``theta``, with ``a`` the item's slope (1 when the model has none).
        Over items that share one slope, the sum of the category codes is then a
        sufficient statistic for ``theta`` (Rasch family): persons with the same answered
        items and the same sum have the same posterior, and calibration compresses its
        E-step to such score groups.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    min_categories: ClassVar[int] = 2
    max_categories: ClassVar[int | None] = 2
    shared_params: ClassVar[tuple[str, ...]] = ()
    score_sufficient: ClassVar[bool] = False

    # ----------------------------------------------------------------------------- layout
    @abstractmethod
    def param_names(self, n_categories: int) -> tuple[str, ...]:
        """Names of an item's parameters, in the column order of ``params``.

        Parameters
        ----------
        n_categories : int
            Number of response categories ``K`` (2 for dichotomous items).

        Returns
        -------
        tuple of str
        """

    def n_categories_for(self, n_params: int) -> int:
        """Number of categories implied by a parameter vector of length ``n_params``."""
        lo = self.min_categories
        hi = self.max_categories if self.max_categories is not None else lo + n_params + 1
        for k in range(lo, hi + 1):
            if len(self.param_names(k)) == n_params:
                return k
        raise ZapcatError(f"model {self.name!r} has no layout with {n_params} parameters")

    def check_n_categories(self, n_categories: int) -> str | None:
        """Return a problem message if ``n_categories`` is not allowed, else ``None``."""
        if n_categories < self.min_categories:
            return (
                f"model {self.name!r} needs at least {self.min_categories} categories, "
                f"got {n_categories}"
            )
        if self.max_categories is not None and n_categories > self.max_categories:
            return (
                f"model {self.name!r} allows at most {self.max_categories} categories, "
                f"got {n_categories}"
            )
        return None

    def check_params(self, params: ArrayLike, n_categories: int) -> list[tuple[int, str, str]]:
        """Domain checks on parameter values.

        Parameters
        ----------
        params : array_like, shape (n_items, n_params)
        n_categories : int

        Returns
        -------
        list of (row, field, message)
            Every problem found; empty when all parameters are admissible.
        """
        params = np.atleast_2d(np.asarray(params, dtype=float))
        names = self.param_names(n_categories)
        problems = []
        for row, col in zip(*np.nonzero(~np.isfinite(params)), strict=True):
            problems.append((int(row), names[col], f"non-finite value {float(params[row, col])!r}"))
        problems += self._check_finite_params(params, names)
        return problems

    def _check_finite_params(
        self, params: FloatArray, names: tuple[str, ...]
    ) -> list[tuple[int, str, str]]:
        """Model-specific checks; ``params`` may contain non-finite values (skip them)."""
        return []

    def default_params(self, n_categories: int) -> FloatArray:
        """A neutral parameter vector (slope 1, difficulties spread around 0).

        Returns
        -------
        ndarray, shape (n_params,)
        """
        out = []
        steps = np.linspace(-1.0, 1.0, n_categories - 1) if n_categories > 2 else np.zeros(1)
        step_iter = iter(steps)
        for name in self.param_names(n_categories):
            if name == "a":
                out.append(1.0)
            elif name == "c":
                out.append(0.0)
            elif name == "u":
                out.append(1.0)
            elif name.startswith("t"):
                out.append(float(next(step_iter)))
            elif name == "b" and n_categories > 2:
                out.append(0.0)
            else:
                out.append(float(next(step_iter)))
        return np.asarray(out)

    # ------------------------------------------------------------------ public interface
    def log_prob(self, theta: ArrayLike, params: ArrayLike) -> FloatArray:
        """Log-probabilities of every category.

        Parameters
        ----------
        theta : array_like, shape (n_theta,)
            Abilities on the logit scale (typically -4 to 4).
        params : array_like, shape (n_items, n_params)
            Item parameters in the order of :meth:`param_names`.

        Returns
        -------
        ndarray, shape (n_theta, n_items, n_categories)
            ``log P(X = k | theta)``, computed directly (not as the log of a probability),
            so that it stays finite for extreme thetas.

        Examples
        --------
        >>> from item_banks.models import get_model
        >>> get_model("2pl").log_prob([0.0], [[1.0, 0.0]]).round(4)
        array([[[-0.6931, -0.6931]]])
        """
        t, p = self._validate(theta, params)
        return self._log_prob(t, p)

    def prob(self, theta: ArrayLike, params: ArrayLike) -> FloatArray:
        """Category probabilities, shape ``(n_theta, n_items, n_categories)``.

        Examples
        --------
        >>> from item_banks.models import get_model
        >>> get_model("3pl").prob([0.0], [[1.0, 0.0, 0.2]]).round(2)
        array([[[0.4, 0.6]]])
        """
        return np.exp(self.log_prob(theta, params))

    def dlog_prob_dtheta(self, theta: ArrayLike, params: ArrayLike) -> FloatArray:
        """Derivative of each category's log-probability with respect to theta.

        Returns
        -------
        ndarray, shape (n_theta, n_items, n_categories)
        """
        t, p = self._validate(theta, params)
        return self._dlog_prob_dtheta(t, p)

    def dprob_dtheta(self, theta: ArrayLike, params: ArrayLike) -> FloatArray:
        """Derivative of each category's probability with respect to theta.

        Returns
        -------
        ndarray, shape (n_theta, n_items, n_categories)
        """
        t, p = self._validate(theta, params)
        return np.exp(self._log_prob(t, p)) * self._dlog_prob_dtheta(t, p)

    def dlog_prob_dparams(self, theta: ArrayLike, params: ArrayLike) -> FloatArray:
        """Derivatives of each category's log-probability with respect to each parameter.

        Returns
        -------
        ndarray, shape (n_theta, n_items, n_categories, n_params)
        """
        t, p = self._validate(theta, params)
        return self._dlog_prob_dparams(t, p)

    def dprob_dparams(self, theta: ArrayLike, params: ArrayLike) -> FloatArray:
        """Derivatives of each category's probability with respect to each parameter.

        Returns
        -------
        ndarray, shape (n_theta, n_items, n_categories, n_params)
        """
        t, p = self._validate(theta, params)
        return np.exp(self._log_prob(t, p))[..., None] * self._dlog_prob_dparams(t, p)

    def information(self, theta: ArrayLike, params: ArrayLike) -> FloatArray:
        """Fisher information about theta, ``sum_k P_k (d log P_k / d theta)^2``.

        Returns
        -------
        ndarray, shape (n_theta, n_items)
            Non-negative.

        Examples
        --------
        >>> from item_banks.models import get_model
        >>> round(float(get_model("2pl").information([0.0], [[2.0, 0.0]])[0, 0]), 12)
        1.0
        """
        t, p = self._validate(theta, params)
        return self._information(t, p)

    # -------------------------------------------------------------------- private maths
    @abstractmethod
    def _log_prob(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        """Formula for ``log P``; ``theta`` shape (T,), ``params`` shape (I, P)."""

    def _dlog_prob_dtheta(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        h = 1e-5 * (1.0 + np.abs(theta))
        up = self._log_prob(theta + h, params)
        down = self._log_prob(theta - h, params)
        return (up - down) / (2.0 * h)[:, None, None]

    def _dlog_prob_dparams(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        n_params = params.shape[1]
        out = np.empty((*self._log_prob(theta, params).shape, n_params))
        for j in range(n_params):
            h = 1e-5 * (1.0 + np.abs(params[:, j]))
            up, down = params.copy(), params.copy()
            up[:, j] += h
            down[:, j] -= h
            out[..., j] = (self._log_prob(theta, up) - self._log_prob(theta, down)) / (2.0 * h)[
                None, :, None
            ]
        return out

    def _information(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        logp = self._log_prob(theta, params)
        score = self._dlog_prob_dtheta(theta, params)
        return np.sum(np.exp(logp) * score**2, axis=-1)

    # ------------------------------------------------------------------------ validation
    def _validate(self, theta: ArrayLike, params: ArrayLike) -> tuple[FloatArray, FloatArray]:
        t = np.atleast_1d(np.asarray(theta, dtype=float))
        if t.ndim != 1:
            raise ZapcatError(f"theta must be a scalar or 1-D array, got shape {t.shape}")
        p = np.asarray(params, dtype=float)
        if p.ndim == 1:
            p = p[None, :]
        if p.ndim != 2:
            raise ZapcatError(f"params must be 1-D or 2-D, got shape {p.shape}")
        self.n_categories_for(p.shape[1])  # raises on an impossible layout
        return t, p

    def __repr__(self) -> str:
        return f"<item model {self.name!r}>"


_REGISTRY: dict[str, ItemModel] = {}
M = TypeVar("M", bound=type[ItemModel])


def register_model(cls: M) -> M:
    """Class decorator: register an item model under its ``name``.

    Examples
    --------
    >>> from item_banks.models import ItemModel, register_model
    >>> # @register_model
    >>> # class MyModel(ItemModel): ...
    """
    name = cls.name.lower()
    if name in _REGISTRY:
        raise ZapcatError(f"item model {name!r} is already registered")
    _REGISTRY[name] = cls()
    return cls


def get_model(name: str) -> ItemModel:
    """Return the registered model called ``name`` (case-insensitive).

    Raises
    ------
    UnknownModelError
        When no model of that name is registered.

    Examples
    --------
    >>> from item_banks.models import get_model
    >>> get_model("GRM").name
    'grm'
    """
    try:
        return _REGISTRY[str(name).lower()]
    except KeyError:
        raise UnknownModelError(str(name), _REGISTRY) from None


def model_names() -> tuple[str, ...]:
    """Names of all registered models, in registration order."""
    return tuple(_REGISTRY)
