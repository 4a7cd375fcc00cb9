"""Assemble the report: figures, HTML (self-contained, numbers embedded as JSON) and PDF."""

from __future__ import annotations

import html
import json
import platform
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from mst.report.compute import Analyses, compute_report
from mst.report.config import ReportConfig
from mst.report.figures import cif_figure, forest_figure, format_p, km_figure, svg

ALL = "All patients"
_LABELS = {"age_group": "age group", "donor_age_group": "donor age",
           "courses_gt3": "more than three courses", "all": "all patients",
           "courses_gt3_lm": "courses by the landmark"}


@dataclass
class Report:
    """A built report: the numbers, the figures and the HTML text."""

    numbers: dict[str, Any]
    figures: list[tuple[str, str, Figure]] = field(default_factory=list)
    html: str = ""
    methods: str = ""

    def write_html(self, path: str | Path) -> None:
        """Write the self-contained HTML file."""
        Path(path).write_text(self.html, encoding="utf-8")

    def write_json(self, path: str | Path) -> None:
        """Write every number of the report as JSON."""
        from mst.jsonout import to_json

        Path(path).write_text(to_json(self.numbers) + "\n", encoding="utf-8")

    def write_pdf(self, path: str | Path) -> None:
        """Write the PDF (text pages for methods and tables, then one page per figure)."""
        from mst.report.pdf import write_pdf

        write_pdf(self, path)


