"""What the coordinator does with the aggregates: the same estimators as the pooled analysis.

* KM, log-rank, Aalen–Johansen, Gray, reverse-KM follow-up and Table 1 depend on the data
  only through the counts per (stratum, group, time point, status) or per (group, value).
  The coordinator adds the centers' counts and hands the pooled count table to the very
  functions of :mod:`mst.stats` the pooled analysis uses.
* Cox (Efron or Breslow, strata, robust) and Fine–Gray: the coordinator runs the Newton
  iterations of :func:`mst.stats.cox_model.cox_fit` and
  :func:`mst.stats.finegray_model.finegray_fit`
  (same start, step halving and stopping rules); each evaluation of the partial likelihood
  asks every node for its per-time-point sums at the current β and forms the pooled risk-set
  sums by reverse cumulation. The robust (sandwich) variances use the per-patient score
  contributions that each node computes from pooled per-time quantities and sends summed.

The JSON payloads have the keys of ``mst stats`` (``mst.cli.stats_cmds`` and
``mst.cli.regression_cmds``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.federated.design import DesignSpec, pooled_spec
from mst.federated.errors import FederationError
from mst.federated.federation import Federation

FloatArray = NDArray[np.float64]
_EPS = np.finfo(np.float64).eps


# -- count tables -----------------------------------------------------------------------------


def _expand_labels(
    reps: Mapping[str, dict[str, Any]], key: str, labels_key: str
) -> NDArray[np.object_] | None:
    parts = []
    for c, r in reps.items():
        labels = r.get(labels_key)
        if labels is None:
            return None
        idx = np.asarray(r[key], dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(labels)):
            raise FederationError(c, f"sent a malformed message ({key} out of range)")
        parts.append(
            np.repeat(np.array(labels, dtype=object)[idx], np.asarray(r["count"], dtype=np.int64))
        )
    return np.concatenate(parts) if parts else None


def pooled_outcome(
    fed: Federation,
    time: str,
    status: str,
    codes: Sequence[int],
    group: str | None,
    strata: str | None,
) -> tuple[
    FloatArray, NDArray[np.int64], NDArray[np.object_] | None, NDArray[np.object_] | None, int
]:
    """The pooled (time, status, group, strata) count table, one entry per patient.

    The entries are rebuilt from the cell counts (no patient identity or other column is
    involved), in the form :func:`mst.stats.io.outcome_columns` returns.
    """
    q = {
        "kind": "outcome_counts",
        "time": time,
        "status": status,
        "codes": list(codes),
        "group": group,
        "strata": strata,
    }
    reps = fed.ask(q, expect=("time", "status", "count", "excluded_rows"))
    ts, ss = [], []
    for c, r in reps.items():
        cnt = np.asarray(r["count"], dtype=np.int64)
        if cnt.size and cnt.min() < 0:
            raise FederationError(c, "sent a malformed message (negative count)")
        t = np.asarray(r["time"], dtype=np.float64)
        s = np.asarray(r["status"], dtype=np.int64)
        if t.shape != cnt.shape or s.shape != cnt.shape:
            raise FederationError(c, "sent a malformed message (field lengths differ)")
        if not np.all(np.isin(s, np.asarray(codes))):
            raise FederationError(c, "sent a malformed message (undeclared status code)")
        ts.append(np.repeat(t, cnt))
        ss.append(np.repeat(s, cnt))
    g = _expand_labels(reps, "group_index", "group_labels") if group else None
    st = _expand_labels(reps, "strata_index", "strata_labels") if strata else None
    excluded = sum(int(r["excluded_rows"]) for r in reps.values())
    return np.concatenate(ts), np.concatenate(ss), g, st, excluded


def km_payload(
    fed: Federation,
    time: str,
    event: str,
    group: str | None,
    strata: str | None,
    at: list[float],
    conf_type: str,
    conf_level: float,
    rho: float,
) -> dict[str, Any]:
    """Federated Kaplan–Meier (+ log-rank), keys as ``mst stats km --json``."""
    from mst.stats.payloads import km_json

    t, e, g, s, excluded = pooled_outcome(fed, time, event, (0, 1), group, strata)
    return km_json(
        t, e, g, s, excluded, time=time, event=event, group=group, at=at,
        conf_type=conf_type, conf_level=conf_level, rho=rho,
    )


def cif_payload(
    fed: Federation,
    time: str,
    status: str,
    cause: int,
    group: str | None,
    strata: str | None,
    codes: tuple[int, ...],
    censor: int,
    at: list[float],
    rho: float,
    conf_level: float,
) -> dict[str, Any]:
    """Federated cumulative incidence (+ Gray's test), keys as ``mst stats cif --json``."""
    from mst.stats.payloads import cif_json

    if censor not in codes:
        raise ValidationError("--censor", censor, f"must be one of the codes {list(codes)}")
    t, s, g, st, excluded = pooled_outcome(fed, time, status, codes, group, strata)
    return cif_json(
        t, s, g, st, excluded, time=time, status=status, cause=cause, group=group,
        codes=codes, censor=censor, at=at, rho=rho, conf_level=conf_level,
    )


def followup_payload(fed: Federation, time: str, event: str) -> dict[str, Any]:
    """Federated median follow-up (reverse Kaplan–Meier), keys as ``mst stats followup``."""
    from mst.stats.followup import median_followup

    t, e, _, _, _ = pooled_outcome(fed, time, event, (0, 1), None, None)
    fu = median_followup(t, e)
    return {
        "median": fu.median,
        "lower": fu.lower,
        "upper": fu.upper,
        "n": fu.n,
        "n_alive": fu.n_censored,
        "range_alive": list(fu.range_alive),
        "method": fu.method,
    }


_DTYPES = {"boolean", "Int64", "Int32", "float64", "int64", "object", "string", "bool", "category"}


def _series(values: list[Any], dtype: str, name: str) -> pd.Series:
    if dtype.startswith("datetime"):
        return pd.Series(pd.to_datetime(values), name=name)
    if dtype not in _DTYPES:
        raise ValidationError(name, dtype, "column type not supported by federated Table 1")
    if dtype in ("bool", "int64") and any(v is None for v in values):
        dtype = "boolean" if dtype == "bool" else "Int64"
    if dtype == "category":
        return pd.Series(values, name=name, dtype="object").astype("category")
    return pd.Series(values, name=name, dtype=dtype)


def table1_payload(
    fed: Federation, by: str, variables: list[str], categorical: list[str] | None, digits: int
) -> dict[str, Any]:
    """Federated Table 1, keys as ``mst stats table1 --json``.

    Each variable's pooled (group, value) count table is rebuilt and described by
    :func:`mst.stats.table1.table1` (so tests and summaries are those of the pooled table).
    """
    from mst.stats.table1 import table1

    if not variables:
        raise ValidationError(
            "--vars", None, "name the variables (federated Table 1 asks for each)"
        )
    reps = fed.ask(
        {"kind": "table1_counts", "by": by, "variables": variables},
        expect=("by_labels", "variables", "dtypes"),
    )
    first: dict[str, Any] | None = None
    rows = []
    for j, var in enumerate(variables):
        byv: list[Any] = []
        vals: list[Any] = []
        dtypes = {r["dtypes"][var] for r in reps.values()}
        bdt = {r["by_dtype"] for r in reps.values()}
        for c, r in reps.items():
            try:
                uniq = r[f"v{j}_values"]
                bi = np.asarray(r[f"v{j}_by"], dtype=np.int64)
                vi = np.asarray(r[f"v{j}_value"], dtype=np.int64)
                cnt = np.asarray(r[f"v{j}_count"], dtype=np.int64)
                blab = r["by_labels"]
                for a, b, k in zip(bi, vi, cnt, strict=True):
                    byv.extend([blab[a]] * int(k))
                    vals.extend([uniq[b]] * int(k))
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise FederationError(c, f"sent a malformed Table 1 message for {var}") from exc
        dtype = sorted(dtypes)[0] if len(dtypes) == 1 else "object"
        frame = (
            pd.DataFrame(
                {
                    by: _series(byv, sorted(bdt)[0] if len(bdt) == 1 else "object", by),
                    var: _series(vals, dtype, var),
                }
            )
            if var != by
            else None
        )
        if frame is None:
            raise ValidationError("--vars", var, "the grouping column cannot also be a variable")
        tab = table1(frame, by, [var], categorical, digits=digits).to_dict()
        if first is None:
            first = tab
        rows.extend(tab["variables"])
    assert first is not None
    return {**first, "variables": rows}


# -- regression: shared set-up ---------------------------------------------------------------------


def _setup(
    fed: Federation, q: dict[str, Any], covariates: list[str], reference: Mapping[str, str] | None
) -> tuple[DesignSpec, int, int, FloatArray, FloatArray]:
    reps = fed.ask(
        {**q, "kind": "regression_setup", "covariates": covariates},
        expect=("kinds", "level_counts", "n_rows", "n_complete"),
    )
    spec = pooled_spec(
        covariates,
        {c: r["kinds"] for c, r in reps.items()},
        {c: r["level_counts"] for c, r in reps.items()},
        reference,
    )
    n_dropped = sum(int(r["n_rows"]) - int(r["n_complete"]) for r in reps.values())
    mom = fed.ask(
        {**q, "kind": "regression_moments", "covariates": covariates, "design": spec.to_json()},
        expect=("n", "sum_x", "sum_xx"),
    )
    p = len(spec.names)
    n = 0
    sx = np.zeros(p)
    sxx = np.zeros((p, p))
    for c, r in mom.items():
        if np.shape(r["sum_x"]) != (p,) or np.shape(r["sum_xx"]) != (p, p):
            raise FederationError(c, "sent a malformed message (wrong number of covariates)")
        n += int(r["n"])
        sx += r["sum_x"]
        sxx += r["sum_xx"]
    check_design_moments(n, sx, sxx, spec.names)
    return spec, n, n_dropped, sx, sxx


def check_design_moments(n: int, sx: FloatArray, sxx: FloatArray, names: Sequence[str]) -> None:
    """:func:`mst.stats._design.check_design` from pooled moments (n, Σx, Σxxᵀ).

    The scale of the constant-column rule is the root mean square instead of the maximum
    absolute value (a maximum is one patient's value and does not leave a node).
    """
    p = len(names)
    if p == 0:
        raise ValidationError("covariates", "[]", "at least one covariate is needed")
    if not (np.all(np.isfinite(sx)) and np.all(np.isfinite(sxx))):
        raise ValidationError("covariates", "inf", "covariates must be finite")
    mu = sx / n
    C = sxx / n - np.outer(mu, mu)
    sd = np.sqrt(np.maximum(np.diag(C), 0.0))
    scale = np.maximum(np.sqrt(np.diag(sxx) / n), 1.0)
    const = sd <= 1e-12 * scale
    if const.any():
        bad = [names[i] for i in np.flatnonzero(const)]
        raise ValidationError(
            "covariates", ", ".join(bad), "constant covariate (no variation in the analysed rows)"
        )
    if n <= p:
        raise ValidationError("covariates", p, "more covariates than rows")
    R = C / np.outer(sd, sd)
    bad_k: list[int] = []
    for k in range(1, p):
        prev = [i for i in range(k) if i not in bad_k]
        A = R[np.ix_(prev, prev)]
        cvec = R[prev, k]
        if 1.0 - float(cvec @ np.linalg.lstsq(A, cvec, rcond=None)[0]) <= 1e-9:
            bad_k.append(k)
    if bad_k:
        raise ValidationError(
            "covariates",
            ", ".join(names[i] for i in bad_k),
            "collinear with the preceding covariates (drop one of them)",
        )


def _inv(m: FloatArray) -> FloatArray:
    try:
        out = np.linalg.inv(m)
    except np.linalg.LinAlgError as exc:
        raise ValidationError(
            "covariates",
            "singular information",
            "the model is not identifiable (collinear covariates)",
        ) from exc
    return (out + out.T) / 2


def _merge_cells(
    reps: Mapping[str, dict[str, Any]], key: str, labels_key: str, fields: Sequence[str], p: int
) -> dict[str, dict[str, Any]]:
    """Add the centers' cells per (label, time point); returns, per label, sorted times and sums."""
    bylab: dict[str, list[tuple[str, FloatArray, dict[str, FloatArray]]]] = {}
    for c, r in reps.items():
        labels = r[labels_key]
        idx = np.asarray(r[key], dtype=np.int64)
        t = np.asarray(r["time"], dtype=np.float64)
        for name in fields:
            a = np.asarray(r[name])
            if a.shape[0] != t.shape[0]:
                raise FederationError(c, f"sent a malformed message ({name} has the wrong length)")
            if a.ndim == 2 and a.shape[1] not in (p, p * p):
                raise FederationError(c, f"sent a malformed message ({name} has the wrong width)")
        for li, lab in enumerate(labels):
            m = idx == li
            bylab.setdefault(str(lab), []).append(
                (c, t[m], {f: np.asarray(r[f])[m] for f in fields})
            )
    out: dict[str, dict[str, Any]] = {}
    for lab, parts in bylab.items():
        times = np.unique(np.concatenate([pt for _, pt, _ in parts]))
        sums: dict[str, Any] = {"time": times}
        for f in fields:
            shape = (times.size,) + parts[0][2][f].shape[1:]
            acc = np.zeros(shape)
            for _, pt, vals in parts:
                np.add.at(acc, np.searchsorted(times, pt), vals[f])
            sums[f] = acc
        out[lab] = sums
    return out


# -- Cox ------------------------------------------------------------------------------------------


@dataclass
class _CoxEval:
    loglik: float
    score: FloatArray
    info: FloatArray
    per_stratum: dict[str, dict[str, list[float]]]
    events: int


def _efron(cells: dict[str, dict[str, Any]], p: int, efron: bool) -> _CoxEval:
    ll = 0.0
    U = np.zeros(p)
    info = np.zeros((p, p))
    per: dict[str, dict[str, list[float]]] = {}
    events = 0
    for lab, S in cells.items():
        d_all = np.rint(S["d"]).astype(np.int64)
        rev = lambda a: np.cumsum(a[::-1], axis=0)[::-1]  # noqa: E731
        R0, R1, R2 = rev(S["c0"]), rev(S["c1"]), rev(S["c2"])
        ev = d_all > 0
        if not ev.any():
            continue
        d = d_all[ev]
        events += int(d.sum())
        K = d.size
        g = np.repeat(np.arange(K), d)
        first = np.concatenate(([0], np.cumsum(d)[:-1]))
        f = (np.arange(g.size) - first[g]) / d[g] if efron else np.zeros(g.size)
        S0, S1, S2 = R0[ev], R1[ev], R2[ev].reshape(K, p, p)
        D0, D1, D2 = S["d0"][ev], S["d1"][ev], S["d2"][ev].reshape(K, p, p)
        den = S0[g] - f * D0[g]
        xbar = (S1[g] - f[:, None] * D1[g]) / den[:, None]
        ll += float(S["etad"][ev].sum() - np.log(den).sum())
        U += S["xd"][ev].sum(axis=0) - xbar.sum(axis=0)
        a = np.bincount(g, weights=1.0 / den, minlength=K)
        b = np.bincount(g, weights=f / den, minlength=K)
        info += np.einsum("k,kij->ij", a, S2) - np.einsum("k,kij->ij", b, D2) - xbar.T @ xbar

        def gsum(v: FloatArray, g: NDArray[np.int64] = g, K: int = K) -> FloatArray:
            out = np.zeros((K, v.shape[1]))
            np.add.at(out, g, v)
            return out

        per[lab] = {
            "times": S["time"][ev].tolist(),
            "a": a.tolist(),
            "b": b.tolist(),
            "cvec": gsum(xbar / den[:, None]).ravel().tolist(),
            "evec": gsum(xbar * (f / den)[:, None]).ravel().tolist(),
            "mvec": (gsum(xbar) / d[:, None]).ravel().tolist(),
        }
    return _CoxEval(ll, U, info, per, events)


def cox_payload(
    fed: Federation,
    time: str,
    event: str,
    covariates: list[str],
    strata: list[str] | None,
    cluster: str | None,
    robust: bool,
    ties: str,
    reference: Mapping[str, str] | None,
    conf: float,
    split_by: str | None = None,
    start: str | None = None,
    max_iter: int = 50,
    tol: float = 1e-12,
) -> dict[str, Any]:
    """Federated Cox model, keys as ``mst stats cox --json``.

    ``cluster`` may only be the column that splits the centers (``split_by``): a sandwich
    with clusters spanning centers would need patient-level cluster labels.
    """
    from mst.stats.cox_model import CoxResult

    if ties not in ("efron", "breslow"):
        raise ValidationError("--ties", ties, "must be efron or breslow")
    if not 0 < conf < 1:
        raise ValidationError("--conf-level", conf, "must be in (0, 1)")
    if start is not None:
        raise ValidationError(
            "--start", start, "(start, stop] data is not supported by the federated Cox model"
        )
    if cluster is not None and cluster != split_by:
        raise ValidationError(
            "--cluster",
            cluster,
            f"the federated sandwich clusters by center only (--cluster {split_by or 'center'})",
        )
    q = {"time": time, "event": event, "strata": strata or []}
    spec, n, n_dropped, sx, _ = _setup(fed, q, covariates, reference)
    names = spec.names
    p = len(names)
    mean = sx / n
    base = {**q, "covariates": covariates, "design": spec.to_json(), "mean": mean.tolist()}
    fields = ("n", "d", "c0", "c1", "c2", "d0", "d1", "d2", "xd", "etad")

    def evaluate(beta: FloatArray) -> _CoxEval:
        reps = fed.ask(
            {**base, "kind": "cox_cells", "beta": beta.tolist()},
            expect=("strata_labels", "stratum", "time", *fields),
        )
        return _efron(_merge_cells(reps, "stratum", "strata_labels", fields, p), p, ties == "efron")

    beta = np.zeros(p)
    ev0 = evaluate(beta)
    if ev0.events == 0:
        raise ValidationError("event", 0, "no events: the Cox model cannot be estimated")
    cur, ok, iters = ev0, False, 0
    for it in range(1, max_iter + 1):
        iters = it
        try:
            step = np.linalg.solve(cur.info, cur.score)
        except np.linalg.LinAlgError as exc:
            raise ValidationError(
                "covariates",
                "singular information",
                "Newton-Raphson did not converge: the model is not identifiable "
                "(collinear covariates, or a covariate that separates the events)",
            ) from exc
        new_beta = beta + step
        new = evaluate(new_beta)
        halvings = 0
        failed = False
        while not np.isfinite(new.loglik) or new.loglik < cur.loglik - 1e-12 * abs(cur.loglik):
            halvings += 1
            if halvings > 30:
                failed = True
                break
            step = step / 2
            new_beta = beta + step
            new = evaluate(new_beta)
        if failed:
            break
        done = abs(new.loglik - cur.loglik) <= tol * max(abs(new.loglik), 1.0) and np.max(
            np.abs(step)
        ) <= 1e-7 * max(1.0, float(np.max(np.abs(new_beta))))
        beta, cur = new_beta, new
        if done:
            ok = True
            break
    if not ok:
        raise ValidationError(
            "model",
            f"{iters} iterations",
            "Newton-Raphson did not converge (check for a covariate that "
            "separates the events, or raise max_iter)",
        )
    naive = _inv(cur.info)
    diag = np.diag(naive)
    bad = [names[j] for j in range(p) if not (np.isfinite(diag[j]) and diag[j] > 0)]
    if bad:
        raise ValidationError(
            "model",
            ", ".join(bad),
            "the information matrix is singular at the estimate: the covariate "
            "separates the events (monotone likelihood)",
        )
    robust = robust or cluster is not None
    var = naive
    if robust:
        reps = fed.ask(
            {
                **base,
                "kind": "cox_residuals",
                "beta": beta.tolist(),
                "per_stratum": cur.per_stratum,
            },
            expect=("rr", "rcrc"),
        )
        if cluster is not None:  # Σ_centers r_c r_cᵀ (each node sends its r_c r_cᵀ)
            mid = sum(np.asarray(r["rcrc"]) for r in reps.values())
        else:
            mid = sum(np.asarray(r["rr"]) for r in reps.values())
        var = naive @ mid @ naive
    try:
        res = CoxResult.from_estimates(
            names=names,
            coef=beta,
            naive_var=naive,
            var=var,
            info0=ev0.info,
            score0=ev0.score,
            loglik=(ev0.loglik, cur.loglik),
            n=n,
            events=cur.events,
            ties=ties,
            robust=robust,
            converged=ok,
            iterations=iters,
            alpha=1.0 - conf,
            n_dropped=n_dropped,
            references=spec.references,
        )
    except np.linalg.LinAlgError as exc:
        raise ValidationError(
            "--cluster",
            cluster,
            "the sandwich variance is singular (fewer clusters than covariates)",
        ) from exc
    out = res.to_dict()
    out["concordance"], out["concordance_se"] = _concordance(
        fed, base, beta, by_center=cluster is not None
    )
    out.update(
        {
            "time": time,
            "event": event,
            "strata": ",".join(strata) if strata else None,
            "start": None,
            "cluster": cluster,
            "weights": None,  # case weights are not federated
            "method": "Cox proportional hazards (R survival::coxph)",
        }
    )
    return out


def _concordance(
    fed: Federation, base: dict[str, Any], beta: FloatArray, by_center: bool
) -> tuple[float | None, float | None]:
    """Harrell's C of the fitted model and its standard error from the centers' (stratum,
    time, status, risk) counts.

    The pooled counts are the whole information ``survival::concordance`` uses (patients
    with equal keys are exchangeable: same pairs, same influence terms), so the pooled
    function runs on them; with ``--cluster`` (the center) the influence terms are summed per
    center, as R sums them per cluster. When a center's disclosure rules refuse those cells
    (covariate patterns or cells smaller than its minimum), both are ``None`` and the
    federation's notes say why; the model itself is unaffected.
    """
    from mst.stats._concordance import concordance_se

    try:
        reps = fed.ask(
            {**base, "kind": "cox_concordance_cells", "beta": beta.tolist()},
            expect=("strata_labels", "stratum", "time", "event", "risk", "n"),
        )
    except FederationError as exc:
        if not exc.problem.startswith("refused the query"):
            raise
        fed.notes.append(f"concordance not computed: {exc}")
        return None, None
    # with secure aggregation the pooled cells carry no center: the clustered SE comes from
    # the centers' squared influence sums (one more secure round, below)
    by_center_se = by_center and fed.secure_sum is None
    labels: dict[str, int] = {}
    parts: list[tuple[FloatArray, ...]] = []
    for c, r in reps.items():
        n = np.asarray(r["n"], dtype=np.int64)
        cols = [np.asarray(r[k]) for k in ("stratum", "time", "event", "risk")]
        if any(a.shape != n.shape for a in cols) or np.any(n < 0):
            raise FederationError(c, "sent a malformed message (concordance cells)")
        lab = np.array([labels.setdefault(str(x), len(labels)) for x in r["strata_labels"]])
        if cols[0].size and (cols[0].min() < 0 or cols[0].max() >= lab.size):
            raise FederationError(c, "sent a malformed message (stratum index)")
        st = lab[cols[0].astype(np.int64)] if lab.size else cols[0]
        center = np.full(cols[0].shape, len(parts))
        parts.append(tuple(np.repeat(a, n) for a in (st, cols[1], cols[2], cols[3], center)))
    st, t, e, risk, center = (np.concatenate([p[i] for p in parts]) for i in range(5))
    c = concordance_se(
        t.astype(np.float64),
        e.astype(np.int64) == 1,
        risk.astype(np.float64),
        st.astype(np.intp),
        cluster=center.astype(np.intp) if by_center_se else None,
    )
    if by_center and not by_center_se:
        return c.concordance, _secure_clustered_se(fed, base, beta, reps, c.influence)
    return c.concordance, c.se


def _secure_clustered_se(
    fed: Federation,
    base: dict[str, Any],
    beta: FloatArray,
    reps: Mapping[str, dict[str, Any]],
    influence: FloatArray | None,
) -> float | None:
    """The concordance SE clustered by center from secure totals: every pooled cell's
    influence term (equal for the exchangeable patients of a cell) goes to the nodes, each
    node returns D_c² = (Σ over its cells n·dfbeta)², and var = Σ_c D_c² / 4."""
    if influence is None:
        return None
    (r,) = reps.values()  # the secure total: one reply for all centers
    n = np.asarray(r["n"], dtype=np.int64)
    first = np.concatenate(([0], np.cumsum(n)[:-1]))
    cells = {
        "strata_labels": list(r["strata_labels"]),
        "stratum": np.asarray(r["stratum"]).tolist(),
        "time": np.asarray(r["time"], dtype=np.float64).tolist(),
        "event": np.asarray(r["event"]).tolist(),
        "risk": np.asarray(r["risk"], dtype=np.float64).tolist(),
        "dfbeta": influence[first].tolist(),
    }
    got = fed.ask(
        {**base, "kind": "cox_concordance_influence", "beta": beta.tolist(), "cells": cells},
        expect=("dd",),
    )
    dd = sum(float(np.asarray(x["dd"])) for x in got.values())
    return float(np.sqrt(dd / 4.0))


# -- Fine–Gray ---------------------------------------------------------------------------


def g_before(km_time: FloatArray, km_surv: FloatArray, x: FloatArray) -> FloatArray:
    """Censoring Kaplan–Meier just before ``x``, looked up as crr does (at x·(1 - 100·eps),
    1 before the first time, 0 after the last)."""
    ut = np.asarray(km_time, dtype=np.float64)
    knots = np.concatenate(([min(0.0, ut[0]) - 10 * _EPS], ut, [ut[-1] * (1 + 10 * _EPS)]))
    vals = np.concatenate(([1.0], np.asarray(km_surv, dtype=np.float64), [0.0]))
    idx = (
        np.searchsorted(knots, np.asarray(x, dtype=np.float64) * (1.0 - 100.0 * _EPS), side="right")
        - 1
    )
    return vals[np.clip(idx, 0, vals.size - 1)]


@dataclass
class _FGEval:
    ll: float
    score: FloatArray
    info: FloatArray
    S0: FloatArray
    xbar: FloatArray
    K: dict[str, FloatArray]  # per group: competing [k0 | k1] / G at the pooled time grid


def finegray_payload(
    fed: Federation,
    time: str,
    status: str,
    cause: int,
    covariates: list[str],
    cencode: int,
    cengroup: str | None,
    reference: Mapping[str, str] | None,
    conf: float,
    gtol: float = 1e-6,
    max_iter: int = 10,
) -> dict[str, Any]:
    """Federated Fine–Gray model, keys as ``mst stats finegray --json``."""
    from mst.stats.finegray_model import FineGrayResult

    if not 0 < conf < 1:
        raise ValidationError("--conf-level", conf, "must be in (0, 1)")
    q = {"time": time, "status": status, "cause": cause, "cencode": cencode, "cengroup": cengroup}
    spec, n, n_dropped, _, _ = _setup(fed, q, covariates, reference)
    names = spec.names
    p = len(names)
    base = {**q, "covariates": covariates, "design": spec.to_json()}
    creps = fed.ask(
        {**base, "kind": "finegray_counts"},
        expect=("group_labels", "group", "time", "n", "cens", "fail", "comp"),
    )
    counts = _merge_cells(creps, "group", "group_labels", ("n", "cens", "fail", "comp"), p)
    groups = sorted(counts)
    km: dict[str, tuple[FloatArray, FloatArray]] = {}
    for g in groups:
        C = counts[g]
        at_risk = np.cumsum(C["n"][::-1])[::-1]
        km[g] = (C["time"], np.cumprod(1.0 - C["cens"] / at_risk))
    T = np.unique(np.concatenate([counts[g]["time"] for g in groups]))
    fail_T = np.zeros(T.size)
    for g in groups:
        np.add.at(fail_T, np.searchsorted(T, counts[g]["time"]), counts[g]["fail"])
    if not (fail_T > 0).any():
        raise ValidationError("status", cause, "no event of the cause of interest")
    u = T[fail_T > 0]
    d = fail_T[fail_T > 0]
    first = np.searchsorted(T, u)
    Gf = {g: g_before(*km[g], u) for g in groups}
    n_events = int(sum(counts[g]["fail"].sum() for g in groups))
    n_comp = int(sum(counts[g]["comp"].sum() for g in groups))
    n_cens = int(sum(counts[g]["cens"].sum() for g in groups))
    fields = ("n", "d", "c0", "c1", "c2", "k0", "k1", "k2", "xf", "etaf")

    def sums(beta: FloatArray) -> _FGEval:
        reps = fed.ask(
            {**base, "kind": "finegray_cells", "beta": beta.tolist()},
            expect=("group_labels", "group", "time", *fields),
        )
        cells = _merge_cells(reps, "group", "group_labels", fields, p)
        W = np.zeros((T.size, 1 + p + p * p))
        xf = np.zeros(p)
        etaf = 0.0
        Kg: dict[str, FloatArray] = {}
        for g, Cg in cells.items():
            pos = np.searchsorted(T, Cg["time"])
            if g not in km or not np.array_equal(T[pos], Cg["time"]):
                raise FederationError("coordinator", "the nodes' cells changed between two queries")
            np.add.at(W, pos, np.column_stack([Cg["c0"], Cg["c1"], Cg["c2"]]))
            xf += Cg["xf"].sum(axis=0)
            etaf += float(Cg["etaf"].sum())
            kk = np.zeros((T.size, 1 + p + p * p))
            gm = g_before(*km[g], Cg["time"])
            with np.errstate(divide="ignore", invalid="ignore"):
                kv = np.column_stack([Cg["k0"], Cg["k1"], Cg["k2"]]) / gm[:, None]
            kv[Cg["k0"] == 0] = 0.0
            np.add.at(kk, pos, kv)
            Kg[g] = kk
        rev = np.cumsum(W[::-1], axis=0)[::-1]
        S = rev[first].copy()
        for g, kk in Kg.items():
            excl = np.vstack([np.zeros((1, kk.shape[1])), np.cumsum(kk, axis=0)])[first]
            S += Gf[g][:, None] * excl
        S0 = S[:, 0]
        S1 = S[:, 1 : 1 + p]
        S2 = S[:, 1 + p :].reshape(-1, p, p)
        xbar = S1 / S0[:, None]
        ll = float(etaf - (d * np.log(S0)).sum())
        score = xf - (d[:, None] * xbar).sum(axis=0)
        h = d / S0
        info = np.einsum("m,mij->ij", h, S2) - (xbar * d[:, None]).T @ xbar
        return _FGEval(ll, score, info, S0, xbar, {g: kk[:, : 1 + p] for g, kk in Kg.items()})

    b = np.zeros(p)
    converged = False
    it = 0
    cur = sums(b)
    null = cur.ll
    for it in range(max_iter + 1):
        lik, sc = -cur.ll, -cur.score
        if np.max(np.abs(sc) * np.maximum(np.abs(b), 1.0)) < max(abs(lik), 1.0) * gtol:
            converged = True
            break
        if it == max_iter:
            break
        try:
            step = -np.linalg.solve(cur.info, sc)
        except np.linalg.LinAlgError as exc:
            raise ValidationError(
                "covariates", "singular information", "the model is not identifiable"
            ) from exc
        halv = 0
        bn = b + step
        fbn = -sums(bn).ll
        while not np.isfinite(fbn) or fbn > lik + 1e-4 * float(step @ sc):
            halv += 1
            step = step * 0.5
            bn = b + step
            fbn = -sums(bn).ll
            if halv > 20:
                break
        if halv > 20:
            break
        b = bn
        cur = sums(b)
    if not converged:
        raise ValidationError(
            "model",
            f"{it} iterations",
            "Fine-Gray Newton iteration did not converge (crr's rule; raise "
            "max_iter, or check for a covariate that separates the events)",
        )
    try:
        hinv = np.linalg.inv(cur.info)
    except np.linalg.LinAlgError as exc:
        raise ValidationError(
            "covariates", "singular information", "the model is not identifiable"
        ) from exc
    # pooled per-time quantities for the nodes' influence terms (crr's eta + psi)
    h = d / cur.S0
    uc = np.unique(np.concatenate([counts[g]["time"][counts[g]["cens"] > 0] for g in groups]))
    mfirst = np.searchsorted(u, uc, side="left")
    fc = np.searchsorted(T, uc, side="left")
    gmsg: dict[str, Any] = {}
    for g in groups:
        C = counts[g]
        kk = cur.K.get(g, np.zeros((T.size, 1 + p)))
        Bu = np.vstack([np.zeros((1, 1 + p)), np.cumsum(kk, axis=0)])[fc]
        dg = np.zeros(u.size)
        fpos = C["fail"] > 0
        np.add.at(dg, np.searchsorted(u, C["time"][fpos]), C["fail"][fpos])
        dg = dg / cur.S0
        r = np.column_stack([dg, cur.xbar * dg[:, None]]) * Gf[g][:, None]
        Rr = np.vstack([np.cumsum(r[::-1], axis=0)[::-1], np.zeros((1, p + 1))])[mfirst]
        qv = Bu[:, 1:] * Rr[:, [0]] - Bu[:, [0]] * Rr[:, 1:]
        at_risk = np.concatenate([np.cumsum(C["n"][::-1])[::-1], [0.0]])
        Y = at_risk[np.searchsorted(C["time"], uc, side="left")]
        cnt = np.zeros(uc.size)
        cmask = C["cens"] > 0
        np.add.at(cnt, np.searchsorted(uc, C["time"][cmask]), C["cens"][cmask])
        Yf = np.maximum(Y, 1.0)
        inc = qv * (cnt / Yf**2)[:, None]
        cinc = np.vstack([np.zeros((1, p)), np.cumsum(inc, axis=0)])
        gmsg[g] = {
            "km_time": km[g][0].tolist(),
            "km_surv": km[g][1].tolist(),
            "gf": Gf[g].tolist(),
            "cinc": cinc.ravel().tolist(),
            "qy": (qv / Yf[:, None]).ravel().tolist(),
        }
    reps = fed.ask(
        {
            **base,
            "kind": "finegray_residuals",
            "beta": b.tolist(),
            "u": u.tolist(),
            "h": h.tolist(),
            "xbar": cur.xbar.ravel().tolist(),
            "uc": uc.tolist(),
            "groups": gmsg,
        },
        expect=("uu",),
    )
    uu = sum(np.asarray(r["uu"]) for r in reps.values())
    var = hinv @ uu @ hinv.T
    res = FineGrayResult(
        names=names,
        coef=b,
        var=var,
        se=np.sqrt(np.diag(var)),
        info=cur.info,
        loglik=cur.ll,
        loglik_null=null,
        score=cur.score,
        uftime=u,
        bfitj=d / cur.S0,
        n=n,
        events=n_events,
        competing=n_comp,
        censored=n_cens,
        cause=int(cause),
        converged=converged,
        iterations=it,
        alpha=1.0 - conf,
        n_dropped=n_dropped,
        references=spec.references,
        convergence=(f"crr's rule (max|score|·max(|b|,1) < gtol·max(|loglik|,1), gtol = {gtol:g})"),
    )
    out = res.to_dict()
    out.update(
        {
            "time": time,
            "status": status,
            "cengroup": cengroup,
            "method": "Fine-Gray subdistribution hazards (R cmprsk::crr)",
        }
    )
    return out
