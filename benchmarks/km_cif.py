"""Benchmark: Kaplan–Meier + log-rank and cumulative incidence + Gray's test on n = 10^6.

Compares mst.stats with lifelines, scikit-survival and R (survival, cmprsk via Rscript,
timed inside R with system.time) on the same seeded data, in the same run, and prints a
table with the seconds and the agreement of the results.

    python benchmarks/km_cif.py            # n = 1,000,000
    python benchmarks/km_cif.py --n 200000 --skip-r

lifelines' Aalen–Johansen fitter jitters tied times (randomly) and has no Gray test; it is
run on a subsample (``--aj-n``) because it is too slow at 10^6. Times are wall-clock
seconds of the estimation only (no file reading), timed by the rule of
``benchmarks/_timing.py`` (median of 3, programs alternating) for every program.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _timing import RULE, alternate

from mst.stats import cumulative_incidence, kaplan_meier, logrank_test


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


def mst_programs(d: dict[str, np.ndarray]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    def km() -> tuple[Any, Any]:
        return (kaplan_meier(d["time"], d["event"], d["group"]),
                logrank_test(d["time"], d["event"], d["group"]))

    def cif() -> Any:
        return cumulative_incidence(d["time"], d["status"], 1, d["group"], codes=(0, 1, 2))

    return km, cif


def mst_result(km: tuple[Any, Any], cres: Any, grid: np.ndarray) -> dict[str, Any]:
    res, lr = km
    return {"logrank": lr.statistic, "gray": cres.gray.statistic,
            "surv": res["1"].at(grid)["survival"], "cif": cres["1"].at(grid)["cif"]}


def lifelines_programs(
    d: dict[str, np.ndarray], aj_n: int
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from lifelines import AalenJohansenFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test as ll_logrank

    m = d["group"] == 1

    def km() -> tuple[Any, Any]:
        fits = [KaplanMeierFitter().fit(d["time"][d["group"] == k], d["event"][d["group"] == k])
                for k in (0, 1)]
        lr = ll_logrank(d["time"][~m], d["time"][m], d["event"][~m], d["event"][m])
        return fits, lr

    sub = slice(0, aj_n)
    ds = {k: v[sub] for k, v in d.items()}
    ms = ds["group"] == 1

    def cif() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return AalenJohansenFitter(seed=1).fit(ds["time"][ms], ds["status"][ms],
                                                   event_of_interest=1)

    return km, cif


def lifelines_result(km: tuple[Any, Any], grid: np.ndarray, aj_n: int) -> dict[str, Any]:
    fits, lr = km
    return {"logrank": float(lr.test_statistic), "gray": None,
            "surv": fits[1].survival_function_at_times(grid).to_numpy(),
            "cif_note": f"n={aj_n}, one group, jittered ties, no Gray test"}


def sksurv_programs(d: dict[str, np.ndarray]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from sksurv.compare import compare_survival
    from sksurv.nonparametric import cumulative_incidence_competing_risks, kaplan_meier_estimator

    y = np.empty(d["time"].size, dtype=[("event", bool), ("time", float)])
    y["event"] = d["event"].astype(bool)
    y["time"] = d["time"]

    def km() -> tuple[Any, Any]:
        fits = [kaplan_meier_estimator(y["event"][d["group"] == k], y["time"][d["group"] == k],
                                       conf_type="log-log") for k in (0, 1)]
        return fits, compare_survival(y, d["group"])

    def cif() -> Any:
        return [cumulative_incidence_competing_risks(d["status"][d["group"] == k],
                                                     d["time"][d["group"] == k])
                for k in (0, 1)]

    return km, cif


def sksurv_result(km: tuple[Any, Any], cr: Any, grid: np.ndarray) -> dict[str, Any]:
    fits, lr = km
    tt, ss = fits[1][0], fits[1][1]
    idx = np.searchsorted(tt, grid, side="right") - 1
    surv = np.where(idx < 0, 1.0, ss[np.clip(idx, 0, None)])
    ct, cc = cr[1][0], cr[1][1][1]
    idx = np.searchsorted(ct, grid, side="right") - 1
    cifv = np.where(idx < 0, 0.0, cc[np.clip(idx, 0, None)])
    return {"logrank": float(lr[0]), "gray": None, "surv": surv, "cif": cifv}


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


class RRunner:
    """Writes the data once; each call runs Rscript, which times KM and CIF inside R."""

    def __init__(self, d: dict[str, np.ndarray], grid: np.ndarray) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.csv = Path(self.tmp.name, "d.csv")
        self.script = Path(self.tmp.name, "b.R")
        np.savetxt(self.csv, np.column_stack([d["time"], d["status"], d["event"], d["group"]]),
                   delimiter=",", header="time,status,event,group", comments="",
                   fmt=["%.1f", "%d", "%d", "%d"])
        self.script.write_text(R_SCRIPT)
        self.grid = ",".join(f"{x:g}" for x in grid)
        self.last: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        out = Path(self.tmp.name, "out.json")
        subprocess.run(["Rscript", str(self.script), str(self.csv), str(out), self.grid],
                       check=True, capture_output=True)
        self.last = json.loads(out.read_text())
        return self.last


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
    km_p: dict[str, Callable[[], Any]] = {}
    cif_p: dict[str, Callable[[], Any]] = {}
    km_p["mst"], cif_p["mst"] = mst_programs(d)
    if not args.skip_lifelines:
        km_p["lifelines"], cif_p["lifelines"] = lifelines_programs(d, args.aj_n)
    if not args.skip_sksurv:
        km_p["scikit-survival"], cif_p["scikit-survival"] = sksurv_programs(d)
    r = None if args.skip_r or shutil.which("Rscript") is None else RRunner(d, grid)
    if r is not None:
        km_p["R survival/cmprsk"] = lambda: ("self-timed", r.run()["km_s"], r.last)
    km_t = alternate(km_p)
    if r is not None:
        cif_p["R survival/cmprsk"] = lambda: ("self-timed", r.run()["cif_s"], r.last)
    cif_t = alternate(cif_p)
    results: dict[str, dict[str, Any]] = {}
    for name in km_t:
        if name == "mst":
            res = mst_result(km_t[name][1], cif_t[name][1], grid)
        elif name == "lifelines":
            res = lifelines_result(km_t[name][1], grid, args.aj_n)
        elif name == "scikit-survival":
            res = sksurv_result(km_t[name][1], cif_t[name][1], grid)
        else:
            res = dict(cif_t[name][1])
        res["km_s"], res["cif_s"] = km_t[name][0], cif_t[name][0]
        results[name] = res
    ref = results["mst"]
    print(f"n = {args.n:,}, 2 groups, ties (times rounded to 0.1), 3 causes codes 0/1/2")
    print(f"timing: {RULE}\n")
    head = (f"{'tool':<20} {'KM+log-rank s':>14} {'x mst':>6} {'CIF+Gray s':>11} {'x mst':>6} "
            f"{'log-rank chi2':>16} {'Gray chi2':>12} {'max|dS|':>9} {'max|dF|':>9}")
    print(head)
    print("-" * len(head))
    for name, r_ in results.items():
        ds = float(np.max(np.abs(np.asarray(r_["surv"]) - ref["surv"])))
        df_ = (float(np.max(np.abs(np.asarray(r_["cif"]) - ref["cif"])))
               if r_.get("cif") is not None else float("nan"))
        gray = f"{r_['gray']:.6f}" if r_.get("gray") is not None else "n/a"
        cif_s = f"{r_['cif_s']:.3f}" + ("*" if "cif_note" in r_ else "")
        print(f"{name:<20} {r_['km_s']:>14.3f} {r_['km_s'] / ref['km_s']:>6.1f} {cif_s:>11} "
              f"{r_['cif_s'] / ref['cif_s']:>6.1f} {r_['logrank']:>16.6f} {gray:>12} "
              f"{ds:>9.1e} {df_:>9.1e}")
    for name, r_ in results.items():
        if "cif_note" in r_:
            print(f"\n* {name}: CIF timed on {r_['cif_note']} (its ratio is not comparable).")
    print("\nKM includes both group curves with log-log CI, medians and the log-rank test; "
          "CIF includes both group curves, variances and Gray's test. R times are measured "
          "inside R (system.time), without reading the file.")


if __name__ == "__main__":
    main()
