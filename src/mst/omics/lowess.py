"""Cleveland's robust locally weighted regression, computed as R's ``stats::lowess`` does.

DESeq2 chooses its independent-filtering threshold from ``lowess(numRej ~ theta, f = 1/5)``.
pydeseq2 smooths with its own variant (another neighbourhood width and robustness weights),
which can pick a different threshold and so change which genes get an adjusted p-value. This
module follows the published algorithm (Cleveland 1979, *JASA* 74:829-836) with R's
conventions — neighbourhood of ``floor(f * n)`` points, tricube weights with the 0.001/0.999
cut-offs, bisquare robustness weights from six median absolute residuals, ``delta``
interpolation — so that the threshold equals DESeq2's (checked against R in
``tests/omics/test_omics_r_parity.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _local_fit(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    xs: float,
    nleft: int,
    nright: int,
    rw: NDArray[np.float64] | None,
) -> float | None:
    n = x.size
    span = x[-1] - x[0]
    h = max(xs - x[nleft], x[nright] - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    w = np.zeros(n)
    j = nleft
    while j < n:
        r = abs(x[j] - xs)
        if r <= h9:
            w[j] = 1.0 if r <= h1 else (1.0 - (r / h) ** 3) ** 3
            if rw is not None:
                w[j] *= rw[j]
        elif x[j] > xs:
            break
        j += 1
    nrt = j - 1
    sl = slice(nleft, nrt + 1)
    a = w[sl].sum()
    if a <= 0.0:
        return None
    w[sl] /= a
    if h > 0.0:
        a = float(np.dot(w[sl], x[sl]))
        b = xs - a
        c = float(np.dot(w[sl], (x[sl] - a) ** 2))
        if np.sqrt(c) > 0.001 * span:
            b /= c
            w[sl] *= b * (x[sl] - a) + 1.0
    return float(np.dot(w[sl], y[sl]))


def lowess(x: ArrayLike, y: ArrayLike, f: float = 2 / 3, iters: int = 3) -> NDArray[np.float64]:
    """Smoothed values of ``y`` at the sorted ``x``, equal to R's ``lowess(x, y, f, iter)$y``.

    Parameters
    ----------
    x, y : array_like
        Points; sorted by ``x`` internally (stable), as R does.
    f : float
        Smoother span: the fraction of points that influence each value.
    iters : int
        Robustifying iterations.

    Returns
    -------
    numpy.ndarray
        Fitted values in the order of ``sorted(x)``.
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    order = np.argsort(xa, kind="stable")
    xa, ya = xa[order], ya[order]
    n = xa.size
    if n < 2:
        return ya.copy()
    delta = 0.01 * (xa[-1] - xa[0])
    ns = max(2, min(n, int(f * n + 1e-7)))
    ys = np.zeros(n)
    rw: NDArray[np.float64] | None = None
    for it in range(1, iters + 2):
        nleft, nright, last, i = 0, ns - 1, -1, 0
        while True:
            if nright < n - 1:
                d1 = xa[i] - xa[nleft]
                d2 = xa[nright + 1] - xa[i]
                if d1 > d2:
                    nleft += 1
                    nright += 1
                    continue
            fit = _local_fit(xa, ya, xa[i], nleft, nright, rw)
            ys[i] = ya[i] if fit is None else fit
            if last < i - 1:
                denom = xa[i] - xa[last]
                for j in range(last + 1, i):
                    alpha = (xa[j] - xa[last]) / denom
                    ys[j] = alpha * ys[i] + (1.0 - alpha) * ys[last]
            last = i
            cut = xa[last] + delta
            i = last + 1
            while i < n:
                if xa[i] > cut:
                    break
                if xa[i] == xa[last]:
                    ys[i] = ys[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        res = ya - ys
        sc = float(np.abs(res).sum()) / n
        if it > iters:
            break
        ar = np.sort(np.abs(res))
        m1 = n // 2
        cmad = 3.0 * (ar[m1] + ar[m1 - 1]) if n % 2 == 0 else 6.0 * ar[m1]
        if cmad < 1e-7 * sc:
            break
        c9, c1 = 0.999 * cmad, 0.001 * cmad
        r = np.abs(res)
        rw = np.where(r <= c1, 1.0, np.where(r > c9, 0.0, (1.0 - (r / cmad) ** 2) ** 2))
    return ys
