"""Internal layout of a calibration: item groups, response design and parameter vector.

* Items are grouped by (model, number of categories) as in :class:`item_banks.ItemBank`.
* The response design is the one-hot indicator ``Y`` of (item, category) per person
  (``sum K_i`` columns), dense after compressing identical patterns when the data are
  dense, ``scipy.sparse`` CSR otherwise.
* Free parameters form one vector ``beta``; each group maps its part of ``beta`` to its
  parameter matrix (items x params): one entry per free parameter, or, for groups with
  shared parameters (1PL slope, rating-scale thresholds that sum to zero), through a
  small dense linear map. Anchored items keep their values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from calibration.data import ResponseData
from calibration.priors import Prior, prior_for
from item_banks.models import ItemModel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DENSE_THRESHOLD = 0.25
"""Data denser than this (share of answered cells) use a dense design after compression."""

LOGP_FLOOR = -1e4
"""Lower bound of log-probabilities in the E-step (keeps ``0 * log 0`` out of BLAS)."""


@dataclass
class Group:
    """Items of one (model, number of categories) in a calibration."""

    model: ItemModel
    n_categories: int
    items: IntArray  # positions among calibrated items, (n_g,)
    names: tuple[str, ...]
    anchored: NDArray[np.bool_]  # (n_g,)
    offset: FloatArray  # (n_g, P): anchored values (and zeros elsewhere)
    beta_start: int = 0
    n_beta: int = 0
    jac: FloatArray | None = None  # dense (n_g * P, n_beta) when parameters are shared
    beta_names: tuple[str, ...] = ()
    col_priors: tuple[Prior | None, ...] = ()
    beta_priors: tuple[Prior | None, ...] = ()
    free_rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_params(self) -> int:
        """Parameters per item."""
        return len(self.names)

    @property
    def shared(self) -> bool:
        """Whether the group's parameters are mapped through a dense linear map."""
        return self.jac is not None

    @property
    def slope_intercept(self) -> bool:
        """Whether ``beta`` holds intercepts ``d_k = -a b_k`` instead of the ``b`` columns.

        Groups with a free slope and no shared parameters are estimated in slope-intercept
        form, where a slope may cross zero (reverse-keyed items get the negative slope of
        the true maximum) and the likelihood is closer to quadratic.
        """
        return self.jac is None and self._roles[2]

    @cached_property
    def _roles(self) -> tuple[list[int], int | None, bool]:
        """Location columns, slope column and whether a slope-intercept form exists.

        They depend on the model and the number of categories only, and the EM's steps
        ask for them dozens of times each.
        """
        slope = self.model.columns(self.n_categories, "slope")
        si = self.model.slope_intercept_columns(self.n_categories)
        return (
            self.model.columns(self.n_categories, "location"),
            (slope or [None])[0],
            si is not None,
        )

    @property
    def b_cols(self) -> list[int]:
        """Columns of the locations (difficulties, thresholds) of the model's contract."""
        return list(self._roles[0])

    @property
    def slope_col(self) -> int:
        """Column of the slope (groups in slope-intercept form)."""
        col = self._roles[1]
        if col is None:
            raise IndexError(f"model {self.model.name!r} has no slope")
        return col

    def natural(self, part: FloatArray) -> FloatArray:
        """The group's part of ``beta`` in the bank's parameterisation (same layout)."""
        if not self.slope_intercept:
            return part
        out = part.reshape(-1, self.n_params).copy()
        cols = self._roles[0]
        s = self.slope_col
        slope = out[:, s : s + 1]
        if slope.all() and np.isfinite(slope).all():
            out[:, cols] = -out[:, cols] / slope
        else:
            with np.errstate(divide="ignore", invalid="ignore"):  # a = 0: rejected as invalid
                out[:, cols] = -out[:, cols] / slope
        return out.ravel()

    def from_natural(self, part: FloatArray) -> FloatArray:
        """Inverse of :meth:`natural`."""
        if not self.slope_intercept:
            return part
        out = part.reshape(-1, self.n_params).copy()
        cols, s = self.b_cols, self.slope_col
        out[:, cols] = -out[:, cols] * out[:, s : s + 1]
        return out.ravel()

    def natural_jacobian(self, part: FloatArray) -> FloatArray:
        """``d natural / d beta`` of each free item, (n_free, P, P)."""
        n_p = self.n_params
        rows = part.reshape(-1, n_p)
        out = np.tile(np.eye(n_p), (rows.shape[0], 1, 1))
        if self.slope_intercept:
            s = self.slope_col
            a = rows[:, s]
            with np.errstate(divide="ignore", invalid="ignore"):
                for c in self.b_cols:
                    b = -rows[:, c] / a
                    out[:, c, s] = -b / a  # d b / d a at fixed intercept
                    out[:, c, c] = -1.0 / a  # d b / d intercept
        return out

    def unpack(self, beta: FloatArray) -> FloatArray:
        """Parameter matrix (n_g, P) in the bank's parameterisation, from ``beta``."""
        part = beta[self.beta_start : self.beta_start + self.n_beta]
        if self.jac is not None:
            return self.offset + (self.jac @ part).reshape(self.offset.shape)
        values = self.offset.copy()
        values[self.free_rows] = self.natural(part).reshape(-1, self.n_params)
        return values

    def pack(self, values: FloatArray) -> FloatArray:
        """Inverse of :meth:`unpack` (least squares for shared groups)."""
        if self.jac is not None:
            rhs = (values - self.offset).ravel()
            return np.linalg.lstsq(self.jac, rhs, rcond=None)[0]
        return self.from_natural(values[self.free_rows].ravel())


