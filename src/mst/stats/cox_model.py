"""Cox proportional hazards regression, matching R ``survival::coxph``.

Efron (default) or Breslow handling of ties, strata, cluster-robust (sandwich) standard
errors, counting-process ``(start, stop]`` input for time-dependent covariates and left
truncation. Newton–Raphson with step halving; the risk-set sums are O(n log n)
(see :mod:`mst.stats._regression_cox_core`). Validated against ``coxph`` on survival's
``lung``, ``veteran`` and ``jasa1`` (tests/reference/make_reference_regression.R).
Seed 002 (002 Methods, "Statistical analysis") uses univariate and multivariate Cox models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from mst.errors import ValidationError
from mst.io.frame_ops import only_columns
from mst.stats import _cox_extras as _extras
from mst.stats import _regression_cox_core as core
from mst.stats._coef_result import CoefficientTable
from mst.stats._concordance import Concordance, concordance_se
from mst.stats._design import (
    Design,
    check_design,
    complete_rows,
    design_from_columns,
    design_from_formula,
    parse_surv_formula,
)
from mst.stats.io import outcome_frame

Ties = Literal["efron", "breslow", "exact"]
Residual = Literal["martingale", "deviance", "score", "schoenfeld", "dfbeta"]


@dataclass(frozen=True)
class _CoxData:
    """What a fitted model keeps of its data (for residuals, prediction and tests)."""

    prep: list[Any]
    xs: list[Any]
    stop: NDArray[np.float64]
    event: NDArray[np.bool_]
    start: NDArray[np.float64] | None
    strata: NDArray[np.intp]
    strata_labels: list[str]
    Xc: NDArray[np.float64]
    means: NDArray[np.float64]
    index: pd.Index
    weights: NDArray[np.float64] | None = None
    cluster: NDArray[np.intp] | None = None


def _term_of(name: str) -> str:
    """Term of a design column: ``grp[b]`` belongs to ``grp``."""
    return name.split("[", 1)[0] if name.endswith("]") and "[" in name else name


@dataclass(frozen=True)
class CoxResult(CoefficientTable):
    """A fitted Cox model.

    Attributes
    ----------
    names : list of str
        Covariate (design column) names.
    coef : ndarray
        Log hazard ratios.
    se : ndarray
        Standard errors used for inference: robust (sandwich) when ``robust`` is true,
        else model-based.
    naive_se : ndarray
        Model-based standard errors (inverse information).
    var : ndarray
        Variance matrix matching ``se``.
    loglik : tuple of float
        Log partial likelihood at beta = 0 and at the estimate.
    score_test, wald_test, lr_test : float
        Global tests on ``p`` degrees of freedom (the Wald test uses ``var``).
    n, events : int
        Rows used and number of events.
    ties : str
        ``"efron"``, ``"breslow"`` or ``"exact"``.
    robust : bool
        Whether ``se`` is the sandwich estimate.
    converged : bool
        Whether Newton–Raphson converged.
    iterations : int
        Newton iterations used.
    alpha : float
        1 - confidence level of the intervals.
    n_dropped : int
        Rows dropped for missing values.
    references : dict
        Reference levels of categorical covariates.
    """

    names: list[str]
    coef: NDArray[np.float64]
    se: NDArray[np.float64]
    naive_se: NDArray[np.float64]
    var: NDArray[np.float64]
    loglik: tuple[float, float]
    score_test: float
    wald_test: float
    lr_test: float
    n: int
    events: int
    ties: str
    robust: bool
    converged: bool
    iterations: int
    alpha: float = 0.05
    n_dropped: int = 0
    references: dict[str, str] = field(default_factory=dict)
    weighted: bool = False
    _problem: Any = field(default=None, repr=False, compare=False)

    def _data(self, what: str) -> _CoxData:
        if self._problem is None:
            raise ValidationError(what, None, "needs a model fitted by this package")
        if self.weighted:
            raise ValidationError(what, None, "is not implemented for case-weighted fits")
        if self.ties == "exact" and what != "predict":
            raise ValidationError(
                what, None, "is not available with exact ties (as in R); refit with ties='efron'"
            )
        return self._problem  # type: ignore[no-any-return]

    def zph(
        self, transform: Literal["km", "identity", "rank", "log"] = "km", terms: bool = True
    ) -> pd.DataFrame:
        """Test of proportional hazards from scaled Schoenfeld residuals (R ``cox.zph``).

        For each term, the score test of adding ``x·g(t)`` to the model, where g is the
        transformed time (default: 1 - Kaplan–Meier just before t), using the full
        information matrix as ``survival::cox.zph`` (survival >= 3.0) does; plus the global
        test on ``p`` degrees of freedom.

        Parameters
        ----------
        transform : {"km", "identity", "rank", "log"}
            Time transform g.
        terms : bool
            As R's default ``terms=TRUE``: the dummies of one categorical covariate are
            tested together (one row per covariate, df = number of dummies); ``False``
            gives one row per design column.

        Returns
        -------
        DataFrame
            Index: the terms (or columns) and ``GLOBAL``; columns ``chisq``, ``df``, ``p``.
        """
        d = self._data("zph")
        times = _zph_times(d.stop, d.event, d.start, transform)
        ut = np.unique(d.stop[d.event])
        gt = [times[np.searchsorted(ut, S.times)] for S in d.prep]
        u, imat = core.zph_score_info(d.prep, d.xs, self.coef, gt)
        p = self.coef.size
        u[:p] = 0.0
        groups: dict[str, list[int]] = {}
        for j, name in enumerate(self.names):
            groups.setdefault(_term_of(name) if terms else name, []).append(j)
        rows, dfs = [], []
        for cols in groups.values():
            kk = [*range(p), *(p + j for j in cols)]
            uu = u[kk]
            rows.append(float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu)))
            dfs.append(len(cols))
        rows.append(float(u @ np.linalg.solve(imat, u)))
        dfs.append(p)
        return pd.DataFrame(
            {"chisq": rows, "df": dfs, "p": sps.chi2.sf(rows, dfs)},
            index=pd.Index([*groups, "GLOBAL"], name="term" if terms else "covariate"),
        )

    def zph_residuals(
        self, transform: Literal["km", "identity", "rank", "log"] = "km"
    ) -> pd.DataFrame:
        """Scaled Schoenfeld residuals (R ``cox.zph(fit)$y``) with the transformed time.

        Returns
        -------
        DataFrame
            One row per event: ``time``, ``g`` (transformed time) and one column per
            covariate (β_j + scaled residual, the quantity ``plot(cox.zph(fit))`` smooths).
        """
        d = self._data("zph_residuals")
        r, t, _ = _extras.schoenfeld(d.prep, d.xs, self.coef)
        g = _zph_times(d.stop, d.event, d.start, transform)
        ut = np.unique(d.stop[d.event])
        gv = g[np.searchsorted(ut, t)]
        scaled = r @ _inv_naive(self) * self.events + self.coef
        out = pd.DataFrame(scaled, columns=self.names)
        out.insert(0, "g", gv)
        out.insert(0, "time", t)
        return out

    def plot_zph(self, term: str | None = None, ax: Any = None) -> Any:
        """Plot the scaled Schoenfeld residuals of one covariate against transformed time,
        with a lowess-free running-mean smooth and the fitted coefficient (as
        ``plot(cox.zph(fit))``); returns the matplotlib Axes (never shows it)."""
        from mst.stats.plotting import zph_plot

        return zph_plot(self, term, ax)

    # --- analyst API ---------------------------------------------------------------
    @property
    def aic(self) -> float:
        """Akaike information criterion −2·loglik + 2·p (R ``AIC(fit)``)."""
        return float(-2.0 * self.loglik[1] + 2.0 * self.coef.size)

    @functools.cached_property
    def concordance_stats(self) -> Concordance | None:
        """Harrell's C with its standard error and pair counts, as R
        ``concordance(fit)`` (``None`` for a model built from aggregates). Within strata;
        case weights as R (a pair counts w_i·w_j); for (start, stop] rows the partners of
        an event are the rows at risk at its time, as R; with ``cluster`` the influence
        terms are summed per cluster (R's SE for a model with ``cluster()``)."""
        d = self._problem
        if d is None:
            return None
        return concordance_se(
            d.stop, d.event, d.Xc @ self.coef, d.strata, d.weights, d.start, d.cluster
        )

    @property
    def concordance(self) -> float:
        """Harrell's C of the linear predictor (R ``concordance(fit)$concordance``).

        Within strata when the model has strata; for ``(start, stop]`` rows an event is
        compared with the rows at risk at its time (R's ``concordance`` for such data).
        """
        c = self.concordance_stats
        return float("nan") if c is None else c.concordance

    @property
    def concordance_se(self) -> float:
        """Standard error of :attr:`concordance` (R ``sqrt(concordance(fit)$var)``, the
        ``se(C)`` of ``summary(coxph)``); NaN where the concordance is."""
        c = self.concordance_stats
        return float("nan") if c is None else c.se

    def baseline_hazard(self) -> pd.DataFrame:
        """Baseline cumulative hazard at the covariate means (R ``basehaz(fit)``).

        Efron-adjusted increments for tied deaths when ``ties="efron"`` (as
        ``survfit.coxph``). One row per distinct event time (per stratum).

        Returns
        -------
        DataFrame
            Columns ``time``, ``hazard`` (increment), ``cumhaz``, ``survival``,
            ``n_risk``, ``n_event`` and ``strata`` when the model has strata.
        """
        d = self._data("baseline_hazard")
        parts = []
        for S, h in zip(d.prep, _extras.baseline_hazard(d.prep, d.xs, self.coef), strict=True):
            label = d.strata_labels[int(d.strata[S.rows[0]])]
            cum = np.cumsum(h.hazard)
            parts.append(
                pd.DataFrame(
                    {
                        "time": h.times,
                        "hazard": h.hazard,
                        "cumhaz": cum,
                        "survival": np.exp(-cum),
                        "n_risk": h.n_risk,
                        "n_event": h.n_event,
                        "strata": label,
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
        if len(d.strata_labels) == 1:
            out = out.drop(columns="strata")
        return out

    def baseline_survival(self) -> pd.DataFrame:
        """Baseline survival exp(−cumhaz) at the covariate means (see
        :meth:`baseline_hazard`)."""
        return self.baseline_hazard()[["time", "survival"]]

    def _design_rows(self, x: ArrayLike | pd.DataFrame) -> NDArray[np.float64]:
        if isinstance(x, pd.DataFrame):
            missing = [c for c in self.names if c not in x.columns]
            if missing:
                raise ValidationError(
                    "x", None, f"needs the design columns {', '.join(self.names)}"
                )
            xa = x[self.names].to_numpy(dtype=np.float64)
        else:
            xa = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if xa.ndim != 2 or xa.shape[1] != self.coef.size:
            raise ValidationError(
                "x", None, f"needs {self.coef.size} columns ({', '.join(self.names)})"
            )
        return xa

    def predict(
        self,
        x: ArrayLike | pd.DataFrame | None = None,
        type: Literal["lp", "risk", "survival", "median"] = "lp",
        times: ArrayLike | None = None,
    ) -> pd.Series | pd.DataFrame:
        """Predictions for covariate rows (R ``predict.coxph`` / ``survfit(fit, newdata)``).

        Parameters
        ----------
        x : array_like or DataFrame, optional
            Rows of the design (columns as :attr:`names`; dummies included); default: the
            rows the model was fitted on.
        type : {"lp", "risk", "survival", "median"}
            ``lp`` = linear predictor centred at the covariate means (as R), ``risk`` =
            exp(lp) (partial hazard), ``survival`` = predicted survival curves (unstratified
            models), ``median`` = median survival time of each row (NaN when not reached).
        times : array_like, optional
            For ``survival``: the times (default: the event times).

        Returns
        -------
        Series or DataFrame
            One value per row; survival curves as a DataFrame indexed by time.
        """
        d = self._data("predict")
        xa = d.Xc + d.means if x is None else self._design_rows(x)
        lp = (xa - d.means) @ self.coef
        if type == "lp":
            return pd.Series(lp, name="lp")
        if type == "risk":
            return pd.Series(np.exp(lp), name="risk")
        if type not in ("survival", "median"):
            raise ValidationError("type", type, "must be lp, risk, survival or median")
        if len(d.strata_labels) > 1:
            raise ValidationError(
                "predict", type, "survival curves of a stratified model: use baseline_hazard()"
            )
        base = self.baseline_hazard()
        if type == "median":
            from mst.stats.km import survival_quantile

            return pd.Series(
                [
                    survival_quantile(
                        base.time.to_numpy(), np.exp(-base.cumhaz.to_numpy() * np.exp(v))
                    )
                    for v in lp
                ],
                name="median",
            )
        grid = base.time.to_numpy() if times is None else np.asarray(times, dtype=np.float64)
        k = np.searchsorted(base.time.to_numpy(), grid, side="right") - 1
        H = np.where(k >= 0, base.cumhaz.to_numpy()[np.clip(k, 0, None)], 0.0)
        return pd.DataFrame(np.exp(-np.outer(H, np.exp(lp))), index=pd.Index(grid, name="time"))

    def residuals(self, type: Residual = "martingale") -> pd.Series | pd.DataFrame:
        """Residuals as R ``residuals(fit, type=)``.

        Parameters
        ----------
        type : {"martingale", "deviance", "score", "schoenfeld", "dfbeta"}
            ``dfbeta`` = score residuals times the model-based variance (R's default).

        Returns
        -------
        Series or DataFrame
            Indexed by the rows of the fitted data (Schoenfeld: one row per event, ordered
            by time, indexed by the event's row; columns = covariates).
        """
        d = self._data("residuals")
        n = d.stop.size
        if type in ("martingale", "deviance"):
            m = _extras.martingale(d.prep, d.xs, self.coef, n)
            if type == "deviance":
                m = _extras.deviance(m, d.event)
            return pd.Series(m, index=d.index, name=type)
        if type in ("score", "dfbeta"):
            sc = core.score_residuals(d.prep, d.Xc, self.coef)
            if type == "dfbeta":
                sc = sc @ _inv_naive(self)
            return pd.DataFrame(sc, index=d.index, columns=self.names)
        if type == "schoenfeld":
            r, t, rows = _extras.schoenfeld(d.prep, d.xs, self.coef)
            out = pd.DataFrame(r, index=d.index[rows], columns=self.names)
            out.insert(0, "time", t)
            return out
        raise ValidationError(
            "type", type, "must be martingale, deviance, score, schoenfeld or dfbeta"
        )

    def summary(self) -> str:
        """A text summary as R ``summary(coxph)``: n, events, reference levels, the
        coefficient table, concordance, AIC and the three global tests."""
        from mst.stats._summary import cox_text

        return cox_text(self)

    def print_summary(self, file: Any = None) -> None:
        """Write :meth:`summary` to ``file`` (default: standard output), as lifelines'
        ``print_summary``."""
        import sys

        print(self.summary(), file=file or sys.stdout)

    def plot(
        self, x: ArrayLike | pd.DataFrame, names: Sequence[str] | None = None, ax: Any = None
    ) -> Any:
        """Predicted survival curves for covariate rows (R ``plot(survfit(fit, newdata))``);
        returns the matplotlib Axes and never shows it."""
        from mst.stats.plotting import curves_plot

        pred = self.predict(x, type="survival")
        labels = list(names) if names is not None else [f"row {j + 1}" for j in pred.columns]
        return curves_plot(pred.index.to_numpy(), pred.to_numpy(), labels, "Survival", ax)

    def __repr__(self) -> str:
        return (
            f"<CoxResult n={self.n} events={self.events} ties={self.ties} "
            f"covariates={', '.join(self.names)} loglik={self.loglik[1]:.4f}>"
        )

    @property
    def df(self) -> int:
        """Degrees of freedom of the global tests."""
        return len(self.names)

    def test_p(self, which: Literal["score", "wald", "lr"]) -> float:
        """p-value of a global test (chi-square on ``df`` degrees of freedom)."""
        stat = {"score": self.score_test, "wald": self.wald_test, "lr": self.lr_test}[which]
        return float(sps.chi2.sf(stat, self.df))

    _model_name = "cox"

    def _dict_head(self) -> dict[str, Any]:
        return {"ties": self.ties, "robust": self.robust}

    def global_tests(self) -> dict[str, dict[str, float]]:
        """The score, Wald and likelihood-ratio tests (``statistic``, ``df``, ``p``), as
        ``"tests"`` of :meth:`to_dict`."""
        return {
            k: {"statistic": getattr(self, f"{k}_test"), "df": self.df, "p": self.test_p(k)}
            for k in ("score", "wald", "lr")
        }

    def _dict_tail(self) -> dict[str, Any]:
        return {
            "loglik": list(self.loglik),
            "tests": self.global_tests(),
            "concordance": self.concordance,
            "concordance_se": self.concordance_se,
            "aic": self.aic,
        }

    @classmethod
    def from_estimates(
        cls,
        *,
        names: list[str],
        coef: NDArray[np.float64],
        naive_var: NDArray[np.float64],
        var: NDArray[np.float64],
        info0: NDArray[np.float64],
        score0: NDArray[np.float64],
        loglik: tuple[float, float],
        **fields: Any,
    ) -> CoxResult:
        """A result from the estimates, with the standard errors and global tests derived
        as ``coxph`` does (one construction for :func:`cox_fit` and the federated fit).

        Parameters
        ----------
        names : list of str
            Covariate names.
        coef : ndarray
            Estimated log hazard ratios.
        naive_var : ndarray
            Model-based variance (inverse information at ``coef``).
        var : ndarray
            Variance used for inference (``naive_var`` or a sandwich).
        info0, score0 : ndarray
            Information and score at beta = 0 (the score test).
        loglik : tuple of float
            Log partial likelihood at 0 and at ``coef``.
        **fields
            The other fields of :class:`CoxResult` (n, events, ties, robust, ...).

        Returns
        -------
        CoxResult
            The result; ``numpy.linalg.LinAlgError`` when ``var`` is singular (Wald test).
        """
        return cls(
            names=names,
            coef=coef,
            se=np.sqrt(np.diag(var)),
            naive_se=np.sqrt(np.diag(naive_var)),
            var=var,
            loglik=loglik,
            score_test=float(score0 @ _inv(info0) @ score0),
            wald_test=float(coef @ np.linalg.solve(var, coef)),
            lr_test=2.0 * (loglik[1] - loglik[0]),
            **fields,
        )


def _zph_times(
    stop: NDArray[np.float64],
    event: NDArray[np.bool_],
    start: NDArray[np.float64] | None,
    transform: str,
) -> NDArray[np.float64]:
    """g(t) at each distinct event time, centred on its mean over the events (as cox.zph)."""
    ut = np.unique(stop[event])
    t_ev = stop[event]
    if transform == "km":
        alltimes = np.unique(stop)
        d = np.bincount(np.searchsorted(alltimes, t_ev), minlength=alltimes.size)
        at_risk = stop.size - np.searchsorted(np.sort(stop), alltimes, side="left")
        if start is not None:
            at_risk = at_risk - (
                start.size - np.searchsorted(np.sort(start), alltimes, side="left")
            )
        surv = np.cumprod(1.0 - d / at_risk)
        k = np.searchsorted(alltimes, ut, side="left")  # times strictly before
        g = 1.0 - np.concatenate(([1.0], surv))[k]
    elif transform == "identity":
        g = ut.astype(np.float64)
    elif transform == "log":
        g = np.log(ut)
    elif transform == "rank":
        from scipy.stats import rankdata

        r = rankdata(stop)
        g = np.array([r[stop == t][0] for t in ut])
    else:
        raise ValidationError("transform", transform, "must be km, identity, rank or log")
    g_ev = g[np.searchsorted(ut, t_ev)]
    return g - g_ev.mean()


#: R ``coxph.control(eps=)``: the log-likelihood has converged when |1 - old/new| <= this.
LOGLIK_EPS = 1e-9
#: A coefficient is "infinite" when the next Newton step still moves it by more than this
#: fraction of max(1, |standardised coefficient|) once the log-likelihood has converged
#: (R ``coxph``'s check ``abs(u %*% var) > toler.inf * abs(coef)``, on the covariate's scale).
INF_TOLERANCE = 1e-3


_R_NOTE = "R coxph warns 'Loglik converged before variable'"


class MonotoneLikelihoodError(ValidationError):
    """The likelihood keeps increasing along a covariate: its estimate is infinite.

    Attributes
    ----------
    covariates : list of str
        The covariates whose coefficients diverge.
    """

    def __init__(self, covariates: list[str], model: str, r_note: str) -> None:
        self.covariates = covariates
        super().__init__(
            "covariates",
            ", ".join(covariates),
            f"monotone likelihood: the {model} log-likelihood converged while the "
            "coefficient keeps growing (the covariate separates the events, so its "
            f"estimate is infinite; {r_note}). Merge "
            "sparse levels, drop the covariate or use a penalised model",
        )


def _solve(info: NDArray[np.float64], score: NDArray[np.float64]) -> NDArray[np.float64]:
    """Newton step info⁻¹·score, scaled for conditioning; lstsq when singular."""
    d = np.sqrt(np.clip(np.diag(info), np.finfo(float).tiny, None))
    a = info / np.outer(d, d)
    try:
        return np.linalg.solve(a, score / d) / d
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, score / d, rcond=None)[0] / d


def diverging(
    beta: NDArray[np.float64],
    next_step: NDArray[np.float64],
    scale: NDArray[np.float64],
    names: Sequence[str],
) -> list[str]:
    """Covariates whose coefficient still moves once the log-likelihood has converged.

    The decision is made where the log-likelihood first meets R's rule
    (:data:`LOGLIK_EPS`), i.e. while the separated coefficient is still moderate (its
    standardised value is about 20), so the next step (about 1 on the standardised scale
    for a diverging coefficient, about 1e-8 for a finite one) is computed without
    round-off trouble and the verdict does not depend on the order of the rows.
    """
    s = np.abs(next_step) * scale
    b = np.abs(beta) * scale
    bad = ~np.isfinite(s) | (s > INF_TOLERANCE * np.maximum(1.0, b))
    return [names[j] for j in np.flatnonzero(bad)]


def _newton(
    prep: list[Any],
    X: list[Any],
    max_iter: int,
    tol: float,
    scale: NDArray[np.float64],
    names: Sequence[str],
    evaluate: Callable[..., core.CoxEval] = core.evaluate,
) -> tuple[NDArray[np.float64], core.CoxEval, core.CoxEval, int, bool]:
    p = X[0][0].shape[1]
    beta = np.zeros(p)
    ev0 = evaluate(prep, X, beta)
    cur = ev0
    checked = False
    for it in range(1, max_iter + 1):
        step = _solve(cur.info, cur.score)
        new_beta = beta + step
        new = evaluate(prep, X, new_beta)
        halvings = 0
        while not np.isfinite(new.loglik) or new.loglik < cur.loglik - 1e-12 * abs(cur.loglik):
            halvings += 1
            if halvings > 30:
                return beta, ev0, cur, it, False
            step = step / 2
            new_beta = beta + step
            new = evaluate(prep, X, new_beta, need_info=False)
        if halvings:
            new = evaluate(prep, X, new_beta)
        rel = abs(1.0 - cur.loglik / new.loglik) if new.loglik != 0 else 0.0
        if not checked and rel <= LOGLIK_EPS:
            checked = True
            bad = diverging(new_beta, _solve(new.info, new.score), scale, names)
            if bad:
                raise MonotoneLikelihoodError(bad, "Cox partial", _R_NOTE)
        done = (
            checked
            and abs(new.loglik - cur.loglik) <= tol * max(abs(new.loglik), 1.0)
            and np.max(np.abs(step)) <= 1e-7 * max(1.0, float(np.max(np.abs(new_beta))))
        )
        beta, cur = new_beta, new
        if done:
            return beta, ev0, cur, it, True
    return beta, ev0, cur, max_iter, False


@core.one_blas_thread
def cox_fit(
    X: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    *,
    start: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    robust: bool = False,
    ties: Ties = "efron",
    names: Sequence[str] | None = None,
    alpha: float = 0.05,
    max_iter: int = 50,
    tol: float = 1e-12,
    weights: ArrayLike | None = None,
) -> CoxResult:
    """Fit a Cox model on arrays.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Covariates (numeric).
    time : array_like
        Follow-up (stop) times.
    event : array_like
        1 = event, 0 = censored.
    start : array_like, optional
        Entry times for ``(start, stop]`` rows (time-dependent covariates, left truncation).
    strata : array_like, optional
        Stratum labels (separate baseline hazards).
    cluster : array_like, optional
        Cluster labels for the robust variance (implies ``robust=True``).
    robust : bool
        Report the sandwich variance (one cluster per row when ``cluster`` is not given).
    ties : {"efron", "breslow", "exact"}
        Handling of tied event times; ``"exact"`` is R's exact partial likelihood
        (discrete / conditional-logistic: every subset of the risk set of the size of the
        tie group), without case weights or robust variance (as R), and refused when a
        tie group has more than 10⁷ events × subjects at risk.
    names : sequence of str, optional
        Covariate names.
    alpha : float
        Confidence intervals at level 1 - alpha.
    max_iter : int
        Maximum Newton iterations.
    tol : float
        Relative convergence tolerance on the log partial likelihood.
    weights : array_like, optional
        Case weights (> 0), as ``coxph(weights=)`` with model-based variance: the risk set
        sums w·exp(xβ), each death counts w, tied deaths carry their mean weight (Efron as
        R). Robust variance, residuals, zph and baseline hazard are refused for weighted
        fits (not implemented); the concordance is R's weighted one.

    Returns
    -------
    CoxResult
        Estimates, standard errors and global tests.
    """
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    n, p = Xa.shape
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(p)]
    if len(names) != p:
        raise ValidationError("names", len(names), f"must have one name per column ({p})")
    stop = _times(time, "time", n)
    ev = _events(event, n)
    st = _times(start, "start", n) if start is not None else None
    if st is not None and np.any(st >= stop):
        i = int(np.flatnonzero(st >= stop)[0])
        raise ValidationError(f"start (row {i + 1})", float(st[i]), "must be < stop time")
    if ties not in ("efron", "breslow", "exact"):
        raise ValidationError("ties", ties, "must be 'efron', 'breslow' or 'exact'")
    if ties == "exact" and weights is not None:
        raise ValidationError(
            "weights", None, "case weights are not supported with exact ties (as R coxph)"
        )
    if ties == "exact" and (robust or cluster is not None):
        raise ValidationError(
            "robust", None, "a robust variance is not available with exact ties (as R coxph)"
        )
    if not 0 < alpha < 1:
        raise ValidationError("alpha", alpha, "must be in (0, 1)")
    if ev.sum() == 0:
        raise ValidationError("event", 0, "no events: the Cox model cannot be estimated")
    scale = check_design(Xa, names)
    sc = _codes(strata, n)
    strata_labels = _labels_of(strata, sc)
    wts = None
    if weights is not None:
        from mst.stats._validate import as_weights

        wts = as_weights(weights, n, "weights")
        if (wts <= 0).any():
            i = int(np.flatnonzero(wts <= 0)[0])
            raise ValidationError(f"weights (row {i + 1})", float(wts[i]), "must be > 0")
        if robust or cluster is not None:
            raise ValidationError(
                "weights", None, "robust variance with case weights is not implemented"
            )
    means = Xa.mean(axis=0)
    Xc = Xa - means
    prep = core.prepare(stop, ev, st, sc, ties == "efron")
    if not prep:
        raise ValidationError("event", 0, "no events: the Cox model cannot be estimated")
    xs = core.split(prep, Xc, wts)
    evaluate: Callable[..., core.CoxEval] = core.evaluate
    if ties == "exact":
        from mst.stats import _cox_exact

        _cox_exact.check_size(prep, p)
        starts = None if st is None else [st[S.rows] for S in prep]
        evaluate = functools.partial(_cox_exact.evaluate, starts=starts)
    beta, ev0, fin, iters, ok = _newton(prep, xs, max_iter, tol, scale, names, evaluate)
    core.release(xs)
    if not ok:
        raise ValidationError(
            "model",
            f"{iters} iterations",
            "Newton-Raphson did not converge (raise max_iter, or check for a covariate "
            "that separates the events)",
        )
    naive = _inv(fin.info)
    diag = np.diag(naive)
    bad = [names[j] for j in range(p) if not (np.isfinite(diag[j]) and diag[j] > 0)]
    if bad:
        raise MonotoneLikelihoodError(bad, "Cox partial", _R_NOTE)
    robust = robust or cluster is not None
    var = naive
    if robust:
        dfb = core.score_residuals(prep, Xc, beta) @ naive
        if cluster is not None:
            cl = _codes(cluster, n)
            agg = np.zeros((int(cl.max()) + 1, p))
            np.add.at(agg, cl, dfb)
            dfb = agg
        var = dfb.T @ dfb
    return CoxResult.from_estimates(
        names=names,
        coef=beta,
        naive_var=naive,
        var=var,
        info0=ev0.info,
        score0=ev0.score,
        loglik=(ev0.loglik, fin.loglik),
        _problem=_CoxData(
            prep,
            xs,
            stop,
            ev,
            st,
            sc,
            strata_labels,
            Xc,
            means,
            pd.RangeIndex(n),
            wts,
            None if cluster is None else _codes(cluster, n),
        ),
        n=n,
        events=int(ev.sum()),
        ties=ties,
        robust=robust,
        converged=ok,
        iterations=iters,
        alpha=alpha,
        weighted=wts is not None,
    )


def _labels_of(v: ArrayLike | None, codes: NDArray[np.intp]) -> list[str]:
    """Label of each stratum code (``"all"`` without strata)."""
    if v is None:
        return ["all"]
    a = np.asarray(v, dtype=object)
    first = {}
    for i, c in enumerate(codes.tolist()):
        first.setdefault(c, i)
    return [
        ", ".join(map(str, a[first[c]])) if a.ndim == 2 else str(a[first[c]]) for c in sorted(first)
    ]


def _inv_naive(res: CoxResult) -> NDArray[np.float64]:
    """Model-based variance (inverse information) of a fit."""
    if not res.robust:
        return res.var
    d = res._data("variance")
    return _inv(core.evaluate(d.prep, d.xs, res.coef).info)


def _inv(m: NDArray[np.float64]) -> NDArray[np.float64]:
    try:
        out = np.linalg.inv(m)
    except np.linalg.LinAlgError as exc:
        raise ValidationError(
            "covariates",
            "singular information",
            "the model is not identifiable (collinear covariates)",
        ) from exc
    return (out + out.T) / 2


def _times(v: ArrayLike, name: str, n: int) -> NDArray[np.float64]:
    try:
        t = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(name, "non-numeric", "times must be numbers") from exc
    if t.shape != (n,):
        raise ValidationError(name, t.shape, f"must have one value per row ({n})")
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{name} (row {i + 1})", t[i], "must be a finite number")
    return t


def _events(v: ArrayLike, n: int, name: str = "event") -> NDArray[np.bool_]:
    e = np.asarray(v)
    if e.shape != (n,):
        raise ValidationError(name, e.shape, f"must have one value per row ({n})")
    ef = e.astype(np.float64)
    bad = ~np.isin(ef, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{name} (row {i + 1})", e[i], "event must be 0 or 1")
    return ef == 1.0


def _codes(v: ArrayLike | None, n: int) -> NDArray[np.intp]:
    if v is None:
        return np.zeros(n, dtype=np.intp)
    a = np.asarray(v)
    if a.ndim == 2:
        a = pd.Series([tuple(r) for r in a.tolist()], dtype=object).to_numpy()
    codes, _ = pd.factorize(pd.Series(a), sort=True)
    if (codes < 0).any():
        raise ValidationError("strata/cluster", "missing", "labels must not be missing")
    return codes.astype(np.intp)


def cox(
    data: pd.DataFrame,
    formula: str | None = None,
    *,
    time: str | None = None,
    event: str | None = None,
    covariates: Sequence[str] | None = None,
    start: str | None = None,
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    robust: bool = False,
    ties: Ties = "efron",
    reference: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    weights: str | None = None,
) -> CoxResult:
    """Fit a Cox model on a data frame, from a formula or from column names.

    Parameters
    ----------
    data : DataFrame
        One row per patient, or per ``(start, stop]`` interval.
    formula : str, optional
        ``"Surv(time, event) ~ age_group + n_courses + strata(center_id)"`` or
        ``"Surv(start, stop, event) ~ ..."``; ``cluster(col)`` adds a robust variance.
    time, event, covariates, start, strata, cluster : str, optional
        Column names when no formula is given.
    robust : bool
        Sandwich variance (one cluster per row unless ``cluster`` is given).
    ties : {"efron", "breslow"}
        Tie handling.
    reference : mapping, optional
        Reference level per categorical covariate (column-list form).
    alpha : float
        Confidence intervals at level 1 - alpha.
    weights : str, optional
        Column of case weights (> 0), as ``coxph(weights=)``; see :func:`cox_fit`.

    Returns
    -------
    CoxResult
        The fitted model (rows with a missing value are dropped and counted).
    """
    if formula is not None:
        f = parse_surv_formula(formula)
        start, time, event = f.start, f.stop, f.event
        strata = f.strata or None
        cluster = f.cluster[0] if f.cluster else cluster
    if time is None or event is None:
        raise ValidationError("time/event", None, "give a formula or the time and event columns")
    strata_cols = [strata] if isinstance(strata, str) else list(strata or [])
    base = [c for c in (start, time, event, cluster, weights) if c is not None] + strata_cols
    data = outcome_frame(data, base, [c for c in (start, time, event, weights) if c is not None])
    rows = complete_rows(data, base)
    if formula is not None:
        design: Design = design_from_formula(data, parse_surv_formula(formula).rhs, rows)
    else:
        if not covariates:
            raise ValidationError("covariates", "[]", "at least one covariate is needed")
        design = design_from_columns(data, covariates, reference, rows)
    sub = data.loc[design.rows]
    res = cox_fit(
        design.X,
        sub[time].to_numpy(),
        sub[event].to_numpy(),
        start=sub[start].to_numpy() if start else None,
        strata=sub[strata_cols].to_numpy() if strata_cols else None,
        cluster=sub[cluster].to_numpy() if cluster else None,
        robust=robust,
        ties=ties,
        names=design.names,
        alpha=alpha,
        weights=sub[weights].to_numpy(dtype=np.float64) if weights else None,
    )
    res = _with(res, n_dropped=int(len(data) - design.rows.sum()), references=design.references)
    if res._problem is not None:
        object.__setattr__(res, "_problem", replace(res._problem, index=sub.index))
    return res


def _with(res: CoxResult, **kw: Any) -> CoxResult:
    from dataclasses import replace

    return replace(res, **kw)


def cox_univariate(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    covariates: Sequence[str],
    start: str | None = None,
    strata: str | Sequence[str] | None = None,
    ties: Ties = "efron",
    reference: Mapping[str, str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Univariate screening: one Cox model per covariate (as in 002 Results).

    Parameters
    ----------
    data : DataFrame
        The data.
    time, event : str
        Outcome columns.
    covariates : sequence of str
        Candidate covariates; each is fitted alone (categorical ones as their dummies).
    start, strata, ties, reference, alpha
        As in :func:`cox`.

    Returns
    -------
    DataFrame
        One row per design column: ``covariate``, ``term``, ``coef``, ``hr``, ``lower``,
        ``upper``, ``p``, the likelihood-ratio p of the whole covariate (``p_lr``), ``n``,
        ``events``; a covariate that cannot be fitted gets a row with ``error`` set.
    """
    rows = []
    strata_cols = [strata] if isinstance(strata, str) else list(strata or [])
    for cov in covariates:
        ref = {cov: reference[cov]} if reference and cov in reference else None
        # each model reads only its own columns (the same rows, index and checks)
        part = only_columns(data, start, time, event, *strata_cols, cov)
        try:
            r = cox(
                part,
                time=time,
                event=event,
                covariates=[cov],
                start=start,
                strata=strata,
                ties=ties,
                reference=ref,
                alpha=alpha,
            )
        except ValidationError as exc:
            rows.append({"covariate": cov, "term": cov, "error": str(exc)})
            continue
        p_lr = r.test_p("lr")
        for i, term in enumerate(r.names):
            rows.append(
                {
                    "covariate": cov,
                    "term": term,
                    "coef": r.coef[i],
                    "hr": r.hr[i],
                    "lower": r.lower[i],
                    "upper": r.upper[i],
                    "p": r.p[i],
                    "p_lr": p_lr,
                    "n": r.n,
                    "events": r.events,
                    "error": None,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "covariate",
            "term",
            "coef",
            "hr",
            "lower",
            "upper",
            "p",
            "p_lr",
            "n",
            "events",
            "error",
        ],
    )
