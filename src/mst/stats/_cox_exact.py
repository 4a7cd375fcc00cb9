"""Exact partial likelihood of the Cox model for tied event times (R ``coxph(ties =
"exact")``): the discrete-time / conditional-logistic likelihood.

At an event time with ``d`` tied events among ``m`` subjects at risk, the contribution is
exp(Σ_deaths η) / Σ_{S ⊂ risk set, |S| = d} exp(Σ_{k∈S} η_k). The sum over all C(m, d)
subsets is not enumerated: it is the elementary symmetric polynomial of degree ``d`` of the
risk scores r_k = exp(η_k), obtained with the recursion
B_j(k) = B_j(k−1) + r_k·B_{j−1}(k−1) (Gail, Lubin & Rubinstein, Biometrika 1981), which
costs O(d·m) per tie group (O(d·m·p²) with the first and second derivatives). Each level
``j`` is a cumulative sum over the risk set and is rescaled, so no overflow occurs for large
groups. Event times with a single event use the ordinary risk-set sums (one reverse
cumulative sum). A tie group with d·m above :data:`EXACT_LIMIT` is refused (R's
(start, stop] code enumerates the subsets and does not finish for such groups).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.stats import _regression_cox_core as core

FloatArray = NDArray[np.float64]

#: largest d × m (tied events × subjects at risk) of one tie group that is computed
EXACT_LIMIT = 10_000_000
#: largest m × p² (subjects at risk × covariates²) of one tie group (memory of the
#: second-derivative recursion: a few arrays of m × p × p numbers)
EXACT_MEMORY_LIMIT = 20_000_000


def check_size(strata: list[Any], p: int = 1) -> None:
    """Refuse a tie group too large for the exact likelihood, naming it and the limit."""
    for S in strata:
        multi = np.flatnonzero(S.d > 1)
        if multi.size == 0:
            continue
        m = core._risk_sums(S, np.ones((S.rows.size, 1)))[multi, 0]
        work = S.d[multi] * m
        j = int(np.argmax(work))
        if work[j] > EXACT_LIMIT:
            k = multi[j]
            raise ValidationError(
                "ties",
                "exact",
                f"the tie group at time {S.times[k]:g} has {int(S.d[k])} events among "
                f"{int(m[j])} subjects at risk; the exact partial likelihood is limited to "
                f"events × at risk <= {EXACT_LIMIT:,} per tied time "
                f"(here {int(work[j]):,}): use ties='efron' (R's default)",
            )
        j = int(np.argmax(m))
        if m[j] * p * p > EXACT_MEMORY_LIMIT:
            k = multi[j]
            raise ValidationError(
                "ties",
                "exact",
                f"the tie group at time {S.times[k]:g} has {int(m[j])} subjects at risk "
                f"and the model {p} covariates; the exact partial likelihood is limited to "
                f"at risk × covariates² <= {EXACT_MEMORY_LIMIT:,} per tied time: "
                "use ties='efron' (R's default)",
            )


def _tie_group(
    x: FloatArray, eta: FloatArray, d: int, need_info: bool
) -> tuple[float, FloatArray, FloatArray | None]:
    """log Σ_{|S|=d} exp(η_S), its gradient and Hessian over the rows of a risk set."""
    m, p = x.shape
    c = float(eta.max())
    r = np.exp(eta - c)
    # level j-1 "just before row k": level 0 is 1 everywhere
    prev0 = np.ones(m)
    prev1 = np.zeros((m, p))
    prev2 = np.zeros((m, p, p)) if need_info else None
    log_scale = 0.0
    xx = np.einsum("ki,kj->kij", x, x) if need_info else None
    for _ in range(d):
        t0 = r * prev0
        t1 = r[:, None] * (prev1 + x * prev0[:, None])
        B0 = np.cumsum(t0)
        B1 = np.cumsum(t1, axis=0)
        if need_info:
            assert prev2 is not None and xx is not None
            cross = np.einsum("ki,kj->kij", x, prev1)
            t2 = r[:, None, None] * (
                prev2 + cross + cross.transpose(0, 2, 1) + xx * prev0[:, None, None]
            )
            B2 = np.cumsum(t2, axis=0)
        s = B0[-1]
        log_scale += np.log(s)
        # the next level uses this level just before each row (shift by one)
        prev0 = np.concatenate(([0.0], B0[:-1] / s))
        prev1 = np.vstack([np.zeros((1, p)), B1[:-1] / s])
        if need_info:
            prev2 = np.concatenate([np.zeros((1, p, p)), B2[:-1] / s])
    g = B1[-1] / B0[-1]
    H = (B2[-1] / B0[-1] - np.outer(g, g)) if need_info else None
    return float(log_scale + d * c), g, H


def evaluate(
    strata: list[Any],
    xs: list[tuple[FloatArray, FloatArray]],
    beta: FloatArray,
    need_info: bool = True,
    starts: list[FloatArray] | None = None,
) -> core.CoxEval:
    """Exact log partial likelihood, score and information (as ``coxph(ties="exact")``).

    ``starts[s]`` holds the start times of stratum ``s``'s rows in its stop-time order
    (``None`` for right-censored data).
    """
    p = beta.size
    ll = 0.0
    U = np.zeros(p)
    info = np.zeros((p, p))
    for i, (S, rows) in enumerate(zip(strata, xs, strict=True)):
        x, xe = rows[0], rows[1]
        eta = x @ beta
        c = float(eta.max())
        e = np.exp(eta - c)
        ll += float(eta[S.ev_pos].sum())
        U += xe.sum(axis=0)
        single = S.d == 1
        if single.any():
            R = core._risk_sums(S, np.column_stack([e, x * e[:, None]]))
            S0 = R[single, 0]
            xbar = R[single, 1:] / S0[:, None]
            ll -= float((np.log(S0) + c).sum())
            U -= xbar.sum(axis=0)
            if need_info:
                # Σ_t S2(t)/S0(t) = Σ_rows e·x xᵀ · (sum of 1/S0 over the single-event
                # times the row is at risk at): no rows × p² array
                a = np.zeros(S.times.size)
                a[single] = 1.0 / S0
                A = core._per_row(S, a[:, None])[:, 0]
                info += (x.T * (e * A)) @ x - xbar.T @ xbar
        for k in np.flatnonzero(~single):
            t = S.times[k]
            at_risk = np.arange(S.k_stop[k], S.rows.size)
            if starts is not None:
                at_risk = at_risk[starts[i][at_risk] < t]
            lg, g, H = _tie_group(x[at_risk], eta[at_risk], int(S.d[k]), need_info)
            ll -= lg
            U -= g
            if need_info and H is not None:
                info += H
    return core.CoxEval(ll, U, info)
