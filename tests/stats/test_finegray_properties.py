"""Fine–Gray model: the fast risk-set sums against a direct O(n²) evaluation, invariances,
prediction and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import ValidationError
from mst.stats import finegray_model as fgm
from mst.stats.finegray_model import finegray, finegray_fit


def _sim(
    n: int, seed: int, groups: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.binomial(1, 0.5, size=n)]).astype(float)
    t1 = rng.exponential(1 / np.exp(0.4 * X[:, 0]))
    t2 = rng.exponential(1.5, size=n)
    c = rng.exponential(2.0, size=n)
    t = np.ceil(np.minimum(np.minimum(t1, t2), c) * 4) / 4  # many ties
    s = np.where(t1 <= np.minimum(t2, c), 1, np.where(t2 <= c, 2, 0))
    g = rng.integers(0, groups, size=n)
    return X, t, s, g


def _naive_loglik(X, t, s, g, beta) -> float:
    """Direct transcription of the weighted partial likelihood (O(n²))."""
    o = np.argsort(t, kind="stable")
    X, t, s, g = X[o], t[o], s[o], g[o]
    st_ = np.where(s == 0, 0, np.where(s == 1, 1, 2)).astype(np.int8)
    G = int(g.max()) + 1
    Gm = fgm._censoring_km_before(t, st_ == 0, g, G)
    e = np.exp(X @ beta)
    ll = 0.0
    for i in np.flatnonzero(st_ == 1):
        w = np.where(t >= t[i], 1.0, 0.0)
        comp = (t < t[i]) & (st_ == 2)
        w[comp] = Gm[g[comp], i] / Gm[g[comp], np.flatnonzero(comp)]
        ll += X[i] @ beta - np.log(np.sum(w * e))
    return float(ll)


@pytest.mark.parametrize("groups", [1, 3])
def test_fast_likelihood_equals_direct_sum(groups: int) -> None:
    X, t, s, g = _sim(120, 5, groups)
    beta = np.array([0.3, -0.2])
    o = np.argsort(t, kind="stable")
    P = fgm._prepare(
        t[o], np.where(s[o] == 0, 0, np.where(s[o] == 1, 1, 2)).astype(np.int8), g[o], groups
    )
    fast = fgm._sums(P, X[o], beta, True)
    assert fast.ll == pytest.approx(_naive_loglik(X, t, s, g, beta), rel=1e-12)
    # score and information are the derivatives of the log-likelihood
    h = 1e-5
    num_grad = [
        (
            _naive_loglik(X, t, s, g, beta + h * np.eye(2)[k])
            - _naive_loglik(X, t, s, g, beta - h * np.eye(2)[k])
        )
        / (2 * h)
        for k in range(2)
    ]
    np.testing.assert_allclose(fast.score, num_grad, rtol=1e-6)
    num_hess = np.array(
        [
            (
                fgm._sums(P, X[o], beta + h * np.eye(2)[k], True).score
                - fgm._sums(P, X[o], beta - h * np.eye(2)[k], True).score
            )
            / (2 * h)
            for k in range(2)
        ]
    )
    np.testing.assert_allclose(fast.info, -num_hess, rtol=1e-6)


@settings(deadline=None, derandomize=True, max_examples=20)
@given(seed=st.integers(0, 5000), groups=st.integers(1, 2))
def test_row_order_does_not_matter(seed: int, groups: int) -> None:
    X, t, s, g = _sim(80, seed, groups)
    if (s == 1).sum() < 5:
        return
    a = finegray_fit(X, t, s, cengroup=g)
    perm = np.random.default_rng(seed).permutation(t.size)
    b = finegray_fit(X[perm], t[perm], s[perm], cengroup=g[perm])
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-9, atol=1e-12)


def test_competing_cause_codes_are_interchangeable() -> None:
    X, t, s, _ = _sim(150, 11)
    a = finegray_fit(X, t, s, cause=1)
    b = finegray_fit(X, t, np.where(s == 2, 7, s), cause=1)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)


def test_prediction_is_a_cumulative_incidence() -> None:
    X, t, s, _ = _sim(200, 2)
    r = finegray_fit(X, t, s, names=["x", "b"])
    cif = r.predict([[0.0, 0.0], [1.0, 1.0]])
    v = cif.to_numpy()
    assert np.all(np.diff(v, axis=0) >= 0)
    assert np.all((v >= 0) & (v < 1))
    # higher linear predictor, higher incidence when its coefficient sum is positive
    lp = r.coef.sum()
    assert np.sign(v[-1, 1] - v[-1, 0]) == np.sign(lp)
    with pytest.raises(ValidationError):
        r.predict([1.0, 2.0, 3.0])


def test_categorical_covariates_and_dropped_rows() -> None:
    X, t, s, _ = _sim(150, 4)
    df = pd.DataFrame({"t": t, "s": s, "x": X[:, 0], "arm": np.where(X[:, 1] == 1, "MST", "chemo")})
    df.loc[0, "x"] = np.nan
    r = finegray(df, time="t", status="s", covariates=["x", "arm"])
    # R's factor() order ignores case: "chemo" < "MST", so chemo is the reference
    assert r.names == ["x", "arm[MST]"]
    assert r.references["arm"] == "chemo"
    # a Categorical keeps its own order, in the column and the formula interface alike
    cat = df.assign(arm=pd.Categorical(df.arm, categories=["MST", "chemo"]))
    rc = finegray(cat, time="t", status="s", covariates=["x", "arm"])
    assert rc.names == ["x", "arm[chemo]"] and rc.references["arm"] == "MST"
    np.testing.assert_allclose(rc.coef[1], -r.coef[1], rtol=1e-6)
    assert r.n == 149 and r.n_dropped == 1
    d = r.to_dict()
    assert set(d) >= {"coef", "se", "hr", "lower", "upper", "p", "n", "events"}


@pytest.mark.parametrize(
    ("status", "x", "message"),
    [
        ("none", None, "no event of the cause"),
        (None, "const", "constant"),
        (None, "dup", "collinear"),
    ],
)
def test_clear_errors(status, x, message: str) -> None:
    X, t, s, _ = _sim(60, 1)
    if status == "none":
        s = np.where(s == 1, 2, s)
    if x == "const":
        X[:, 1] = 1.0
    if x == "dup":
        X[:, 1] = 3 * X[:, 0]
    with pytest.raises(ValidationError, match=message):
        finegray_fit(X, t, s)


def test_non_convergence_is_reported() -> None:
    X, t, s, _ = _sim(100, 8)
    with pytest.raises(ValidationError, match="did not converge"):
        finegray_fit(X, t, s, max_iter=0)


@pytest.mark.parametrize(("groups", "weighted"), [(1, False), (2, True)])
def test_chunked_kernel_equals_the_row_by_row_path(groups: int, weighted: bool) -> None:
    """Beyond one chunk (8,192 columns for the risk sets, 4,096 rows for the sandwich), with
    ties, censoring groups and case weights, the kernel equals the independent row-by-row
    evaluation of the time-varying path (a cov2 column times tf = 1 is a fixed covariate)."""
    X, t, s, g = _sim(20_000, 17, groups)
    w = np.random.default_rng(3).uniform(0.5, 2.0, t.size) if weighted else None
    kw = {"cengroup": g, "weights": w, "fixed_g_variance": True, "tol": 1e-9, "max_iter": 30}
    fast = finegray_fit(X, t, s, **kw)
    slow = finegray_fit(X[:, :1], t, s, cov2=X[:, 1:], tf=lambda u: np.ones((u.size, 1)), **kw)
    assert fast.loglik == pytest.approx(slow.loglik, rel=1e-12)
    for f in ("coef", "info", "var", "var_fixed_g", "bfitj"):
        np.testing.assert_allclose(getattr(fast, f), getattr(slow, f), rtol=1e-9, err_msg=f)
