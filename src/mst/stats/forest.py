"""Forest-plot data (hazard ratio, confidence interval, p per covariate) for the report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError
from mst.stats.cox_model import CoxResult
from mst.stats.finegray_model import FineGrayResult

FOREST_COLUMNS = ["model", "term", "hr", "lower", "upper", "p", "n", "events"]


def forest_data(
    results: CoxResult
    | FineGrayResult
    | pd.DataFrame
    | Sequence[CoxResult | FineGrayResult | pd.DataFrame],
    labels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per covariate term: model label, term, HR, CI, p, n, events.

    Parameters
    ----------
    results : CoxResult, FineGrayResult, DataFrame, or a sequence of them
        Fitted models, or the table of :func:`mst.stats.cox_model.cox_univariate`.
    labels : sequence of str, optional
        Model labels (default ``"model 1"``, …, or ``"univariate"`` for a screening table).

    Returns
    -------
    DataFrame
        Columns ``model, term, hr, lower, upper, p, n, events``.
    """
    items = list(results) if isinstance(results, list | tuple) else [results]
    if labels is not None and len(labels) != len(items):
        raise ValidationError("labels", len(labels), f"need one label per result ({len(items)})")
    frames = []
    for k, r in enumerate(items):
        if isinstance(r, CoxResult | FineGrayResult):
            lab = labels[k] if labels else f"model {k + 1}"
            frames.append(
                pd.DataFrame(
                    {
                        "model": lab,
                        "term": r.names,
                        "hr": r.hr,
                        "lower": r.lower,
                        "upper": r.upper,
                        "p": r.p,
                        "n": r.n,
                        "events": r.events,
                    }
                )
            )
        elif isinstance(r, pd.DataFrame):
            need = {"term", "hr", "lower", "upper", "p"}
            if not need <= set(r.columns):
                raise ValidationError(
                    "results", list(r.columns), f"a table needs the columns {sorted(need)}"
                )
            ok = r["hr"].notna()
            f = r.loc[ok].copy()
            f["model"] = labels[k] if labels else "univariate"
            for c in ("n", "events"):
                if c not in f.columns:
                    f[c] = np.nan
            frames.append(f[FOREST_COLUMNS])
        else:
            raise ValidationError(
                "results",
                type(r).__name__,
                "must be a CoxResult, FineGrayResult or a screening table",
            )
    return pd.concat(frames, ignore_index=True)[FOREST_COLUMNS]


def forest_plot(data: pd.DataFrame, *, ax: Any = None, xlabel: str = "Hazard ratio") -> Any:
    """Draw a forest plot (log scale) from :func:`forest_data` output with matplotlib.

    Parameters
    ----------
    data : DataFrame
        Output of :func:`forest_data`.
    ax : matplotlib Axes, optional
        Where to draw (a new figure when omitted).
    xlabel : str
        x-axis label.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(data) + 1))
    else:
        fig = ax.figure
    y = np.arange(len(data))[::-1]
    hr = data["hr"].to_numpy(dtype=float)
    lo = data["lower"].to_numpy(dtype=float)
    hi = data["upper"].to_numpy(dtype=float)
    ax.errorbar(hr, y, xerr=[hr - lo, hi - hr], fmt="s", color="black", capsize=3)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(
        [
            f"{m}: {t}" if data["model"].nunique() > 1 else str(t)
            for m, t in zip(data["model"], data["term"], strict=True)
        ]
    )
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig
