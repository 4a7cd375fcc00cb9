"""Benchmark: Kaplan–Meier + log-rank and cumulative incidence + Gray's test on n = 10^6.

Compares mst.stats with lifelines, scikit-survival and R (survival, cmprsk via Rscript,
timed inside R with system.time) on the same seeded data, in the same run, and prints a
table with the seconds and the agreement of the results.

    python benchmarks/km_cif.py            # n = 1,000,000
    python benchmarks/km_cif.py --n 200000 --skip-r

lifelines' Aalen–Johansen fitter jitters tied times (randomly) and has no Gray test; it is
run on a subsample (``--aj-n``) because it is too slow at 10^6. Times are wall-clock
seconds of the estimation only (no file reading).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mst.stats import cumulative_incidence, kaplan_meier, logrank_test


def timed(f: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def make_data(n: int, seed: int = 20231122) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2, n)
    t_rel = rng.exponential(np.where(g == 1, 30.0, 24.0))
    t_nrm = rng.exponential(60.0, n)
    cens = rng.uniform(0, 120, n)
    t = np.minimum.reduce([t_rel, t_nrm, cens])
    status = np.select([t == t_rel, t == t_nrm], [1, 2], 0)
    t = np.round(t, 1)  # ties, as in registry data recorded in days/months
    return {"time": t, "status": status, "event": (status > 0).astype(int), "group": g}


def run_mst(d: dict[str, np.ndarray], grid: np.ndarray) -> dict[str, Any]:
    def km() -> tuple[Any, Any]:
        return (kaplan_meier(d["time"], d["event"], d["group"]),
                logrank_test(d["time"], d["event"], d["group"]))

    def cif() -> Any:
        return cumulative_incidence(d["time"], d["status"], 1, d["group"], codes=(0, 1, 2))

    t_km, (res, lr) = timed(km, 3)
    t_cif, cres = timed(cif, 3)
    return {"km_s": t_km, "cif_s": t_cif, "logrank": lr.statistic,
            "gray": cres.gray.statistic,
            "surv": res["1"].at(grid)["survival"], "cif": cres["1"].at(grid)["cif"]}


def run_lifelines(d: dict[str, np.ndarray], grid: np.ndarray, aj_n: int) -> dict[str, Any]:
    from lifelines import AalenJohansenFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test as ll_logrank

    m = d["group"] == 1

    def km() -> tuple[Any, Any]:
        fits = [KaplanMeierFitter().fit(d["time"][d["group"] == k], d["event"][d["group"] == k])
                for k in (0, 1)]
        lr = ll_logrank(d["time"][~m], d["time"][m], d["event"][~m], d["event"][m])
        return fits, lr

    t_km, (fits, lr) = timed(km)
    surv = fits[1].survival_function_at_times(grid).to_numpy()
    sub = slice(0, aj_n)
    ds = {k: v[sub] for k, v in d.items()}
    ms = ds["group"] == 1

    def cif() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return AalenJohansenFitter(seed=1).fit(ds["time"][ms], ds["status"][ms],
                                                   event_of_interest=1)

    t_cif, aj = timed(cif)
    return {"km_s": t_km, "cif_s": t_cif, "logrank": float(lr.test_statistic), "gray": None,
            "surv": surv, "cif_note": f"n={aj_n}, one group, jittered ties, no Gray test",
            "aj": aj}


def run_sksurv(d: dict[str, np.ndarray], grid: np.ndarray) -> dict[str, Any]:
    from sksurv.compare import compare_survival
    from sksurv.nonparametric import cumulative_incidence_competing_risks, kaplan_meier_estimator

    y = np.empty(d["time"].size, dtype=[("event", bool), ("time", float)])
    y["event"] = d["event"].astype(bool)
    y["time"] = d["time"]

    def km() -> tuple[Any, Any]:
        fits = [kaplan_meier_estimator(y["event"][d["group"] == k], y["time"][d["group"] == k],
                                       conf_type="log-log") for k in (0, 1)]
        return fits, compare_survival(y, d["group"])

    t_km, (fits, lr) = timed(km)
    tt, ss = fits[1][0], fits[1][1]
    idx = np.searchsorted(tt, grid, side="right") - 1
    surv = np.where(idx < 0, 1.0, ss[np.clip(idx, 0, None)])
    m = d["group"] == 1

    def cif() -> Any:
        return [cumulative_incidence_competing_risks(d["status"][d["group"] == k],
                                                     d["time"][d["group"] == k])
                for k in (0, 1)]

    t_cif, cr = timed(cif)
    ct, cc = cr[1][0], cr[1][1][1]
    idx = np.searchsorted(ct, grid, side="right") - 1
    cifv = np.where(idx < 0, 0.0, cc[np.clip(idx, 0, None)])
    del m
    return {"km_s": t_km, "cif_s": t_cif, "logrank": float(lr[0]), "gray": None,
            "surv": surv, "cif": cifv}


R_SCRIPT = r"""
suppressPackageStartupMessages({library(survival); library(cmprsk)})
a <- commandArgs(trailingOnly = TRUE)
d <- read.csv(a[1])
grid <- as.numeric(strsplit(a[3], ",")[[1]])
t_km <- system.time({
  f <- survfit(Surv(time, event) ~ group, data = d, conf.type = "log-log")
  lr <- survdiff(Surv(time, event) ~ group, data = d)
})[["elapsed"]]
s1 <- summary(f[2], times = grid, extend = TRUE)$surv
t_cif <- system.time({ ci <- cuminc(d$time, d$status, d$group) })[["elapsed"]]
tp <- timepoints(ci, grid)$est["1 1", ]
fmt <- paste0('{"km_s": %.17g, "cif_s": %.17g, "logrank": %.17g, "gray": %.17g, ',
              '"surv": [%s], "cif": [%s]}')
