"""Every number of the report, computed with ``mst.stats`` (the same code as ``mst stats``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError
from mst.io.frame_ops import only_columns
from mst.report.config import ReportConfig
from mst.report.quality import data_quality

DAYS_PER_MONTH = 30.4375
ALL = "All patients"


def add_derived_columns(df: pd.DataFrame, cfg: ReportConfig) -> pd.DataFrame:
    """Add the columns the report derives when a table lacks them.

    ``donor_age_group`` (``<cutoff`` / ``>=cutoff``, empty where the donor age is missing)
    for the KM figures; ``*_months`` from ``*_days`` (days / 30.4375) when a table has only
    days; ``courses_gt3`` from ``n_courses`` when it is empty (threshold from
    ``endpoint_definitions.yaml``, 002 Table 1); ``age_group`` from ``age`` (002 Methods)
    when absent. Cells that are not numbers in numeric source columns count as missing.
    """
    from mst.cohort.endpoints import age_group, endpoint_rules

    out = df.copy()
    gt = endpoint_rules().courses_gt  # 002 Table 1: more than three courses
    if "n_courses" in out.columns and ("courses_gt3" not in out.columns
                                       or out["courses_gt3"].isna().all()):
        n = pd.to_numeric(out["n_courses"], errors="coerce").astype(float)
        out["courses_gt3"] = pd.array([None if np.isnan(v) else bool(v > gt) for v in n],
                                      dtype="boolean")
    for ep in ("os", "lfs", "crs"):
        months = f"{ep}_months"
        if f"{ep}_days" in out.columns and (months not in out.columns
                                            or out[months].isna().all()):
            out[months] = (pd.to_numeric(out[f"{ep}_days"], errors="coerce").astype(float)
                           / DAYS_PER_MONTH)
    if "age" in out.columns and ("age_group" not in out.columns
                                 or out["age_group"].isna().all()):
        a = pd.to_numeric(out["age"], errors="coerce").astype(float)
        out["age_group"] = pd.Series([None if np.isnan(v) else age_group(int(v)) for v in a],
                                     index=out.index, dtype=object)
    if "donor_age" in out.columns and ("donor_age_group" not in out.columns
                                       or out["donor_age_group"].isna().all()):
        a = pd.to_numeric(out["donor_age"], errors="coerce").astype(float)
        lab = np.where(
            a < cfg.donor_age_cutoff, f"<{cfg.donor_age_cutoff}", f">={cfg.donor_age_cutoff}"
        )
        out["donor_age_group"] = pd.Series(lab, index=out.index, dtype=object).where(
            ~np.isnan(a.to_numpy()))
    return out


def coerce_numeric(df: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Numeric flat-table columns (docs/flat_table.md) holding text: the cells that are not
    numbers become missing and are listed (row, patient, column, value) for the data-quality
    section, so one bad cell does not turn a dose into a categorical variable."""
    from mst.cohort import COLUMNS
    from mst.errors import plain

    out = df.copy()
    bad: list[dict[str, Any]] = []
    pid = out["patient_id"].astype(str).to_numpy() if "patient_id" in out.columns else None
    for c, dtype in COLUMNS.items():
        if c not in out.columns or dtype not in {"Int64", "float64"}:
            continue
        col = out[c]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        num = pd.to_numeric(col, errors="coerce")
        wrong = col.notna() & num.isna()
        for i in np.flatnonzero(wrong.to_numpy(dtype=bool)):
            bad.append({"row": int(i) + 1, "patient_id": None if pid is None else pid[i],
                        "column": c, "value": plain(col.iloc[i]),
                        "issue": "not a number: treated as missing"})
        out[c] = num.astype("Int64" if dtype == "Int64" and (num.dropna() % 1 == 0).all()
                            else "float64")
    return out, bad


def check_columns(df: pd.DataFrame, cfg: ReportConfig) -> None:
    """Refuse a grouping column (``--by``) that is not in the table, naming it.

    Raises
    ------
    ValidationError
        ``by`` names no column of the table (after the derived columns are added).
    """
    if cfg.by not in df.columns:
        cols = ", ".join(sorted(map(str, df.columns)))
        raise ValidationError("--by", cfg.by, f"no such column in the table; its columns are "
                              f"{cols}")
    if df[cfg.by].notna().sum() == 0:
        raise ValidationError("--by", cfg.by, "the column is empty in every row")


@dataclass
class Analyses:
    """Numbers (JSON-ready) and the fitted objects the figures are drawn from."""

    numbers: dict[str, Any]
    km: dict[tuple[str, str], Any] = field(default_factory=dict)
    km_data: dict[tuple[str, str], tuple[Any, Any, Any]] = field(default_factory=dict)
    cif: dict[str, Any] = field(default_factory=dict)
    cif_data: dict[str, tuple[Any, Any, Any]] = field(default_factory=dict)
    forest: dict[str, pd.DataFrame] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _arr(a: Any) -> list[float | None]:
    return [_f(v) for v in np.asarray(a, dtype=float)]


def has_columns(df: pd.DataFrame, *cols: str) -> bool:
    """True when every column exists and has at least one value."""
    return all(c in df.columns and df[c].notna().any() for c in cols)


def _survival_arrays(
    df: pd.DataFrame, time: str, event: str, group: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    sub = only_columns(df, time, event, *([] if group is None else [group]))
    sub = sub[sub[time].notna() & sub[event].notna()]
    if group is not None:
        sub = sub[sub[group].notna()]
    t = pd.to_numeric(sub[time]).to_numpy(dtype=float)
    e = pd.to_numeric(sub[event]).to_numpy(dtype=np.int64)
    g = None if group is None else sub[group].astype(str).to_numpy(dtype=object)
    return t, e, g


def km_block(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None,
    at: Sequence[float],
    conf_type: str = "log-log",
) -> tuple[dict[str, Any], Any]:
    """KM per group at ``at`` with medians and the log-rank test (as ``mst stats km``)."""
    from mst.stats import kaplan_meier, logrank_test

    t, e, g = _survival_arrays(df, time, event, group)
    if t.size == 0:
        raise ValidationError(time, None, "no rows to analyse")
    res = kaplan_meier(t, e, g, conf_type=conf_type)  # type: ignore[arg-type]
    groups: dict[str, Any] = {}
    for lab, c in res.curves.items():
        a = c.at(list(at))
        tg = t if g is None else t[g == lab]
        groups[lab] = {
            "n": c.n,
            "events": int(c.n_event.sum()),
            "time_range": [_f(tg.min()), _f(tg.max())] if tg.size else [None, None],
            "median": _f(c.median),
            "median_lower": _f(c.median_lower),
            "median_upper": _f(c.median_upper),
            "at": {
                "time": list(at),
                "survival": _arr(a["survival"]),
                "lower": _arr(a["lower"]),
                "upper": _arr(a["upper"]),
                "n_risk": _arr(a["n_risk"]),
            },
        }
    out: dict[str, Any] = {
        "time": time,
        "event": event,
        "group": group,
        "n": int(t.size),
        "groups": groups,
    }
    if g is not None and len(res.curves) > 1:
        lr = logrank_test(t, e, g)
        out["logrank"] = {"statistic": _f(lr.statistic), "df": int(lr.df), "p": _f(lr.p)}
    return out, (res, (t, e, g))


def cif_block(
    df: pd.DataFrame, time: str, status: str, cause: int, group: str | None, at: Sequence[float]
) -> tuple[dict[str, Any], Any]:
    """Cumulative incidence per group at ``at`` with Gray's test (as ``mst stats cif``)."""
    from mst.stats import cumulative_incidence

    t, s, g = _survival_arrays(df, time, status, group)
    if t.size == 0:
        raise ValidationError(time, None, "no rows to analyse")
    res = cumulative_incidence(t, s, cause, g, codes=(0, 1, 2))
    groups: dict[str, Any] = {}
    for lab, c in res.curves.items():
        a = c.at(list(at))
        groups[lab] = {
            "n": c.n,
            "events": int(c.table.n_event.sum()),
            "at": {
                "time": list(at),
                "cif": _arr(a["cif"]),
                "lower": _arr(a["lower"]),
                "upper": _arr(a["upper"]),
                "variance": _arr(a["variance"]),
            },
        }
    out: dict[str, Any] = {
        "time": time,
        "status": status,
        "cause": cause,
        "group": group,
        "n": int(t.size),
        "groups": groups,
    }
    if res.gray is not None:
        gr = res.gray
        out["gray"] = {"statistic": _f(gr.statistic), "df": int(gr.df), "p": _f(gr.p)}
    return out, (res, (t, s, g))


def _fallback_row(data: pd.DataFrame, by: str, var: str, groups: list[str], reason: str
                  ) -> dict[str, Any]:
    """Categorical row with Pearson's chi-square when the exact test is refused (too large)."""
    from mst.stats import chisq_test

    sub = data[data[by].notna()]
    col = sub[var]
    ok = col.notna()
    levels = sorted(col[ok].unique().tolist(), key=lambda x: (str(type(x)), x))
    g = sub[by].astype(str)
    counts = np.array([[int(((col == lev) & ok & (g == gr)).sum()) for gr in groups]
                       for lev in levels], dtype=np.int64)
    tt = chisq_test(counts)
    tot, tot_g = int(counts.sum()), counts.sum(axis=0)
    rows = []
    for i, lev in enumerate(levels):
        k = int(counts[i].sum())
        row: dict[str, Any] = {"level": lev, ALL: f"{k} ({100 * k / tot:.2f})",
                               "count": {ALL: k}}
        for j, gr in enumerate(groups):
            kj = int(counts[i, j])
            row[gr] = f"{kj} ({100 * kj / max(int(tot_g[j]), 1):.2f})"
            row["count"][gr] = kj
        rows.append(row)
    return {"variable": var, "kind": "categorical", "summary": "n (%)",
            "test": f"{tt.test} ({reason})", "p": _f(tt.p), "statistic": _f(tt.statistic),
            "n_missing": int((~ok).sum()), "levels": rows, "values": {}}


def _crosstab(col: pd.Series, by: pd.Series) -> np.ndarray:
    """The counts of ``pd.crosstab(col, by)`` (rows with a missing value left out, levels
    sorted), without its pivot-table machinery."""
    if isinstance(col.dtype, pd.CategoricalDtype) or isinstance(by.dtype, pd.CategoricalDtype):
        return pd.crosstab(col, by).to_numpy()
    ok = (col.notna() & by.notna()).to_numpy(dtype=bool)
    r, rl = pd.factorize(col[ok], sort=True)
    c, cl = pd.factorize(by[ok], sort=True)
    tab = np.zeros((len(rl), len(cl)), dtype=np.int64)
    np.add.at(tab, (r, c), 1)
    return tab


def describe(data: pd.DataFrame, by: str, variables: Sequence[str],
             categorical: Sequence[str], exact_max_n: int = 100) -> dict[str, Any]:
    """Table 1/2 as :func:`mst.stats.table1` (``to_dict`` form), variable by variable.

    A categorical variable whose exact test :func:`mst.stats.table1` refuses (table too
    large to enumerate) gets Pearson's chi-square instead, named in its ``test``; so does
    a table larger than 2 x 2 with an expected count < 5 when the table has more than
    ``exact_max_n`` patients (the exact enumeration can take minutes before refusing).
    """
    from mst.stats import table1
    from mst.stats.exact import expected_counts

    head: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    # only the columns described (a copy of the whole table per variable was most of the
    # time); every function below reads ``by`` and the variables only
    data = only_columns(data, by, *variables).copy()
    for v in variables:  # nullable yes/no with gaps: plain objects (None = missing)
        if str(data[v].dtype) == "boolean" and data[v].isna().any():
            data[v] = data[v].astype(object).where(data[v].notna(), None)
    sub = data[data[by].notna()]
    for v in variables:
        col = sub[v]
        if (v in categorical or not pd.api.types.is_numeric_dtype(col.dtype)
                or pd.api.types.is_bool_dtype(col.dtype)) and len(sub) > exact_max_n:
            tab = _crosstab(col, sub[by].astype(str))
            big = tab.shape[0] > 2 or tab.shape[1] > 2
            if big and tab.shape[0] >= 2 and np.any(expected_counts(tab) < 5):
                if head is None:
                    head = table1(data.assign(_one="all"), by, ["_one"]).to_dict()
                rows.append(_fallback_row(
                    data, by, v, head["groups"],
                    f"Fisher-Freeman-Halton not attempted for n > {exact_max_n}"))
                continue
        try:
            with warnings.catch_warnings():  # scipy: Shapiro-Wilk p approximate for N > 5000
                warnings.filterwarnings("ignore", message=".*shapiro.*N > 5000",
                                        category=UserWarning)
                t = table1(data, by, [v], [v] if v in categorical else None).to_dict()
        except ValidationError as exc:
            if head is None:
                head = table1(data.assign(_one="all"), by, ["_one"]).to_dict()
            rows.append(_fallback_row(data, by, v, head["groups"],
                                      f"exact test refused: {exc.rule}"))
            continue
        head = head or t
        rows.extend(t["variables"])
    if head is None:
        head = table1(data.assign(_one="all"), by, ["_one"]).to_dict()
    return {"by": head["by"], "groups": head["groups"], "n": head["n"], "variables": rows}


def _usable(df: pd.DataFrame, cols: Sequence[str]) -> tuple[list[str], list[str]]:
    ok, dropped = [], []
    for c in cols:
        if c in df.columns and df[c].notna().any() and df[c].dropna().nunique() > 1:
            ok.append(c)
        else:
            dropped.append(c)
    return ok, dropped


def _model_dict(res: Any) -> dict[str, Any]:
    """The fields of ``res.to_dict()`` the report keeps, built without the ones it drops
    (Harrell's C and its standard error take a pass over every pair of patients)."""
    d: dict[str, Any] = {**res.coef_dict(), "n": res.n, "events": res.events,
                         "n_dropped": res.n_dropped, "references": res.references}
    if hasattr(res, "global_tests"):  # Cox
        d["tests"] = res.global_tests()
    for k in ("competing", "censored"):  # Fine-Gray
        if hasattr(res, k):
            d[k] = getattr(res, k)
    keep = (
        "coef",
        "se",
        "hr",
        "lower",
        "upper",
        "p",
        "n",
        "events",
        "n_dropped",
        "references",
        "tests",
        "competing",
        "censored",
    )
    return {k: d[k] for k in keep if k in d}


def default_references(df: pd.DataFrame, covs: Sequence[str],
                       given: Mapping[str, str]) -> dict[str, str]:
    """Reference level per categorical covariate: ``given`` (config) first, else the first
    observed level in clinical order (``mst.labels``; e.g. 60–70 years, male, No)."""
    from mst.labels import reference_level

    out: dict[str, str] = {}
    for c in covs:
        if c in given:
            out[c] = str(given[c])
            continue
        col = df[c]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue  # numbers and yes/no enter the model as they are (no dummies)
        vals = [v for v in pd.unique(col.dropna())]
        ref = reference_level(c, vals)
        if ref is not None:
            out[c] = str(ref)
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            k: (_f(v) if k in {"coef", "hr", "lower", "upper", "p", "p_lr", "se"} else v)
            for k, v in r.items()
            if k != "error" or v is not None
        }
        for r in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    ]


def _regression(
    df: pd.DataFrame, cfg: ReportConfig, out: dict[str, Any], forest: dict[str, pd.DataFrame],
    guard: Callable[[str, Callable[[], Any]], Any],
) -> None:
    from mst.stats.cox_model import cox, cox_univariate
    from mst.stats.finegray_model import finegray
    from mst.stats.forest import forest_data

    covs, dropped = _usable(df, cfg.covariates)
    out["covariates"] = covs
    out["covariates_not_used"] = dropped
    ref = default_references(df, covs, cfg.reference)
    out["references"] = ref

    def multi(key: str, fit: Callable[[], Any], label: str) -> None:
        try:
            m = fit()
        except ValidationError as exc:
            out[key] = {"error": str(exc)}
            return
        out[key] = _model_dict(m)
        forest[key] = forest_data(m, labels=[label])

    for ep in ("os", "lfs"):
        time, event = cfg.column(ep), f"{ep}_event"
        if not covs or not has_columns(df, time, event):
            continue
        d = only_columns(df, time, event, *covs)  # the models read these columns only
        uni = guard(f"univariate Cox {ep.upper()}", lambda d=d, time=time, event=event: _records(
            cox_univariate(d, time=time, event=event, covariates=covs, reference=ref or None)))
        if uni is not None:
            out[f"cox_{ep}_univariate"] = uni
        guard(f"multivariate Cox {ep.upper()}", lambda d=d, ep=ep, time=time, event=event: multi(
            f"cox_{ep}_multivariate",
            lambda: cox(d, time=time, event=event, covariates=covs, reference=ref or None),
            f"{ep.upper()} (multivariate Cox)"))
        if f"cox_{ep}_multivariate" in forest:
            forest[f"cox_{ep}"] = forest.pop(f"cox_{ep}_multivariate")
    for name, cause in (("cir", 1), ("nrm", 2)):
        if not covs or not has_columns(df, cfg.column("crs"), "crs_status"):
            continue
        uni_rows: list[dict[str, Any]] = []
        d = only_columns(df, cfg.column("crs"), "crs_status", *covs)
        for c in covs:  # 002 Supplementary Figure 1: one covariate at a time
            try:
                fg1 = finegray(only_columns(d, cfg.column("crs"), "crs_status", c),
                               time=cfg.column("crs"), status="crs_status", covariates=[c],
                               cause=cause, reference={c: ref[c]} if c in ref else None)
            except (ValidationError, ValueError, ArithmeticError,
                    np.linalg.LinAlgError) as exc:
                uni_rows.append({"covariate": c, "term": c, "hr": None,
                                 "error": str(exc) if isinstance(exc, ValidationError)
                                 else "not estimable"})
                continue
            d1 = fg1.to_dict()
            for t in d1["hr"]:
                uni_rows.append({"covariate": c, "term": t, "hr": _f(d1["hr"][t]),
                                 "lower": _f(d1["lower"][t]), "upper": _f(d1["upper"][t]),
                                 "p": _f(d1["p"][t]), "n": int(d1["n"])})
        out[f"finegray_{name}_univariate"] = uni_rows
        guard(f"Fine-Gray {name.upper()}", lambda d=d, name=name, cause=cause: multi(
            f"finegray_{name}",
            lambda: finegray(d, time=cfg.column("crs"), status="crs_status", covariates=covs,
                             cause=cause, reference=ref or None),
            f"{name.upper()} (Fine-Gray)"))


