"""Benchmark: `mst import` of a simulated exchange file, next to `mst export` of the result.

Run with ``python benchmarks/import.py [--n 10000] [--backends sqlite,postgres]``.
The exchange file is written first by ``mst simulate`` (the file a user has), or taken as it is
with ``--from FILE`` (e.g. a 100,000-patient file simulated once); each step then
runs as its own ``mst`` process under ``/usr/bin/time`` so that wall time and peak memory
(maximum resident set) are those a user sees. PostgreSQL runs when ``MST_TEST_POSTGRES_URL``
names a server (``eval "$(bash .ci/start-postgres.sh)"``); its database is wiped first.
Every program is timed by the same rule: one cold run each, in the order listed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_MST = [sys.executable, "-c", "from mst.cli.main import main; main()"]


def _timed(args: list[str]) -> tuple[float, float]:
    """Run ``mst ARGS``; return (wall seconds, peak resident MB)."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        proc = subprocess.run(
            [time_bin, "-f", "%e %M", "-o", out.name, *_MST, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"mst {' '.join(args)} failed:\n{proc.stderr}")
        wall, kb = Path(out.name).read_text().split()[-2:]
    return float(wall), float(kb) / 1024


def _simulate_streaming(n: int, seed: int, path: Path) -> None:
    """The file ``mst simulate --n N --seed S`` writes, written 1,000 records at a time.

    ``mst simulate`` holds the whole cohort and its CSV text (over 14 GB at 100,000
    patients); the records are simulated one by one and do not depend on ``n``, so the
    same bytes can be written in batches with the same writer.
    """
    from mst.domain import Cohort
    from mst.io.exchange import cohort_to_csv
    from mst.simulate import iter_records, simulated_centers

    batch: list = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(cohort_to_csv(Cohort(centers=simulated_centers(4), records=())))

        def flush() -> None:
            text = cohort_to_csv(Cohort.model_construct(centers=(), records=tuple(batch)))
            fh.write(text[text.index("\n") + 1 :])  # without the header
            batch.clear()

        for rec in iter_records(n, seed):
            batch.append(rec)
            if len(batch) == 1000:
                flush()
        if batch:
            flush()


def _wipe_postgres(url: str) -> None:
    from sqlalchemy import text

    from mst.registry.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    """Print a table: backend, patients, rows, import s / MB, export s / MB."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="Use this exchange file instead of simulating one.")
    parser.add_argument("--stream", action="store_true",
                        help="Write the simulated file in batches (bounded memory; the same "
                             "bytes as mst simulate), for 100,000 patients.")
    parser.add_argument("--sqlite", type=Path, default=None,
                        help="Write the SQLite registry here (kept), not in a temporary folder.")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if opts.source is None and opts.stream:
            exchange = work / "cohort.csv"
            t0 = time.perf_counter()
            _simulate_streaming(opts.n, opts.seed, exchange)
            origin = f"simulated in batches in {time.perf_counter() - t0:.1f} s"
        elif opts.source is None:
            exchange = work / "cohort.csv"
            t_sim, _ = _timed(["simulate", "--n", str(opts.n), "--seed", str(opts.seed),
                               "--out", str(exchange)])
            origin = f"written by mst simulate in {t_sim:.1f} s"
        else:
            exchange, origin = opts.source, f"{opts.source}"
        rows = patients = 0
        with exchange.open(encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                rows += 1
                patients += line.startswith("patient,")
        size = exchange.stat().st_size / 2**20
        print(f"exchange file: {patients} patients, {rows} rows, {size:.0f} MB ({origin}); "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'backend':<10} {'import s':>9} {'import MB':>10} "
              f"{'export s':>9} {'export MB':>10}")
        for backend in opts.backends.split(","):
            if backend == "sqlite":
                target = opts.sqlite or work / "registry.sqlite"
                for old in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
                    old.unlink(missing_ok=True)
                url = f"sqlite:///{target}"
            else:
                url = os.environ.get("MST_TEST_POSTGRES_URL", "")
                if not url:
                    print(f"{backend:<10} skipped (MST_TEST_POSTGRES_URL not set)")
                    continue
                _wipe_postgres(url)
            t_imp, m_imp = _timed(["import", str(exchange), "--db", url])
            t_exp, m_exp = _timed(["export", "--out", str(work / f"out-{backend}.csv"),
                                   "--db", url])
            print(f"{backend:<10} {t_imp:>9.1f} {m_imp:>10.0f} {t_exp:>9.1f} {m_exp:>10.0f}   "
                  f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
