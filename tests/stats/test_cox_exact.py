"""Cox exact partial likelihood: properties and refusals (R parity is in
test_regression_extra_reference.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.stats import cox, cox_fit
from mst.stats._cox_exact import EXACT_LIMIT


def test_without_ties_exact_equals_breslow_and_efron() -> None:
    rng = np.random.default_rng(7)
    n = 60
    x = rng.normal(size=(n, 2))
    t = rng.exponential(size=n) * np.exp(-0.5 * x[:, 0])
    e = rng.random(n) < 0.7
    fits = [cox_fit(x, t, e, ties=k) for k in ("exact", "breslow", "efron")]
    for f in fits[1:]:
        np.testing.assert_allclose(fits[0].coef, f.coef, rtol=1e-9)
        np.testing.assert_allclose(fits[0].se, f.se, rtol=1e-9)
        np.testing.assert_allclose(fits[0].loglik, f.loglik, rtol=1e-12)


def test_exact_matches_brute_force_subsets() -> None:
    from itertools import combinations

    from mst.stats import _cox_exact
    from mst.stats import _regression_cox_core as core

    rng = np.random.default_rng(3)
    n = 11
    x = rng.normal(size=(n, 2))
    t = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 5], dtype=float)
    e = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0], dtype=bool)
    beta = np.array([0.4, -0.7])
    prep = core.prepare(t, e, None, np.zeros(n, dtype=np.intp), False)
    ll = _cox_exact.evaluate(prep, core.split(prep, x), beta).loglik
    eta = x @ beta
    want = 0.0
    for tk in np.unique(t[e]):
        dead = np.flatnonzero(e & (t == tk))
        risk = np.flatnonzero(t >= tk)
        den = sum(np.exp(eta[list(s)].sum()) for s in combinations(risk, dead.size))
        want += eta[dead].sum() - np.log(den)
    assert ll == pytest.approx(want, rel=1e-12)


def test_large_tie_group_is_refused_with_the_limit() -> None:
    n = 4000
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {"time": np.ones(n), "event": (rng.random(n) < 0.9).astype(int), "x": rng.normal(size=n)}
    )
    d = int(df.event.sum())
    assert d * n > EXACT_LIMIT
    with pytest.raises(ValidationError) as ei:
        cox(df, time="time", event="event", covariates=["x"], ties="exact")
    msg = str(ei.value)
    assert "ties" in msg and f"{d} events among {n}" in msg and "10,000,000" in msg


def test_exact_refuses_weights_robust_and_residuals() -> None:
    df = pd.DataFrame(
        {
            "time": [1, 1, 2, 2, 3, 3, 4, 5],
            "event": [1, 1, 1, 0, 1, 1, 0, 1],
            "x": [0.1, 0.5, -0.3, 0.8, 1.2, -0.4, 0.2, 0.9],
            "w": [1, 2, 1, 1, 2, 1, 1, 1],
        }
    )
    with pytest.raises(ValidationError, match="case weights are not supported"):
        cox(df, time="time", event="event", covariates=["x"], ties="exact", weights="w")
    with pytest.raises(ValidationError, match="robust variance is not available"):
        cox(df, time="time", event="event", covariates=["x"], ties="exact", robust=True)
    fit = cox(df, time="time", event="event", covariates=["x"], ties="exact")
    with pytest.raises(ValidationError, match="not available with exact ties"):
        fit.residuals("martingale")
    assert np.isfinite(fit.concordance) and np.isfinite(fit.concordance_se)
    assert "exact ties" in fit.summary()
    with pytest.raises(ValidationError, match="'efron', 'breslow' or 'exact'"):
        cox(df, time="time", event="event", covariates=["x"], ties="discrete")  # type: ignore[arg-type]


def test_exact_separation_is_refused_naming_the_covariate() -> None:
    from mst.stats import MonotoneLikelihoodError

    # every death has x = 1, every survivor x = 0 at each tied time: beta is infinite
    df = pd.DataFrame(
        {
            "time": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
            "event": [1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0],
            "x": [1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0],
            "z": [0.3, -0.2, 0.5, 0.1, 0.9, -0.4, 0.2, 0.7, -0.1, 0.4, 0.0, 0.6],
        }
    )
    with pytest.raises(MonotoneLikelihoodError) as ei:
        cox(df, time="time", event="event", covariates=["x", "z"], ties="exact")
    assert ei.value.covariates == ["x"]


def test_tie_group_too_wide_for_memory_is_refused() -> None:
    from mst.stats import _regression_cox_core as core
    from mst.stats._cox_exact import EXACT_MEMORY_LIMIT, check_size

    n, p = 52_000, 20
    assert n * p * p > EXACT_MEMORY_LIMIT and 2 * n <= EXACT_LIMIT
    t = np.arange(1, n + 1, dtype=float)
    t[1] = 1.0  # two deaths tied at the first time, everyone at risk
    prep = core.prepare(t, np.ones(n, dtype=bool), None, np.zeros(n, dtype=np.intp), False)
    check_size(prep, 10)  # 52,000 × 10² is within the limit
    with pytest.raises(ValidationError) as ei:
        check_size(prep, p)
    msg = str(ei.value)
    assert f"{n} subjects at risk" in msg and "20 covariates" in msg and "20,000,000" in msg