def build_groups(
    models: Sequence[ItemModel],
    n_categories: IntArray,
    anchors: Mapping[int, FloatArray],
    priors: Mapping[str, Prior],
) -> list[Group]:
    """Group items and lay out the free-parameter vector.

    Parameters
    ----------
    models : sequence of ItemModel, one per calibrated item
    n_categories : ndarray of int, (n_items,)
    anchors : mapping of item position to its fixed parameter vector
    priors : mapping of parameter name to Prior

    Returns
    -------
    list of Group
    """
    keys: dict[tuple[str, int], list[int]] = {}
    for j, model in enumerate(models):
        keys.setdefault((model.name, int(n_categories[j])), []).append(j)
    groups = []
    start = 0
    for (_, k), idx in keys.items():
        model = models[idx[0]]
        names = model.param_names(k)
        n_g, n_p = len(idx), len(names)
        anchored = np.array([j in anchors for j in idx])
        offset = np.zeros((n_g, n_p))
        for r, j in enumerate(idx):
            if j in anchors:
                offset[r] = anchors[j]
        free_rows = np.nonzero(~anchored)[0]
        group = Group(
            model, k, np.asarray(idx, dtype=np.int64), names, anchored, offset, free_rows=free_rows
        )
        group.col_priors = tuple(prior_for(n, priors) for n in names)
        shared_cols = [
            c
            for c, n in enumerate(names)
            if n in model.shared_params or n.rstrip("0123456789") in model.shared_params
        ]
        if shared_cols and free_rows.size:
            _shared_map(group, shared_cols)
        else:
            group.n_beta = free_rows.size * n_p
            group.beta_names = tuple(n for _ in free_rows for n in names)
        group.beta_priors = tuple(prior_for(n, priors) for n in group.beta_names)
        group.beta_start = start
        start += group.n_beta
        groups.append(group)
    return groups


def _shared_map(group: Group, shared_cols: list[int]) -> None:
    """Dense linear map for groups with shared parameters.

    Shared columns take one value for all free items; when the shared columns are
    thresholds (``t``) their last value is minus the sum of the others (they sum to zero,
    the usual identification of the rating scale model).
    """
    names, n_g, n_p = group.names, group.offset.shape[0], group.n_params
    own_cols = [c for c in range(n_p) if c not in shared_cols]
    roles = group.model.param_roles(group.n_categories)
    sum_zero = all(roles[c] == "offset" for c in shared_cols) and len(shared_cols) > 1
    n_shared = len(shared_cols) - (1 if sum_zero else 0)
    free = group.free_rows
    n_beta = n_shared + free.size * len(own_cols)
    jac = np.zeros((n_g * n_p, n_beta))
    for r in free:
        for s, c in enumerate(shared_cols):
            if sum_zero and s == len(shared_cols) - 1:
                jac[r * n_p + c, :n_shared] = -1.0
            else:
                jac[r * n_p + c, s] = 1.0
    for f, r in enumerate(free):
        for o, c in enumerate(own_cols):
            jac[r * n_p + c, n_shared + f * len(own_cols) + o] = 1.0
    group.jac = jac
    group.n_beta = n_beta
    group.beta_names = tuple(
        [names[c] for c in shared_cols[:n_shared]] + [names[c] for _ in free for c in own_cols]
    )


