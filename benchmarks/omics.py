"""Benchmark: differential expression of 20,000 genes x 6 and x 60 samples, mst.omics
(pydeseq2) against R DESeq2 in the same run, with the agreement of the results.

    python benchmarks/omics.py                                  # 20,000 x 6 and x 60, 3 runs
    python benchmarks/omics.py --genes 5000 --samples 6,60 --repeats 1

Data: ``mst.omics.simulate_counts`` (4 patients + 2 controls, or half and half; 400 truly
changed genes) written to CSV once per size. Timing rule, the same for both programs:
wall-clock seconds of the analysis only (counts already in memory:
``differential_expression`` in Python; ``DESeqDataSetFromMatrix`` + ``DESeq`` + ``results``
inside R, timed with ``system.time``), median of ``--repeats`` runs, the two programs
alternating. Both use one core (pydeseq2 ``n_cpus=1``; DESeq2 without BiocParallel) and
are loaded before the clock starts (``import pydeseq2`` here, ``library(DESeq2)`` in R).
The table prints the ratio pydeseq2 / DESeq2 of wall-clock seconds, the CPU seconds of
the same runs (process time in Python, user + system in R: on a shared machine the wall
clock also counts the time other jobs held the cores), the load average before and after
each size, and the parity figures of the last run (size factors, log2 FC for base mean
> 10, Spearman of p-values, DEG Jaccard at |log2 FC| >= 1 and padj <= 0.05).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydeseq2.dds
import pydeseq2.ds
from scipy.stats import spearmanr

from mst.omics.de import differential_expression
from mst.omics.simulate import simulate_counts

# pydeseq2 is loaded before any clock starts, as library(DESeq2) is outside R's system.time
PRELOADED = (pydeseq2.dds, pydeseq2.ds)

R_SCRIPT = r"""
suppressPackageStartupMessages(library(DESeq2))
a <- commandArgs(trailingOnly = TRUE)
counts <- as.matrix(read.csv(a[1], row.names = 1, check.names = FALSE))
samples <- read.csv(a[2], stringsAsFactors = FALSE)
samples$condition <- relevel(factor(samples$condition), ref = "healthy")
t <- system.time({
  dds <- DESeqDataSetFromMatrix(counts, samples, ~condition)
  dds <- DESeq(dds, quiet = TRUE)
  res <- results(dds, contrast = c("condition", "MST", "healthy"), alpha = 0.05)
})
write.csv(data.frame(gene = rownames(res), base_mean = res$baseMean,
                     log2fc = res$log2FoldChange, pvalue = res$pvalue, padj = res$padj),
          a[3], row.names = FALSE)
