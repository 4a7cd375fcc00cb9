"""Benchmark: the HTML cohort report on the simulated demo cohort (10,000 patients).

Run with ``python benchmarks/report.py [n]``. The simulation is not timed. The peer is a
plain lifelines + matplotlib rendering of the same KM curves (OS and LFS by age group, with
log-rank tests) and CIF-free — a lower bound on what any report must do — timed in the same
run. Prints a table (seconds).
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def _peer(df: pd.DataFrame) -> float:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from matplotlib.figure import Figure

    t0 = time.perf_counter()
    for ep in ("os", "lfs"):
        sub = df[df[f"{ep}_months"].notna()]
        fig = Figure(figsize=(6.4, 4.6))
        ax = fig.add_subplot()
        for lab, g in sub.groupby("age_group"):
            kmf = KaplanMeierFitter()
            kmf.fit(g[f"{ep}_months"].astype(float), g[f"{ep}_event"].astype(int), label=lab)
            kmf.plot_survival_function(ax=ax, show_censors=True)
        multivariate_logrank_test(sub[f"{ep}_months"].astype(float), sub["age_group"],
                                  sub[f"{ep}_event"].astype(int))
        fig.savefig(io.StringIO(), format="svg")
    return time.perf_counter() - t0


def main() -> None:
    """Simulate, then time the report and the peer."""
    from mst.cohort import build_flat_table
    from mst.report import build_report
    from mst.simulate import simulate_cohort
    from mst.stats import course_days

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    t0 = time.perf_counter()
    cohort = simulate_cohort(n, seed=2026)
    df = build_flat_table(cohort)
    days = course_days(cohort.records)
    sim = time.perf_counter() - t0
    steps: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def step(name: str) -> None:
        now = time.perf_counter()
        if last[1]:
            steps[str(last[1])] = now - float(last[0])
        last[0], last[1] = now, name

    t0 = time.perf_counter()
    rep = build_report(df, course_days=days, progress=step)
    with tempfile.TemporaryDirectory() as d:
        rep.write_html(Path(d) / "report.html")
        step("")
        html_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        rep.write_pdf(Path(d) / "report.pdf")
        pdf_s = time.perf_counter() - t1
        size = (Path(d) / "report.html").stat().st_size
    peer = _peer(df)
    print(f"n = {n} patients (simulation + flat table, not timed: {sim:.1f} s)")
    print(f"{'task':<44}{'seconds':>10}")
    print("-" * 54)
    for k, v in steps.items():
        print(f"{'  mst report: ' + k:<44}{v:>10.2f}")
    print(f"{'mst report, HTML (all tables and figures)':<44}{html_s:>10.2f}")
    print(f"{'mst report, PDF from the built report':<44}{pdf_s:>10.2f}")
    print(f"{'peer: lifelines KM+log-rank, 2 SVG figures':<44}{peer:>10.2f}")
    print(f"HTML size {size / 1e6:.1f} MB, {len(rep.figures)} figures; target HTML < 10 s: "
          f"{'met' if html_s < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
