"""The multi-center outcome report computed from aggregates only (one HTML page)."""

from __future__ import annotations

import html
from typing import Any

from mst.federated.analyses import Options

#: the analyses of the report (seed 002's endpoints on the flat analysis table)
REPORT_ANALYSES: list[dict[str, Any]] = [
    {
        "analysis": "table1",
        "options": Options(
            by="age_group", variables=["sex", "diagnosis", "eln_risk", "fitness", "cr"]
        ),
    },
    {
        "analysis": "km",
        "options": Options(time="os_months", event="os_event", group="age_group", at=[12.0, 36.0]),
    },
    {
        "analysis": "cif",
        "options": Options(
            time="crs_months", status="crs_status", cause=1, group="age_group", at=[12.0, 36.0]
        ),
    },
    {
        "analysis": "cox",
        "options": Options(
            time="os_days",
            event="os_event",
            covariates=["age_group", "courses_gt3"],
            strata="center_id",
            robust=True,
        ),
    },
    {
        "analysis": "finegray",
        "options": Options(
            time="crs_days", status="crs_status", cause=1, covariates=["age_group", "courses_gt3"]
        ),
    },
]

_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .6em;"
    "text-align:right}th:first-child,td:first-child{text-align:left}.note{color:#555}"
)


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "NA"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return html.escape(str(x))


def _table(head: list[str], rows: list[list[Any]]) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{_f(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _model(p: dict[str, Any], title: str) -> str:
    rows = [[k, p["hr"][k], p["lower"][k], p["upper"][k], p["p"][k]] for k in p["coef"]]
    c = p.get("concordance", "absent")
    conc = (
        ""
        if c == "absent"
        else f", concordance (Harrell's C) = {_f(c) if c is not None else 'not released'}"
    )
    head = f"<h2>{html.escape(title)}</h2><p>n = {p['n']}, events = {p['events']}{conc}</p>"
    return head + _table(["covariate", "HR", "lower 95%", "upper 95%", "p"], rows)


def render_report(results: list[dict[str, Any]], info: dict[str, Any]) -> str:
    """HTML of the report: results of :data:`REPORT_ANALYSES` and how they were obtained."""
    t1, km, cif, cox, fg = results
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Federated outcome report</title><style>{_CSS}</style></head><body>"
    ]
    parts.append("<h1>Multi-center outcome report (federated)</h1>")
    pol = info.get("policies", {})
    coarse = sorted({str(p.get("coarsen_months")) for p in pol.values() if p.get("coarsen_months")})
    parts.append(
        "<p class='note'>Computed from aggregates only: no patient row left any center. "
        f"Centers: {html.escape(', '.join(info['centers']))}. "
        + (
            "<strong>Left out (did not answer): "
            f"{html.escape(', '.join(info['missing_centers']))}.</strong> "
            if info.get("missing_centers")
            else ""
        )
        + f"Engine: {html.escape(str(info.get('engine', '')))}; {info.get('queries')} queries, "
        f"{info.get('bytes_from_nodes')} bytes received.</p>"
    )
    parts.append(
        _table(
            ["center", "minimum cell count", "time grid (months)"],
            [
                [c, p.get("min_cell"), p.get("coarsen_months") or "exact"]
                for c, p in sorted(pol.items())
            ],
        )
    )
    for note in info.get("notes") or []:
        parts.append(f"<p class='note'><strong>{html.escape(str(note))}</strong></p>")
    if coarse:
        parts.append(
            "<p class='note'><strong>Times were coarsened to a grid of "
            f"{html.escape(', '.join(coarse))} months at one or more centers: the results "
            "equal the pooled analysis of the coarsened times, not of the exact ones.</strong></p>"
        )
    parts.append(f"<h2>Table 1 by {html.escape(t1['by'])}</h2>")
    rows = []
    for v in t1["variables"]:
        rows.append([v["variable"], "", *["" for _ in t1["groups"]], v["p"], v["test"]])
        for lv in v["levels"]:
            rows.append(
                [
                    f"  {lv['level']}",
                    lv.get("All patients", ""),
                    *[lv.get(g, "") for g in t1["groups"]],
                    "",
                    "",
                ]
            )
    parts.append(_table(["variable", "all", *t1["groups"], "p", "test"], rows))
    parts.append("<h2>Overall survival (Kaplan–Meier)</h2>")
    parts.append(
        _table(
            ["group", "n", "events", "median (months)", "S(12)", "S(36)"],
            [
                [g, b["n"], b["events"], b["median"], *b["at"]["survival"]]
                for g, b in km["groups"].items()
            ],
        )
    )
    if "logrank" in km:
        parts.append(f"<p>{html.escape(km['logrank']['test'])}: p = {_f(km['logrank']['p'])}</p>")
    parts.append("<h2>Cumulative incidence of relapse (Aalen–Johansen)</h2>")
    parts.append(
        _table(
            ["group", "n", "events", "F(12)", "F(36)"],
            [[g, b["n"], b["events"], *b["at"]["cif"]] for g, b in cif["groups"].items()],
        )
    )
    if "gray" in cif:
        parts.append(f"<p>{html.escape(cif['gray']['test'])}: p = {_f(cif['gray']['p'])}</p>")
    parts.append(_model(cox, "Cox model of overall survival (strata: center; robust SE)"))
    parts.append(_model(fg, "Fine–Gray model of relapse"))
    parts.append("</body></html>")
    return "\n".join(parts)