write.csv(data.frame(sf = sizeFactors(dds)), a[4], row.names = FALSE)
cat(sprintf("%.6f %.6f\n", t[["elapsed"]], t[["user.self"]] + t[["sys.self"]]))
"""


def run_python(counts: pd.DataFrame, samples: pd.DataFrame) -> tuple[float, float, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    res = differential_expression(counts, samples, "~condition", "condition,MST,healthy")
    return time.perf_counter() - t0, time.process_time() - c0, res


def run_r(paths: dict[str, Path], tmp: Path) -> tuple[float, float, pd.DataFrame, np.ndarray]:
    script = tmp / "deseq2.R"
    script.write_text(R_SCRIPT)
    out, sf = tmp / "r_res.csv", tmp / "r_sf.csv"
    proc = subprocess.run(
        ["Rscript", str(script), str(paths["counts"]), str(paths["samples"]), str(out), str(sf)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    secs, cpu = (float(x) for x in proc.stdout.strip().splitlines()[-1].split())
    return secs, cpu, pd.read_csv(out, index_col=0), pd.read_csv(sf)["sf"].to_numpy()


def parity(res: Any, r: pd.DataFrame, r_sf: np.ndarray) -> dict[str, float]:
    t = res.table
    big = r["base_mean"].to_numpy() > 10
    ok = r["pvalue"].notna().to_numpy() & t["pvalue"].notna().to_numpy()
    deg_r = set(r.index[(r["padj"] <= 0.05) & (r["log2fc"].abs() >= 1)])
    deg_p = set(res.degs.index)
    union = deg_r | deg_p
    return {
        "sf": float(np.max(np.abs(res.size_factors.to_numpy() - r_sf))),
        "lfc": float(np.nanmax(np.abs(t["log2fc"].to_numpy()[big] - r["log2fc"].to_numpy()[big]))),
        "spearman": float(spearmanr(t["pvalue"][ok], r["pvalue"][ok]).statistic),
        "jaccard": len(deg_r & deg_p) / len(union) if union else 1.0,
        "deg_r": len(deg_r),
        "deg_py": len(deg_p),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=20000)
    ap.add_argument("--samples", default="6,60", help="total samples per run, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-r", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.samples.split(",")]
    have_r = shutil.which("Rscript") is not None and not args.skip_r
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for n in sizes:
            n_ctrl = max(2, n // 3) if n <= 6 else n // 2
            sim = simulate_counts(n - n_ctrl, n_ctrl, args.genes, min(400, args.genes // 10),
                                  seed=7, asymptotic_dispersion=0.05)  # fmt: skip
            paths = {"counts": tmp / f"c{n}.csv", "samples": tmp / f"s{n}.csv"}
            sim.counts.to_csv(paths["counts"])
            sim.samples.to_csv(paths["samples"], index=False)
            samples = sim.samples.set_index("sample_id")
            t_py: list[float] = []
            t_r: list[float] = []
            c_py: list[float] = []
            c_r: list[float] = []
            res = r_res = r_sf = None
            load0 = os.getloadavg()[0]
            for _ in range(args.repeats):
                secs, cpu, res = run_python(sim.counts, samples)
                t_py.append(secs)
                c_py.append(cpu)
                if have_r:
                    secs, cpu, r_res, r_sf = run_r(paths, tmp)
                    t_r.append(secs)
                    c_r.append(cpu)
            row: dict[str, Any] = {
                "genes": args.genes, "samples": n, "repeats": args.repeats,
                "py": statistics.median(t_py), "r": statistics.median(t_r) if t_r else None,
                "py_cpu": statistics.median(c_py),
                "r_cpu": statistics.median(c_r) if c_r else None,
                "load_before": load0, "load_after": os.getloadavg()[0],
            }  # fmt: skip
            if have_r and res is not None and r_res is not None and r_sf is not None:
                row.update(parity(res, r_res, r_sf))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print(f"wall-clock and CPU seconds, median of {args.repeats} run(s) per program, alternating;"
          " load = 1-min load average before/after each size")  # fmt: skip
    print(f"{'genes x samples':<18}{'pydeseq2 s':>12}{'DESeq2 s':>10}{'ratio':>8}"
          f"{'py CPU s':>10}{'R CPU s':>9}{'CPU ratio':>10}{'load':>12}"
          f"{'max|dSF|':>10}{'max|dLFC|':>11}{'Spearman p':>12}{'Jaccard':>9}")  # fmt: skip
    for r in rows:
        rs = f"{r['r']:.1f}" if r["r"] else "-"
        ratio = f"{r['py'] / r['r']:.1f}" if r["r"] else "-"
        rc = f"{r['r_cpu']:.1f}" if r["r_cpu"] else "-"
        cratio = f"{r['py_cpu'] / r['r_cpu']:.1f}" if r["r_cpu"] else "-"
        load = f"{r['load_before']:.1f}/{r['load_after']:.1f}"
        extra = (
            f"{r['sf']:>10.1e}{r['lfc']:>11.1e}{r['spearman']:>12.6f}{r['jaccard']:>9.4f}"
            if "sf" in r else ""
        )  # fmt: skip
        print(f"{r['genes']:>6} x {r['samples']:<9}{r['py']:>12.1f}{rs:>10}{ratio:>8}"
              f"{r['py_cpu']:>10.1f}{rc:>9}{cratio:>10}{load:>12}{extra}")  # fmt: skip


if __name__ == "__main__":
    main()
