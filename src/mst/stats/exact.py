"""Exact and asymptotic tests for contingency tables, with R ``fisher.test`` /
``chisq.test`` conventions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln
from scipy.stats import chi2

from mst.errors import ValidationError

#: R's ``fisher.test`` counts tables with probability <= p_obs * (1 + 1e-7)
RELATIVE_ERROR = 1 + 1e-7
#: refuse exact enumeration beyond this many partial tables (use chi-square instead)
MAX_TABLES = 2_000_000
#: refuse when the candidate (partial table, next column) pairs exceed this (memory bound)
MAX_PAIRS = 50_000_000


@dataclass(frozen=True)
class TableTest:
    """Result of a contingency-table test."""

    test: str
    p: float
    statistic: float | None = None
    df: int | None = None


def _as_table(table: ArrayLike) -> NDArray[np.int64]:
    x = np.asarray(table, dtype=np.float64)
    if x.ndim != 2 or min(x.shape) < 2:
        raise ValidationError(
            "table", x.shape, "must be a two-way table with >= 2 rows and columns"
        )
    if np.any(x < 0) or np.any(x != np.round(x)) or not np.all(np.isfinite(x)):
        raise ValidationError("table", x.tolist(), "cells must be non-negative integer counts")
    return x.astype(np.int64)


@cache
def _compositions(total: int, parts: int) -> NDArray[np.int64]:
    """All ways of writing ``total`` as an ordered sum of ``parts`` non-negative integers."""
    if parts == 1:
        return np.array([[total]], dtype=np.int64)
    rows = []
    for first in range(total + 1):
        rest = _compositions(total - first, parts - 1)
        rows.append(np.column_stack([np.full(rest.shape[0], first), rest]))
    return np.vstack(rows)


def fisher_exact(table: ArrayLike) -> TableTest:
    """Two-sided Fisher exact test for an r x c table (Fisher–Freeman–Halton when larger
    than 2 x 2).

    The p-value is the total probability, under the multiple hypergeometric law given
    the margins, of the tables no more probable than the observed one, with R's relative
    tolerance of 1e-7. Tables are enumerated exactly (column by column).

    Parameters
    ----------
    table : array_like
        Counts, shape (r, c).

    Returns
    -------
    TableTest
        ``test`` is "Fisher exact" (2 x 2) or "Fisher-Freeman-Halton exact".
    """
    x = _as_table(table)
    x = x[x.sum(axis=1) > 0][:, x.sum(axis=0) > 0]
    name = "Fisher exact" if x.shape == (2, 2) else "Fisher-Freeman-Halton exact"
    if x.ndim != 2 or min(x.shape) < 2:
        return TableTest(name, 1.0)
    if x.shape[0] > x.shape[1]:
        x = x.T
    rows = x.sum(axis=1)
    cols = x.sum(axis=0)
    n = int(rows.sum())
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)
    obs = const - gammaln(x + 1).sum()
    # partial tables: remaining row totals and accumulated -sum(log x!)
    rem = rows[None, :].copy()
    acc = np.zeros(1)
    too_large = ValidationError(
        "table", x.tolist(), "too large for exact enumeration; use the chi-square test"
    )
    for j in range(x.shape[1] - 1):
        n_comp = math.comb(int(cols[j]) + x.shape[0] - 1, x.shape[0] - 1)
        if n_comp * rem.shape[0] > MAX_PAIRS:  # refuse before allocating, not after
            raise too_large
        comp = _compositions(int(cols[j]), x.shape[0])
        ok = np.all(comp[None, :, :] <= rem[:, None, :], axis=2)
        pi, ci = np.nonzero(ok)
        if pi.size > MAX_TABLES:
            raise too_large
        rem = rem[pi] - comp[ci]
        acc = acc[pi] - gammaln(comp[ci] + 1).sum(axis=1)
    logp = const + acc - gammaln(rem + 1).sum(axis=1)
    sel = logp <= obs + np.log(RELATIVE_ERROR)
    p = float(np.exp(logp[sel]).sum())
    return TableTest(name, min(p, 1.0))


def expected_counts(table: ArrayLike) -> NDArray[np.float64]:
    """Expected counts under independence, ``row total x column total / n``."""
    x = _as_table(table).astype(np.float64)
    return np.outer(x.sum(axis=1), x.sum(axis=0)) / x.sum()


def chisq_test(table: ArrayLike, correct: bool = True) -> TableTest:
    """Pearson chi-square test as R ``chisq.test`` (Yates' correction for 2 x 2 when
    ``correct``, limited to |O - E| as in R).

    Parameters
    ----------
    table : array_like
        Counts, shape (r, c); empty rows/columns are dropped.
    correct : bool
        Apply the continuity correction to 2 x 2 tables.

    Returns
    -------
    TableTest
    """
    x = _as_table(table).astype(np.float64)
    x = x[x.sum(axis=1) > 0][:, x.sum(axis=0) > 0]
    if min(x.shape) < 2:
        return TableTest("Pearson chi-square", 1.0, 0.0, 0)
    e = expected_counts(x)
    yates = correct and x.shape == (2, 2)
    dev = np.abs(x - e)
    if yates:
        dev = dev - np.minimum(0.5, dev)
    stat = float((dev**2 / e).sum())
    df = (x.shape[0] - 1) * (x.shape[1] - 1)
    name = "Pearson chi-square" + (" with Yates correction" if yates else "")
    return TableTest(name, float(chi2.sf(stat, df)), stat, df)


def conventional_table_test(table: ArrayLike) -> TableTest:
    """The conventional choice of 002 Methods ("chi-square test or Fisher's exact test").

    Fisher exact when any expected count is < 5 (Fisher–Freeman–Halton beyond 2 x 2),
    otherwise Pearson chi-square (Yates-corrected for 2 x 2, as R's default). When the exact
    enumeration would exceed :data:`MAX_TABLES` partial tables (large n with sparse cells),
    Pearson chi-square is used and the test name says why.
    """
    x = _as_table(table)
    x = x[x.sum(axis=1) > 0][:, x.sum(axis=0) > 0]
    if min(x.shape) < 2:
        return TableTest("none (a single category)", float("nan"))
    if np.any(expected_counts(x) < 5):
        try:
            return fisher_exact(x)
        except ValidationError:
            chi = chisq_test(x)
            return TableTest(
                f"{chi.test} (Fisher-Freeman-Halton infeasible: > {MAX_TABLES:,} partial tables)",
                chi.p,
                chi.statistic,
                chi.df,
            )
    return chisq_test(x)