def versions() -> dict[str, str]:
    """Software versions named in the methods paragraph."""
    out = {"python": platform.python_version()}
    for pkg in ("mst", "numpy", "scipy", "pandas", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def methods_text(cfg: ReportConfig, v: Mapping[str, str], courses_dated: bool = True) -> str:
    """The statistical-methods paragraph (tests named as in 002 Methods)."""
    return (
        "Categorical variables were compared with Pearson's chi-square test (Yates-corrected "
        "for 2 x 2 tables) or, when an expected count was below 5, Fisher's exact test "
        "(Fisher-Freeman-Halton beyond 2 x 2; for more than "
        f"{cfg.exact_max_n} patients Pearson's chi-square is used instead and named in the "
        "table); continuous variables as mean +/- SD with Welch's t-test or one-way ANOVA when "
        "every group passed the Shapiro-Wilk test, otherwise as median (Q1, Q3) with the "
        "Mann-Whitney U or Kruskal-Wallis test. Survival curves were estimated by the "
        f"Kaplan-Meier method ({cfg.conf_type} pointwise 95% confidence intervals, Greenwood "
        "variance) and compared with the log-rank test; median follow-up by the reverse "
        "Kaplan-Meier method. The cumulative incidences of relapse and non-relapse mortality "
        "were estimated as competing risks (Aalen-Johansen) and compared with Gray's test; "
        "covariate effects were estimated with the Fine-Gray proportional subdistribution "
        "hazards model. Univariate and multivariate Cox proportional hazards models (Efron "
        "ties) were fitted for OS and LFS. Because more than three courses can only be "
        "received by patients who survive long enough (immortal-time bias, 002 Limitations), "
        + ("the number of courses was also analysed as a time-dependent covariate (robust "
           "variance clustered by patient) and in a landmark analysis at "
           f"{cfg.landmark_months:g} months. " if courses_dated else
           "the naive courses analysis is biased; course dates, needed for a time-dependent "
           "or landmark analysis, were not available. ")
        + f"Times are in {cfg.time_unit}; rates are read at "
        f"{', '.join(f'{y:g}' for y in cfg.years)} year(s). A two-sided p < 0.05 was "
        "considered significant. Analyses were run with mst "
        f"{v['mst']} (Python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, pandas "
        f"{v['pandas']}, matplotlib {v['matplotlib']}); its estimators are validated against R "
        "survival and cmprsk.")


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _pct(x: float | None) -> str:
    return "NA" if x is None else f"{100 * x:.1f}"


def table_html(tab: Mapping[str, Any], caption: str) -> str:
    """Table 1/2 from its ``to_dict`` form."""
    cols = [ALL, *tab["groups"]]
    head = "".join(f"<th>{_esc(c)} (n = {tab['n'][c]})</th>" for c in cols)
    out = [f"<table><caption>{_esc(caption)}</caption><thead><tr><th>Variable</th>{head}"
           "<th>p</th><th>Test</th></tr></thead><tbody>"]
    for r in tab["variables"]:
        p = format_p(r["p"]).removeprefix("p = ").removeprefix("p ")
        if r["kind"] == "categorical":
            out.append(f"<tr class='var'><td>{_esc(r['variable'])}, n (%)</td>"
                       + "<td></td>" * len(cols)
                       + f"<td>{_esc(p)}</td><td class='test'>{_esc(r['test'])}</td></tr>")
            for lev in r["levels"]:
                cells = "".join(f"<td>{_esc(lev[c])}</td>" for c in cols)
                out.append(f"<tr><td class='lev'>{_esc(lev['level'])}</td>{cells}"
                           "<td></td><td></td></tr>")
        else:
            cells = "".join(f"<td>{_esc(r['values'][c])}</td>" for c in cols)
            out.append(f"<tr class='var'><td>{_esc(r['variable'])}, {_esc(r['summary'])}</td>"
                       f"{cells}<td>{_esc(p)}</td><td class='test'>{_esc(r['test'])}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def rates_rows(num: Mapping[str, Any], cfg: ReportConfig) -> list[list[str]]:
    """Outcome rates table rows: endpoint, group, n, median, rates at the years, test p."""
    rows = []
    for ep in ("os", "lfs"):
        b = num["km"].get(ep, {}).get(cfg.by)
        if b is None:
            continue
        for lab, g in b["groups"].items():
            med = g["median"]
            rows.append([ep.upper(), lab, str(g["n"]), str(g["events"]),
                         "NR" if med is None else f"{med:.1f}",
                         *[f"{_pct(s)} ({_pct(lo)}-{_pct(hi)})" for s, lo, hi in
                           zip(g["at"]["survival"], g["at"]["lower"], g["at"]["upper"],
                               strict=True)],
                         f"log-rank {format_p(b.get('logrank', {}).get('p'))}"])
    for ep in ("cir", "nrm"):
        b = num["cif"].get(ep)
        if b is None:
            continue
        for lab, g in b["groups"].items():
            rows.append([ep.upper(), lab, str(g["n"]), str(g["events"]), "",
                         *[f"{_pct(s)} ({_pct(lo)}-{_pct(hi)})" for s, lo, hi in
                           zip(g["at"]["cif"], g["at"]["lower"], g["at"]["upper"],
                               strict=True)],
                         f"Gray {format_p(b.get('gray', {}).get('p'))}"])
    return rows


def rates_header(cfg: ReportConfig) -> list[str]:
    """Header of :func:`rates_rows`."""
    return ["Endpoint", cfg.by, "n", "events", f"median ({cfg.time_unit})",
            *[f"{y:g}-year % (95% CI)" for y in cfg.years], "test"]


def simple_table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str) -> str:
    """A plain HTML table."""
    h = "".join(f"<th>{_esc(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (f"<table><caption>{_esc(caption)}</caption><thead><tr>{h}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _x(v: float | None) -> str:
    return "NA" if v is None else f"{v:.2f}"


def _hr(h: float | None, lo: float | None, hi: float | None) -> str:
    return f"{_x(h)} ({_x(lo)}-{_x(hi)})"


def model_rows(m: Mapping[str, Any]) -> list[list[str]]:
    """Rows term, HR (95% CI), p of a model dict (Cox or Fine-Gray)."""
    if "error" in m:
        return [["(not estimable)", m["error"], ""]]
    return [[t, _hr(m["hr"][t], m["lower"][t], m["upper"][t]),
             format_p(m["p"][t]).removeprefix("p = ").removeprefix("p ")] for t in m["hr"]]


def univariate_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Rows of a univariate Cox screening."""
    out = []
    for r in rows:
        if r.get("hr") is None:
            out.append([str(r["term"]), str(r.get("error", "not estimable")), ""])
        else:
            out.append([str(r["term"]), _hr(r["hr"], r["lower"], r["upper"]),
                        format_p(r["p"]).removeprefix("p = ").removeprefix("p ")])
    return out


_CSS = """body{font-family:Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}caption{text-align:left;font-weight:bold;
padding:4px 0}th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}
thead th{border-bottom:2px solid #444}td.lev{padding-left:2em}td.test{color:#666;font-size:11px}
.fig{display:inline-block;width:48%;vertical-align:top;margin:0.5%}.fig svg{width:100%;height:auto}
.wide svg{width:100%;height:auto}p.note{color:#555;font-size:13px}"""


def _figures(an: Analyses, cfg: ReportConfig, progress: Callable[[str], None]
             ) -> list[tuple[str, str, Figure]]:
    num = an.numbers
    figs: list[tuple[str, str, Figure]] = []
    progress("figures")
    for ep, name in (("os", "Overall survival"), ("lfs", "Leukemia-free survival")):
        for key in [k for (e, k) in an.km if e == ep]:
            b = num["km"][ep][key]
            p = None if "logrank" not in b else f"log-rank {format_p(b['logrank']['p'])}"
            fig = km_figure(an.km[(ep, key)], an.km_data[(ep, key)],
                            f"{name} by {_LABELS.get(key, key)}", cfg.time_unit, p)
            figs.append((f"km_{ep}_{key}", f"{name} by {_LABELS.get(key, key)}", fig))
    for ep, name in (("cir", "Cumulative incidence of relapse"),
                     ("nrm", "Non-relapse mortality")):
        if ep not in num["cif"]:
            continue
        b = num["cif"][ep]
        p = None if "gray" not in b else f"Gray's test {format_p(b['gray']['p'])}"
        figs.append((f"cif_{ep}", f"{name} by {_LABELS.get(cfg.by, cfg.by)}",
                     cif_figure(an.cif[ep], an.cif_data[ep], f"{name} by "
                                f"{_LABELS.get(cfg.by, cfg.by)}", cfg.time_unit, p)))
    for key, title in (("cox_os", "OS, multivariate Cox"), ("cox_lfs", "LFS, multivariate Cox"),
                       ("finegray_cir", "Relapse, Fine-Gray"), ("finegray_nrm", "NRM, Fine-Gray"),
                       ("immortal_time", "More than three courses: naive vs bias-corrected")):
        if key in an.forest and len(an.forest[key]):
            figs.append((f"forest_{key}", title, forest_figure(an.forest[key], title)))
    if ("landmark", "courses_gt3_lm") in an.km:
        b = num["immortal_time"]["landmark_km"]
        p = None if "logrank" not in b else f"log-rank {format_p(b['logrank']['p'])}"
        title = f"OS from the {cfg.landmark_months:g}-month landmark by courses received"
        figs.append(("km_landmark", title,
                     km_figure(an.km[("landmark", "courses_gt3_lm")],
                               an.km_data[("landmark", "courses_gt3_lm")], title,
                               cfg.time_unit, p)))
    return figs


def _quality_html(q: Mapping[str, Any]) -> str:
    parts = [f"<p>{q['n_input']} rows read; {q['n_excluded']} excluded from every analysis; "
             f"{q['n_inconsistent']} inconsistent (kept); "
             f"{len(q['import_rejections'])} import rejection(s).</p>"]
    if q["excluded"]:
        parts.append(simple_table(["row", "patient", "reason"],
                                  [[str(r["row"]), r["patient_id"], r["issue"]]
                                   for r in q["excluded"][:200]], "Excluded rows"))
    if q["inconsistent"]:
        parts.append(simple_table(["row", "patient", "issue"],
                                  [[str(r["row"]), r["patient_id"], r["issue"]]
                                   for r in q["inconsistent"][:200]], "Inconsistent rows"))
    if q["import_rejections"]:
        parts.append(simple_table(["row", "column", "value", "rule"],
                                  [[str(r["row"]), r["column"], str(r["value"]), r["rule"]]
                                   for r in q["import_rejections"][:200]],
                                  "Rows rejected at import"))
    return "\n".join(parts)


def render_html(rep: Report, cfg: ReportConfig) -> str:
    """The self-contained HTML page."""
    from mst.jsonout import to_json

    num = rep.numbers
    reg = num["regression"]
    it = num["immortal_time"]
    fig_svg = {fid: (cap, svg(f)) for fid, cap, f in rep.figures}
    fu = num["followup"]
    def _n(x: float | None) -> str:
        return "NA" if x is None else f"{x:.1f}"

    fu_txt = ("not available (no OS columns)" if fu is None else
              f"{_n(fu['median'])} {cfg.time_unit} (95% CI {_n(fu['lower'])}-"
              f"{_n(fu['upper'])})")

    def figs(prefix: str, cls: str = "fig") -> str:
        return "\n".join(f"<div class='{cls}' id='{_esc(fid)}'>{s}<p class='note'>"
                         f"{_esc(cap)}</p></div>"
                         for fid, (cap, s) in fig_svg.items() if fid.startswith(prefix))

    not_rep = num["table1_not_reported"] + num["table2_not_reported"]
    body = [
        f"<h1>{_esc(cfg.title)}</h1>",
        f"<p>{num['n']} patients analysed, grouped by <b>{_esc(cfg.by)}</b>. Median "
        f"follow-up (reverse Kaplan-Meier): {_esc(fu_txt)}.</p>",
        "<h2>Statistical methods</h2>", f"<p>{_esc(rep.methods)}</p>",
        "<h2>Data quality</h2>", _quality_html(num["quality"]),
        "<h2>Table 1. Patient and donor characteristics</h2>",
        table_html(num["table1"], f"Table 1 by {cfg.by}"),
        "<h2>Table 2. Outcomes</h2>", table_html(num["table2"], f"Table 2 by {cfg.by}"),
        simple_table(rates_header(cfg), rates_rows(num, cfg), "Survival and incidence rates"),
    ]
    if num["not_available"]:
        body.append(f"<p class='note'>Endpoints not available (columns absent or empty): "
                    f"{_esc('; '.join(num['not_available']))}.</p>")
    if not_rep:
        body.append(f"<p class='note'>Not reported (column absent or empty): "
                    f"{_esc(', '.join(not_rep))}.</p>")
    body += ["<h2>Figure 2. Overall and leukemia-free survival</h2>", figs("km_os"),
             figs("km_lfs"),
             "<h2>Figure 3. Relapse and non-relapse mortality (competing risks)</h2>",
             figs("cif_"), "<h2>Regression</h2>"]
    for ep in ("os", "lfs"):
        if f"cox_{ep}_univariate" not in reg:
            continue
        body.append(simple_table(["term", "HR (95% CI)", "p"],
                                 univariate_rows(reg[f"cox_{ep}_univariate"]),
                                 f"{ep.upper()}: univariate Cox"))
        body.append(simple_table(["term", "HR (95% CI)", "p"],
                                 model_rows(reg[f"cox_{ep}_multivariate"]),
                                 f"{ep.upper()}: multivariate Cox"))
    for ep in ("cir", "nrm"):
        if f"finegray_{ep}" not in reg:
            continue
        body.append(simple_table(["term", "SHR (95% CI)", "p"], model_rows(reg[f"finegray_{ep}"]),
                                 f"{ep.upper()}: Fine-Gray subdistribution hazards"))
    if reg["covariates_not_used"]:
        body.append(f"<p class='note'>Covariates not used (absent or constant): "
                    f"{_esc(', '.join(reg['covariates_not_used']))}.</p>")
    body += [figs("forest_cox", "wide"), figs("forest_finegray", "wide"),
             "<h2>Number of courses and immortal-time bias</h2>",
             "<p>Seed 002 found longer OS with more than three courses but warned that "
             "patients must survive to receive them (002 Limitations). The naive model treats "
             "the number of courses as known at diagnosis; the time-dependent model counts a "
             "course only from its start; the landmark analysis classifies patients alive at "
             "the landmark by the courses received by then.</p>"]
    rows = []
    for key, lab in (("naive", "naive (fixed covariate)"),
                     ("time_dependent", "time-dependent covariate"),
                     ("landmark", f"landmark {cfg.landmark_months:g} months")):
        m = it.get(key)
        if m is None:
            continue
        if "error" in m:
            rows.append([lab, "", "", m["error"], ""])
            continue
        term = next(t for t in m["hr"] if t.startswith("courses_gt3"))
        rows.append([lab, str(m.get("intervals", m["n"])), str(m["events"]),
                     _hr(m["hr"][term], m["lower"][term], m["upper"][term]),
                     format_p(m["p"][term]).removeprefix("p = ").removeprefix("p ")])
    body.append(simple_table(["analysis", "rows", "deaths", "HR > 3 courses (95% CI)", "p"],
                             rows, "Death hazard ratio for more than three courses"))
    if "note" in it:
        body.append(f"<p class='note'>{_esc(it['note'])}.</p>")
    body += [figs("forest_immortal", "wide"), figs("km_landmark")]
    data = to_json(num).replace("</", "<\\/")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_esc(cfg.title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body)
            + f"\n<script type='application/json' id='mst-report-data'>{data}</script>"
            "</body></html>\n")


def build_report(df: pd.DataFrame, cfg: ReportConfig | None = None,
                 course_days: Mapping[str, Sequence[float]] | None = None,
                 progress: Callable[[str], None] | None = None,
                 rejections: Sequence[Mapping[str, Any]] = ()) -> Report:
    """Compute, draw and render the cohort report.

    Parameters
    ----------
    df : DataFrame
        Flat analysis table.
    cfg : ReportConfig, optional
        Defaults reproduce seed 002's tables and figures.
    course_days : mapping, optional
        Patient id → course start days (enables the bias-corrected courses analyses).
    progress : callable, optional
        Called with each step's name.
    rejections : sequence of dict
        Import rejections to list in the data-quality section.

    Returns
    -------
    Report
    """
    cfg = cfg or ReportConfig()
    step = progress or (lambda _s: None)
    an = compute_report(df, cfg, course_days, step, [dict(r) for r in rejections])
    v = versions()
    an.numbers["software"] = v
    rep = Report(an.numbers, methods=methods_text(cfg, v, course_days is not None))
    rep.figures = _figures(an, cfg, step)
    step("HTML")
    rep.html = render_html(rep, cfg)
    return rep


def wrap(text: str, width: int = 100) -> str:
    """Wrap a paragraph (for the PDF text pages)."""
    return "\n".join(textwrap.wrap(text, width))


def numbers_from_html(text: str) -> dict[str, Any]:
    """Read back the JSON block embedded in a report's HTML."""
    start = text.index("id='mst-report-data'>") + len("id='mst-report-data'>")
    end = text.index("</script>", start)
    return json.loads(text[start:end].replace("<\\/", "</"))
