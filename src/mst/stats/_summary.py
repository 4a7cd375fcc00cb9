"""Text summaries of the results (what ``print_summary()`` writes and the CLI prints)."""

from __future__ import annotations

from typing import Any

import numpy as np


def fmt(x: float | None, spec: str = ".4g") -> str:
    """A number for a text table: ``NA`` when missing or not finite."""
    if x is None or not np.isfinite(x):
        return "NA"
    return format(float(x), spec)


def km_text(res: Any) -> str:
    """``print(survfit)``-like lines: n, events, median and its CI per group."""
    head = "Kaplan-Meier" + (f" by {res.group}" if res.group else "")
    lines = [head, f"{'group':<16} {'n':>6} {'events':>7} {'median':>9} {'lower':>9} {'upper':>9}"]
    for k, c in res.curves.items():
        lines.append(
            f"{k:<16} {c.n:>6} {int(c.n_event.sum()):>7} {fmt(c.median):>9} "
            f"{fmt(c.median_lower):>9} {fmt(c.median_upper):>9}"
        )
    lines.append(f"({c.conf_level:.0%} CI, {c.conf_type} transform; Greenwood variance)")
    return "\n".join(lines)


def cif_text(res: Any) -> str:
    """n, events and final cumulative incidence per group; Gray's test."""
    lines = [f"Cumulative incidence of cause {res.cause} (Aalen-Johansen)"]
    lines.append(f"{'group':<16} {'n':>6} {'events':>7} {'final CIF':>10}")
    for k, c in res.curves.items():
        last = c.cif[-1] if c.cif.size else 0.0
        lines.append(f"{k:<16} {c.n:>6} {int(c.table.n_event.sum()):>7} {fmt(last):>10}")
    if res.gray is not None:
        g = res.gray
        lines.append(f"{g.test}: chisq = {fmt(g.statistic)}, df = {g.df}, p = {fmt(g.p)}")
    return "\n".join(lines)


def _coef_table(names: list[str], table: Any, hr: str) -> list[str]:
    width = max([len(n) for n in names] + [9])
    out = [
        f"{'covariate':<{width}} {'coef':>9} {hr:>8} {'se':>8} {'z':>7} {'p':>9} "
        f"{'lower':>8} {'upper':>8}"
    ]
    for name, r in table.iterrows():
        z = r["coef"] / r["se"] if r["se"] > 0 else np.nan
        out.append(
            f"{name:<{width}} {r['coef']:>9.4f} {r['hr']:>8.4g} {r['se']:>8.4f} {fmt(z, '.3f'):>7} "
            f"{fmt(r['p']):>9} {fmt(r['lower']):>8} {fmt(r['upper']):>8}"
        )
    return out


def references_line(refs: dict[str, str]) -> str | None:
    """``reference levels: grp = a, arm = chemo`` (None without categorical covariates)."""
    if not refs:
        return None
    return "reference levels: " + ", ".join(f"{k} = {v}" for k, v in refs.items())


def cox_text(fit: Any) -> str:
    """``summary(coxph)``-like text."""
    lines = [
        f"Cox proportional hazards model ({fit.ties} ties"
        + (", robust SE)" if fit.robust else ")"),
        f"n = {fit.n}, events = {fit.events}"
        + (f", rows dropped (missing) = {fit.n_dropped}" if fit.n_dropped else ""),
    ]
    ref = references_line(fit.references)
    if ref:
        lines.append(ref)
    lines += _coef_table(fit.names, fit.summary_frame(), "HR")
    lines.append(f"(CI at {1 - fit.alpha:.0%})")
    lines.append(
        f"Concordance = {fmt(fit.concordance, '.4f')} (se = {fmt(fit.concordance_se, '.4f')}), "
        f"AIC = {fit.aic:.2f}, "
        f"log-likelihood = {fit.loglik[1]:.4f} (null {fit.loglik[0]:.4f})"
    )
    for k, label in (("lr", "Likelihood ratio"), ("wald", "Wald"), ("score", "Score (log-rank)")):
        stat = getattr(fit, f"{k}_test")
        lines.append(f"{label} test = {stat:.3f} on {fit.df} df, p = {fmt(fit.test_p(k))}")
    return "\n".join(lines)


def finegray_text(fit: Any) -> str:
    """``summary(crr)``-like text."""
    lines = [
        f"Fine-Gray subdistribution hazards model, cause {fit.cause}",
        f"n = {fit.n}, events = {fit.events}, competing = {fit.competing}, "
        f"censored = {fit.censored}"
        + (f", rows dropped (missing) = {fit.n_dropped}" if fit.n_dropped else ""),
    ]
    ref = references_line(fit.references)
    if ref:
        lines.append(ref)
    if getattr(fit, "weighted", False):
        lines.append("case weights (censoring distribution unweighted, as survival::finegray)")
    lines += _coef_table(fit.names, fit.summary_frame(), "sHR")
    tv = [fit.names[j] for j in getattr(fit, "tf_cols", ())]
    if tv:
        lines.append(
            "time-varying terms (covariate × function of time at each failure time, as crr "
            "cov2/tf): " + ", ".join(tv)
        )
    lines.append(f"(CI at {1 - fit.alpha:.0%}; sandwich variance as crr)")
    lines.append(
        f"Pseudo log-likelihood = {fit.loglik:.4f} (null {fit.loglik_null:.4f}); "
        f"converged by {fit.convergence} in {fit.iterations} iterations"
    )
    return "\n".join(lines)
