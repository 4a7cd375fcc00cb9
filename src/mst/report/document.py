"""The report's content, once: sections of paragraphs, tables and figures with human labels.

The HTML and the PDF are two renderings of the same :class:`Document` (Jinja2 templates in
``mst/report/templates``); labels, level order and reference levels come from the shared
label table (:mod:`mst.labels`), so the report, the web app and the statistics printouts
name things the same way. The numbers are never changed here — only formatted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mst.labels import column, level_label, order_levels
from mst.report.config import ReportConfig
from mst.report.figures import format_p

ALL = "All patients"


@dataclass
class Row:
    """One table row: ``kind`` is ``var`` (a variable's first line), ``level`` (indented)
    or ``plain``."""

    cells: list[str]
    kind: str = "plain"


@dataclass
class Table:
    """A captioned table."""

    id: str
    caption: str
    header: list[str]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    kind: str = "table"


@dataclass
class Fig:
    """A captioned figure; ``svg`` is filled by the renderer's caller."""

    id: str
    caption: str
    svg: str = ""
    file: str = ""


@dataclass
class Para:
    """A paragraph (``note`` = smaller, grey)."""

    text: str
    kind: str = "text"


Block = Table | Fig | Para


@dataclass
class Section:
    """A titled section."""

    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """Everything the report shows, in order."""

    title: str
    sections: list[Section]


def p_text(p: float | None) -> str:
    """p-value as printed in a table: ``0.012``, ``< 0.001``, ``NA``."""
    return format_p(p).removeprefix("p = ").removeprefix("p ")


def num(x: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals, ``NA`` when missing."""
    return "NA" if x is None else f"{x:.{digits}f}"


def pct(x: float | None) -> str:
    """A proportion as a percentage with one decimal."""
    return "NA" if x is None else f"{100 * x:.1f}"


def var_title(name: str) -> str:
    """Label of a variable with its unit."""
    return column(name).title


def group_order(by: str, groups: Sequence[str]) -> list[str]:
    """Groups in clinical order (``60–70`` before ``> 70``)."""
    return [str(g) for g in order_levels(by, list(groups))]


def group_head(by: str, g: str, n: Mapping[str, int] | None = None) -> str:
    """Column header of one group, e.g. ``60–70 (n = 20)``."""
    lab = ALL if g == ALL else level_label(by, g)
    return lab if n is None else f"{lab} (n = {n.get(g, 0)})"


_INT_DEC = re.compile(r"(\d+)\.00\b")


def _fmt_range(v: list[float | None], integer: bool) -> str:
    d = 0 if integer else 2
    return f"{num(v[0], d)} ({num(v[1], d)}–{num(v[2], d)})"


def describe_table(tab: Mapping[str, Any], tid: str, caption: str, by: str,
                   extras: Mapping[str, Any]) -> Table:
    """Table 1 / Table 2 / adverse events from their ``to_dict`` form, with labels."""
    groups = group_order(by, tab["groups"])
    cols = [ALL, *groups]
    header = ["Variable", *[group_head(by, c, tab["n"]) for c in cols], "p", "Test"]
    rows: list[Row] = []
    notes: list[str] = []
    for r in tab["variables"]:
        v = r["variable"]
        lab = var_title(v)
        ex = extras.get(v, {})
        if r["kind"] == "categorical":
            rows.append(Row([f"{lab}, n (%)", *[""] * len(cols), p_text(r["p"]), r["test"]],
                            "var"))
            levels = {str(lv["level"]): lv for lv in r["levels"]}
            for key in order_levels(v, list(levels)):
                lv = levels[str(key)]
                rows.append(Row([level_label(v, key), *[str(lv.get(c, "")) for c in cols],
                                 "", ""], "level"))
        elif "student_t" in ex and "mean_sd" in ex:
            ms = ex["mean_sd"]
            cells = [f"{num(ms[c][0])} ± {num(ms[c][1])}" if c in ms else "" for c in cols]
            t = ex["student_t"]
            rows.append(Row([f"{lab}, mean ± SD", *cells, p_text(t["p"]), t["test"]], "var"))
            notes.append(f"{lab}: {t['test']} as in 002 Table 1; the table1 default "
                         f"({r['test']}, {r['summary']}) gives p {p_text(r['p'])}.")
        elif "median_range" in ex:
            mr = ex["median_range"]
            integer = column(v).format == "integer"
            cells = [_fmt_range(mr[c], integer) if c in mr else "" for c in cols]
            rows.append(Row([f"{lab}, median (range)", *cells, p_text(r["p"]), r["test"]],
                            "var"))
        else:
            vals = [str(r["values"].get(c, "")) for c in cols]
            if column(v).format == "integer":
                vals = [_INT_DEC.sub(r"\1", x) for x in vals]
            summary = r["summary"].replace("Q1", "Q₁").replace("Q3", "Q₃")
            rows.append(Row([f"{lab}, {summary}", *vals, p_text(r["p"]), r["test"]], "var"))
        if r.get("n_missing"):
            rows[-1 if r["kind"] != "categorical" else -1 - len(r["levels"])].cells[0] += (
                f" [{r['n_missing']} missing]")
    return Table(tid, caption, header, rows, notes)


def rates_table(num_: Mapping[str, Any], cfg: ReportConfig) -> Table:
    """Median and rates at the years (KM; CIF for relapse and NRM), all patients first."""
    unit = cfg.time_unit
    header = ["Endpoint", "Group", "n", "Events", f"Median, {unit} (range)",
              *[f"{y:g}-year, % (95% CI)" for y in cfg.years], "Test"]
    rows: list[Row] = []
    names = {"os": "Overall survival", "lfs": "Leukemia-free survival",
             "cir": "Cumulative incidence of relapse", "nrm": "Non-relapse mortality"}
    for ep in ("os", "lfs"):
        blocks = num_["km"].get(ep, {})
        test = blocks.get(cfg.by, {}).get("logrank")
        first = True
        for key, b in (("all", blocks.get("all")), (cfg.by, blocks.get(cfg.by))):
            if b is None:
                continue
            for g in group_order(cfg.by if key != "all" else "", list(b["groups"])):
                d = b["groups"][g]
                rng = d.get("time_range") or [None, None]
                med = "not reached" if d["median"] is None else num(d["median"], 1)
                if key == "all":
                    med += f" ({num(rng[0], 1)}–{num(rng[1], 1)})"
                rates = [f"{pct(s)} ({pct(lo)}–{pct(hi)})" for s, lo, hi in
                         zip(d["at"]["survival"], d["at"]["lower"], d["at"]["upper"],
                             strict=True)]
                t = (f"log-rank {format_p(test['p'])}" if key != "all" and test and first
                     else "")
                if key != "all":
                    first = False
                rows.append(Row([names[ep], ALL if key == "all" else level_label(cfg.by, g),
                                 str(d["n"]), str(d["events"]), med, *rates, t],
                                "var" if key == "all" else "level"))
    for ep in ("cir", "nrm"):
        b = num_["cif"].get(ep)
        if b is None:
            continue
        for i, g in enumerate(group_order(cfg.by, list(b["groups"]))):
            d = b["groups"][g]
            rates = [f"{pct(s)} ({pct(lo)}–{pct(hi)})" for s, lo, hi in
                     zip(d["at"]["cif"], d["at"]["lower"], d["at"]["upper"], strict=True)]
            t = f"Gray {format_p(b['gray']['p'])}" if i == 0 and b.get("gray") else ""
            rows.append(Row([names[ep], level_label(cfg.by, g), str(d["n"]), str(d["events"]),
                             "", *rates, t], "level"))
    return Table("rates", "Table 2 (continued). Survival and cumulative incidence at "
                 + ", ".join(f"{y:g}" for y in cfg.years) + " year(s)", header, rows,
                 ["Median OS of all patients with the range of observed times (002 Results); "
                  "CIR and NRM from the date of CR with the other as competing risk."])


_TERM = re.compile(r"^(?P<cov>[^\[]+)\[(?P<lev>.*)\]$")


def hr_scale(cov: str) -> float:
    """Units per reported HR step (``hr_per`` of the label table, e.g. 10 years)."""
    return float(column(cov).hr_per or 1.0)


def term_label(term: str, references: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(covariate, human label of the term, level) of a model term."""
    m = _TERM.match(term)
    if m:
        cov, lev = m.group("cov"), m.group("lev")
        return cov, level_label(cov, lev), lev
    col = column(term)
    if col.levels and set(col.levels) == {"False", "True"}:
        return term, f"{col.label}: {level_label(term, True)} (vs {level_label(term, False)})", None
    per = hr_scale(term)
    unit = col.unit or "units"
    return term, col.title if per == 1 else f"{col.label} (per {per:g} {unit})", None


def _hr(h: float | None, lo: float | None, hi: float | None, per: float = 1.0) -> str:
    if h is None:
        return "NA"
    return (f"{num(h ** per)} ({num(None if lo is None else lo ** per)}–"
            f"{num(None if hi is None else hi ** per)})")


def model_table(tid: str, caption: str, uni: Sequence[Mapping[str, Any]] | None,
                multi: Mapping[str, Any] | None, references: Mapping[str, str],
                ratio: str) -> Table:
    """Univariate and multivariate model side by side, reference levels shown."""
    header = ["Variable", f"Univariate {ratio} (95% CI)", "p",
              f"Multivariate {ratio} (95% CI)", "p"]
    rows: list[Row] = []
    notes: list[str] = []
    uni_by = {str(r["term"]): r for r in (uni or [])}
    terms = list(dict.fromkeys([*uni_by, *((multi or {}).get("hr", {}) or {})]))
    seen: set[str] = set()
    for t in terms:
        cov, lab, lev = term_label(t, references)
        per = hr_scale(cov) if lev is None else 1.0
        if lev is not None and cov not in seen:
            seen.add(cov)
            rows.append(Row([var_title(cov), "", "", "", ""], "var"))
            if cov in references:
                rows.append(Row([f"{level_label(cov, references[cov])} (reference)", "1.00",
                                 "", "1.00", ""], "level"))
        u = uni_by.get(t)
        if u is not None and u.get("hr") is None:
            ucells = [u.get("error", "not estimable"), ""]
        elif u is not None:
            ucells = [_hr(u["hr"], u.get("lower"), u.get("upper"), per), p_text(u.get("p"))]
        else:
            ucells = ["", ""]
        if multi and "hr" in multi and t in multi["hr"]:
            mcells = [_hr(multi["hr"][t], multi["lower"][t], multi["upper"][t], per),
                      p_text(multi["p"][t])]
        else:
            mcells = ["", ""]
        rows.append(Row([lab, *ucells, *mcells], "level" if lev is not None else "var"))
        if per != 1.0:
            notes.append(f"{column(cov).label}: {ratio} per {per:g} {column(cov).unit or 'units'}"
                         f" (the per-unit ratio raised to the power {per:g}).")
    if multi and "error" in multi:
        notes.append(f"Multivariate model not estimable: {multi['error']}")
    elif multi:
        notes.append(f"Multivariate model: {multi.get('n')} patients, {multi.get('events')} "
                     "events.")
    return Table(tid, caption, header, rows, notes)


def courses_table(it: Mapping[str, Any], cfg: ReportConfig) -> Table:
    """Naive vs time-dependent vs landmark hazard ratios of more than three courses."""
    rows: list[Row] = []
    for key, lab in (("naive", "Naive (courses known at diagnosis)"),
                     ("time_dependent", "Time-dependent covariate"),
                     ("landmark", f"Landmark at {cfg.landmark_months:g} months")):
        m = it.get(key)
        if m is None:
            continue
        if "error" in m:
            rows.append(Row([lab, "", "", m["error"], ""]))
            continue
        term = next(t for t in m["hr"] if t.startswith("courses_gt3"))
        rows.append(Row([lab, str(m.get("intervals", m["n"])), str(m["events"]),
                         _hr(m["hr"][term], m["lower"][term], m["upper"][term]),
                         p_text(m["p"][term])]))
    notes = [it["note"] + "."] if it.get("note") else []
    return Table("courses", "Death hazard ratio for more than three MST courses: naive and "
                 "immortal-time-safe analyses (002 Limitations)",
                 ["Analysis", "Rows", "Deaths", "HR > 3 courses (95% CI)", "p"], rows, notes)


def quality_blocks(q: Mapping[str, Any], num_: Mapping[str, Any]) -> list[Block]:
    """The data-quality section: what was excluded, skipped, treated as missing, rejected."""
    out: list[Block] = [Para(
        f"{q['n_input']} rows read; {q['n_excluded']} excluded from every analysis; "
        f"{q['n_inconsistent']} inconsistent (kept); {len(q.get('invalid_cells', []))} "
        f"cell(s) treated as missing; {len(q.get('skipped', []))} analysis(es) skipped; "
        f"{len(q['import_rejections'])} import rejection(s).")]
    not_rep = [var_title(v) + f" ({v})" for v in
               num_.get("table1_not_reported", []) + num_.get("table2_not_reported", [])
               + num_.get("adverse_events_not_reported", [])]
    if num_.get("not_available"):
        out.append(Para("Endpoints not available (columns absent or empty): "
                        + "; ".join(num_["not_available"]) + ".", "note"))
    if not_rep:
        out.append(Para("Not reported (column absent or empty): " + ", ".join(not_rep) + ".",
                        "note"))
    reg = num_.get("regression", {})
    if reg.get("covariates_not_used"):
        out.append(Para("Covariates not used in the models (absent or constant): "
                        + ", ".join(var_title(c) for c in reg["covariates_not_used"]) + ".",
                        "note"))

    def tab(tid: str, cap: str, head: list[str], rows: list[list[Any]]) -> None:
        shown = rows[:200]
        notes = [f"First 200 of {len(rows)} shown; all are in the JSON."] if len(rows) > 200 \
            else []
        out.append(Table(tid, cap, head, [Row([str(c) for c in r]) for r in shown], notes,
                         "quality"))

    if q.get("skipped"):
        tab("q_skipped", "Analyses skipped", ["Analysis", "Why"],
            [[r["analysis"], r["reason"]] for r in q["skipped"]])
    if q.get("invalid_cells"):
        tab("q_invalid", "Cells treated as missing", ["Row", "Patient", "Column", "Value",
                                                      "Issue"],
            [[r["row"], r["patient_id"], r["column"], r["value"], r["issue"]]
             for r in q["invalid_cells"]])
    if q["excluded"]:
        tab("q_excluded", "Excluded rows", ["Row", "Patient", "Reason"],
            [[r["row"], r["patient_id"], r["issue"]] for r in q["excluded"]])
    if q["inconsistent"]:
        tab("q_inconsistent", "Inconsistent rows (kept)", ["Row", "Patient", "Issue"],
            [[r["row"], r["patient_id"], r["issue"]] for r in q["inconsistent"]])
    if q["import_rejections"]:
        tab("q_rejected", "Rows rejected at import", ["Row", "Column", "Value", "Rule"],
            [[r["row"], r["column"], r["value"], r["rule"]] for r in q["import_rejections"]])
    return out


def followup_text(fu: Mapping[str, Any] | None, unit: str) -> str:
    """Median follow-up (reverse KM) with its CI and the range among patients alive."""
    if fu is None:
        return "Median follow-up: not available (no OS columns)."
    rng = fu.get("range_alive") or [None, None]
    return (f"Median follow-up (reverse Kaplan–Meier): {num(fu['median'], 1)} {unit} "
            f"(95% CI {num(fu['lower'], 1)}–{num(fu['upper'], 1)}; range of follow-up among "
            f"patients alive {num(rng[0], 1)}–{num(rng[1], 1)} {unit}).")


def build_document(numbers: Mapping[str, Any], cfg: ReportConfig, methods: str,
                   figures: Sequence[tuple[str, str]]) -> Document:
    """Arrange the numbers and figures (``(id, caption)``) into the report's sections."""
    n = numbers
    reg = n.get("regression", {})
    refs = reg.get("references", {})
    ex = n.get("table_extras", {})
    figs = {fid: Fig(fid, cap) for fid, cap in figures}

    def fig_blocks(prefix: str) -> list[Block]:
        return [f for fid, f in figs.items() if fid.startswith(prefix)]

    by = var_title(cfg.by)
    intro = [Para(f"{n['n']} patients analysed, grouped by {by}. "
                  + followup_text(n.get("followup"), cfg.time_unit))]
    s: list[Section] = [
        Section("Summary", intro),
        Section("Statistical methods", [Para(methods)]),
        Section("Data quality", quality_blocks(n["quality"], n)),
        Section("Table 1. Patient and donor characteristics",
                [describe_table(n["table1"], "table1", f"Table 1. Patient and donor "
                                f"characteristics by {by.lower()}", cfg.by, ex)]),
        Section("Table 2. Outcomes",
                [describe_table(n["table2"], "table2", f"Table 2. Outcomes by {by.lower()}",
                                cfg.by, ex), rates_table(n, cfg)]),
    ]
    if n.get("adverse_events", {}).get("variables"):
        s.append(Section("Supplementary Table 1. Adverse events", [describe_table(
            n["adverse_events"], "adverse_events", "Supplementary Table 1. Patients with at "
            f"least one adverse event by {by.lower()}", cfg.by, ex)]))
    s.append(Section("Figure 2. Overall and leukemia-free survival",
                     fig_blocks("km_os") + fig_blocks("km_lfs")))
    s.append(Section("Figure 3. Relapse and non-relapse mortality (competing risks)",
                     fig_blocks("cif_")))
    models: list[Block] = []
    for ep, name in (("os", "overall survival"), ("lfs", "leukemia-free survival")):
        if f"cox_{ep}_univariate" in reg or f"cox_{ep}_multivariate" in reg:
            models.append(model_table(
                f"cox_{ep}", f"Cox proportional hazards models of {name}",
                reg.get(f"cox_{ep}_univariate"), reg.get(f"cox_{ep}_multivariate"), refs,
                "HR"))
    for ep, name in (("cir", "relapse"), ("nrm", "non-relapse mortality")):
        if f"finegray_{ep}_univariate" in reg or f"finegray_{ep}" in reg:
            models.append(model_table(
                f"finegray_{ep}", f"Fine–Gray subdistribution hazards models of {name}",
                reg.get(f"finegray_{ep}_univariate"), reg.get(f"finegray_{ep}"), refs,
                "SHR"))
    s.append(Section("Supplementary Figure 1. Univariate and multivariate regression",
                     models + fig_blocks("forest_cox") + fig_blocks("forest_finegray")))
    s.append(Section("Number of courses and immortal-time bias", [
        Para("Seed 002 found longer OS with more than three courses but warned that patients "
             "must survive to receive them (002 Limitations). The naive model treats the "
             "number of courses as known at diagnosis; the time-dependent model counts a "
             "course only from its start; the landmark analysis classifies patients alive at "
             "the landmark by the courses received by then."),
        courses_table(n.get("immortal_time", {}), cfg),
        *fig_blocks("forest_immortal"), *fig_blocks("km_landmark")]))
    if n.get("omics"):  # issue 17: optional transcriptomics section (mst report --omics)
        from mst.report.omics import SECTION_TITLE, omics_blocks

        s.append(Section(SECTION_TITLE, omics_blocks(n["omics"], figs)))
    return Document(cfg.title, s)
