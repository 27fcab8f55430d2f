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
(the pattern of ``scipy.stats``). A new model defines ``name``, ``param_names``,
``param_roles`` and ``_log_prob``; the derivatives fall back to central finite
differences, so analytic ones are an optimisation (see ``_template.py``).

Each model owns its **parameter contract** (as a ``scipy.stats`` distribution owns
``_argcheck`` and ``_fitstart``): the names and roles of its parameters
(:meth:`ItemModel.param_roles`), the admissible region (:meth:`ItemModel.admissible`,
with messages from :meth:`ItemModel.check_params`), start values for calibration
(:meth:`ItemModel.start_params`) and the slope-intercept map used inside calibration
(:meth:`ItemModel.slope_intercept_columns`). Calibration, bank files and the engine's
tables read the contract; none of them switches on model or parameter names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from item_banks.errors import UnknownModelError, ZapcatError
from item_banks.models._special import logit

FloatArray = NDArray[np.float64]

PARAM_ROLES = ("slope", "location", "offset", "lower", "upper")
"""Roles of item parameters.

* ``slope`` - discrimination ``a`` (multiplies theta);
* ``location`` - a difficulty, threshold or step difficulty: shifting theta and every
  location by the same amount leaves the probabilities unchanged;
* ``offset`` - rating-scale thresholds ``t_j`` added to a location;
* ``lower``, ``upper`` - asymptotes.
"""


_CONVENTIONAL = {"a": "slope", "b": "location", "c": "lower", "u": "upper"}
_CONVENTIONAL_NUMBERED = {"b": "location", "t": "offset"}


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
    location_kind: ClassVar[str] = "difficulty"
    """How the locations start in calibration: ``"difficulty"`` (one location, from the
    proportion in the top category), ``"thresholds"`` (cumulative, GRM) or ``"steps"``
    (adjacent categories, partial credit)."""

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

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        """Role of each parameter (see :data:`PARAM_ROLES`), in the order of ``param_names``.

        Examples
        --------
        >>> from item_banks.models import get_model
        >>> get_model("3pl").param_roles(2)
        ('slope', 'location', 'lower')
        """
        # the default reads the project's parameterisation (README "Parameterisation"):
        # a model with other names declares its roles
        roles = []
        for name in self.param_names(n_categories):
            stem = name.rstrip("0123456789")
            role = _CONVENTIONAL.get(name) or (_CONVENTIONAL_NUMBERED.get(stem)
                                               if stem != name else None)  # fmt: skip
            if role is None:
                raise ZapcatError(
                    f"item model {self.name!r} must declare param_roles: parameter {name!r} "
                    f"is not one of the conventional a, b, b1.., t1.., c, u (roles: "
                    f"{', '.join(PARAM_ROLES)}); calibration, bank files and the engine read them"
                )
            roles.append(role)
        return tuple(roles)

    def columns(self, n_categories: int, role: str) -> list[int]:
        """Columns of the parameters with ``role``."""
        # a model's roles depend on the number of categories only: the calibration's
        # M-step asks for them dozens of times per step, so they are kept per instance
        cache = self.__dict__.setdefault("_columns_cache", {})
        key = (n_categories, role)
        if key not in cache:
            roles = self.param_roles(n_categories)
            cache[key] = tuple(j for j, r in enumerate(roles) if r == role)
        return list(cache[key])

    def slope_intercept_columns(self, n_categories: int) -> tuple[int, list[int]] | None:
        """``(slope column, location columns)`` of the slope-intercept form, or ``None``.

        Inside calibration each location ``b`` of a model with one slope is replaced by the
        intercept ``-a b``, where a slope may cross zero and the likelihood is closer to
        quadratic; models without a slope or locations have no such form.
        """
        slope = self.columns(n_categories, "slope")
        locations = self.columns(n_categories, "location")
        if len(slope) != 1 or not locations:
            return None
        return slope[0], locations

    def admissible(
        self, params: ArrayLike, n_categories: int, *, reverse_slopes: bool = False
    ) -> NDArray[np.bool_]:
        """Whether each row of ``params`` lies in the model's admissible region.

        Parameters
        ----------
        params : array_like, shape (n_items, n_params)
        n_categories : int
        reverse_slopes : bool, default False
            Calibration's region: slopes of either sign (not near 0), asymptotes kept
            a little inside their bounds; the bank's region (``False``) needs ``a > 0``.

        Returns
        -------
        ndarray of bool, shape (n_items,)
        """
        params = np.atleast_2d(np.asarray(params, dtype=float))
        with np.errstate(invalid="ignore"):
            return np.all(np.isfinite(params), axis=1) & self._admissible(
                params, n_categories, reverse_slopes
            )

    def _admissible(
        self, params: FloatArray, n_categories: int, reverse_slopes: bool
    ) -> NDArray[np.bool_]:
        """Model-specific part of :meth:`admissible` (``params`` finite)."""
        return np.ones(params.shape[0], dtype=bool)

    def start_params(
        self, counts: FloatArray, n_categories: int, prior_modes: list[float | None]
    ) -> FloatArray:
        """Start values of calibration from the items' category counts.

        Parameters
        ----------
        counts : ndarray, shape (n_items, K)
            Number of responses in each category.
        n_categories : int
        prior_modes : list of float or None, one per parameter
            Modes of the priors on the parameters, where given.

        Returns
        -------
        ndarray, shape (n_items, n_params)
            Slopes 1, asymptotes at their prior modes (0.1 and 0.98 without priors),
            locations from the proportions (``location_kind``).
        """
        n_g, k = counts.shape
        total = counts.sum(axis=1, keepdims=True)
        scale = np.sqrt(1.0 + np.pi / 8.0)  # E[expit(theta - b)] ~ expit(-b / scale)
        roles = self.param_roles(n_categories)
        out = np.zeros((n_g, len(roles)))
        tail = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1][:, 1:]  # P(X >= k), k = 1..K-1
        cum = (tail + 0.5) / (total + 1.0)
        thresholds = -logit(cum) * scale
        thresholds = np.maximum.accumulate(thresholds + 1e-3 * np.arange(k - 1), axis=1)
        thresholds += 1e-2 * np.arange(k - 1)
        steps = np.log((counts[:, :-1] + 0.5) / (counts[:, 1:] + 0.5)) * scale
        lower, upper = self.columns(n_categories, "lower"), self.columns(n_categories, "upper")
        for c, role in enumerate(roles):  # slopes and asymptotes first: locations use them
            if role == "slope":
                out[:, c] = 1.0
            elif role in ("lower", "upper"):
                mode = prior_modes[c]
                out[:, c] = mode if mode is not None else (0.1 if role == "lower" else 0.98)
        position = 0  # of a location among the locations
        for c, role in enumerate(roles):  # in column order
            if role == "location" and self.location_kind == "thresholds":
                out[:, c] = thresholds[:, position]
            elif role == "location" and self.location_kind == "steps":
                out[:, c] = steps[:, position]
            elif role == "location":
                p = np.clip(cum[:, 0], 1e-3, 1 - 1e-3)
                if lower or upper:  # the proportion of the logistic part between them
                    lo = out[:, lower[0]] if lower else 0.0
                    hi = out[:, upper[0]] if upper else 1.0
                    p = np.clip((p - lo) / (hi - lo), 0.02, 0.98)
                out[:, c] = -logit(p) * scale
            position += role == "location"
        return out

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
        """A neutral parameter vector (slope 1, locations spread around 0).

        Returns
        -------
        ndarray, shape (n_params,)
        """
        roles = self.param_roles(n_categories)
        out = np.zeros(len(roles))
        fixed = {"slope": 1.0, "lower": 0.0, "upper": 1.0}
        for c, role in enumerate(roles):
            out[c] = fixed.get(role, 0.0)
        for role in ("location", "offset"):
            cols = self.columns(n_categories, role)
            if role == "location" and self.columns(n_categories, "offset"):
                continue  # a location plus offsets (rating scale): the offsets spread
            if len(cols) > 1 or role == "offset":
                out[cols] = np.linspace(-1.0, 1.0, len(cols)) if len(cols) > 1 else 0.0
        return out

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


