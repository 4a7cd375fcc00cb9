"""Chart layout: legends below the plot, no clipped dates, human labels from mst.labels."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from mst.web.charts import Series, StepCurve, step_chart, time_chart
from mst.web.cohort_view import GROUPINGS, CohortFilters, cohort_outcomes


def _plot_bottom(svg: str) -> float:
    m = re.search(r'class="chart-frame"', svg)
    assert m
    rect = re.search(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
    assert rect
    return float(rect.group(1)) + float(rect.group(2))


def test_legends_below_the_plot_and_dates_inside_the_chart() -> None:
    d0 = dt.date(2025, 1, 1)
    svg = time_chart(
        [Series("ANC", "#00f", [(d0, 0.1), (d0 + dt.timedelta(days=40), 2.0)])],
        title="Course 1: blood counts",
        unit="×10⁹/L",
    )
    bottom = _plot_bottom(svg)
    legend_y = [float(y) for y in re.findall(r'y="([\d.]+)"[^>]*class="chart-legend"', svg)]
    assert legend_y and min(legend_y) > bottom  # never over the lines
    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))  # type: ignore[union-attr]
    last = re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="(\w+)">2025-02-10</text>', svg)
    assert last and last[0][1] == "end" and float(last[0][0]) <= width  # not cut off
    km = step_chart(
        [StepCurve("Yes (n=3)", "#00f", [1.0, 2.0], [0.5, 0.2])],
        title="Overall survival",
        xlabel="Months",
        ylabel="Probability",
        legend_title="> 3 MST courses",
    )
    assert "&gt; 3 MST courses:" in km
    km_legend = [float(y) for y in re.findall(r'y="([\d.]+)"[^>]*class="chart-legend"', km)]
    assert min(km_legend) > _plot_bottom(km)
    assert 'transform="rotate(-90' in km  # the y label runs along the axis, not over the title


def test_cohort_labels_come_from_the_label_table() -> None:
    assert GROUPINGS["courses_gt3"] == "> 3 MST courses"
    table = pd.DataFrame(
        {
            "center_id": ["C01"] * 6,
            "age_group": ["<60"] * 6,
            "year_of_diagnosis": [2020] * 6,
            "courses_gt3": [True, False, True, False, True, False],
            "donor_sex": ["F", "M", "F", "M", None, "F"],
            "sex": ["M", "F", "M", "F", "M", "F"],
            "os_months": [5.0, 8.0, 12.0, 20.0, 30.0, 40.0],
            "os_event": [1, 1, 0, 1, 0, 1],
            "lfs_months": [None] * 6,
            "lfs_event": [None] * 6,
            "crs_months": [None] * 6,
            "crs_status": [None] * 6,
        }
    )
    out = cohort_outcomes(table, CohortFilters(by="courses_gt3"))
    assert [r["label"] for r in out["os"]["risk"]] == ["No", "Yes"]
    t1 = out["table1"]
    assert t1["by"] == "> 3 MST courses" and t1["columns"][1].startswith("No (n = 3)")
    labels = [r["label"] for r in t1["rows"]]
    assert "Donor sex, n (%)" in labels and "Female" in labels and "donor_sex" not in labels
