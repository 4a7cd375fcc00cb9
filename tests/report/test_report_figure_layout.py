"""Fixed figure layout (issue 16, items 5-6): everything inside the figure without the tight
crop, legend above the plot, risk-table text at 9 pt, SVG text kept as text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mst.report.figures import SMALL_PT, forest_figure, km_figure, svg
from mst.stats import kaplan_meier

LONG = "Donor older than the recipient's sibling median (exploratory)"


def _inside(fig) -> None:  # type: ignore[no-untyped-def]
    renderer = FigureCanvasAgg(fig).get_renderer()
    box = fig.get_tightbbox(renderer)  # inches
    w, h = fig.get_size_inches()
    assert box.x0 >= -0.01 and box.y0 >= -0.01, box
    assert box.x1 <= w + 0.01 and box.y1 <= h + 0.01, (box, w, h)


@pytest.mark.parametrize("labels", [("A", "B"), ("A", LONG, "C", "D")])
def test_km_figure_fits_without_crop(labels: tuple[str, ...]) -> None:
    rng = np.random.default_rng(3)
    n = 400
    group = np.array(labels)[rng.integers(0, len(labels), n)]
    time = rng.exponential(30.0, n).round(1) + 0.1
    event = (rng.random(n) < 0.7).astype(int)
    res = kaplan_meier(time, event, group)
    fig = km_figure(res, (time, event, group), "Overall survival by a long grouping", "months",
                    p_text="log-rank p < 0.001")
    _inside(fig)
    ax, axt = fig.axes
    renderer = FigureCanvasAgg(fig).get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y0 >= ax.get_window_extent(renderer).y1 - 1  # above the curves
    assert all(t.get_fontsize() >= 8 for t in axt.texts)
    assert min(t.get_fontsize() for t in axt.texts) == SMALL_PT
    text = svg(fig)
    assert "Number at risk" in text and "<text" in text  # text, not paths
    w = fig.get_size_inches()[0]
    view = text[text.index('viewBox="') + 9:].split('"')[0].split()
    assert float(view[2]) == pytest.approx(72 * w)  # the figure as laid out, no crop
    assert (w == pytest.approx(6.3)) == (LONG not in labels)  # long labels widen it


def test_forest_figure_widens_for_long_terms() -> None:
    data = pd.DataFrame({"model": ["m"] * 2, "term": [LONG + ": Yes (vs No)", "Age (per 10 years)"],
                         "hr": [0.5, 1.2], "lower": [0.3, 1.0], "upper": [0.8, 1.5],
                         "p": [0.004, 0.04]})
    fig = forest_figure(data, "Overall survival, multivariate Cox")
    _inside(fig)
    assert fig.get_size_inches()[0] > 6.3
    short = forest_figure(data.assign(term=["Yes", "Age"]), "OS")
    _inside(short)
    assert short.get_size_inches()[0] == pytest.approx(6.3)
