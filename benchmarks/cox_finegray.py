"""Benchmark: mst Fine–Gray vs R cmprsk::crr, mst Cox vs lifelines and R survival::coxph.

Run:  python benchmarks/cox_finegray.py                 (n = 10^6, p = 10; crr at 5,000)
      python benchmarks/cox_finegray.py --n 200000      (a smaller large case)

Every program fits the same simulated data in the same run, timed by one rule for all
(``benchmarks/_timing.py``: median of 3, programs alternating; R inside R, without reading
the file). The table shows the seconds, the ratio to the first row of each block and the
largest relative difference of the coefficients from that row. Fine–Gray is shown with
crr's stopping rule and with a 1e-9 relative-change rule (stated in the output), and
against mst's own Cox fit at the large size. R is skipped when ``Rscript`` is not on the
PATH, lifelines when it is not installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _timing import RULE, alternate

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


def run_r(X: np.ndarray, t: np.ndarray, s: np.ndarray, model: str) -> tuple[str, float, Any]:
    """Fit in R; returns ("self-timed", seconds inside R, coefficients)."""
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
    return "self-timed", float(vals[0]), vals[1:]


def lifelines_program(X: np.ndarray, t: np.ndarray, s: np.ndarray) -> Any:
    import pandas as pd
    from lifelines import CoxPHFitter

    df = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
    df["time"], df["event"] = t, (s > 0).astype(int)

    def fit() -> np.ndarray:
        cph = CoxPHFitter()
        cph.fit(df, "time", "event")
        return cph.params_.to_numpy()

    return fit


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="rows of the large case")
    ap.add_argument("--p", type=int, default=10, help="covariates of the large case")
    ap.add_argument("--crr-n", type=int, default=5_000, help="n of the crr comparison (O(n²))")
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--skip-lifelines", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = ap.parse_args()
    have_r = shutil.which("Rscript") is not None and not args.skip_r
    try:
        import lifelines  # noqa: F401

        have_ll = not args.skip_lifelines
    except ImportError:
        have_ll = False
    rows: list[dict[str, Any]] = []

    def add(model: str, n: int, p: int, res: dict[str, tuple[float, Any]], ref: str) -> None:
        base_s, base_c = res[ref]
        for name, (sec, coef) in res.items():
            rows.append({"model": model, "n": n, "p": p, "program": name, "seconds": sec,
                         "relative_to": ref, "ratio": sec / base_s,
                         "max_rel_diff": rel(np.asarray(coef), np.asarray(base_c))})

    # Fine-Gray against crr (crr is O(n^2): small n only)
    X, t, s = simulate(args.crr_n, 5)
    progs: dict[str, Any] = {
        "mst finegray (crr rule)": lambda: finegray_fit(X, t, s).coef,
        "mst finegray (tol 1e-9)": lambda: finegray_fit(X, t, s, tol=1e-9, max_iter=50).coef,
    }
    if have_r:
        progs["R cmprsk::crr"] = lambda: run_r(X, t, s, "crr")
    add("Fine-Gray", args.crr_n, 5, alternate(progs), "mst finegray (crr rule)")

    # the large case: Cox against coxph and lifelines; Fine-Gray against mst's own Cox
    X, t, s = simulate(args.n, args.p, seed=2)
    e = (s > 0).astype(int)
    progs = {"mst cox": lambda: cox_fit(X, t, e).coef}
    if have_r:
        progs["R survival::coxph"] = lambda: run_r(X, t, s, "coxph")
    if have_ll:
        progs["lifelines CoxPHFitter"] = lifelines_program(X, t, s)
    add("Cox (Efron)", args.n, args.p, alternate(progs), "mst cox")
    Xf, tf, sf = simulate(args.n, args.p)
    ef = (sf > 0).astype(int)
    progs = {
        "mst cox (same data)": lambda: cox_fit(Xf, tf, ef, ties="breslow").coef,
        "mst finegray (tol 1e-9)": lambda: finegray_fit(
            Xf, tf, sf, tol=1e-9, max_iter=50
        ).coef,
    }
    res = alternate(progs)
    fg = finegray_fit(Xf, tf, sf, tol=1e-9, max_iter=50)
    add("Fine-Gray vs Cox", args.n, args.p, res, "mst cox (same data)")
    rows[-1]["max_rel_diff"] = None  # different models: coefficients are not comparable

    print(f"timing: {RULE}")
    print(f"Fine-Gray at n = {args.n:,}: {fg.iterations} Newton iterations, stopping rule: "
          f"{fg.convergence}; crr's own rule is in the row 'crr rule'.\n")
    fmt = "{:<17} {:>9} {:>3} {:<25} {:>9} {:>14} {:>12}"
    print(fmt.format("model", "n", "p", "program", "seconds", "x first row", "max rel diff"))
    for r in rows:
        diff = "-" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
        print(fmt.format(r["model"], f"{r['n']:,}", r["p"], r["program"], f"{r['seconds']:.2f}",
                         f"{r['ratio']:.2f}", diff))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
