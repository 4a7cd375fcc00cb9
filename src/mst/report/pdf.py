"""PDF version of the report with matplotlib's PdfPages (one backend for figures and text)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from mst.report.build import Report

_A4 = (8.27, 11.69)


def _text_page(lines: list[str], title: str) -> Figure:
    fig = Figure(figsize=_A4)
    fig.text(0.07, 0.96, title, fontsize=13, weight="bold", va="top")
    fig.text(0.07, 0.93, "\n".join(lines), fontsize=6.0, va="top", family="DejaVu Sans Mono")
    return fig


def _table_lines(tab: dict[str, Any]) -> list[str]:
    cols = ["All patients", *tab["groups"]]
    w = 25
    head = f"{'Variable':<30}" + "".join(f"{c[:w - 1]:>{w}}" for c in cols) + f"{'p':>9}"
    out = [head, f"{'':<30}" + "".join(f"{'n = ' + str(tab['n'][c]):>{w}}" for c in cols),
           "-" * len(head)]
    for r in tab["variables"]:
        p = "NA" if r["p"] is None else ("<0.001" if r["p"] < 0.001 else f"{r['p']:.3f}")
        if r["kind"] == "categorical":
            out.append(f"{(r['variable'] + ', n (%)')[:29]:<30}" + " " * (w * len(cols))
                       + f"{p:>9}")
            for lev in r["levels"]:
                out.append(f"  {str(lev['level'])[:27]:<28}"
                           + "".join(f"{lev[c]!s:>{w}}" for c in cols))
        else:
            out.append(f"{r['variable'][:29]:<30}" + "".join(f"{r['values'][c][:w - 1]:>{w}}"
                                                              for c in cols) + f"{p:>9}")
            out.append(f"  {r['summary']}")
        out.append(f"    test: {r['test']}")
    return out


def write_pdf(rep: Report, path: str | Path) -> None:
    """Write the report as PDF: methods and data quality, Tables 1-2, rates, then figures."""
    from mst.report.build import rates_header, rates_rows, wrap
    from mst.report.config import load_config

    num = rep.numbers
    cfg = load_config(None, **num["config"])
    q = num["quality"]
    first = [*wrap(f"{num['n']} patients analysed, grouped by {cfg.by}.").split("\n"), "",
             "Statistical methods", *wrap(rep.methods).split("\n"), "", "Data quality",
             f"{q['n_input']} rows read; {q['n_excluded']} excluded; {q['n_inconsistent']} "
             f"inconsistent (kept); {len(q['import_rejections'])} import rejection(s)."]
    first += [f"  row {r['row']} {r['patient_id']}: {r['issue']}"
              for r in (q["excluded"] + q["inconsistent"])[:40]]
    first += [f"  import row {r['row']} {r['column']}={r['value']!s}: {r['rule']}"
              for r in q["import_rejections"][:40]]
    header = rates_header(cfg)
    body = rates_rows(num, cfg)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    rates = ["  ".join(f"{c!s:<{w}}" for c, w in zip(r, widths, strict=True))
             for r in [header, *body]]
    with PdfPages(str(path), metadata={"Title": cfg.title, "Creator": "mst report",
                                            "CreationDate": None}) as pdf:
        pdf.savefig(_text_page(first, cfg.title))
        pdf.savefig(_text_page(_table_lines(num["table1"]),
                               "Table 1. Patient and donor characteristics"))
        pdf.savefig(_text_page(_table_lines(num["table2"]) + ["", "Rates", *rates],
                               "Table 2. Outcomes"))
        for _fid, _cap, fig in rep.figures:
            pdf.savefig(fig, bbox_inches="tight")