def start_values(group: Group, counts: FloatArray) -> FloatArray:
    """Start values of a group: the model's own (:meth:`ItemModel.start_params`).

    Parameters
    ----------
    group : Group
    counts : ndarray, shape (n_g, K)
        Number of responses in each category.

    Returns
    -------
    ndarray, shape (n_g, P)
    """
    modes = [prior.mode() if prior is not None else None for prior in group.col_priors]
    return group.model.start_params(counts, group.n_categories, modes)


def common_slope(groups: Sequence[Group]) -> bool:
    """Whether the sum score is sufficient for theta over all items of a calibration.

    True when every item's model is ``score_sufficient`` and all items share one slope:
    models without a slope (slope 1), a slope shared by the free items of a group (1PL),
    or anchored slopes, as long as only one value (or one shared unknown) occurs.
    """
    sources: set[object] = set()
    for g in groups:
        if not g.model.score_sufficient:
            return False
        slope = g.model.columns(g.n_categories, "slope")
        if not slope:
            sources.add(1.0)
            continue
        col = slope[0]
        if g.free_rows.size:
            if not g.shared or g.names[col] not in g.model.shared_params:
                return False  # a free slope per item
            sources.add(("shared", id(g)))
        sources.update(float(v) for v in g.offset[g.anchored, col])
    return len(sources) <= 1


@dataclass
class Design:
    """Response design: indicators of (item, category) per row (a group of persons).

    The E-step works with a design matrix ``Z`` and a map ``zmap`` (n_z x sum K) such that
    each row's one-hot indicator is ``y = zmap.T @ z (+ e)``:

    * sparse data: ``Z`` is the one-hot ``Y`` itself (``zmap`` = identity), one row per
      person;
    * dense data: category-0 columns are dropped (columns ``e_jk - e_j0``); when some cells
      are missing an observed indicator per item is added (maps to ``e_j0``); when none
      are, ``e`` (the category-0 columns) is added to every row (``complete``). A row is
      one distinct response pattern, or, when the sum score is sufficient for theta
      (:func:`common_slope`), one (answered items, sum score) group.

    The rows of ``z`` give each row's posterior (any member of the group gives the same);
    the expected counts need the sum of the members' indicators, ``zt_sum`` (``Z' diag(n)``
    for patterns); ``excess`` is the sum over persons of ``z_person - z_row``, whose
    product with the log-probabilities at any one point (free of theta by sufficiency)
    completes the marginal log-likelihood.

    Attributes
    ----------
    col_offset : ndarray, (n_items + 1,)
        Column of category 0 of each item; ``col_offset[-1]`` = sum of K.
    z : ndarray (n_rows, n_z) or scipy.sparse.csr_array
    zt_sum : ndarray (n_z, n_rows) or scipy.sparse.csr_array
        Sum of the indicators of each row's persons, transposed.
    zmap : scipy.sparse.csr_array, (n_z, sum K)
    complete : bool
        Whether every row answered every item (then ``y = zmap.T @ z + e``).
    counts : ndarray, (n_rows,)
        Number of persons in each row.
    inverse : ndarray of int, (n_persons,)
        Row of each person.
    indptr, obs_col, obs_item : CSR structure of the rows' observed responses (sparse).
    dense : bool
    colidx : ndarray of int (n_rows, n_items), dense designs only
        Column of each row's response to each item; ``sum K`` where not answered.
    excess : ndarray (n_z,) or None
        ``None`` when every row is one response pattern.
    moments : callable(lo, hi) or None
        For score groups: the sum over the persons of rows ``lo:hi`` of ``z z'``,
        (hi - lo, n_z, n_z) (standard errors need it: the scores differ between a group's
        members).
    """

    col_offset: IntArray
    z: object
    zt_sum: object
    zmap: sparse.csr_array
    complete: bool
    counts: FloatArray
    inverse: IntArray
    indptr: IntArray
    obs_col: IntArray
    obs_item: IntArray
    dense: bool
    colidx: IntArray | None = None
    excess: FloatArray | None = None
    moments: Callable[[int, int], FloatArray] | None = None

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.counts.size)

    @property
    def n_cols(self) -> int:
        """Sum of the numbers of categories."""
        return int(self.col_offset[-1])

    @property
    def base_cols(self) -> IntArray:
        """Category-0 column of each item, (n_items,)."""
        return self.col_offset[:-1]


