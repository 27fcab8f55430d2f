"""Results of a calibration: parameters with SEs, likelihood, fit, scores, item bank."""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from calibration._em import EMProblem
from calibration._layout import FloatArray
from calibration.data import ResponseData
from calibration.diagnostics import ItemFlag, diverged_items, flags_by_item, item_diagnostics
from calibration.priors import Prior
from item_banks.bank import Item, ItemBank
from item_banks.errors import CalibrationError
from item_banks.models import param_sort_key


def _zapcat_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zapcat")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


@dataclass(eq=False)
class CalibrationResult:
    """Everything a calibration produced.

    Attributes
    ----------
    data : ResponseData
        The data actually used (excluded items and persons removed).
    params : DataFrame
        One row per calibrated item (index ``item_id``): ``model``, ``n_categories``, then
        each parameter and its standard error ``<name>_se`` (NaN where not estimated).
    loglik : float
        Marginal log-likelihood at the estimates (without priors).
    converged, n_iter, loglik_history
        EM diagnostics; ``loglik_history`` is the penalised log-likelihood after each
        accepted EM point (non-decreasing).
    excluded_items, excluded_persons : dict of id to reason
        What was left out and why.
    latent : (float, float) or None
        Estimated mean and SD of the persons' normal distribution (``latent="estimate"``);
        ``None`` when it was fixed at N(0, 1).
    """

    data: ResponseData
    problem: EMProblem
    beta: FloatArray
    cov: FloatArray | None
    loglik: float
    posterior: FloatArray | None
    models: tuple[str, ...]
    priors: Mapping[str, Prior]
    converged: bool
    n_iter: int
    loglik_history: tuple[float, ...]
    excluded_items: dict[str, str]
    excluded_persons: dict[str, str]
    se_method: str
    notes: tuple[str, ...] = ()
    anchored: tuple[str, ...] = ()
    latent: tuple[float, float] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    singular: tuple[str, ...] = ()
    em_converged: bool | None = None

    def __post_init__(self) -> None:
        # "converged" means the estimates converged: EM's steps became small AND no
        # parameter diverged (a slope running to infinity also makes EM's steps small)
        if self.em_converged is None:
            self.em_converged = self.converged
        self.converged = bool(self.em_converged) and not self.diverged_items()

    # ---------------------------------------------------------------- diagnostics
    @cached_property
    def flags(self) -> list[ItemFlag]:
        """Diagnostics of every parameter that ran off (see :mod:`calibration.diagnostics`)."""
        theta = self.problem.theta
        return item_diagnostics(self.params, (float(theta[0]), float(theta[-1])), self.singular)

    def diverged_items(self) -> list[str]:
        """Ids of items with a diverged parameter (off-scale, diverging slope, singular)."""
        return diverged_items(self.flags)

    @property
    def penalised_loglik(self) -> float:
        """Log-likelihood plus the log prior densities (what EM maximised with priors)."""
        return self.loglik + self.problem.log_prior(self.beta)

    # --------------------------------------------------------------- parameters
    @property
    def item_ids(self) -> tuple[str, ...]:
        """Calibrated item ids, in data order."""
        return self.data.item_ids

    @cached_property
    def _entries(self) -> tuple[list[FloatArray], list[FloatArray]]:
        """Parameter values and SEs per group, (n_g, P) each."""
        values = self.problem.unpack(self.beta)
        ses = []
        for g, v in zip(self.problem.groups, values, strict=True):
            se = np.full(v.shape, np.nan)
            if self.cov is not None and g.n_beta:
                sl = slice(g.beta_start, g.beta_start + g.n_beta)
                block = self.cov[sl, sl]
                if g.jac is not None:
                    var = np.einsum("ij,jk,ik->i", g.jac, block, g.jac).reshape(v.shape)
                    var[g.anchored] = np.nan
                else:
                    var = np.full(v.shape, np.nan)
                    var[g.free_rows] = np.diag(block).reshape(-1, g.n_params)
                se = np.sqrt(np.maximum(var, 0.0))
            ses.append(se)
        return values, ses

    @cached_property
    def params(self) -> pd.DataFrame:
        """Parameter table by item id: model, n_categories, parameters and ``*_se``."""
        values, ses = self._entries
        n = len(self.item_ids)
        model = np.empty(n, dtype=object)
        n_categories = np.zeros(n, dtype=np.int64)
        columns: dict[str, np.ndarray] = {}  # built column by column (NaN where not a param)
        for g, v, se in zip(self.problem.groups, values, ses, strict=True):
            model[g.items] = g.model.name
            n_categories[g.items] = g.n_categories
            for c, name in enumerate(g.names):
                columns.setdefault(name, np.full(n, np.nan))[g.items] = v[:, c]
                columns.setdefault(f"{name}_se", np.full(n, np.nan))[g.items] = se[:, c]
        names = sorted((c for c in columns if not c.endswith("_se")), key=param_sort_key)
        data: dict[str, Any] = {"model": model, "n_categories": n_categories}
        data.update({x: columns[x] for name in names for x in (name, f"{name}_se")})
        return pd.DataFrame(data, index=pd.Index(self.item_ids, name="item_id"))

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals, long format.

        Parameters
        ----------
        alpha : float in (0, 1)

        Returns
        -------
        DataFrame
            Columns ``item_id, param, estimate, se, lower, upper``.
        """
        if not 0 < alpha < 1:
            raise CalibrationError(f"alpha must be in (0, 1), got {alpha!r}")
        from scipy import stats  # scipy.stats costs 0.3 s to import: only when asked

        z = stats.norm.ppf(1 - alpha / 2)
        out = []
        table = self.params
        for item_id, row in table.iterrows():
            for col in table.columns:
                if col in ("model", "n_categories") or col.endswith("_se"):
                    continue
                if pd.isna(row[col]):
                    continue
                se = row[f"{col}_se"]
                out.append((item_id, col, row[col], se, row[col] - z * se, row[col] + z * se))
        return pd.DataFrame(out, columns=["item_id", "param", "estimate", "se", "lower", "upper"])

    # ------------------------------------------------------------------ likelihood
    @property
    def n_params(self) -> int:
        """Number of estimated parameters."""
        return int(self.beta.size)

    @property
    def n_persons(self) -> int:
        """Number of persons used."""
        return self.data.n_persons

    @property
    def aic(self) -> float:
        """Akaike information criterion ``-2 loglik + 2 n_params``."""
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 loglik + log(n_persons) n_params``."""
        return -2.0 * self.loglik + np.log(self.n_persons) * self.n_params

    # ------------------------------------------------------------------------ bank
    def provenance(self) -> dict[str, Any]:
        """Where the parameters come from (stored in the bank this result writes)."""
        theta = self.problem.theta
        return {
            "software": f"zapcat {_zapcat_version()}",
            "method": "marginal maximum likelihood (Bock-Aitkin EM, SQUAREM)"
            + (" with priors" if self.priors else ""),
            "data_file": self.data.source,
            "data_sha256": self.data.sha256,
            "n_persons": self.n_persons,
            "n_items": len(self.item_ids),
            "n_responses": self.data.n_observed,
            "models": dict(sorted({m: self.models.count(m) for m in self.models}.items())),
            "priors": {k: str(v) for k, v in self.priors.items()},
            "anchored_items": list(self.anchored),
            "loglik": self.loglik,
            **({"penalised_loglik": self.penalised_loglik} if self.priors else {}),
            "aic": self.aic,
            "bic": self.bic,
            "converged": self.converged,
            "diverged_items": self.diverged_items(),
            "flagged_items": list(flags_by_item(self.flags)),
            "n_iter": self.n_iter,
            "quadrature": {
                "n_points": int(theta.size),
                "range": [float(theta[0]), float(theta[-1])],
                "latent": self.latent_text,
            },
            "standard_errors": self.se_method,
            "excluded_items": dict(self.excluded_items),
            "n_excluded_persons": len(self.excluded_persons),
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }

    @property
    def latent_text(self) -> str:
        """The persons' distribution: ``"N(0, 1)"`` or ``"N(0.412, 0.873^2) estimated"``."""
        if self.latent is None:
            return "N(0, 1)"
        return f"N({self.latent[0]:.3f}, {self.latent[1]:.3f}^2) estimated"

    def negative_slopes(self) -> list[str]:
        """Ids of items whose estimated slope is negative (reverse-keyed items).

        The slope is the parameter with role ``slope`` in the item model's contract.
        """
        return [item_id for item_id, _, _ in self._negative_slopes()]

    def _negative_slopes(self) -> list[tuple[str, str, float]]:
        out = []
        for g, values in zip(self.problem.groups, self._entries[0], strict=True):
            cols = g.model.columns(g.n_categories, "slope")
            if cols:
                for r in np.nonzero(values[:, cols[0]] <= 0)[0]:
                    out.append((self.item_ids[g.items[r]], g.names[cols[0]],
                                float(values[r, cols[0]])))  # fmt: skip
        order = {item_id: n for n, item_id in enumerate(self.item_ids)}
        return sorted(out, key=lambda entry: order[entry[0]])

    def _items(
        self, skip: set[str] | frozenset[str] = frozenset(), accept_flagged: bool = False
    ) -> list[Item]:
        """Calibrated items from the numeric estimates (not the display frame).

        With their category codes and calibration flags (accepted when ``accept_flagged``).
        """
        flags = flags_by_item(self.flags)
        codes = dict(zip(self.item_ids, self.data.category_codes, strict=True))
        values, ses = self._entries
        items: dict[int, Item] = {}
        for g, v, se in zip(self.problem.groups, values, ses, strict=True):
            for r, j in enumerate(g.items):
                item_id = str(self.item_ids[j])
                if item_id in skip:
                    continue
                params = {n: float(v[r, c]) for c, n in enumerate(g.names)}
                errors = {n: float(se[r, c]) for c, n in enumerate(g.names)
                          if np.isfinite(se[r, c])}  # fmt: skip
                own = [f"{f.param}: {f.reason}" for f in flags.get(item_id, [])]
                items[int(j)] = Item(item_id, g.model.name, params, g.n_categories, se=errors,
                                     codes=codes[item_id], flags=own,
                                     flags_accepted=accept_flagged and bool(own))  # fmt: skip
        return [items[j] for j in sorted(items)]

    def to_item_bank(
        self,
        name: str = "calibrated",
        version: str = "1",
        description: str = "",
        *,
        accept_flagged: bool = False,
    ) -> ItemBank:
        """The calibrated items as an :class:`~item_banks.ItemBank` (SEs and provenance).

        Each item keeps its category codes (``Item.codes``) and the diagnostics of its
        parameters (``Item.flags``, see :attr:`flags`); the engine does not administer a
        flagged item unless its flags are accepted.

        Parameters
        ----------
        name, version, description : str
        accept_flagged : bool, default False
            Mark the flagged items as accepted by their owner (the engine then gives them).

        Returns
        -------
        ItemBank

        Raises
        ------
        CalibrationError
            When some items have negative slopes (an item bank needs ``a > 0``): reverse
            their scoring (or leave them out) and calibrate again.
        """
        negative = self._negative_slopes()
        if negative:
            shown = ", ".join(f"{i} ({n} = {v:.3f})" for i, n, v in negative[:20])
            raise CalibrationError(
                f"{len(negative)} item(s) have negative slopes, which an item bank does not "
                f"allow: {shown}; reverse their scoring or leave them out and calibrate again"
            )
        return ItemBank(
            self._items(accept_flagged=accept_flagged),
            name=name,
            version=version,
            description=description,
            provenance=self.provenance(),
        )

    def _scoring_bank(self) -> tuple[ItemBank, list[str]]:
        """Bank of the items usable for person scoring and the ids left out (a <= 0)."""
        negative = self.negative_slopes()
        bank = ItemBank(self._items(set(negative)), name="scoring")
        return bank, negative

    # ---------------------------------------------------------------- scores, fit
    def scores(self, method: str = "eap", **options: Any) -> pd.DataFrame:
        """Person scores from the engine's ability estimators.

        Parameters
        ----------
        method : {"eap", "map", "ml", "wle"}
        **options
            Passed to :func:`engine.ability.get_estimator` (``prior_sd``, ``theta_range``
            ...). Patterns with every answer in the lowest or highest category are scored
            by the estimator's documented rule (ML: EAP; never an infinity).

        Returns
        -------
        DataFrame
            Index ``person_id``; columns ``theta, se, n_responses``.
        """
        from engine.ability import get_estimator

        estimator = get_estimator(method, **options)
        bank, left_out = self._scoring_bank()
        matrix = self.data.to_matrix()[:, [self.item_ids.index(i) for i in bank.item_ids]]
        theta, se = estimator.estimate_many(bank, matrix)
        n_resp = np.bincount(self.data.person, minlength=self.n_persons)
        out = pd.DataFrame(
            {"theta": theta, "se": se, "n_responses": n_resp},
            index=pd.Index(self.data.person_ids, name="person_id"),
        )
        out.attrs["notes"] = (
            [f"items with negative slopes left out of scoring: {', '.join(left_out)}"]
            if left_out
            else []
        )
        return out

    def item_fit(
        self,
        statistics: tuple[str, ...] = ("sx2", "infit", "rmsd"),
        theta: FloatArray | None = None,
    ) -> pd.DataFrame:
        """Item fit statistics (see :mod:`calibration.fit`).

        Parameters
        ----------
        statistics : tuple of {"sx2", "infit", "rmsd"}
            ``infit`` also gives outfit.
        theta : ndarray (n_persons,), optional
            Person estimates for infit/outfit; default EAP from :meth:`scores`.

        Returns
        -------
        DataFrame
            By item id: ``sx2, sx2_df, sx2_p``, ``infit, infit_z, infit_p, outfit,
            outfit_z, outfit_p``, ``rmsd``; ``attrs["notes"]`` says why a statistic is
            missing, ``attrs["item_notes"]`` why S-X2 is missing for each such item.
        """
        from calibration import fit

        unknown = [s for s in statistics if s not in fit.FIT_STATISTICS]
        if unknown:
            raise CalibrationError(
                f"unknown fit statistic(s) {unknown}; choose from {', '.join(fit.FIT_STATISTICS)}"
            )
        parts = []
        notes: list[str] = []
        item_notes: dict[str, str] = {}
        if "sx2" in statistics:
            part = fit.sx2(self)
            notes += part.attrs.get("notes", [])
            item_notes = dict(part.attrs.get("item_notes", {}))
            parts.append(part)
        if "infit" in statistics:
            if theta is None:
                scores = self.scores("eap")
                notes += scores.attrs["notes"]
                theta = scores["theta"].to_numpy()
            parts.append(fit.infit_outfit(self, np.asarray(theta, dtype=float)))
        if "rmsd" in statistics:
            parts.append(
                pd.DataFrame(
                    {"rmsd": fit.rmsd(self)}, index=pd.Index(self.item_ids, name="item_id")
                )
            )
        out = pd.concat(parts, axis=1)
        out.attrs["notes"] = notes
        out.attrs["item_notes"] = item_notes  # why S-X2 is missing, by item
        return out

    # --------------------------------------------------------------------- summary
    def summary(self) -> Summary:
        """Printable summary (text in a terminal, HTML in a notebook)."""
        return Summary(self)


