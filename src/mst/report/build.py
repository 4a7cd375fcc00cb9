"""Assemble the report: figures, HTML (self-contained, numbers embedded as JSON) and PDF."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from mst.report.compute import Analyses, compute_report
from mst.report.config import ReportConfig
from mst.report.document import Document, build_document, term_label
from mst.report.figures import cif_figure, forest_figure, format_p, km_figure

ALL = "All patients"


def _lab(key: str) -> str:
    from mst.labels import label

    return "all patients" if key == "all" else label(key).lower()


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

    def document(self, cfg: ReportConfig | None = None) -> Document:
        """The report's content (sections, tables with labels, figure captions)."""
        from mst.report.config import load_config

        cfg = cfg or load_config(None, **self.numbers["config"])
        return build_document(self.numbers, cfg, self.methods,
                              [(fid, cap) for fid, cap, _f in self.figures])

    def write_pdf(self, path: str | Path) -> None:
        """Typeset the PDF with Typst from the same content as the HTML (A4, real tables,
        captions, page numbers, figures with selectable text)."""
        from mst.report.render import write_pdf

        write_pdf(self.document(), {fid: f for fid, _c, f in self.figures}, path)


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
        "hazards model (subdistribution hazard ratios, SHR). Univariate and multivariate Cox "
        "proportional hazards models (Efron "
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


def _level_names(col: str, keys: Sequence[str]) -> dict[str, str]:
    from mst.labels import level_label, order_levels

    return {str(k): ("All patients" if col == "all" else level_label(col, k))
            for k in order_levels(col, list(keys))}


def _forest_labelled(d: pd.DataFrame, refs: Mapping[str, str]) -> pd.DataFrame:
    """Forest rows with human term labels; ratios per ``hr_per`` units (e.g. 10 years)."""
    from mst.report.document import hr_scale

    out = d.copy()
    labs, per = [], []
    for t in out["term"].astype(str):
        cov, lab, lev = term_label(t, refs)
        labs.append(lab if lev is None else f"{lab} (vs {refs.get(cov, 'reference')})")
        per.append(hr_scale(cov) if lev is None else 1.0)
    k = pd.Series(per, index=out.index)
    for c in ("hr", "lower", "upper"):
        out[c] = out[c].astype(float) ** k
    out["term"] = labs
    return out


class _Figs(list):  # type: ignore[type-arg]
    """Figures; one that cannot be drawn is listed under "Analyses skipped", never fatal."""

    def __init__(self, skipped: list[dict[str, str]]) -> None:
        super().__init__()
        self.skipped = skipped

    def append(self, item: Any) -> None:
        fid, cap, make = item
        try:
            fig = make() if callable(make) else make
        except (ValueError, TypeError, ArithmeticError, KeyError, IndexError):
            self.skipped.append({"analysis": f"figure: {cap}",
                                 "reason": "could not be drawn from these values"})
            return
        super().append((fid, cap, fig))


