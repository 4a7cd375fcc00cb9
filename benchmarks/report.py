"""Benchmark: the HTML cohort report on the simulated demo cohort (10,000 patients).

Run with ``python benchmarks/report.py [n]``. The simulation is not timed. Two measurements:
the documented path — ``mst report --from cohort.csv`` on an exchange file, run as a child
process and timed from the file (wall and CPU seconds, peak resident memory of the child) —
and the steps of :func:`build_report` from an in-memory flat table. The peer is a
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


def _from_file(path: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``mst report --from path``."""
    import os
    import resource
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from mst.cli.main import main; main()", "report",
                    "--from", str(path), "--out", str(out), "--quiet"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


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
        from mst.io.exchange import write_cohort

        write_cohort(cohort, Path(d) / "cohort.csv")
        mb = (Path(d) / "cohort.csv").stat().st_size / 1e6
        f_wall, f_cpu, f_rss = _from_file(Path(d) / "cohort.csv", Path(d) / "f.html")
    peer = _peer(df)
    print(f"n = {n} patients (simulation + flat table, not timed: {sim:.1f} s)")
    print(f"mst report --from cohort.csv ({mb:.0f} MB exchange file): wall {f_wall:.1f} s, "
          f"CPU {f_cpu:.1f} s, peak memory {f_rss:.0f} MB (targets < 10 s, < 1 GB: "
          f"{'met' if f_wall < 10 and f_rss < 1024 else 'NOT met'})")
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
