"""The peer of the report benchmarks (report.py, report_stages.py): pandas + lifelines.

KM curves of OS and LFS by age group with log-rank tests, two SVG figures, from the flat
table — a lower bound on what any report must do. ``python _km_peer.py TABLE.csv`` runs it
on a flat table file (as report.py times it, in its own process).
"""

from __future__ import annotations

import io
import sys


def km_peer(df):  # type: ignore[no-untyped-def]
    """Draw the two KM figures (lifelines) and run the two log-rank tests of ``df``."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from matplotlib.figure import Figure

    for ep in ("os", "lfs"):
        sub = df[df[f"{ep}_months"].notna() & df["age_group"].notna()]
        fig = Figure(figsize=(6.4, 4.6))
        ax = fig.add_subplot()
        for lab, g in sub.groupby("age_group"):
            kmf = KaplanMeierFitter()
            kmf.fit(g[f"{ep}_months"].astype(float), g[f"{ep}_event"].astype(int), label=lab)
            kmf.plot_survival_function(ax=ax, show_censors=True)
        multivariate_logrank_test(sub[f"{ep}_months"].astype(float), sub["age_group"],
                                  sub[f"{ep}_event"].astype(int))
        fig.savefig(io.StringIO(), format="svg")


if __name__ == "__main__":
    import pandas as pd

    km_peer(pd.read_csv(sys.argv[1]))