def _immortal_time(
    df: pd.DataFrame,
    cfg: ReportConfig,
    course_days: Mapping[str, Sequence[float]] | None,
    an: Analyses,
) -> dict[str, Any]:
    """Naive vs time-dependent vs landmark analysis of "> 3 courses" (002 Limitations)."""
    from mst.stats.cox_model import cox
    from mst.stats.forest import forest_data

    out: dict[str, Any] = {"source": "002 Limitations (immortal time bias)"}
    if not has_columns(df, "os_days", "os_event", "courses_gt3", "patient_id"):
        out["note"] = "needs os_days, os_event, courses_gt3 and patient_id"
        return out
    adj, _ = _usable(df, [cfg.by])
    base = only_columns(df, "patient_id", "os_days", "os_event", "courses_gt3", *adj)
    base = base[base["os_days"].notna() & base["os_event"].notna()].copy()
    base["os_days"] = pd.to_numeric(base["os_days"]).astype(float)
    base["os_event"] = pd.to_numeric(base["os_event"]).astype(int)
    models, labels = [], []
    try:
        naive = cox(base, time="os_days", event="os_event", covariates=["courses_gt3", *adj])
        out["naive"] = _model_dict(naive)
        models.append(naive)
        labels.append("naive (fixed covariate)")
    except ValidationError as exc:
        out["naive"] = {"error": str(exc)}
    if course_days is None:
        out["note"] = (
            "course dates are not in a flat table: the time-dependent and landmark "
            "analyses need the cohort records (--db or an exchange file)"
        )
    else:
        from mst.stats.landmark import landmark_table
        from mst.stats.timedep import split_at_times

        days = {k: list(v) for k, v in course_days.items()}
        lm_days = cfg.landmark_months * DAYS_PER_MONTH
        try:
            cols = ["patient_id", "os_days", "os_event", *adj]
            long = split_at_times(
                base[cols], days, id="patient_id", time="os_days", event="os_event"
            )
            long["courses_gt3_td"] = long["courses"] > 3
            td = cox(
                long,
                time="tstop",
                start="tstart",
                event="status",
                covariates=["courses_gt3_td", *adj],
                cluster="patient_id",
                robust=True,
            )
            out["time_dependent"] = {**_model_dict(td), "intervals": len(long)}
            models.append(td)
            labels.append("time-dependent covariate")
        except ValidationError as exc:
            out["time_dependent"] = {"error": str(exc)}
        try:
            lm = landmark_table(
                base,
                landmark=lm_days,
                time="os_days",
                event="os_event",
                id="patient_id",
                times=days,
            )
            lm["courses_gt3_lm"] = lm["courses"] > 3
            land = cox(lm, time="lm_time", event="lm_event", covariates=["courses_gt3_lm", *adj])
            out["landmark"] = {**_model_dict(land), "landmark_days": lm_days}
            models.append(land)
            labels.append(f"landmark {cfg.landmark_months:g} months")
            lm2 = lm.assign(
                lm_months=lm["lm_time"] / DAYS_PER_MONTH,
                courses_gt3_lm=lm["courses_gt3_lm"].map(
                    {True: "> 3 courses", False: "1-3 courses"}
                ),
            )
            time_col = "lm_months" if cfg.time_unit == "months" else "lm_time"
            block, obj = km_block(
                lm2, time_col, "lm_event", "courses_gt3_lm", cfg.times, cfg.conf_type
            )
            out["landmark_km"] = block
            an.km[("landmark", "courses_gt3_lm")] = obj[0]
            an.km_data[("landmark", "courses_gt3_lm")] = obj[1]
        except ValidationError as exc:
            out["landmark"] = {"error": str(exc)}
    if models:
        fd = forest_data(models, labels=labels)
        an.forest["immortal_time"] = fd[fd["term"].str.startswith("courses_gt3")].reset_index(
            drop=True
        )
    return out


