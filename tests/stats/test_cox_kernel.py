"""The vectorised Cox kernel against a direct O(n²) evaluation of the Efron/Breslow
partial likelihood (strata, (start, stop] rows, case weights, tied times), and the row
order it relies on."""

from __future__ import annotations

import numpy as np
import pytest

from mst.stats import _regression_cox_core as core


def _direct_loglik(X, beta, stop, event, start, strata, weights, efron):
    """Partial log-likelihood as R coxph defines it, one event time at a time."""
    w = np.ones(stop.size) if weights is None else weights
    lo = np.full(stop.size, -np.inf) if start is None else start
    eta = X @ beta
    ll = 0.0
    for s in np.unique(strata):
        ins = strata == s
        for t in np.unique(stop[ins & event]):
            risk = ins & (lo < t) & (stop >= t)
            dead = ins & event & (stop == t)
            d = int(dead.sum())
            r0 = float((w * np.exp(eta))[risk].sum())
            d0 = float((w * np.exp(eta))[dead].sum())
            mw = float(w[dead].mean())
            ll += float((w * eta)[dead].sum())
            for r in range(d):
                ll -= mw * np.log(r0 - (r / d if efron else 0.0) * d0)
    return ll


def _case(seed: int, with_start: bool, weighted: bool):
    rng = np.random.default_rng(seed)
    n, p = 60, 2
    X = rng.normal(size=(n, p))
    X -= X.mean(axis=0)
    stop = np.round(rng.exponential(1.0, n), 1) + 0.1  # many tied times
    event = rng.random(n) < 0.7
    start = None
    if with_start:
        start = np.where(rng.random(n) < 0.5, 0.0, np.round(stop * rng.random(n), 1))
        start = np.minimum(start, stop - 0.05)
    strata = rng.integers(0, 2, n)
    weights = rng.uniform(0.5, 2.0, n) if weighted else None
    return X, stop, event, start, strata, weights


@pytest.mark.parametrize("efron", [True, False])
@pytest.mark.parametrize(("with_start", "weighted"), [(False, False), (True, False), (False, True)])
def test_kernel_equals_direct_partial_likelihood(efron, with_start, weighted):
    X, stop, event, start, strata, weights = _case(7, with_start, weighted)
    beta = np.array([0.4, -0.3])
    prep = core.prepare(stop, event, start, strata, efron)
    ev = core.evaluate(prep, core.split(prep, X, weights), beta)
    f = lambda b: _direct_loglik(X, b, stop, event, start, strata, weights, efron)  # noqa: E731
    assert ev.loglik == pytest.approx(f(beta), rel=1e-12)
    h = 1e-5
    eye = np.eye(beta.size)
    score = np.array([(f(beta + h * e) - f(beta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(ev.score, score, rtol=1e-6, atol=1e-8)
    # the information is minus the derivative of the score (checked on the kernel's score)
    sc = lambda b: core.evaluate(prep, core.split(prep, X, weights), b).score  # noqa: E731
    info = -np.array([(sc(beta + h * e) - sc(beta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(ev.info, info, rtol=1e-6, atol=1e-8)
    # the path for deaths that are not contiguous within their time gives the same sums
    xs = core.split(prep, X, weights)
    for rows in xs:
        rows.kern.idx = None
    other = core.evaluate(prep, xs, beta)
    assert other.loglik == pytest.approx(ev.loglik, rel=1e-13)
    np.testing.assert_allclose(other.info, ev.info, rtol=1e-12)


def test_stable_order_is_lexsort_order():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        v = np.round(rng.normal(size=n), 0)
        v[rng.random(n) < 0.2] = -0.0  # -0.0 and 0.0 are one time
        first = rng.random(n) < 0.5
        np.testing.assert_array_equal(core.stable_order(v, first), np.lexsort((~first, v)))
        np.testing.assert_array_equal(core.stable_order(v), np.argsort(v, kind="stable"))


def test_deaths_come_first_among_tied_stop_times():
    _, stop, event, start, strata, _w = _case(11, False, False)
    for S in core.prepare(stop, event, start, strata, True):
        st, ev = stop[S.rows], event[S.rows]
        assert np.all(np.diff(st) >= 0)
        same = st[1:] == st[:-1]
        # within a tied stop time a censored row is never followed by a death
        assert not np.any(same & ~ev[:-1] & ev[1:])
