"""Benchmark: alerts of the whole demo cohort (issue 7: "under 1 s").

Run with ``python benchmarks/alerts.py``. Evaluates every alert rule of
:mod:`mst.monitoring.alerts` on ``simulate_cohort(n=300, seed=1)`` and, as the
peer in the same run, a straightforward pandas implementation of the
``chimerism_rising`` rule over a long lab table (the way one would write it in a
notebook), checked to find the same alerts. The pandas peer covers one rule only,
so its time is a floor for a vectorised implementation, not a like-for-like race.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pandas as pd

from mst.monitoring.alerts import evaluate_cohort
from mst.simulate import simulate_cohort


def _time(fn: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def pandas_rising(records: list) -> set[tuple[str, str]]:
    rows = [(r.patient.id, lab.donor_id or "", lab.date, lab.value)
            for r in records for lab in r.labs if lab.analyte == "donor_chimerism"]
    df = pd.DataFrame(rows, columns=["pid", "donor", "date", "value"])
    if df.empty:
        return set()
    df = df.sort_values(["pid", "donor", "date"], kind="stable")
    prev = df.groupby(["pid", "donor"])["value"].shift()
    hit = df[(prev > 0) & (df["value"] > prev)]
    return {(p, d.isoformat()) for p, d in zip(hit["pid"], hit["date"], strict=True)}


def main() -> None:
    t0 = time.perf_counter()
    cohort = simulate_cohort(n=300, seed=1)
    t_sim = time.perf_counter() - t0
    records = list(cohort.records)
    n_labs = sum(len(r.labs) for r in records)
    t_mst, alerts = _time(lambda: evaluate_cohort(records))
    big = records * 10
    t_big, _ = _time(lambda: evaluate_cohort(big), repeat=3)
    t_pd, rising_pd = _time(lambda: pandas_rising(records))
    rising_mst = {(a.patient_id, a.date.isoformat()) for a in alerts
                  if a.rule == "chimerism_rising"}
    assert rising_mst == rising_pd, "peer disagrees on chimerism_rising"
    by_rule: dict[str, int] = {}
    for a in alerts:
        by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
    print(f"demo cohort: {len(records)} patients, {n_labs} lab values "
          f"(simulated in {t_sim:.2f} s, not timed below)")
    print(f"{'implementation':<52}{'median s':>10}{'alerts':>8}")
    label = "mst.monitoring.alerts.evaluate_cohort (all rules)"
    print(f"{label:<52}{t_mst:>10.3f}{len(alerts):>8}")
    print(f"{'  same, cohort x10 (3000 records)':<52}{t_big:>10.3f}{'':>8}")
    print(f"{'pandas peer (chimerism_rising only)':<52}{t_pd:>10.3f}{len(rising_pd):>8}")
    print("alerts by rule:", dict(sorted(by_rule.items())))
    print(f"target < 1 s for the demo cohort: {'MET' if t_mst < 1 else 'NOT MET'}")


if __name__ == "__main__":
    main()