def compute_report(
    df: pd.DataFrame,
    cfg: ReportConfig,
    course_days: Mapping[str, Sequence[float]] | None = None,
    progress: Callable[[str], None] | None = None,
    rejections: Sequence[dict[str, Any]] = (),
) -> Analyses:
    """Compute every number of the report.

    Parameters
    ----------
    df : DataFrame
        The flat analysis table (docs/flat_table.md).
    cfg : ReportConfig
        Groups, covariates, time points, time unit.
    course_days : mapping, optional
        Patient id → course start days from diagnosis (:func:`mst.stats.course_days`);
        enables the time-dependent and landmark analyses of the number of courses.
    progress : callable, optional
        Called with the name of each step when it starts.
    rejections : sequence of dict
        Import rejections, listed in the data-quality section.

    Returns
    -------
    Analyses
    """
    step = progress or (lambda _s: None)
    step("data quality")
    df, bad_cells = coerce_numeric(df)
    df = add_derived_columns(df, cfg)
    if df.empty:
        raise ValidationError("table", 0, "no analysable rows: the table has no patients")
    check_columns(df, cfg)
    q = data_quality(df, cfg.by, cfg.column("os"))
    q["invalid_cells"] = bad_cells
    q["import_rejections"] = list(rejections)
    data = df[~df.index.isin(q["excluded_index"])].reset_index(drop=True)
    del q["excluded_index"]
    if data.empty:
        raise ValidationError("table", 0, "no analysable rows after the data-quality checks")
    an = Analyses(numbers={})
    num = an.numbers
    num["config"] = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}
    num["n"] = len(data)
    num["quality"] = q
    skipped: list[dict[str, str]] = []
    q["skipped"] = skipped

    def guard(what: str, fn: Callable[[], Any]) -> Any:
        """Run one analysis; a failure skips it with a data-quality line (never a crash)."""
        try:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                return fn()
        except ValidationError as exc:
            skipped.append({"analysis": what, "reason": str(exc)})
        except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError, KeyError):
            skipped.append({"analysis": what, "reason": "could not be computed from the "
                            "values in the table (check the column's values)"})
        return None

    step("tables")
    for name, variables in (("table1", cfg.table1), ("table2", cfg.table2),
                            ("adverse_events", cfg.adverse_events)):
        use = [v for v in variables if v in data.columns and data[v].notna().any()]
        num[f"{name}_not_reported"] = [v for v in variables if v not in use]
        rows: dict[str, Any] = {"by": cfg.by, "groups": [], "n": {}, "variables": []}
        for v in use:  # one variable at a time: a bad column skips its row, not the table
            tab = guard(f"{name.replace('_', ' ')}: {v}",
                        lambda v=v: describe(data, cfg.by, [v],
                                             [v] if v in cfg.categorical else [],
                                             cfg.exact_max_n))
            if tab is None:
                num[f"{name}_not_reported"].append(v)
                continue
            rows.update(by=tab["by"], groups=tab["groups"], n=tab["n"])
            rows["variables"].extend(tab["variables"])
        if not rows["groups"]:
            head = guard(name, lambda: describe(data, cfg.by, [], [], cfg.exact_max_n))
            if head is not None:
                rows.update(by=head["by"], groups=head["groups"], n=head["n"])
        an.tables[name] = rows
        num[name] = rows
    num["table_extras"] = guard("summaries (mean +/- SD, range, Student's t)",
                                lambda: _extras(data, cfg)) or {}
    step("Kaplan-Meier")
    num["km"] = {}
    num["not_available"] = []
    for ep in ("os", "lfs"):
        if not has_columns(data, cfg.column(ep), f"{ep}_event"):
            num["not_available"].append(f"{ep.upper()} ({cfg.column(ep)}, {ep}_event)")
            continue
        num["km"][ep] = {}
        for g in [None, *dict.fromkeys([cfg.by, *cfg.km_groups])]:
            if g is not None and (g not in data.columns or data[g].notna().sum() == 0):
                continue
            res = guard(f"Kaplan-Meier {ep.upper()} by {g or 'all patients'}",
                        lambda ep=ep, g=g: km_block(data, cfg.column(ep), f"{ep}_event", g,
                                                    cfg.times, cfg.conf_type))
            if res is None:
                continue
            block, obj = res
            key = g or "all"
            num["km"][ep][key] = block
            an.km[(ep, key)] = obj[0]
            an.km_data[(ep, key)] = obj[1]
    step("cumulative incidence")
    num["cif"] = {}
    for name, cause in (("cir", 1), ("nrm", 2)):
        if not has_columns(data, cfg.column("crs"), "crs_status"):
            num["not_available"].append(f"{name.upper()} ({cfg.column('crs')}, crs_status)")
            continue
        res = guard(f"cumulative incidence {name.upper()}",
                    lambda cause=cause: cif_block(data, cfg.column("crs"), "crs_status", cause,
                                                  cfg.by, cfg.times))
        if res is None:
            continue
        block, obj = res
        num["cif"][name] = block
        an.cif[name] = obj[0]
        an.cif_data[name] = obj[1]
    num["followup"] = None
    if "os" in num["km"]:
        num["followup"] = guard("median follow-up", lambda: _followup(data, cfg))
    step("regression")
    reg: dict[str, Any] = {}
    guard("regression", lambda: _regression(data, cfg, reg, an.forest, guard))
    reg.setdefault("covariates", [])
    reg.setdefault("covariates_not_used", list(cfg.covariates))
    num["regression"] = reg
    step("immortal time")
    num["immortal_time"] = guard("courses analysis", lambda: _immortal_time(
        data, cfg, course_days, an)) or {"note": "not computed (see data quality)"}
    return an


