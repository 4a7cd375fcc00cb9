"""The myeloma cohort report (``mst report --disease myeloma``): seed 003's analyses.

Every number comes from :mod:`mst.stats` (the code checked against R) applied to the myeloma
flat table (:mod:`mst.cohort.myeloma_table`): ORR with its Clopper–Pearson interval, OS and
PFS at 1/3/6 years with Kaplan–Meier curves and numbers at risk, OS by age, ISS,
Durie–Salmon, mSMART, status before MST and cycle count with the log-rank test, the cycle
count as a time-dependent covariate (Cox, against the naive fixed covariate), fever/CRS
incidence per course, GVHD and NRM, donor microchimerism by window, and lymphocyte subsets
before vs after MST (Wilcoxon signed-rank test and paired t-test, named).
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError

TIMES_MONTHS: tuple[float, ...] = (12.0, 36.0, 72.0)
OS_GROUPS: dict[str, str] = {
    "age_group": "Age",
    "iss": "ISS stage",
    "ds_stage": "Durie-Salmon stage",
    "msmart": "mSMART 3.0 risk",
    "pre_mst_status": "Status before MST",
    "cycles_group": "MST cycles",
}
IMMUNE_PAIRS: dict[str, str] = {
    "cd3": "CD3+ T cells (%)",
    "cd4": "CD4+CD8- T cells (%)",
    "cd4_cd8": "CD4:CD8 ratio",
    "th0": "Th0 cells (% of CD4+)",
}
SEED_003: dict[str, str] = {
    "orr": "17/20 (85%)",
    "os_6y": "64.7%",
    "pfs_6y": "35.3%",
    "fever_or_crs_per_course": "40.8% of courses",
    "gvhd": "none",
    "nrm": "none",
}


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _prop(x: int, n: int) -> dict[str, Any]:
    from mst.simulate.myeloma import clopper_pearson

    if n == 0:
        return {"x": 0, "n": 0, "estimate": None, "lower": None, "upper": None}
    lo, hi = clopper_pearson(int(x), int(n))
    return {"x": int(x), "n": int(n), "estimate": x / n, "lower": lo, "upper": hi,
            "method": "Clopper-Pearson 95%"}


def _flag(s: pd.Series) -> pd.Series:
    return s.map(lambda v: None if pd.isna(v) else bool(v))


def paired_tests(pre: Sequence[float], post: Sequence[float]) -> dict[str, Any]:
    """Wilcoxon signed-rank test and paired t-test of ``post`` vs ``pre``, as R computes them.

    The Wilcoxon test is exact when fewer than 50 non-zero differences have no ties (R's
    ``wilcox.test(paired = TRUE)`` default), otherwise the normal approximation with
    continuity correction; zero differences are dropped.
    """
    from scipy import stats

    a = np.asarray(pre, dtype=float)
    b = np.asarray(post, dtype=float)
    d = b - a
    out: dict[str, Any] = {"n": int(d.size)}
    if d.size == 0:
        return out
    out.update({"median_pre": _f(np.median(a)), "median_post": _f(np.median(b)),
                "mean_difference": _f(d.mean())})
    nz = d[d != 0]
    exact = nz.size < 50 and np.unique(np.abs(nz)).size == nz.size and nz.size == d.size
    if nz.size > 0:
        w = stats.wilcoxon(b, a, zero_method="wilcox", correction=not exact,
                           method="exact" if exact else "approx")
        out["wilcoxon"] = {"statistic_V": _f(_v_statistic(nz)), "p": _f(w.pvalue),
                           "method": "Wilcoxon signed-rank, " + (
                               "exact" if exact else "normal approximation with continuity "
                               "correction"), "test": "wilcox.test(paired = TRUE)"}
    if d.size > 1 and np.std(d) > 0:
        t = stats.ttest_rel(b, a)
        out["t_test"] = {"statistic": _f(t.statistic), "df": int(d.size - 1), "p": _f(t.pvalue),
                         "method": "paired t-test", "test": "t.test(paired = TRUE)"}
    return out


def _v_statistic(nz: np.ndarray) -> float:
    from scipy.stats import rankdata

    r = rankdata(np.abs(nz))
    return float(r[nz > 0].sum())


@dataclasses.dataclass
class MyelomaReport:
    """Numbers (JSON-ready) and the rendered HTML of the myeloma report."""

    numbers: dict[str, Any]
    html: str

    def write_html(self, path: str | Path) -> None:
        """Write the HTML report."""
        Path(path).write_text(self.html, encoding="utf-8")

    def write_json(self, path: str | Path) -> None:
        """Write every number as JSON."""
        from mst.cli.common import to_json

        Path(path).write_text(to_json(self.numbers) + "\n", encoding="utf-8")


def compute_myeloma(
    df: pd.DataFrame, course_days: Mapping[str, Sequence[float]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every number of the myeloma report and the KM objects for the figures.

    Parameters
    ----------
    df : DataFrame
        The myeloma flat table.
    course_days : mapping, optional
        Patient id → course start days from the first MST (enables the time-dependent
        analysis of the cycle count).

    Returns
    -------
    (numbers, km)
    """
    from mst.report.compute import km_block

    need = ("patient_id", "os_months", "os_event", "pfs_months", "pfs_event", "orr")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValidationError("table", ", ".join(missing), "myeloma flat table columns missing")
    data = df[df["os_months"].notna() & df["os_event"].notna()].reset_index(drop=True)
    if data.empty:
        raise ValidationError("table", 0, "no patient with an MST course and follow-up")
    num: dict[str, Any] = {"disease": "myeloma", "n": len(data), "n_excluded": len(df) - len(data),
                           "seed_003": SEED_003}
    orr = _flag(data["orr"])
    num["orr"] = _prop(int(orr.fillna(False).sum()), len(data))
    best = data["best_response"].fillna("not assessable").value_counts()
    num["best_response"] = {str(k): int(v) for k, v in best.items()}
    for col in ("vgpr_or_better", "cr_or_better"):
        if col in data:
            num[col] = _prop(int(_flag(data[col]).fillna(False).sum()), len(data))
    ttr = pd.to_numeric(data.get("time_to_response_days"), errors="coerce").dropna()
    num["time_to_response_days"] = {"n": int(ttr.size), "median": _f(ttr.median()) if ttr.size
                                    else None, "range": [_f(ttr.min()), _f(ttr.max())]
                                    if ttr.size else None}
    km_objs: dict[str, Any] = {}
    num["km"] = {}
    for ep in ("os", "pfs", "dor"):
        if f"{ep}_months" not in data or data[f"{ep}_months"].notna().sum() == 0:
            continue
        sub = data[data[f"{ep}_months"].notna()]
        block, obj = km_block(sub, f"{ep}_months", f"{ep}_event", None, TIMES_MONTHS)
        num["km"][ep] = {"all": block}
        km_objs[f"{ep}/all"] = obj
    num["os_by"] = {}
    for col, label in OS_GROUPS.items():
        if col not in data or data[col].notna().sum() == 0 or data[col].nunique() < 1:
            continue
        block, obj = km_block(data, "os_months", "os_event", col, TIMES_MONTHS)
        block["label"] = label
        num["os_by"][col] = block
        km_objs[f"os/{col}"] = obj
    num["cycles_time_dependent"] = _cycles_td(data, course_days)
    courses = int(pd.to_numeric(data["n_courses"]).sum())
    num["per_course"] = {
        k: _prop(int(pd.to_numeric(data[f"{k}_courses"]).sum()), courses)
        for k in ("fever", "crs", "fever_or_crs")
    }
    num["crs_max_grade"] = {str(k): int(v) for k, v in
                            data["crs_max_grade"].value_counts().sort_index().items()}
    num["gvhd"] = _prop(int(_flag(data["gvhd"]).fillna(False).sum()), len(data))
    num["nrm"] = _prop(int(_flag(data["nrm"]).fillna(False).sum()), len(data))
    num["chimerism"] = {}
    for w in ("d14", "m1", "m3", "m6"):
        col = f"chimerism_{w}"
        if col in data:
            s = _flag(data[col]).dropna()
            num["chimerism"][w] = _prop(int(s.sum()), int(s.size))
    num["immune"] = {}
    for k, label in IMMUNE_PAIRS.items():
        pre, post = f"{k}_pre", f"{k}_post"
        if pre not in data or post not in data:
            continue
        both = data[[pre, post]].apply(pd.to_numeric, errors="coerce").dropna()
        res = paired_tests(both[pre].to_numpy(), both[post].to_numpy())
        res["label"] = label
        num["immune"][k] = res
    return num, km_objs