class Summary:
    """Summary of a calibration; ``str()`` gives text, notebooks render HTML."""

    def __init__(self, result: CalibrationResult) -> None:
        self.result = result

    def _em_line(self) -> str:
        r = self.result
        diverged = r.diverged_items()
        if r.converged:
            return f"{r.n_iter} (converged)"
        if diverged:
            shown = ", ".join(diverged[:10]) + (
                f" and {len(diverged) - 10} more" if len(diverged) > 10 else ""
            )
            why = (
                "EM's steps became small because those parameters ran off"
                if r.em_converged
                else "max_iter reached"
            )
            return f"{r.n_iter} (NOT converged: parameters diverged in {shown}; {why})"
        return f"{r.n_iter} (NOT converged: max_iter reached before tol)"

    def _loglik_line(self) -> str:
        r = self.result
        if not r.priors:
            return f"{r.loglik:.3f}"
        return (
            f"{r.loglik:.3f} (penalised by the priors: {r.penalised_loglik:.3f}; a prior is "
            "in effect, so models with different priors are compared on the penalised value "
            "and AIC/BIC are approximate)"
        )

    def category_lines(self) -> list[str]:
        """Items whose data codes are not 0..K-1, with the mapping kept in the bank."""
        r = self.result
        groups: dict[tuple[float, ...], list[str]] = {}
        for item_id, codes in zip(r.item_ids, r.data.category_codes, strict=True):
            if tuple(codes) != tuple(float(k) for k in range(len(codes))):
                groups.setdefault(tuple(codes), []).append(item_id)
        lines = []
        all_codes = {c for codes in r.data.category_codes for c in codes}
        for codes, ids in groups.items():
            shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
            mapping = ", ".join(f"{c:g}->{k}" for k, c in enumerate(codes))
            unused = sorted(all_codes - set(codes))
            extra = (
                f" (code {', '.join(f'{c:g}' for c in unused)} of other items not used: "
                f"{len(codes)} categories)"
                if unused
                else ""
            )
            lines.append(f"{shown}: codes {mapping}{extra}")
        return lines

    def _head(self) -> list[tuple[str, str]]:
        r = self.result
        models = ", ".join(
            f"{m} x{n}" for m, n in sorted({m: r.models.count(m) for m in r.models}.items())
        )
        head = [
            (
                "data",
                f"{r.data.source} ({r.n_persons} persons, {len(r.item_ids)} items, "
                f"{r.data.n_observed} responses, {100 * r.data.density:.1f}% observed)",
            ),
            ("models", models),
            ("priors", ", ".join(f"{k} ~ {v}" for k, v in r.priors.items()) or "none"),
            ("log-likelihood", self._loglik_line()),
            ("AIC / BIC", f"{r.aic:.2f} / {r.bic:.2f}"),
            ("parameters", str(r.n_params)),
            ("EM steps", self._em_line()),
            (
                "quadrature",
                f"{r.problem.theta.size} points on [{r.problem.theta[0]:g}, "
                f"{r.problem.theta[-1]:g}], {r.latent_text}",
            ),
            ("standard errors", r.se_method),
            (
                "excluded items",
                "; ".join(f"{k} ({v})" for k, v in r.excluded_items.items()) or "none",
            ),
            ("excluded persons", str(len(r.excluded_persons))),
        ]
        for n, line in enumerate(self.category_lines()):
            head.append(("categories" if n == 0 else "", line))
        return head

    def flag_lines(self) -> list[str]:
        """One line per flagged parameter: item, reason and remedy."""
        flags = self.result.flags
        if not flags:
            return []
        n_items = len({f.item_id for f in flags})
        lines = [
            f"flagged items ({n_items}): the bank records these flags and the engine does not "
            "administer a flagged item until it is accepted (zapcat bank accept, or "
            "--accept-flagged)"
        ]
        lines += [f"  - {f.item_id} {f.param}: {f.reason}; {f.remedy}" for f in flags]
        return lines

    def __str__(self) -> str:
        lines = ["Zapcat calibration"]
        lines += [f"  {k:<17} {v}" for k, v in self._head()]
        lines += [f"  note: {n}" for n in (*self.result.data.notes, *self.result.notes)]
        lines += [f"  {line}" for line in self.flag_lines()]
        lines.append("")
        lines.append(self.result.params.to_string(float_format=lambda x: f"{x:.4f}"))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._head()
        )
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.result.notes)
        flags = "".join(f"<p>{html.escape(n)}</p>" for n in self.flag_lines())
        table = self.result.params.to_html(float_format=lambda x: f"{x:.4f}")
        return f"<h4>Zapcat calibration</h4><table>{head}</table>{notes}{flags}{table}"
