"""Benchmark: mst Fine–Gray vs R cmprsk::crr, mst Cox vs lifelines and R survival::coxph.

Run:  python benchmarks/cox_finegray.py            (full: crr at n = 20,000 takes minutes)
      python benchmarks/cox_finegray.py --quick    (smaller peers, for a smoke run)

Every peer fits the same simulated data in the same run; the table shows the fit times
(R: inside R, without reading the file), the speed-up and the largest relative difference
of the coefficients from ours. R is skipped when ``Rscript`` is not on the PATH,
lifelines when it is not installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from mst.stats.cox_model import cox_fit
from mst.stats.finegray_model import finegray_fit


def simulate(n: int, p: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Competing-risks data: cause 1 depends on the covariates, cause 2 and censoring do not."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.linspace(0.5, -0.5, p)
    t1 = rng.exponential(1.0 / np.exp(X @ beta))
    t2 = rng.exponential(2.0, size=n)
    c = rng.exponential(3.0, size=n)
    t = np.round(np.minimum(np.minimum(t1, t2), c), 4) + 1e-4     # some ties, like real data
    s = np.where(t1 <= np.minimum(t2, c), 1, np.where(t2 <= c, 2, 0))
    return X, t, s


def timed(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_r(X: np.ndarray, t: np.ndarray, s: np.ndarray, model: str) -> tuple[float, np.ndarray]:
    """Fit in R; returns (seconds inside R, coefficients)."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "data.csv"
        cols = [f"x{i + 1}" for i in range(X.shape[1])]
        np.savetxt(f, np.column_stack([t, s, X]), delimiter=",", fmt="%.17g",
                   header=",".join(["time", "status", *cols]), comments="")
        if model == "crr":
            fit = "cmprsk::crr(d$time, d$status, as.matrix(d[, -(1:2)]), failcode = 1)"
            coef = "f$coef"
        else:
            fit = ("survival::coxph(survival::Surv(d$time, d$status > 0) ~ "
                   "as.matrix(d[, -(1:2)]), ties = 'efron')")
            coef = "coef(f)"
        script = (f"d <- read.csv('{f}'); tt <- system.time(f <- {fit})[['elapsed']]; "
                  f"cat(sprintf('%.17g', c(tt, {coef})), sep = '\\n')")
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                             check=True).stdout.split()
    vals = np.array([float(v) for v in out])
    return float(vals[0]), vals[1:]


def run_lifelines(X: np.ndarray, t: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray]:
    import pandas as pd
    from lifelines import CoxPHFitter

    df = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
    df["time"], df["event"] = t, (s > 0).astype(int)
    cph = CoxPHFitter()
    sec, _ = timed(lambda: cph.fit(df, "time", "event"), 1)
    return sec, cph.params_.to_numpy()


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes for the slow peers")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = ap.parse_args()
    have_r = shutil.which("Rscript") is not None
    try:
        import lifelines  # noqa: F401
        have_ll = True
    except ImportError:
        have_ll = False

    fg_cases = [(5000, 5), (20_000, 5)] if not args.quick else [(2000, 5), (5000, 5)]
    fg_cases.append((1_000_000, 10))
    cox_cases = [(20_000, 5), (1_000_000, 10)] if not args.quick else [(20_000, 5)]
    rows = []
    for n, p in fg_cases:
        X, t, s = simulate(n, p)
        sec, fit = timed(lambda X=X, t=t, s=s: finegray_fit(X, t, s), 1 if n > 1e5 else 3)
        row = {"model": "Fine-Gray", "n": n, "p": p, "mst_s": sec, "peer": "-",
               "peer_s": None, "speedup": None, "max_rel_diff": None}
        if have_r and n <= 20_000:
            rs, rc = run_r(X, t, s, "crr")
            row.update(peer="R crr", peer_s=rs, speedup=rs / sec,
                       max_rel_diff=rel(fit.coef, rc))  # type: ignore[attr-defined]
        rows.append(row)
    for n, p in cox_cases:
        X, t, s = simulate(n, p, seed=2)
        e = (s > 0).astype(int)
        sec, fit = timed(lambda X=X, t=t, e=e: cox_fit(X, t, e), 1 if n > 1e5 else 3)
        peers = []
        if have_ll:
            peers.append(("lifelines", lambda X=X, t=t, s=s: run_lifelines(X, t, s)))
        if have_r:
            peers.append(("R coxph", lambda X=X, t=t, s=s: run_r(X, t, s, "coxph")))
        if not peers:
            rows.append({"model": "Cox", "n": n, "p": p, "mst_s": sec, "peer": "-",
                         "peer_s": None, "speedup": None, "max_rel_diff": None})
        for name, fn in peers:
            ps, pc = fn()
            rows.append({"model": "Cox", "n": n, "p": p, "mst_s": sec, "peer": name,
                         "peer_s": ps, "speedup": ps / sec,
                         "max_rel_diff": rel(fit.coef, pc)})  # type: ignore[attr-defined]

    fmt = "{:<10} {:>9} {:>3} {:>10} {:>11} {:>10} {:>9} {:>12}"
    print(fmt.format("model", "n", "p", "mst (s)", "peer", "peer (s)", "speed-up",
                     "max rel diff"))
    for r in rows:
        print(fmt.format(r["model"], r["n"], r["p"], f"{r['mst_s']:.3f}", r["peer"],
                         "-" if r["peer_s"] is None else f"{r['peer_s']:.2f}",
                         "-" if r["speedup"] is None else f"{r['speedup']:.0f}x",
                         "-" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
