"""Benchmark: the documented report path, from the exchange file (issue 16: < 10 s, < 1 GB).

Run with ``python benchmarks/report.py [n] [--file cohort.csv] [--pdf]``. Unless ``--file``
is given, a cohort of ``n`` patients (default 10,000, seed 7) is simulated and written as an
exchange CSV first (not timed). Every program then runs **in its own process** under
``/usr/bin/time`` — wall seconds, CPU seconds (user + system) and peak resident memory of
that process — from the file, nothing from memory:

* ``mst report --from cohort.csv --out report.html --quiet`` (the documented path: read,
  validate, flat table, analyses, figures, HTML + JSON);
* ``mst cohort --from cohort.csv --out table.csv --quiet`` (file → flat table);
* with ``--pdf``: ``mst report … --pdf report.pdf`` (the PDF's own time is the difference);
* the peer: a plain Python script that reads the flat table with pandas and draws the KM
  curves of OS and LFS by age group with lifelines (log-rank tests, two SVG figures) — a
  lower bound on what any report must do.

Same timing rule for every program (:mod:`_timing`: median of 3, alternating). Prints a
table; the machine's load is printed with it (a shared machine gives noisy times).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import RULE, alternate

SRC = Path(__file__).resolve().parents[1] / "src"
TIME = "/usr/bin/time"

PEER = str(Path(__file__).resolve().parent / "_km_peer.py")  # run as its own process


def measured(argv: list[str]) -> tuple[str, float, tuple[float, float]]:
    """Run ``argv`` under ``/usr/bin/time``: ("self-timed", wall s, (CPU s, peak RSS MB))."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    with tempfile.NamedTemporaryFile("r", suffix=".time") as fh:
        proc = subprocess.run([TIME, "-f", "%e %U %S %M", "-o", fh.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
        wall, user, sys_s, rss_kb = fh.read().split()[-4:]
    return "self-timed", float(wall), (float(user) + float(sys_s), float(rss_kb) / 1024)


def mst(*args: str) -> list[str]:
    """The ``mst`` command line run by the current interpreter."""
    return [sys.executable, "-c", "from mst.cli.main import main; main()", *args]


def main() -> None:
    """Simulate (unless ``--file``), then time every program from the file."""
    args = sys.argv[1:]
    pdf = "--pdf" in args
    file = Path(args[args.index("--file") + 1]) if "--file" in args else None
    rest = [a for i, a in enumerate(args) if a != "--pdf" and a != "--file"
            and (i == 0 or args[i - 1] != "--file")]
    n = int(rest[0]) if rest else 10_000
    if not Path(TIME).exists():
        raise SystemExit(f"{TIME} is needed (GNU time: apt-get install time)")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if file is None:
            sys.path.insert(0, str(SRC))
            from mst.io.exchange import write_cohort
            from mst.simulate import simulate_cohort

            t0 = time.perf_counter()
            file = d / "cohort.csv"
            write_cohort(simulate_cohort(n, seed=7), file)
            print(f"simulated {n:,} patients and wrote {file.name} "
                  f"(not timed: {time.perf_counter() - t0:.0f} s)")
        mb = file.stat().st_size / 1e6
        table = d / "table.csv"
        programs = {
            "mst report --from FILE (HTML)": lambda: measured(
                mst("report", "--from", str(file), "--out", str(d / "r.html"), "--quiet")),
            "mst cohort --from FILE": lambda: measured(
                mst("cohort", "--from", str(file), "--out", str(table), "--quiet")),
            "peer: pandas + lifelines KM, 2 SVG": lambda: measured(
                [sys.executable, PEER, str(table)]),
        }
        if pdf:
            programs["mst report --from FILE --pdf"] = lambda: measured(
                mst("report", "--from", str(file), "--out", str(d / "p.html"), "--pdf",
                    str(d / "p.pdf"), "--quiet"))
        res = alternate(programs)
    print(f"exchange file: {mb:.0f} MB; each program in its own process, {RULE}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'program':<38}{'wall s':>9}{'CPU s':>9}{'peak MB':>10}  (CPU, peak: last run)")
    print("-" * 66)
    for name, (wall, (cpu, rss)) in res.items():
        print(f"{name:<38}{wall:>9.1f}{cpu:>9.1f}{rss:>10.0f}")
    wall, (_cpu, rss) = res["mst report --from FILE (HTML)"]
    ok = wall < 10 and rss < 1024
    print(f"target (issue 16): report from the file < 10 s and < 1 GB peak: "
          f"{'met' if ok else 'NOT met'} ({wall:.1f} s, {rss:.0f} MB)")
    if pdf:
        print(f"PDF's own time: {res['mst report --from FILE --pdf'][0] - wall:.1f} s")


if __name__ == "__main__":
    main()
