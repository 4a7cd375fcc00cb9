"""Concordance with its standard error: the vectorised counts equal a direct loop over the
pairs (ties in time and in the score, strata, weights, (start, stop] rows, clusters); R
parity is in test_regression_extra_reference.py."""

from __future__ import annotations

import numpy as np
import pytest

from mst.stats._concordance import concordance_se


def _brute(t, d, r, s, w, a, cl):  # type: ignore[no-untyped-def]
    n = t.size
    infl = np.zeros((n, 3))
    conc = disc = tx = 0.0
    for i in np.flatnonzero(d):
        for j in range(n):
            if j == i or s[j] != s[i]:
                continue
            at_risk = t[j] > t[i] or (t[j] == t[i] and not d[j])
            if a is not None:
                at_risk = at_risk and a[j] < t[i]
            if not at_risk:
                continue
            k = 0 if r[i] > r[j] else 1 if r[i] < r[j] else 2
            infl[i, k] += w[j]
            infl[j, k] += w[i]
            pw = w[i] * w[j]
            conc += pw * (k == 0)
            disc += pw * (k == 1)
            tx += pw * (k == 2)
    npair = conc + disc + tx
    somer = (conc - disc) / npair
    dfb = w * ((infl[:, 0] - infl[:, 1]) / npair - somer / npair * infl.sum(axis=1))
    if cl is not None:
        dfb = np.bincount(cl, weights=dfb)
    return (conc + tx / 2) / npair, np.sqrt(dfb @ dfb / 4), conc, disc, tx


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("variant", ["plain", "weights+strata", "start+cluster"])
def test_vectorised_equals_pair_loop(seed: int, variant: str) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    t = rng.integers(1, 12, n).astype(float)  # heavy ties in time
    d = rng.random(n) < 0.6
    r = rng.integers(0, 5, n).astype(float)  # heavy ties in the score
    s = np.zeros(n, dtype=np.intp)
    w = np.ones(n)
    a = None
    cl = None
    if variant == "weights+strata":
        s = rng.integers(0, 2, n).astype(np.intp)
        w = rng.choice([0.5, 1.0, 2.5], n)
    if variant == "start+cluster":
        a = np.floor(t * rng.random(n))
        cl = rng.integers(0, 7, n).astype(np.intp)
    got = concordance_se(t, d, r, s, w, a, cl)
    want = _brute(t, d, r, s, w, a, cl)
    np.testing.assert_allclose(
        [got.concordance, got.se, got.concordant, got.discordant, got.tied_x], want, rtol=1e-12
    )


def test_no_comparable_pair_gives_nan() -> None:
    c = concordance_se(np.array([1.0, 1.0]), np.array([True, True]), np.array([0.1, 0.2]))
    assert np.isnan(c.concordance) and np.isnan(c.se) and c.tied_y == 1.0