def build_design(
    data: ResponseData,
    n_categories: IntArray,
    *,
    dense: bool | None = None,
    score_groups: bool = False,
) -> Design:
    """Build the E-step design of ``data`` (items already restricted to calibrated ones).

    Parameters
    ----------
    data : ResponseData
    n_categories : ndarray of int, (n_items,)
    dense : bool, optional
        Force a dense (True) or sparse (False) design; default by density.
    score_groups : bool
        Group persons by (answered items, sum score) instead of by pattern; only valid
        when the sum score is sufficient for theta (:func:`common_slope`). Dense only.
    """
    col_offset = np.concatenate([[0], np.cumsum(n_categories)]).astype(np.int64)
    if dense is None:
        dense = data.density >= DENSE_THRESHOLD
    if dense:
        mat = data.to_matrix()
        if score_groups:
            return _score_design(mat, n_categories, col_offset)
        return _pattern_design(mat, n_categories, col_offset)[0]
    return _sparse_design(data, n_categories, col_offset)


def _unique_rows(mat: NDArray[np.integer]) -> tuple[IntArray, IntArray, IntArray]:
    """First row, inverse and count of each distinct row of an integer matrix."""
    view = np.ascontiguousarray(mat).view(np.dtype((np.void, mat.dtype.itemsize * mat.shape[1])))
    _, first, inverse, counts = np.unique(
        view.ravel(), return_index=True, return_inverse=True, return_counts=True
    )
    return first, inverse.ravel(), counts


def _small_codes(mat: IntArray, n_categories: IntArray) -> NDArray[np.integer]:
    return mat.astype(np.int8 if n_categories.max() < 127 else np.int16)


def _pattern_design(
    mat: IntArray, n_categories: IntArray, col_offset: IntArray
) -> tuple[Design, IntArray]:
    """Dense design with one row per distinct pattern, and the first person of each row."""
    n_persons = mat.shape[0]
    has_missing = np.any(mat < 0, axis=0)
    n_patterns_log = float(np.sum(np.log(n_categories + has_missing)))
    if n_patterns_log < np.log(max(n_persons, 1)) + 3.0:
        # few possible patterns: fit each distinct pattern once, weighted by its count
        first, inverse, counts = _unique_rows(_small_codes(mat, n_categories))
    else:  # (almost) every pattern is unique: compressing would cost without saving
        first = inverse = np.arange(n_persons)
        counts = np.ones(n_persons, dtype=np.int64)
    rows = mat[first]
    z, complete = _indicators(rows, n_categories)
    weighted = z.T if np.all(counts == 1) else (z * counts[:, None]).T
    design = _dense_design(z, weighted, complete, rows, counts, inverse, n_categories, col_offset)
    return design, first


def _score_design(mat: IntArray, n_categories: IntArray, col_offset: IntArray) -> Design:
    """Dense design with one row per (answered items, sum score) group."""
    observed = mat >= 0
    score = np.where(observed, mat, 0).sum(axis=1)
    _, missing_id, _ = _unique_rows(observed.view(np.int8))
    key = missing_id.astype(np.int64) * (int(score.max()) + 1) + score
    _, first, inverse, counts = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    rows = mat[first]
    z, complete = _indicators(rows, n_categories)
    z_person = _indicators(mat, n_categories)[0].astype(np.int8)  # 0/1, kept for moments
    members = sparse.csr_array(
        (np.ones(mat.shape[0]), (inverse, np.arange(mat.shape[0]))),
        shape=(first.size, mat.shape[0]),
    )
    z_sum = np.asarray(members @ z_person)
    excess = z_sum.sum(axis=0) - counts @ z

    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])

    def moments(lo: int, hi: int) -> FloatArray:
        out = np.empty((hi - lo, z.shape[1], z.shape[1]))
        for g in range(lo, hi):
            members = z_person[order[bounds[g] : bounds[g + 1]]].astype(float)
            out[g - lo] = members.T @ members
        return out

    design = _dense_design(
        z, np.ascontiguousarray(z_sum.T), complete, rows, counts, inverse, n_categories, col_offset
    )
    design.excess = excess
    design.moments = moments
    return design


