"""Benchmark: the report's analysis, drawing and HTML stages in one process (issue 16).

Run with ``python benchmarks/report_stages.py [n] [--file cohort.csv]``. Unless ``--file``
is given, a cohort of ``n`` patients (default 10,000, seed 7) is simulated and written as an
exchange CSV first; the file is then read once (not timed). Timed, in this process:

* ``build_report`` + ``Report.write_html`` (what ``mst report`` does after reading), split
  into its stages — the analyses (``compute_report``), creating the figures, and the HTML
  (saving every figure as SVG, the template);
* the peer: pandas + lifelines drawing the KM curves of OS and LFS by age group with
  log-rank tests (two SVG figures) from the same flat table — a lower bound on what any
  report must do.

Same timing rule for both (:mod:`_timing`: median of 3, alternating), after one untimed
warm-up of each. Prints a table and the machine's load (a shared machine gives noisy times).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from _km_peer import km_peer as peer
from _timing import RULE, alternate

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))


def main() -> None:
    """Simulate (unless ``--file``), read once, then time the stages and the peer."""
    import mst.report.build as build
    from mst.report import build_report, load_config, load_input

    args = sys.argv[1:]
    file = Path(args[args.index("--file") + 1]) if "--file" in args else None
    rest = [a for i, a in enumerate(args) if a != "--file" and (i == 0 or args[i - 1] != "--file")]
    n = int(rest[0]) if rest else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if file is None:
            from mst.io.exchange import write_cohort
            from mst.simulate import simulate_cohort

            t0 = time.perf_counter()
            file = d / "cohort.csv"
            write_cohort(simulate_cohort(n, seed=7), file)
            print(f"simulated {n:,} patients and wrote {file.name} "
                  f"(not timed: {time.perf_counter() - t0:.0f} s)")
        inp = load_input(None, file)
        table, days = inp.table, inp.course_days
        cfg = load_config(None)
        stages: dict[str, list[float]] = {"analyses": [], "figures": [], "HTML": []}

        def timed(name, fn):  # type: ignore[no-untyped-def]
            def run(*a, **k):  # type: ignore[no-untyped-def]
                t0 = time.perf_counter()
                out = fn(*a, **k)
                stages[name].append(time.perf_counter() - t0)
                return out
            return run

        build.compute_report = timed("analyses", build.compute_report)
        build._figures = timed("figures", build._figures)
        build.render_html = timed("HTML", build.render_html)

        def report() -> None:
            build_report(table, cfg, days).write_html(d / "r.html")

        report()
        peer(table)
        for v in stages.values():
            v.clear()
        res = alternate({"build_report + write_html": report, "peer: pandas + lifelines KM, 2 SVG":
                         lambda: peer(table)})
    import statistics

    print(f"{len(table):,} patients; in one process, {RULE}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'program / stage':<40}{'wall s':>9}")
    print("-" * 49)
    for name, (wall, _out) in res.items():
        print(f"{name:<40}{wall:>9.2f}")
        if name.startswith("build_report"):
            for stage, v in stages.items():
                print(f"{'  ' + stage:<40}{statistics.median(v):>9.2f}")


if __name__ == "__main__":
    main()