def _figures(an: Analyses, cfg: ReportConfig, progress: Callable[[str], None]
             ) -> list[tuple[str, str, Figure]]:
    from mst.labels import level_label

    num = an.numbers
    figs = _Figs(num["quality"].setdefault("skipped", []))
    progress("figures")
    refs = num.get("regression", {}).get("references", {})
    for ep, name in (("os", "Overall survival"), ("lfs", "Leukemia-free survival")):
        for key in [k for (e, k) in an.km if e == ep]:
            b = num["km"][ep][key]
            p = None if "logrank" not in b else f"log-rank {format_p(b['logrank']['p'])}"
            title = f"{name} by {_lab(key)}"
            figs.append((f"km_{ep}_{key}", f"{title} (Kaplan–Meier, pointwise 95% CI; "
                         "marks: censored)",
                         lambda ep=ep, key=key, title=title, p=p, b=b: km_figure(
                             an.km[(ep, key)], an.km_data[(ep, key)], title, cfg.time_unit, p,
                             names=_level_names(key, list(b["groups"])))))
    for ep, name in (("cir", "Cumulative incidence of relapse"),
                     ("nrm", "Non-relapse mortality")):
        if ep not in num["cif"]:
            continue
        b = num["cif"][ep]
        p = None if "gray" not in b else f"Gray's test {format_p(b['gray']['p'])}"
        title = f"{name} by {_lab(cfg.by)}"
        figs.append((f"cif_{ep}", f"{title} (Aalen–Johansen, competing risk: "
                     f"{'death without relapse' if ep == 'cir' else 'relapse'})",
                     lambda ep=ep, title=title, p=p, b=b: cif_figure(
                         an.cif[ep], an.cif_data[ep], title, cfg.time_unit, p,
                         names=_level_names(cfg.by, list(b["groups"])))))
    ref_names = {k: level_label(k, v) for k, v in refs.items()}
    for key, title, xlabel in (
            ("cox_os", "Overall survival, multivariate Cox", "Hazard ratio"),
            ("cox_lfs", "Leukemia-free survival, multivariate Cox", "Hazard ratio"),
            ("finegray_cir", "Relapse, Fine–Gray", "Subdistribution hazard ratio"),
            ("finegray_nrm", "Non-relapse mortality, Fine–Gray", "Subdistribution hazard ratio"),
            ("immortal_time", "More than three courses: naive vs bias-corrected",
             "Hazard ratio")):
        if key in an.forest and len(an.forest[key]):
            figs.append((f"forest_{key}", f"{title} ({xlabel.lower()}s with 95% CI)",
                         lambda key=key, title=title, xlabel=xlabel: forest_figure(
                             _forest_labelled(an.forest[key], ref_names), title, xlabel)))
    if ("landmark", "courses_gt3_lm") in an.km:
        b = num["immortal_time"]["landmark_km"]
        p = None if "logrank" not in b else f"log-rank {format_p(b['logrank']['p'])}"
        title = f"OS from the {cfg.landmark_months:g}-month landmark by courses received"
        figs.append(("km_landmark", title,
                     lambda: km_figure(an.km[("landmark", "courses_gt3_lm")],
                                       an.km_data[("landmark", "courses_gt3_lm")], title,
                                       cfg.time_unit, p,
                                       names=_level_names("courses_gt3_lm",
                                                          list(b["groups"])))))
    return list(figs)


def _omics_figures(omics: Any, skipped: list[dict[str, str]]) -> list[tuple[str, str, Figure]]:
    """The omics panels (section "Figure 4"), each drawn or listed as skipped."""
    from mst.report.omics import omics_figures

    figs = _Figs(skipped)
    for item in omics_figures(omics):
        figs.append(item)
    return list(figs)


def render_html(rep: Report, cfg: ReportConfig) -> str:
    """The self-contained HTML page (Jinja2 template, same content as the PDF)."""
    from mst.jsonout import to_json
    from mst.report.render import render_html as _render

    return _render(rep.document(cfg), {fid: f for fid, _c, f in rep.figures},
                   to_json(rep.numbers))


def build_report(df: pd.DataFrame, cfg: ReportConfig | None = None,
                 course_days: Mapping[str, Sequence[float]] | None = None,
                 progress: Callable[[str], None] | None = None,
                 rejections: Sequence[Mapping[str, Any]] = (),
                 omics: Any = None) -> Report:
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
    omics : mst.omics.result.OmicsResult, optional
        A transcriptomic comparison (``mst omics … --result``): adds the section
        "Figure 4. Transcriptomic profiling" and the key ``omics`` of the numbers.

    Returns
    -------
    Report
    """
    return _build(df, cfg or ReportConfig(), course_days, progress or (lambda _s: None),
                  rejections, omics)


def _build(df: pd.DataFrame, cfg: ReportConfig,
           course_days: Mapping[str, Sequence[float]] | None, step: Callable[[str], None],
           rejections: Sequence[Mapping[str, Any]], omics: Any) -> Report:
    an = compute_report(df, cfg, course_days, step, [dict(r) for r in rejections])
    v = versions()
    an.numbers["software"] = v
    rep = Report(an.numbers, methods=methods_text(cfg, v, course_days is not None))
    rep.figures = _figures(an, cfg, step)
    if omics is not None:
        from mst.omics.result import summary

        step("omics")
        an.numbers["omics"] = summary(omics)
        rep.figures += _omics_figures(omics, an.numbers["quality"].setdefault("skipped", []))
    step("HTML")
    rep.html = render_html(rep, cfg)
    return rep


def numbers_from_html(text: str) -> dict[str, Any]:
    """Read back the JSON block embedded in a report's HTML."""
    marker = 'id="mst-report-data">'
    start = text.index(marker) + len(marker)
    end = text.index("</script>", start)
    return json.loads(text[start:end].replace("<\\/", "</"))