cat(sprintf(fmt,
    t_km, t_cif, lr$chisq, ci$Tests["1", "stat"], paste(sprintf("%.17g", s1), collapse = ","),
    paste(sprintf("%.17g", tp), collapse = ",")), file = a[2])
"""


def run_r(d: dict[str, np.ndarray], grid: np.ndarray) -> dict[str, Any] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, out, script = Path(tmp, "d.csv"), Path(tmp, "out.json"), Path(tmp, "b.R")
        np.savetxt(csv, np.column_stack([d["time"], d["status"], d["event"], d["group"]]),
                   delimiter=",", header="time,status,event,group", comments="",
                   fmt=["%.1f", "%d", "%d", "%d"])
        script.write_text(R_SCRIPT)
        grid_s = ",".join(f"{x:g}" for x in grid)
        subprocess.run(["Rscript", str(script), str(csv), str(out), grid_s], check=True,
                       capture_output=True)
        return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--aj-n", type=int, default=20_000)
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--skip-lifelines", action="store_true")
    ap.add_argument("--skip-sksurv", action="store_true")
    args = ap.parse_args()
    d = make_data(args.n)
    grid = np.array([12.0, 36.0, 60.0])
    results: dict[str, dict[str, Any] | None] = {"mst": run_mst(d, grid)}
    if not args.skip_lifelines:
        results["lifelines"] = run_lifelines(d, grid, args.aj_n)
    if not args.skip_sksurv:
        results["scikit-survival"] = run_sksurv(d, grid)
    if not args.skip_r:
        results["R survival/cmprsk"] = run_r(d, grid)
    ref = results["mst"]
    assert ref is not None
    print(f"n = {args.n:,}, 2 groups, ties (times rounded to 0.1), 3 causes codes 0/1/2\n")
    head = (f"{'tool':<20} {'KM+log-rank s':>14} {'CIF+Gray s':>11} {'log-rank chi2':>16} "
            f"{'Gray chi2':>12} {'max|dS| vs mst':>15} {'max|dF| vs mst':>15}")
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        if r is None:
            print(f"{name:<20} {'(Rscript not found)':>14}")
            continue
        ds = float(np.max(np.abs(np.asarray(r["surv"]) - ref["surv"])))
        df_ = (float(np.max(np.abs(np.asarray(r["cif"]) - ref["cif"])))
               if r.get("cif") is not None else float("nan"))
        gray = f"{r['gray']:.6f}" if r.get("gray") is not None else "n/a"
        cif_s = f"{r['cif_s']:.3f}" + ("*" if "cif_note" in r else "")
        print(f"{name:<20} {r['km_s']:>14.3f} {cif_s:>11} {r['logrank']:>16.6f} {gray:>12} "
              f"{ds:>15.2e} {df_:>15.2e}")
    for name, r in results.items():
        if r is not None and "cif_note" in r:
            print(f"\n* {name}: CIF timed on {r['cif_note']}.")
    print("\nmst timings are the best of 3; KM includes both group curves with log-log CI, "
          "medians and the log-rank test; CIF includes both group curves, variances and "
          "Gray's test.")


if __name__ == "__main__":
    main()
