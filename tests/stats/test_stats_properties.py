"""Invariants of the estimators, checked on generated data (deterministic hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact as scipy_fisher

from mst.stats import (
    cif_core,
    cumulative_incidence,
    fisher_exact,
    gray_test,
    kaplan_meier,
    km_core,
    logrank_test,
)

SETTINGS = settings(deadline=None, derandomize=True, max_examples=60)

times = st.lists(st.integers(0, 12), min_size=2, max_size=40)


def naive_km(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, out_t, out_s = 1.0, [], []
    for u in sorted(set(t.tolist())):
        n = int((t >= u).sum())
        d = int(((t == u) & (e == 1)).sum())
        s *= 1 - d / n
        out_t.append(u)
        out_s.append(s)
    return np.array(out_t, float), np.array(out_s)


@SETTINGS
@given(times, st.data())
def test_km_equals_product_limit_loop(t: list[int], data: st.DataObject) -> None:
    e = data.draw(st.lists(st.integers(0, 1), min_size=len(t), max_size=len(t)))
    ta, ea = np.array(t, float), np.array(e)
    tab = km_core(ta, ea)
    ut, us = naive_km(ta, ea)
    np.testing.assert_array_equal(tab.time, ut)
    np.testing.assert_allclose(tab.surv, us, rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(tab.surv) <= 1e-15)


@SETTINGS
@given(times, st.data())
def test_integer_weights_equal_replicated_rows(t: list[int], data: st.DataObject) -> None:
    n = len(t)
    e = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    w = np.array(data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
    ta = np.array(t, float)
    a = km_core(ta, e, w.astype(float))
    b = km_core(np.repeat(ta, w), np.repeat(e, w))
    np.testing.assert_allclose(a.surv, b.surv, rtol=1e-12)
    np.testing.assert_allclose(a.greenwood, b.greenwood, rtol=1e-12)
    np.testing.assert_allclose(a.n_risk, b.n_risk)


@SETTINGS
@given(times, st.data())
def test_cumulative_incidences_add_up_to_one_minus_km(t: list[int], data: st.DataObject) -> None:
    s = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(t), max_size=len(t))))
    ta = np.array(t, float)
    grid = np.arange(0, 13, dtype=float)
    total = np.zeros_like(grid)
    for cause in (1, 2):
        tab = cif_core(ta, s, cause)
        idx = np.searchsorted(tab.time, grid, side="right") - 1
        total += np.where(idx < 0, 0.0, tab.cif[np.clip(idx, 0, None)] if tab.time.size else 0.0)
        assert np.all(tab.variance >= -1e-15)
    km = kaplan_meier(ta, (s > 0).astype(int))["all"]
    surv = km.at(grid)["survival"]
    np.testing.assert_allclose(total, 1 - surv, atol=1e-12)


@SETTINGS
@given(times, st.data())
def test_two_group_tests_do_not_depend_on_label_names(t: list[int], data: st.DataObject) -> None:
    n = len(t)
    g = np.array(data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)))
    s = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    if len(set(g.tolist())) < 2 or not (s == 1).any():
        return
    ta = np.array(t, float)
    swapped = np.where(g == "a", "z", "a")  # reverses the order of the levels
    lr1 = logrank_test(ta, (s > 0).astype(int), g)
    lr2 = logrank_test(ta, (s > 0).astype(int), swapped)
    assert lr1.statistic == pytest.approx(lr2.statistic, rel=1e-9, abs=1e-12, nan_ok=True)
    g1 = gray_test(ta, s, g)
    g2 = gray_test(ta, s, swapped)
    if np.isfinite(g1.statistic):
        assert g1.statistic == pytest.approx(g2.statistic, rel=1e-9, abs=1e-12)
        assert g1.statistic >= 0


@SETTINGS
@given(st.lists(st.integers(0, 15), min_size=4, max_size=4))
def test_fisher_2x2_equals_scipy(cells: list[int]) -> None:
    table = np.array(cells).reshape(2, 2)
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return
    assert fisher_exact(table).p == pytest.approx(scipy_fisher(table).pvalue, rel=1e-9)


def test_logrank_two_groups_equals_hand_formula() -> None:
    t = np.array([1, 2, 2, 3, 4, 5, 5, 6, 7, 8], float)
    e = np.array([1, 1, 0, 1, 1, 0, 1, 1, 0, 1])
    g = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    o = ex = var = 0.0
    for u in np.unique(t[e == 1]):
        risk = t >= u
        n, n1 = risk.sum(), (risk & (g == 0)).sum()
        d, d1 = ((t == u) & (e == 1)).sum(), ((t == u) & (e == 1) & (g == 0)).sum()
        o += d1
        ex += d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    res = logrank_test(t, e, g)
    assert res.statistic == pytest.approx((o - ex) ** 2 / var, rel=1e-12)
    assert res.df == 1


def test_stratified_logrank_with_one_stratum_equals_unstratified() -> None:
    t = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], float)
    e = np.array([1, 0, 1, 1, 1, 0, 1, 1, 0, 1])
    g = np.array(list("ababababab"))
    a = logrank_test(t, e, g)
    b = logrank_test(t, e, g, strata=["x"] * 10)
    assert a.statistic == pytest.approx(b.statistic, rel=1e-14)
    assert b.test.startswith("stratified")


def test_cif_without_competing_events_is_one_minus_km() -> None:
    t = np.array([2, 3, 3, 5, 8, 8, 9, 11], float)
    s = np.array([1, 0, 1, 1, 0, 1, 0, 1])
    res = cumulative_incidence(t, s, cause=1, codes=(0, 1))["all"]
    km = kaplan_meier(t, s)["all"]
    np.testing.assert_allclose(res.cif, 1 - km.at(res.time)["survival"], rtol=1e-14)


def test_deterministic_no_randomness() -> None:
    rng = np.random.default_rng(7)
    t = rng.exponential(10, 500).round(1)
    s = rng.integers(0, 3, 500)
    g = rng.integers(0, 3, 500)
    a = gray_test(t, s, g)
    b = gray_test(t, s, g)
    assert a.statistic == b.statistic
    r1 = logrank_test(t, (s > 0).astype(int), g, rho=1)
    r2 = logrank_test(t, (s > 0).astype(int), g, rho=1)
    assert r1.statistic == r2.statistic