def _cycles_td(data: pd.DataFrame, course_days: Mapping[str, Sequence[float]] | None
               ) -> dict[str, Any]:
    """Naive Cox on the cycle count vs the count as a time-dependent covariate (as for AML)."""
    from mst.stats.cox_model import cox

    def _model_dict(res: Any) -> dict[str, Any]:
        d = res.to_dict()
        return {k: d[k] for k in ("coef", "se", "hr", "lower", "upper", "p", "n", "events",
                                  "n_dropped", "tests") if k in d}

    out: dict[str, Any] = {"source": "002 Limitations (immortal time bias), applied to 003's "
                           "cycle count"}
    base = data[["patient_id", "os_days", "os_event", "n_courses"]].dropna().copy()
    base["os_days"] = pd.to_numeric(base["os_days"]).astype(float)
    base["os_event"] = pd.to_numeric(base["os_event"]).astype(int)
    base["n_courses"] = pd.to_numeric(base["n_courses"]).astype(float)
    from mst.cohort.myeloma_table import endpoint_definitions

    ge = int(endpoint_definitions()["cycles_ge"])
    out["cycles_ge"] = ge
    base[f"cycles_ge{ge}"] = base["n_courses"] >= ge
    for key, cov in (("naive", "n_courses"), ("naive_ge", f"cycles_ge{ge}")):
        try:
            out[key] = _model_dict(cox(base, time="os_days", event="os_event",
                                       covariates=[cov]))
        except ValidationError as exc:
            out[key] = {"error": str(exc)}
    if course_days is None:
        out["note"] = ("course dates are not in a flat table: the time-dependent analysis "
                       "needs the cohort records (--db or an exchange file)")
        return out
    from mst.stats.timedep import split_at_times

    base = base[base["os_days"] > 0]
    try:
        long = split_at_times(base[["patient_id", "os_days", "os_event"]],
                              {k: list(v) for k, v in course_days.items()},
                              id="patient_id", time="os_days", event="os_event",
                              name="cycles_so_far")
        long[f"cycles_ge{ge}_so_far"] = long["cycles_so_far"] >= ge
        for key, cov in (("time_dependent", "cycles_so_far"),
                         ("time_dependent_ge", f"cycles_ge{ge}_so_far")):
            td = cox(long, time="tstop", start="tstart", event="status",
                     covariates=[cov], cluster="patient_id", robust=True)
            out[key] = {**_model_dict(td), "intervals": len(long)}
    except ValidationError as exc:
        out["time_dependent"] = {"error": str(exc)}
    return out