def _extras(data: pd.DataFrame, cfg: ReportConfig) -> dict[str, Any]:
    """What 002 printed beside Table 1: mean +/- SD with Student's pooled-variance t-test
    (``cfg.student_t``; 002's donor-age p < 0.001 is the pooled t, not Welch's), and
    median (range) for integer-valued columns such as the year of diagnosis."""
    from scipy import stats as sst

    from mst.labels import column

    out: dict[str, Any] = {}
    sub = data[data[cfg.by].notna()]
    groups = sorted(sub[cfg.by].astype(str).unique())
    for v in dict.fromkeys([*cfg.table1, *cfg.table2]):
        if v not in sub.columns or not has_columns(sub, v):
            continue
        col = sub[v]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        x = pd.to_numeric(col, errors="coerce").astype(float)
        g = sub[cfg.by].astype(str)
        parts = {ALL: x.dropna().to_numpy()} | {k: x[g == k].dropna().to_numpy() for k in groups}
        e: dict[str, Any] = {}
        if column(v).format == "integer":
            e["median_range"] = {k: [_f(np.median(a)), _f(a.min()), _f(a.max())]
                                 for k, a in parts.items() if a.size}
        if v in cfg.student_t:
            e["mean_sd"] = {k: [_f(a.mean()), _f(a.std(ddof=1)) if a.size > 1 else None,
                                int(a.size)] for k, a in parts.items() if a.size}
            arrays = [parts[k] for k in groups if parts[k].size > 1]
            if len(arrays) == 2:
                r = sst.ttest_ind(arrays[0], arrays[1], equal_var=True)
                e["student_t"] = {"test": "Student's t-test (pooled variance)",
                                  "statistic": _f(r.statistic), "df": int(sum(map(len, arrays))
                                                                          - 2),
                                  "p": _f(r.pvalue)}
            elif len(arrays) > 2:
                r = sst.f_oneway(*arrays)
                e["student_t"] = {"test": "one-way ANOVA (pooled variance)",
                                  "statistic": _f(r.statistic), "p": _f(r.pvalue)}
        if e:
            out[v] = e
    return out


def _followup(data: pd.DataFrame, cfg: ReportConfig) -> dict[str, Any]:
    from mst.stats import median_followup

    fu_t, fu_e, _ = _survival_arrays(data, cfg.column("os"), "os_event", None)
    fu = median_followup(fu_t, fu_e)
    return {
        "median": _f(fu.median),
        "lower": _f(fu.lower),
        "upper": _f(fu.upper),
        "range_alive": [_f(x) for x in fu.range_alive],
        "method": fu.method,
    }
