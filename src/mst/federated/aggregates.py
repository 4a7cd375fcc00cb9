"""What a node computes from its own flat table: aggregates only, never a patient row.

Every function takes the center's table (``pandas.DataFrame``, the flat analysis table or
any table with the same columns), the query parameters and the center's
:class:`~mst.federated.disclosure.DisclosurePolicy`, checks the disclosure rules, and returns
a flat mapping of numpy arrays and JSON values (a message, see :mod:`mst.federated.wire`).
They import the validated readers of :mod:`mst.stats` read-only and need no engine.

Cells: a *cell* is the set of patients sharing one key (stratum, group, time point, status,
covariate level or Table 1 value). Sums of covariates are only ever released per cell of
at least ``min_cell`` patients (or for the whole center).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.federated.design import DesignSpec, build_design, level_counts
from mst.federated.disclosure import DisclosurePolicy, check_cells, coarsen
from mst.federated.errors import FederationError
from mst.stats.io import need_columns, outcome_columns

FloatArray = NDArray[np.float64]


def _labels_json(values: NDArray[np.object_] | None) -> tuple[list[Any] | None, NDArray[np.int64]]:
    """Distinct labels (JSON values: int, float, str) and the index of every row."""
    if values is None:
        return None, np.zeros(0, dtype=np.int64)
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), sort=False)
    labels = [u.item() if hasattr(u, "item") else u for u in uniq.tolist()]
    return labels, codes.astype(np.int64)


def _cells(
    keys: list[NDArray[Any]],
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[NDArray[Any]]]:
    """Group rows by equal keys: (cell index of every row, cell sizes, key values per cell)."""
    frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
    grouped = frame.groupby(list(frame.columns), sort=True, dropna=False)
    idx = grouped.ngroup().to_numpy().astype(np.int64)
    first = frame.drop_duplicates().assign(_i=lambda d: idx[d.index]).sort_values("_i")
    sizes = np.bincount(idx).astype(np.int64)
    return idx, sizes, [first[f"k{i}"].to_numpy() for i in range(len(keys))]


# -- counts: Kaplan–Meier, log-rank, Aalen–Johansen, Gray, reverse-KM follow-up ------------------


def outcome_counts(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Numbers of events by cause and censorings per (stratum, group, time point).

    Parameters
    ----------
    df : DataFrame
        The center's table.
    q : dict
        ``time``, ``status``, ``codes`` (declared status codes), optional ``group`` and
        ``strata`` (column names).
    policy : DisclosurePolicy
        Minimum cell count and time grid.
    center : str
        The center (named in a refusal).

    Returns
    -------
    dict
        ``time``, ``status``, ``group_index``, ``strata_index``, ``count`` (one entry per
        non-empty cell), ``group_labels``, ``strata_labels``, ``excluded_rows``.
    """
    codes = tuple(int(c) for c in q["codes"])
    t, s, g, st, excluded = outcome_columns(
        df, q["time"], q["status"], codes, q.get("group"), q.get("strata")
    )
    t = coarsen(t, q["time"], policy.coarsen_months)
    glab, gi = _labels_json(g)
    slab, si = _labels_json(st)
    keys: list[NDArray[Any]] = [t, s]
    if glab is not None:
        keys.append(gi)
    if slab is not None:
        keys.append(si)
    _, sizes, kv = _cells(keys)
    check_cells(center, "patients with one status at one time point", sizes, policy.min_cell)
    if glab is not None:
        check_cells(center, "patients of one group", np.bincount(gi), policy.min_cell)
    return {
        "time": kv[0].astype(np.float64),
        "status": kv[1].astype(np.int64),
        "group_index": kv[2].astype(np.int64) if glab is not None else np.zeros(0, np.int64),
        "strata_index": kv[-1].astype(np.int64) if slab is not None else np.zeros(0, np.int64),
        "count": sizes,
        "group_labels": glab,
        "strata_labels": slab,
        "excluded_rows": int(excluded),
    }