def unregister_model(name: str) -> None:
    """Remove the model called ``name`` from the registry (a model defined for a while)."""
    _REGISTRY.pop(str(name).lower(), None)


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


_ROLE_RANK = {role: r for r, role in enumerate(PARAM_ROLES)}


def _named_layouts() -> list[tuple[str, str, int]]:
    """(name, role, position) of every parameter of every registered model layout."""
    out = []
    for model in _REGISTRY.values():
        hi = model.max_categories or model.min_categories + 8
        for k in range(model.min_categories, hi + 1):
            for j, (name, role) in enumerate(
                zip(model.param_names(k), model.param_roles(k), strict=True)
            ):
                out.append((name, role, j))
    return out


def is_param_name(name: str) -> bool:
    """Whether ``name`` is a parameter of some registered model (bank file columns).

    Examples
    --------
    >>> is_param_name("b3"), is_param_name("status")
    (True, False)
    """
    if name in {n for n, _, _ in _named_layouts()}:
        return True
    stem = name.rstrip("0123456789")
    return stem != name and any(n.rstrip("0123456789") == stem for n, _, _ in _named_layouts())


def param_sort_key(name: str) -> tuple[int, int, int, str]:
    """Order of parameter columns over models (bank tables, calibration results).

    Single slope and asymptote columns first (``a, b, c, u`` for the logistic models),
    then numbered locations and offsets (``b1 .. bK-1``, ``t1 ..``) by number, then
    names of other registered models by their role, then anything else by name.

    Examples
    --------
    >>> sorted(["b2", "u", "t1", "a", "b1", "c", "b"], key=param_sort_key)
    ['a', 'b', 'c', 'u', 'b1', 'b2', 't1']
    """
    stem = name.rstrip("0123456789")
    number = int(name[len(stem) :]) if stem != name else 0
    fixed = {"a": 0, "b": 1, "c": 2, "u": 3}
    if stem == name and name in fixed:
        return (0, fixed[name], 0, "")
    if stem in ("b", "t") and number:
        return (1, 0 if stem == "b" else 1, number, "")
    for n, role, j in _named_layouts():
        if n == name:
            return (2, _ROLE_RANK.get(role, 9), j, name)
    return (3, 0, 0, name)