def _pct(p: Mapping[str, Any] | None) -> str:
    if not p or p.get("estimate") is None:
        return "NA"
    return (f"{p['x']}/{p['n']} ({100 * p['estimate']:.1f}%; 95% CI "
            f"{100 * p['lower']:.1f}–{100 * p['upper']:.1f})")


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _g(v: float | None) -> str:
    return "NA" if v is None else f"{v:.3g}"


def _s(v: float | None) -> str:
    return "NA" if v is None else f"{100 * v:.1f}%"


def render_myeloma_html(num: Mapping[str, Any], km: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page (figures inline as SVG, numbers embedded)."""
    from mst.cli.common import to_json
    from mst.report.figures import format_p, km_figure, svg

    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<title>Myeloma MST cohort report</title><style>body{font-family:sans-serif;"
             "max-width:60rem;margin:auto}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #999;padding:2px 6px;font-size:90%}caption{text-align:left;"
             "font-weight:bold}</style></head><body>",
             "<h1>Myeloma MST cohort report</h1>",
             f"<p>{num['n']} patients with an MST course and follow-up "
             f"({num['n_excluded']} excluded). Analyses of seed 003 (Lei et al., Front Immunol "
             "2025); times from the first MST course, in months.</p>"]
    parts.append("<h2>Response (IMWG 2016, confirmed)</h2>")
    parts.append(_table(
        ["measure", "this cohort", "seed 003"],
        [["Overall response (PR or better)", _pct(num["orr"]), SEED_003["orr"]],
         ["VGPR or better", _pct(num.get("vgpr_or_better")), ""],
         ["CR or better", _pct(num.get("cr_or_better")), ""],
         ["Median time to response (days)", _g(num["time_to_response_days"]["median"]), ""]],
        "Response (Clopper-Pearson 95% intervals)"))
    parts.append(_table(["best response", "patients"], list(num["best_response"].items()),
                        "Best confirmed response"))
    parts.append("<h2>Overall and progression-free survival</h2>")
    rows = []
    for ep, name in (("os", "OS"), ("pfs", "PFS"), ("dor", "Duration of response")):
        b = num["km"].get(ep, {}).get("all")
        if not b:
            continue
        g = next(iter(b["groups"].values()))
        a = g["at"]
        rows.append([name, g["n"], g["events"], *[
            f"{_s(s)} ({_s(lo)}–{_s(hi)}), at risk {int(n) if n is not None else 'NA'}"
            for s, lo, hi, n in zip(a["survival"], a["lower"], a["upper"], a["n_risk"],
                                    strict=True)],
            "NA" if g["median"] is None else f"{g['median']:.1f}"])
    parts.append(_table(["endpoint", "n", "events", "1 year", "3 years", "6 years",
                         "median (months)"], rows,
                        "Kaplan-Meier estimates (log-log 95% CI) and numbers at risk; seed 003: "
                        "6-year OS 64.7%, PFS 35.3%"))
    for ep, name in (("os", "Overall survival"), ("pfs", "Progression-free survival")):
        if f"{ep}/all" in km:
            res, data = km[f"{ep}/all"]
            parts.append(f"<figure>{svg(km_figure(res, data, name, 'months'))}</figure>")
    parts.append("<h2>OS by group (log-rank test)</h2>")
    rows, figs = [], []
    for col, b in num["os_by"].items():
        lr = b.get("logrank")
        for lab, g in b["groups"].items():
            rows.append([b["label"], lab, g["n"], g["events"], _s(g["at"]["survival"][2]),
                         format_p(lr["p"]) + f" (chi2 {lr['statistic']:.3f}, df {lr['df']})"
                         if lr else "one group"])
        res, data = km[f"os/{col}"]
        fig = km_figure(res, data, "OS by " + b["label"], "months",
                        format_p(lr["p"]) if lr else None)
        figs.append(f"<figure>{svg(fig)}</figure>")
    parts.append(_table(["variable", "group", "n", "deaths", "6-year OS", "log-rank"], rows,
                        "OS by age, ISS, Durie-Salmon, mSMART, status before MST and cycle "
                        "count"))
    parts.extend(figs)
    td = num["cycles_time_dependent"]
    trows = []
    for key, name in (("naive", "cycle count, fixed (naive)"),
                      ("naive_ge", f"{td.get('cycles_ge')} or more cycles, fixed (naive)"),
                      ("time_dependent", "cycles so far, time-dependent"),
                      ("time_dependent_ge",
                       f"{td.get('cycles_ge')} or more cycles so far, time-dependent")):
        m = td.get(key, {})
        if "hr" in m:
            for term in m["hr"]:
                trows.append([name, term] + [
                    "NA" if m[k].get(term) is None else f"{m[k][term]:.3g}"
                    for k in ("hr", "lower", "upper", "p")])
        elif "error" in m:
            trows.append([name, m["error"], "", "", "", ""])
    parts.append(_table(["model", "term", "HR", "lower", "upper", "p"], trows,
                        "Cox regression of OS on the number of MST cycles (immortal-time bias)"))
    if td.get("note"):
        parts.append(f"<p>{_e(td['note'])}</p>")
    parts.append("<h2>Toxicity</h2>")
    pc = num["per_course"]
    parts.append(_table(["measure", "this cohort", "seed 003"], [
        ["Courses with fever or CRS", _pct(pc["fever_or_crs"]),
         SEED_003["fever_or_crs_per_course"]],
        ["Courses with fever", _pct(pc["fever"]), ""],
        ["Courses with CRS (ASTCT)", _pct(pc["crs"]), ""],
        ["GVHD (patients)", _pct(num["gvhd"]), SEED_003["gvhd"]],
        ["Non-relapse mortality (patients)", _pct(num["nrm"]), SEED_003["nrm"]]],
        "Per-course and per-patient incidence (Clopper-Pearson 95%; courses are treated as "
        "independent)"))
    parts.append("<h2>Donor microchimerism</h2>")
    parts.append(_table(["window after the first infusion", "patients positive / sampled"],
                        [[w, _pct(p)] for w, p in num["chimerism"].items()],
                        "Patients with donor cells detected, by window (seed 003: detected in "
                        "all available samples from 14 days to 6 months)"))
    parts.append("<h2>Lymphocyte subsets before and after MST</h2>")
    irows = []
    for r in num["immune"].values():
        w, t = r.get("wilcoxon", {}), r.get("t_test", {})
        irows.append([r["label"], r["n"], _g(r.get("median_pre")), _g(r.get("median_post")),
                      f"{format_p(w.get('p'))} ({w.get('method', 'NA')})",
                      f"{format_p(t.get('p'))} (paired t-test)"])
    parts.append(_table(["subset", "pairs", "median before", "median after", "Wilcoxon",
                         "t-test"], irows, "Paired comparisons (seed 003: CD3+, CD4+CD8-, "
                                           "CD4:CD8 and Th0 increased after MST)"))
    parts.append("<script type='application/json' id='numbers'>"
                 + to_json(num).replace("</", "<\\/") + "</script></body></html>")
    return "\n".join(parts)


def numbers_from_myeloma_html(text: str) -> dict[str, Any]:
    """The JSON numbers embedded in a rendered myeloma report."""
    start = text.index("<script type='application/json' id='numbers'>")
    body = text[start:].split(">", 1)[1].split("</script>", 1)[0]
    data: dict[str, Any] = json.loads(body.replace("<\\/", "</"))
    return data


def build_myeloma_report(
    df: pd.DataFrame, course_days: Mapping[str, Sequence[float]] | None = None
) -> MyelomaReport:
    """Compute and render the myeloma report from the myeloma flat table."""
    num, km = compute_myeloma(df, course_days)
    return MyelomaReport(numbers=json.loads(_to_json(num)), html=render_myeloma_html(num, km))


def _to_json(obj: Any) -> str:
    from mst.cli.common import to_json

    return to_json(obj)


def load_myeloma_input(db: str | None, path: str | Path | None
                       ) -> tuple[pd.DataFrame, dict[str, list[float]] | None]:
    """The myeloma flat table and course days from a registry, an exchange file or a table.

    A CSV/XLSX/SAV myeloma flat table is read by :func:`read_myeloma_table`;
    an exchange file or the registry is turned into the table and the course start days.
    """
    from mst.cohort.myeloma_table import build_myeloma_table
    from mst.report.inputs import is_exchange_file, load_cohort

    if path is not None and not is_exchange_file(path):
        return read_myeloma_table(path), None
    cohort = load_cohort(db, path)
    df = build_myeloma_table(cohort)
    if df.empty:
        raise ValidationError("cohort", 0, "has no myeloma patient")
    days: dict[str, list[float]] = {}
    for rec in cohort.records:
        starts = sorted(c.start_date for c in rec.courses)
        if starts:
            days[rec.patient.id] = [float((s - starts[0]).days) for s in starts]
    return df, days


def read_myeloma_table(path: str | Path) -> pd.DataFrame:
    """Read a myeloma flat table (CSV, XLSX or SAV) with the column types of
    :data:`mst.cohort.myeloma_table.COLUMNS`; unknown columns are kept as text.

    Blank cells and ``NA`` are missing. A cell that does not fit its column's type is an
    error naming the row (the header is row 1) and the column.

    Raises
    ------
    mst.errors.ValidationError
    """
    from mst.cohort.myeloma_table import COLUMNS
    from mst.interop.flat_import import _as_bool, _as_date, _as_float, _as_int, _missing, read_raw

    raw, first = read_raw(path)
    if "patient_id" not in raw.columns:
        raise ValidationError("columns", "patient_id", "required column not found")
    conv = {"Int64": _as_int, "float64": _as_float, "boolean": _as_bool}
    out = pd.DataFrame(index=raw.index)
    for col in raw.columns:
        dtype = COLUMNS.get(str(col), "object")
        f = _as_date if dtype.startswith("datetime") else conv.get(dtype)
        vals = []
        for i, v in enumerate(raw[col].tolist()):
            if _missing(v) or (isinstance(v, str) and v.strip().upper() == "NA"):
                vals.append(None)
                continue
            if f is None:
                vals.append(str(v).strip())
                continue
            try:
                vals.append(f(v))
            except (ValueError, TypeError) as exc:
                raise ValidationError(f"row {first + i}: {col}", v, str(exc) or "invalid") from None
        series = pd.Series(vals, index=raw.index, dtype=object)
        out[col] = series.astype(dtype) if dtype != "object" else series
    return out


def run_myeloma_report(
    disease: str,
    out: Path,
    db: str | None,
    src: Path | None,
    json_out: Path | None = None,
    pdf: Path | None = None,
) -> dict[str, Any]:
    """What ``mst report --disease myeloma`` does: read, compute, write HTML and JSON.

    Raises
    ------
    mst.errors.ValidationError
        Unknown disease, ``--pdf`` (not available for this report), or unusable input.
    """
    if disease != "myeloma":
        raise ValidationError("--disease", disease, "must be aml or myeloma")
    if pdf is not None:
        raise ValidationError("--pdf", str(pdf), "is not available for the myeloma report "
                              "(print the HTML page instead)")
    df, days = load_myeloma_input(db, src)
    rep = build_myeloma_report(df, days)
    rep.write_html(out)
    jpath = json_out or out.with_suffix(".json")
    rep.write_json(jpath)
    return {"html": out, "json": jpath, "disease": "myeloma", "n": rep.numbers["n"],
            "excluded": rep.numbers["n_excluded"],
            "time_dependent_cycles": days is not None}