def _indicators(rows: IntArray, n_categories: IntArray) -> tuple[FloatArray, bool]:
    """Reduced indicator matrix ``z`` of dense rows and whether every cell is answered."""
    n_items = n_categories.size
    observed = rows >= 0
    complete = bool(observed.all())
    # reduced layout: for each item, one column per category k >= 1 (e_jk - e_j0)
    red_offset = np.concatenate([[0], np.cumsum(n_categories - 1)])
    n_obs_cols = 0 if complete else n_items
    z = np.zeros((rows.shape[0], n_obs_cols + int(red_offset[-1])))
    for k in range(1, int(n_categories.max())):
        items_k = np.nonzero(n_categories > k)[0]
        z[:, n_obs_cols + red_offset[items_k] + k - 1] = rows[:, items_k] == k
    if not complete:
        z[:, :n_items] = observed
    return z, complete


def _dense_design(
    z: FloatArray,
    zt_sum: FloatArray,
    complete: bool,
    rows: IntArray,
    counts: IntArray,
    inverse: IntArray,
    n_categories: IntArray,
    col_offset: IntArray,
) -> Design:
    n_items = n_categories.size
    n_cols = int(col_offset[-1])
    n_obs_cols = 0 if complete else n_items
    n_red = int(np.sum(n_categories - 1))
    up_cols = np.concatenate(
        [col_offset[j] + np.arange(1, n_categories[j]) for j in range(n_items)]
    ).astype(np.int64)
    item_of_col = np.repeat(np.arange(n_items), n_categories)
    zr = np.concatenate(
        [np.arange(n_obs_cols), n_obs_cols + np.arange(n_red), n_obs_cols + np.arange(n_red)]
    )
    zc = np.concatenate([col_offset[:n_obs_cols], up_cols, col_offset[item_of_col[up_cols]]])
    zv = np.concatenate([np.ones(n_obs_cols), np.ones(n_red), -np.ones(n_red)])
    zmap = sparse.csr_array((zv, (zr, zc)), shape=(n_obs_cols + n_red, n_cols))
    colidx = np.where(rows >= 0, col_offset[:-1][None, :] + rows, n_cols).astype(np.int32)
    empty = np.zeros(0, dtype=np.int64)
    return Design(
        col_offset,
        z,
        zt_sum,
        zmap,
        complete,
        counts.astype(float),
        inverse.astype(np.int64),
        empty,
        empty,
        empty,
        True,
        colidx,
    )


def _sparse_design(data: ResponseData, n_categories: IntArray, col_offset: IntArray) -> Design:
    n_cols = int(col_offset[-1])
    n_rows = data.n_persons
    key = data.person.astype(np.int64) * max(1, data.n_items) + data.item
    if key.size > 1 and not bool(np.all(key[1:] > key[:-1])):  # long files come sorted
        order = np.argsort(key, kind="stable")
        person, item, category = data.person[order], data.item[order], data.category[order]
    else:
        person, item, category = data.person, data.item, data.category
    del key
    cols = (col_offset[item] + category).astype(np.int32)  # increasing within each person
    indptr = np.concatenate([[0], np.cumsum(np.bincount(person, minlength=n_rows))])
    # built from its CSR arrays directly (no COO conversion, no sort: already in order)
    y = sparse.csr_array((np.ones(cols.size), cols, indptr), shape=(n_rows, n_cols))
    y.has_sorted_indices = True
    # expected counts Y' @ posterior through the CSC view of Y: person by person, adding
    # into the small (sum K, Q) result, about twice as fast as a CSR copy of Y'
    yt = y.T
    return Design(
        col_offset,
        y,
        yt,
        sparse.identity(n_cols, format="csr"),
        False,
        np.ones(n_rows),
        np.arange(n_rows, dtype=np.int64),
        indptr.astype(np.int64),
        cols,  # int32: 4 bytes per response (40 million responses: 160 MB each)
        item.astype(np.int32),
        False,
        None,
    )
