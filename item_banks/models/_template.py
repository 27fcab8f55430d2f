"""Template for adding an item model (not imported; copy it and fill it in).

1. Copy this class into a module of ``item_banks/models/`` (or a new module imported by
   ``item_banks/models/__init__.py``), rename it and decorate it with ``@register_model``.
2. Give it a lower-case ``name`` (used in bank files, the CLI and the API) and a one-line
   ``description``.
3. Say how many categories it allows (``min_categories``, ``max_categories``; ``None`` for
   no upper limit) and which parameters calibration shares across items
   (``shared_params``). Set ``score_sufficient = True`` when ``log P(X = k) - log P(X = 0)``
   is ``k * a * theta`` plus terms free of ``theta`` (the contract test checks the flag
   either way): calibration then groups persons by sum score when slopes are equal.
4. Implement ``param_names`` (column order of ``params``), ``param_roles`` (the role of
   each parameter: ``slope``, ``location``, ``offset``, ``lower``, ``upper``; calibration's
   start values and slope-intercept form, bank files and the engine read them) and
   ``_log_prob``. Compute the
   log-probabilities directly (``log_expit``, ``logsumexp``, ``log1p``), never as
   ``np.log(prob)``, so that extreme thetas stay finite.
5. That is enough to run: derivatives and information fall back to finite differences.
   For speed, override ``_dlog_prob_dtheta`` (shape (T, I, K)) and ``_dlog_prob_dparams``
   (shape (T, I, K, P)) with analytic formulas; give the admissible region in
   ``_admissible`` (used by calibration and ``admissible``; for example ``a > 0``) and its
   messages in ``_check_finite_params``; set ``location_kind`` or override
   ``start_params`` when the default start values do not fit.
6. The contract test in ``tests/item_banks/test_models_contract.py`` runs over every
   registered model: add the model's parameter generator there (``PARAM_FACTORIES``), then
   run ``make test``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit

from item_banks.models._base import FloatArray, ItemModel


class ExampleModel(ItemModel):  # decorate with @register_model in a real model
    """One-line summary; the formula in the logistic metric (no 1.702)."""

    name = "example"
    description = "example: P = 1 / (1 + exp(-a (theta - b)))"
    min_categories = 2
    max_categories = 2
    shared_params = ()
    score_sufficient = False

    def param_names(self, n_categories: int) -> tuple[str, ...]:
        return ("a", "b")

    def param_roles(self, n_categories: int) -> tuple[str, ...]:
        return ("slope", "location")

    def _log_prob(self, theta: FloatArray, params: FloatArray) -> FloatArray:
        # theta: (T,), params: (I, P) -> (T, I, K)
        z = params[:, 0] * (theta[:, None] - params[:, 1])
        return np.stack([log_expit(-z), log_expit(z)], axis=-1)
