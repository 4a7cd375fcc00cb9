"""Cohort outcome view: KM of OS/LFS with numbers at risk, CIF of relapse and NRM with
Gray's test, and Table 1, for a chosen subset of the flat analysis table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mst import labels
from mst.stats import cumulative_incidence, kaplan_meier, logrank_test, table1
from mst.stats.table1 import ALL, Table1, format_p
from mst.web.charts import StepCurve, step_chart

PALETTE = ("#1f5fbf", "#c0392b", "#1b8a4a", "#8e44ad", "#d35400", "#555555")
#: Groupings offered on the page, labelled from the shared label table (:mod:`mst.labels`).
GROUPINGS = {
    name: labels.column(name).title
    for name in ("age_group", "age_band", "courses_gt3", "donor_related", "sex", "center_id")
}
RISK_TIMES = (0, 12, 24, 36, 48, 60)
TABLE1_VARS = (
    "sex",
    "age",
    "donor_sex",
    "donor_age",
    "donor_related",
    "hla_mismatches_10",
    "courses_gt3",
    "cr",
    "early_death",
)


@dataclass(frozen=True)
class CohortFilters:
    """Subset of the cohort: center, age group and diagnosis period."""

    center: str = ""
    age_group: str = ""
    year_from: int | None = None
    year_to: int | None = None
    by: str = "age_group"
    diagnosis: str = ""  # issue 18: AML, MDS, myeloma … ("" = all)


def subset(table: pd.DataFrame, f: CohortFilters) -> pd.DataFrame:
    """Rows of the flat table that pass the filters."""
    keep = np.ones(len(table), dtype=bool)
    if f.center:
        keep &= (table["center_id"] == f.center).to_numpy()
    if f.age_group:
        keep &= (table["age_group"] == f.age_group).to_numpy()
    if f.year_from is not None:
        keep &= (table["year_of_diagnosis"] >= f.year_from).to_numpy()
    if f.year_to is not None:
        keep &= (table["year_of_diagnosis"] <= f.year_to).to_numpy()
    if f.diagnosis:
        keep &= (table["diagnosis"] == f.diagnosis).to_numpy()
    return table.loc[keep].reset_index(drop=True)


def _labels(col: pd.Series) -> np.ndarray:
    return col.astype("string").fillna("missing").to_numpy(dtype=object)


def _km_panel(df: pd.DataFrame, time: str, event: str, by: str, title: str) -> dict[str, Any]:
    d = df.dropna(subset=[time, event])
    if d.empty:
        return {"title": title, "svg": None, "risk": [], "test": None, "n": 0}
    groups = _labels(d[by])
    km = kaplan_meier(d[time].to_numpy(float), d[event].to_numpy(int), groups)
    curves, risk = [], []
    for i, key in enumerate(labels.order_levels(by, list(km.curves))):
        c, label = km.curves[key], labels.level_label(by, key)
        curves.append(
            StepCurve(
                f"{label} (n={c.n})",
                PALETTE[i % len(PALETTE)],
                c.time.tolist(),
                c.surv.tolist(),
                c.lower.tolist(),
                c.upper.tolist(),
                1.0,
            )
        )
        at = c.at(list(RISK_TIMES))
        risk.append(
            {
                "group": str(key),
                "label": label,
                "n_risk": [int(v) for v in at["n_risk"]],
                "survival": [float(v) for v in at["survival"]],
                "median": c.median,
            }
        )
    test = None
    if len(km.curves) > 1:
        lr = logrank_test(d[time].to_numpy(float), d[event].to_numpy(int), groups)
        if lr.df > 0 and np.isfinite(lr.p):  # no events in a comparison: no test
            test = {"name": "log-rank", "statistic": lr.statistic, "df": lr.df, "p": lr.p}
    note = f"log-rank p = {test['p']:.3g}" if test else None
    svg = step_chart(
        curves,
        title=title,
        xlabel="Months from diagnosis" if time == "os_months" else "Months from CR",
        ylabel="Probability",
        x_max=max(RISK_TIMES),
        note=note,
        legend_title=labels.column(by).label,
    )
    return {"title": title, "svg": svg, "risk": risk, "test": test, "n": len(d)}


def _cif_panel(df: pd.DataFrame, cause: int, by: str, title: str) -> dict[str, Any]:
    d = df.dropna(subset=["crs_months", "crs_status"])
    if d.empty:
        return {"title": title, "svg": None, "risk": [], "test": None, "n": 0}
    groups = _labels(d[by])
    t, s = d["crs_months"].to_numpy(float), d["crs_status"].to_numpy(int)
    res = cumulative_incidence(t, s, cause=cause, group=groups, codes=(0, 1, 2))
    curves, at_times = [], []
    for i, key in enumerate(labels.order_levels(by, list(res.curves))):
        c, label = res.curves[key], labels.level_label(by, key)
        curves.append(
            StepCurve(
                f"{label} (n={c.n})",
                PALETTE[i % len(PALETTE)],
                c.time.tolist(),
                c.cif.tolist(),
                c.lower.tolist(),
                c.upper.tolist(),
                0.0,
            )
        )
        vals = c.at(list(RISK_TIMES))
        at_times.append(
            {
                "group": str(key),
                "label": label,
                "cif": [None if v != v else float(v) for v in vals["cif"]],
            }
        )
    test = None
    g = res.gray
    if g is not None and g.df > 0 and np.isfinite(g.p):
        test = {"name": "Gray", "statistic": g.statistic, "df": g.df, "p": g.p}
    note = f"Gray p = {test['p']:.3g}" if test else None
    svg = step_chart(
        curves,
        title=title,
        xlabel="Months from CR",
        ylabel="Cumulative incidence",
        x_max=max(RISK_TIMES),
        note=note,
        legend_title=labels.column(by).label,
    )
    return {"title": title, "svg": svg, "cif_at": at_times, "test": test, "n": len(d)}


def cohort_outcomes(table: pd.DataFrame, f: CohortFilters) -> dict[str, Any]:
    """Everything the cohort page shows, for the subset chosen by ``f``.

    Returns
    -------
    dict
        ``n``, ``os``, ``lfs`` (KM panels with number-at-risk rows and the log-rank test),
        ``relapse``, ``nrm`` (CIF panels with Gray's test) and ``table1`` (labelled rows).
    """
    df = subset(table, f)
    by = f.by if f.by in GROUPINGS else "age_group"
    out: dict[str, Any] = {"n": len(df), "by": by, "risk_times": RISK_TIMES}
    if df.empty:
        return out
    out["os"] = _km_panel(df, "os_months", "os_event", by, "Overall survival")
    out["lfs"] = _km_panel(df, "lfs_months", "lfs_event", by, "Leukaemia-free survival (from CR)")
    out["relapse"] = _cif_panel(df, 1, by, "Cumulative incidence of relapse")
    out["nrm"] = _cif_panel(df, 2, by, "Non-relapse mortality")
    groups = df[by].astype("string").fillna("missing")
    if groups.nunique() > 1:
        t1 = table1(
            df.assign(**{by: groups}),
            by=by,
            variables=[v for v in TABLE1_VARS if v in df.columns and v != by],
        )
        out["table1"] = table1_view(t1, by)
    return out


def table1_view(t1: Table1, by: str) -> dict[str, Any]:
    """Table 1 with human labels and clinical level order (:mod:`mst.labels`), for the page.

    Returns
    -------
    dict
        ``columns`` (header cells), ``rows`` (label, cells, p, test, indent flag).
    """
    groups = labels.order_levels(by, list(t1.groups))
    cols = [ALL, *groups]
    header = [f"{ALL} (n = {t1.n[ALL]})"] + [
        f"{labels.level_label(by, g)} (n = {t1.n[g]})" for g in groups
    ]
    rows: list[dict[str, Any]] = []
    for r in t1.rows:
        title = labels.column(r.variable).title
        p = format_p(r.p)
        if r.kind == "categorical":
            rows.append(
                {
                    "label": f"{title}, n (%)",
                    "cells": [""] * len(cols),
                    "p": p,
                    "test": r.test,
                    "level": False,
                }
            )
            by_key = {str(lev["level"]): lev for lev in r.levels}
            for key in labels.order_levels(r.variable, [lev["level"] for lev in r.levels]):
                lev = by_key[str(key)]
                rows.append(
                    {
                        "label": labels.level_label(r.variable, key),
                        "cells": [lev[c] for c in cols],
                        "p": "",
                        "test": "",
                        "level": True,
                    }
                )
        else:
            rows.append(
                {
                    "label": f"{title}, {r.summary}",
                    "cells": [r.values[c] for c in cols],
                    "p": p,
                    "test": r.test,
                    "level": False,
                }
            )
        if r.n_missing:
            rows.append(
                {
                    "label": "missing",
                    "cells": [str(r.n_missing)] + [""] * len(groups),
                    "p": "",
                    "test": "",
                    "level": True,
                }
            )
    return {"by": labels.column(by).title, "columns": header, "rows": rows}