# -- Table 1 -------------------------------------------------------------------------------------


def _json_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v


def table1_counts(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Per variable, the number of patients with each value in each ``by`` group.

    Numeric variables are sent as value counts too (each distinct value a cell), so the
    coordinator recovers the exact pooled distribution (means, SDs, quartiles, Shapiro–Wilk,
    rank tests) — and a value held by fewer than ``min_cell`` patients makes the node refuse.
    """
    by = q["by"]
    variables = list(q["variables"])
    need_columns(df, by, *variables)
    data = df[df[by].notna()]
    out: dict[str, Any] = {"by_dtype": str(df[by].dtype)}
    bvals = [_json_value(v) for v in data[by].tolist()]
    blab, bi = _labels_json(np.array(bvals, dtype=object))
    check_cells(center, f"patients of one {by} group", np.bincount(bi), policy.min_cell)
    out["by_labels"] = blab
    out["variables"] = variables
    out["dtypes"] = {v: str(df[v].dtype) for v in variables}
    for j, var in enumerate(variables):
        vals = [_json_value(v) for v in data[var].tolist()]
        # encode values as JSON labels (None = missing)
        uniq: list[Any] = []
        pos: dict[str, int] = {}
        vi = np.empty(len(vals), dtype=np.int64)
        for r, v in enumerate(vals):
            key = repr((type(v).__name__, v))
            if key not in pos:
                pos[key] = len(uniq)
                uniq.append(v)
            vi[r] = pos[key]
        cell = bi * len(uniq) + vi
        cnt = np.bincount(cell, minlength=len(blab or []) * len(uniq))
        nz = np.flatnonzero(cnt)
        check_cells(center, f"patients with one value of {var}", cnt[nz], policy.min_cell)
        out[f"v{j}_values"] = uniq
        out[f"v{j}_by"] = (nz // len(uniq)).astype(np.int64)
        out[f"v{j}_value"] = (nz % len(uniq)).astype(np.int64)
        out[f"v{j}_count"] = cnt[nz].astype(np.int64)
    return out


# -- regression: setup, moments --------------------------------------------------------------------


def _base(q: dict[str, Any]) -> list[str]:
    cols = [q["time"], q.get("event") or q.get("status")]
    cols += list(q.get("strata") or [])
    if q.get("cengroup"):
        cols.append(q["cengroup"])
    return [c for c in cols if c]


def regression_setup(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Kinds and level counts of the covariates, and the numbers of rows (setup round)."""
    base = _base(q)
    kinds, counts, n_complete = level_counts(df, q["covariates"], base)
    for col, c in counts.items():
        check_cells(center, f"patients with one level of {col}", list(c.values()), policy.min_cell)
    check_cells(center, "analysed patients", [n_complete], policy.min_cell)
    return {"kinds": kinds, "level_counts": counts, "n_rows": len(df), "n_complete": n_complete}


def _outcome(
    df: pd.DataFrame, q: dict[str, Any], keep: NDArray[np.bool_], policy: DisclosurePolicy
) -> tuple[FloatArray, NDArray[np.int64]]:
    col = q.get("event") or q["status"]
    t = pd.to_numeric(df.loc[keep, q["time"]], errors="coerce").to_numpy(dtype=np.float64)
    s = pd.to_numeric(df.loc[keep, col], errors="coerce").to_numpy(dtype=np.float64)
    rows = np.flatnonzero(keep) + 1
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        raise ValidationError(
            f"{q['time']} (rows {rows[bad][:10].tolist()})", None, "must be a number >= 0"
        )
    if q.get("event"):
        badv = ~np.isin(s, (0.0, 1.0))
        if badv.any():
            raise ValidationError(
                f"{col} (rows {rows[badv][:10].tolist()})", None, "event must be 0 or 1"
            )
    elif not np.all(np.isfinite(s)) or np.any(s != np.round(s)):
        raise ValidationError(col, None, "status codes must be integers")
    return coarsen(t, q["time"], policy.coarsen_months), s.astype(np.int64)


def _strata_keys(df: pd.DataFrame, q: dict[str, Any], keep: NDArray[np.bool_]) -> list[str]:
    cols = list(q.get("strata") or [])
    if not cols:
        return ["all"] * int(keep.sum())
    sub = df.loc[keep, cols]
    return ["|".join(str(_json_value(v)) for v in row) for row in sub.itertuples(index=False)]


def regression_moments(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Row count, Σx and Σxxᵀ of the design (for centring and the design checks)."""
    spec = DesignSpec.from_json(q["design"])
    X, _ = build_design(df, spec, _base(q))
    check_cells(center, "analysed patients", [X.shape[0]], policy.min_cell)
    return {"n": int(X.shape[0]), "sum_x": X.sum(axis=0), "sum_xx": X.T @ X}


# -- Cox ----------------------------------------------------------------------------------------


def _cox_rows(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy
) -> tuple[FloatArray, FloatArray, NDArray[np.int64], list[str]]:
    spec = DesignSpec.from_json(q["design"])
    X, keep = build_design(df, spec, _base(q))
    t, e = _outcome(df, q, keep, policy)
    Xc = X - np.asarray(q["mean"], dtype=np.float64)
    return Xc, t, e, _strata_keys(df, q, keep)


def cox_cells(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Per (stratum, time point): sums over all patients and over the events at β.

    With ``e = exp(xβ)`` (x centred on the pooled means): ``c0 = Σe``, ``c1 = Σe·x``,
    ``c2 = Σe·xxᵀ`` over everybody whose time equals the time point; ``d0, d1, d2`` the same
    over the events there (Efron's tied sums), ``xd = Σx`` and ``etad = Σxβ`` over the events,
    ``n`` and ``d`` the numbers of patients and events. The coordinator adds the cells of
    all centers and forms the risk-set sums by reverse cumulation.
    """
    X, t, e, skeys = _cox_rows(df, q, policy)
    beta = np.asarray(q["beta"], dtype=np.float64)
    eta = X @ beta
    w = np.exp(eta)
    if not np.all(np.isfinite(w)):
        raise ValidationError("beta", None, "exp(x·beta) overflows at this center")
    slab, si = _labels_json(np.array(skeys, dtype=object))
    idx, sizes, kv = _cells([si, t])
    ev = e == 1
    nc = sizes.size
    p = X.shape[1]
    d = np.bincount(idx, weights=ev.astype(np.float64), minlength=nc)
    check_cells(center, "patients at one time point", sizes, policy.min_cell)
    check_cells(center, "events at one time point", d, policy.min_cell)
    xx = (X[:, :, None] * X[:, None, :]).reshape(-1, p * p)

    def csum(vals: FloatArray, mask: NDArray[np.bool_] | None = None) -> FloatArray:
        out = np.zeros((nc, vals.shape[1]))
        if mask is None:
            np.add.at(out, idx, vals)
        else:
            np.add.at(out, idx[mask], vals[mask])
        return out

    we = w[:, None]
    return {
        "strata_labels": slab,
        "stratum": kv[0].astype(np.int64),
        "time": kv[1].astype(np.float64),
        "n": sizes,
        "d": d,
        "c0": csum(we)[:, 0],
        "c1": csum(we * X),
        "c2": csum(we * xx),
        "d0": csum(we, ev)[:, 0],
        "d1": csum(we * X, ev),
        "d2": csum(we * xx, ev),
        "xd": csum(X, ev),
        "etad": csum(eta[:, None], ev)[:, 0],
    }


def cox_residuals(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Score residuals of the center's patients at the final β, summed as the sandwich needs.

    The coordinator sends, per stratum and pooled event time, Efron's per-time quantities
    ``a, b, cvec, evec, mvec`` (as :func:`mst.stats._regression_cox_core.score_residuals`
    forms them from pooled risk sets). The node returns ``Σ rᵢrᵢᵀ`` over its patients (robust
    variance, one cluster per patient), ``r = Σ rᵢ`` and ``r rᵀ`` (cluster = center: the
    coordinator adds the centers' ``r rᵀ``, which is additive, so it also works as a
    secure sum).
    """
    X, t, e, skeys = _cox_rows(df, q, policy)
    beta = np.asarray(q["beta"], dtype=np.float64)
    w = np.exp(X @ beta)
    p = X.shape[1]
    res = np.zeros_like(X)
    per = q["per_stratum"]
    for lab in set(skeys):
        rows = np.flatnonzero(np.array(skeys, dtype=object) == lab)
        if lab not in per:
            continue  # a stratum without events contributes nothing
        P = per[lab]
        times = np.asarray(P["times"], dtype=np.float64)
        a = np.asarray(P["a"], dtype=np.float64)
        b = np.asarray(P["b"], dtype=np.float64)
        cvec = np.asarray(P["cvec"], dtype=np.float64).reshape(-1, p)
        evec = np.asarray(P["evec"], dtype=np.float64).reshape(-1, p)
        mvec = np.asarray(P["mvec"], dtype=np.float64).reshape(-1, p)
        x, tt, ee, ww = X[rows], t[rows], e[rows] == 1, w[rows]
        k = np.searchsorted(times, tt, side="right")  # event times <= t
        cum = np.vstack([np.zeros((1, 1 + p)), np.cumsum(np.column_stack([a, cvec]), axis=0)])
        A, C = cum[k, 0], cum[k, 1:]
        r = -(ww[:, None] * (x * A[:, None] - C))
        g = np.searchsorted(times, tt[ee])
        r[ee] += x[ee] - mvec[g] + ww[ee][:, None] * (x[ee] * b[g][:, None] - evec[g])
        res[rows] = r
    check_cells(center, "analysed patients", [X.shape[0]], policy.min_cell)
    r_center = res.sum(axis=0)
    return {"rr": res.T @ res, "r": r_center, "rcrc": np.outer(r_center, r_center)}


def cox_concordance_cells(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Numbers of patients per (stratum, time point, event, risk score) at the final β.

    Harrell's C compares the risk scores of every comparable pair, across centers too, so it
    depends on the data through these counts only. The risk score ``xβ`` (x centred on the
    pooled means, as the pooled fit) is a function of the covariate pattern: each cell is a
    set of patients sharing a covariate pattern, a time point and a status, and every
    pattern and every cell must hold 0 or at least ``min_cell`` patients. A continuous
    covariate makes the patterns individual, so with ``min_cell > 1`` the node refuses.
    """
    X, t, e, skeys = _cox_rows(df, q, policy)
    beta = np.asarray(q["beta"], dtype=np.float64)
    # row by row, the same way at every center, so equal patterns get equal scores
    risk = np.sum(X * beta[None, :], axis=1)
    slab, si = _labels_json(np.array(skeys, dtype=object))
    _, pattern_sizes, _ = _cells([X[:, j] for j in range(X.shape[1])] or [np.zeros(len(t))])
    check_cells(center, "patients with one covariate pattern", pattern_sizes, policy.min_cell)
    _, sizes, kv = _cells([si, t, e, risk])
    check_cells(
        center, "patients with one time point, status and risk score", sizes, policy.min_cell
    )
    return {
        "strata_labels": slab,
        "stratum": kv[0].astype(np.int64),
        "time": kv[1].astype(np.float64),
        "event": kv[2].astype(np.int64),
        "risk": kv[3].astype(np.float64),
        "n": sizes,
    }


# -- Fine–Gray ------------------------------------------------------------------------------------


def _fg_rows(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy
) -> tuple[FloatArray, FloatArray, NDArray[np.int8], list[str]]:
    spec = DesignSpec.from_json(q["design"])
    X, keep = build_design(df, spec, _base(q))
    t, s = _outcome(df, q, keep, policy)
    st = np.where(s == q["cencode"], 0, np.where(s == q["cause"], 1, 2)).astype(np.int8)
    if q.get("cengroup"):
        grp = [str(_json_value(v)) for v in df.loc[keep, q["cengroup"]].tolist()]
    else:
        grp = ["all"] * X.shape[0]
    return X, t, st, grp


def finegray_counts(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Per (censoring group, time point): numbers of patients, censorings, events, competing."""
    _, t, st, grp = _fg_rows(df, q, policy)
    glab, gi = _labels_json(np.array(grp, dtype=object))
    idx, sizes, kv = _cells([gi, t])
    nc = sizes.size
    out = {
        "group_labels": glab,
        "group": kv[0].astype(np.int64),
        "time": kv[1].astype(np.float64),
        "n": sizes,
    }
    for name, code in (("cens", 0), ("fail", 1), ("comp", 2)):
        out[name] = np.bincount(idx, weights=(st == code).astype(np.float64), minlength=nc)
        check_cells(
            center,
            f"patients with one status ({name}) at one time point",
            out[name],
            policy.min_cell,
        )
    check_cells(center, "patients at one time point", sizes, policy.min_cell)
    return out


def finegray_cells(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Per (censoring group, time point) at β (x not centred, as crr): sums over everybody
    (``c0, c1, c2``), over competing events (``k0, k1, k2``) and over events of the cause
    (``xf = Σx``, ``etaf = Σxβ``, ``d``)."""
    X, t, st, grp = _fg_rows(df, q, policy)
    beta = np.asarray(q["beta"], dtype=np.float64)
    eta = X @ beta
    w = np.exp(eta)
    if not np.all(np.isfinite(w)):
        raise ValidationError("beta", None, "exp(x·beta) overflows at this center")
    glab, gi = _labels_json(np.array(grp, dtype=object))
    idx, sizes, kv = _cells([gi, t])
    nc = sizes.size
    p = X.shape[1]
    fail, comp = st == 1, st == 2
    d = np.bincount(idx, weights=fail.astype(np.float64), minlength=nc)
    nk = np.bincount(idx, weights=comp.astype(np.float64), minlength=nc)
    check_cells(center, "patients at one time point", sizes, policy.min_cell)
    check_cells(center, "events at one time point", d, policy.min_cell)
    check_cells(center, "competing events at one time point", nk, policy.min_cell)
    xx = (X[:, :, None] * X[:, None, :]).reshape(-1, p * p)
    we = w[:, None]

    def csum(vals: FloatArray, mask: NDArray[np.bool_] | None = None) -> FloatArray:
        out = np.zeros((nc, vals.shape[1]))
        sel = slice(None) if mask is None else mask
        np.add.at(out, idx[sel], vals[sel])
        return out

    return {
        "group_labels": glab,
        "group": kv[0].astype(np.int64),
        "time": kv[1].astype(np.float64),
        "n": sizes,
        "d": d,
        "c0": csum(we)[:, 0],
        "c1": csum(we * X),
        "c2": csum(we * xx),
        "k0": csum(we, comp)[:, 0],
        "k1": csum(we * X, comp),
        "k2": csum(we * xx, comp),
        "xf": csum(X, fail),
        "etaf": csum(eta[:, None], fail)[:, 0],
    }


def finegray_residuals(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """Σ (ηᵢ + ψᵢ)(ηᵢ + ψᵢ)ᵀ over the center's patients: crr's sandwich middle term.

    The coordinator sends the pooled per-time quantities: failure times ``u``, ``h = d/S0``,
    ``xbar``; per censoring group the censoring Kaplan–Meier (``km_time``, ``km_surv``),
    ``G(u-)`` at the failure times, and the censoring-martingale terms at the pooled
    censoring times (``uc``, ``qy = q/Y``, ``cinc``). See :mod:`mst.stats.finegray`.
    """
    from mst.federated.coordinator import g_before

    X, t, st, grp = _fg_rows(df, q, policy)
    beta = np.asarray(q["beta"], dtype=np.float64)
    w = np.exp(X @ beta)
    p = X.shape[1]
    u = np.asarray(q["u"], dtype=np.float64)
    h = np.asarray(q["h"], dtype=np.float64)
    xbar = np.asarray(q["xbar"], dtype=np.float64).reshape(-1, p)
    uc = np.asarray(q["uc"], dtype=np.float64)
    n_le = np.searchsorted(u, t, side="right")
    hh = np.column_stack([h, xbar * h[:, None]])
    cum = np.vstack([np.zeros((1, p + 1)), np.cumsum(hh, axis=0)])
    W = cum[n_le, 0].copy()
    V = cum[n_le, 1:].copy()
    garr = np.array(grp, dtype=object)
    for lab, G in q["groups"].items():
        ing = garr == lab
        cg = np.flatnonzero(ing & (st == 2))
        gf = np.asarray(G["gf"], dtype=np.float64)
        if cg.size:
            gm = g_before(np.asarray(G["km_time"]), np.asarray(G["km_surv"]), t[cg])
            tail = hh * gf[:, None]
            back = np.vstack([np.cumsum(tail[::-1], axis=0)[::-1], np.zeros((1, p + 1))])
            bk = back[n_le[cg]] / gm[:, None]
            W[cg] += bk[:, 0]
            V[cg] += bk[:, 1:]
    U = -(w[:, None] * (X * W[:, None] - V))
    fail = np.flatnonzero(st == 1)
    U[fail] += X[fail] - xbar[np.searchsorted(u, t[fail])]
    for lab, G in q["groups"].items():
        ing = np.flatnonzero(garr == lab)
        cinc = np.asarray(G["cinc"], dtype=np.float64).reshape(-1, p)
        qy = np.asarray(G["qy"], dtype=np.float64).reshape(-1, p)
        k = np.searchsorted(uc, t[ing], side="right")
        U[ing] -= cinc[k]
        cr = ing[st[ing] == 0]
        U[cr] += qy[np.searchsorted(uc, t[cr])]
    check_cells(center, "analysed patients", [X.shape[0]], policy.min_cell)
    return {"uu": U.T @ U}


def cox_concordance_influence(
    df: pd.DataFrame, q: dict[str, Any], policy: DisclosurePolicy, center: str
) -> dict[str, Any]:
    """The square of the center's summed concordance influence terms (clustered SE).

    The coordinator sends every pooled (stratum, time point, status, risk score) cell with
    its influence term on Somers' d (equal for the patients of a cell); the node returns
    ``dd = (Σ over its cells n·dfbeta)²``, which adds over the centers to R's clustered
    variance × 4. The cells are those of :func:`cox_concordance_cells` (same rules).
    """
    rep = cox_concordance_cells(df, q, policy, center)
    C = q["cells"]
    labels = list(C["strata_labels"])
    pooled = {
        (str(labels[int(s)]), float(t), int(e), float(r)): float(v)
        for s, t, e, r, v in zip(
            C["stratum"], C["time"], C["event"], C["risk"], C["dfbeta"], strict=True
        )
    }
    own = rep["strata_labels"]
    total = 0.0
    for s, t, e, r, n in zip(
        rep["stratum"], rep["time"], rep["event"], rep["risk"], rep["n"], strict=True
    ):
        key = (str(own[int(s)]), float(t), int(e), float(r))
        if key not in pooled:
            raise FederationError(center, "refused the query: a cell is not in the pooled cells")
        total += float(n) * pooled[key]
    return {"dd": np.float64(total * total)}
