"""Benchmark: federated Cox and Fine–Gray (three nodes) against the pooled fit, same run.

Run:  python benchmarks/federated.py                  (three nodes × 100,000 patients)
      python benchmarks/federated.py --per-node 20000 (smaller, e.g. on a shared machine)

The same simulated table is fitted pooled (``mst.stats`` on one table in memory) and
federated (three in-process nodes exchanging the encoded messages of ``mst.federated.wire``;
the Flower deployment adds its own per-message latency on top, see docs/federated.md).
Timing rule:
median of 3, pooled and federated alternating. Bytes are the encoded messages to and from
the nodes (``--coarsen-months`` shows the effect of a monthly grid). The largest relative
difference of coefficients and standard errors shows that the two fits agree.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

from mst.federated.analyses import Options, coarsened_table, run_federated
from mst.federated.disclosure import DisclosurePolicy
from mst.federated.simulation import simulated_federation


def simulate(per_node: int, seed: int = 19) -> pd.DataFrame:
    """Three centers with different case mix; times in days rounded to whole days (ties)."""
    rng = np.random.default_rng(seed)
    n = 3 * per_node
    center = np.repeat(["C01", "C02", "C03"], per_node)
    age = rng.normal(65, 8, n) + np.repeat([0.0, 3.0, -2.0], per_node)
    arm = rng.choice(["A", "B", "C"], n)
    female = rng.random(n) < 0.45
    lin = (
        0.03 * (age - 65)
        + np.where(arm == "B", -0.3, np.where(arm == "C", 0.2, 0.0))
        - 0.2 * female
    )
    t1 = rng.exponential(900 / np.exp(lin))
    t2 = rng.exponential(2500, n)
    cens = rng.uniform(30, 3000, n)
    t = np.ceil(np.minimum(np.minimum(t1, t2), cens))
    status = np.where(t1 <= np.minimum(t2, cens), 1, np.where(t2 <= cens, 2, 0))
    return pd.DataFrame(
        {
            "center_id": center,
            "age": age,
            "arm": arm,
            "female": female,
            "os_days": t,
            "os_event": (status > 0).astype(int),
            "crs_days": t,
            "crs_status": status,
        }
    )


def pooled_fit(df: pd.DataFrame, analysis: str, opts: Options) -> dict[str, Any]:
    """The pooled fit on the table in memory (``mst stats`` without reading a file)."""
    from mst.stats.cox_model import cox
    from mst.stats.finegray_model import finegray

    if analysis == "cox":
        return cox(df, time=opts.time, event=opts.event, covariates=opts.covariates).to_dict()
    return finegray(
        df, time=opts.time or "", status=opts.status or "", covariates=opts.covariates
    ).to_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-node", type=int, default=100_000, help="patients per node")
    ap.add_argument("--coarsen-months", type=float, default=None, help="monthly grid width")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    df = simulate(args.per_node)
    cov = ["age", "arm", "female"]
    models = {
        "Cox (Efron)": ("cox", Options(time="os_days", event="os_event", covariates=cov)),
        "Fine-Gray": ("finegray", Options(time="crs_days", status="crs_status", covariates=cov)),
    }
    policy = DisclosurePolicy(min_cell=1, coarsen_months=args.coarsen_months)
    rows: list[dict[str, Any]] = []
    for label, (analysis, opts) in models.items():
        pooled_df = coarsened_table(df, opts.time, args.coarsen_months)
        tp, tf = [], []
        fed_out: dict[str, Any] = {}
        pooled_out: dict[str, Any] = {}
        info: dict[str, int] = {}
        for _ in range(args.repeats):  # alternating
            t0 = time.perf_counter()
            pooled_out = pooled_fit(pooled_df, analysis, opts)
            tp.append(time.perf_counter() - t0)
            fed, _ = simulated_federation(df, "center_id", policy)
            t0 = time.perf_counter()
            fed_out = run_federated(fed, analysis, opts, split_by="center_id")
            tf.append(time.perf_counter() - t0)
            info = {"queries": fed.queries, "to": fed.bytes_to_nodes, "from": fed.bytes_from_nodes}
        diff = max(
            abs(fed_out[k][j] - pooled_out[k][j]) / abs(pooled_out[k][j])
            for k in ("coef", "se")
            for j in pooled_out[k]
        )
        rows.append(
            {
                "model": label,
                "pooled_s": statistics.median(tp),
                "federated_s": statistics.median(tf),
                **info,
                "max_rel_diff": diff,
            }
        )
    n = 3 * args.per_node
    grid = f", {args.coarsen_months:g}-month grid" if args.coarsen_months else ", exact times"
    print(
        f"3 nodes x {args.per_node:,} patients (n = {n:,}), p = 4{grid}; median of {args.repeats}"
    )
    print(
        f"{'model':<12} {'pooled s':>9} {'federated s':>12} {'queries':>8} "
        f"{'MB to nodes':>12} {'MB from nodes':>14} {'max rel diff':>13}"
    )
    for r in rows:
        print(
            f"{r['model']:<12} {r['pooled_s']:>9.2f} {r['federated_s']:>12.2f} {r['queries']:>8} "
            f"{r['to'] / 1e6:>12.2f} {r['from'] / 1e6:>14.1f} {r['max_rel_diff']:>13.1e}"
        )


if __name__ == "__main__":
    main()
