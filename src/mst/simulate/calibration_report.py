"""Calibration report: the default simulator's figures against the seed figures.

Run ``python -m mst.simulate.calibration_report [--n 10000] [--seed 1]`` to print the
Markdown table of ``docs/simulator.md``. :func:`calibration_metrics` is also used by the
calibration test.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

from mst.simulate.config import calibration_targets


def km_survival(days: np.ndarray, event: np.ndarray, at: float) -> float:
    """Kaplan–Meier survival probability at time ``at`` (events at ``at`` count).

    Parameters
    ----------
    days, event : numpy.ndarray
        Follow-up times and event indicators (1 = event, 0 = censored).
    at : float
        Time point, same unit as ``days``.

    Returns
    -------
    float
        S(at); 1.0 for an empty sample.
    """
    days = np.asarray(days, dtype=float)
    event = np.asarray(event, dtype=int)
    s = 1.0
    for t in np.unique(days[(event == 1) & (days <= at)]):
        at_risk = np.sum(days >= t)
        d = np.sum((days == t) & (event == 1))
        s *= 1.0 - d / at_risk
    return float(s)


def km_median(days: np.ndarray, event: np.ndarray) -> float:
    """Kaplan–Meier median (first time with S(t) <= 0.5); NaN if not reached."""
    days = np.asarray(days, dtype=float)
    event = np.asarray(event, dtype=int)
    s = 1.0
    for t in np.unique(days[event == 1]):
        s *= 1.0 - np.sum((days == t) & (event == 1)) / np.sum(days >= t)
        if s <= 0.5:
            return float(t)
    return math.nan


def calibration_metrics(df: pd.DataFrame) -> dict[str, float]:
    """Compute the calibrated figures from a flat table (see ``calibration.yaml`` targets).

    Parameters
    ----------
    df : pandas.DataFrame
        A flat analysis table (:func:`mst.cohort.build_flat_table`).

    Returns
    -------
    dict[str, float]
        One value per target name.
    """
    days = df["os_days"].to_numpy(dtype=float)
    ev = df["os_event"].to_numpy(dtype=int)
    groups = df["age_group"].to_numpy()
    deaths = df.loc[df["death"].astype(bool), "death_cause"]
    return {
        "cr_rate": float(df["cr"].astype(bool).mean()),
        "early_death_rate": float(df["early_death"].fillna(False).astype(bool).mean()),
        "os_1y": km_survival(days, ev, 365),
        "os_1y_60_70": km_survival(days[groups == "60-70"], ev[groups == "60-70"], 365),
        "os_1y_over_70": km_survival(days[groups == ">70"], ev[groups == ">70"], 365),
        "relapse_share_of_deaths": float((deaths == "relapse").mean()) if len(deaths) else math.nan,
        "os_3y": km_survival(days, ev, 3 * 365.25),
        "median_os_months": km_median(days, ev) / 30.4375,
        "courses_gt3": float(df["courses_gt3"].astype(bool).mean()),
        "donor_related": float(df["donor_related"].astype(bool).mean()),
        "gvhd_rate": float(df["gvhd"].astype(bool).mean()),
        "age_under_60": float((pd.to_numeric(df["age"]) < 60).mean()),
        "os_3y_60_70": km_survival(days[groups == "60-70"], ev[groups == "60-70"],
                                   3 * 365.25),
        "chimerism_ever_positive": float(df["chimerism_positive"].fillna(False)
                                         .astype(bool).mean())
        if "chimerism_positive" in df.columns else math.nan,
    }


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) confidence interval of a proportion k/n."""
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def death_cause_shares(df: pd.DataFrame) -> dict[str, float]:
    """Share of each cause among deaths, largest first (ties by name)."""
    causes = df.loc[df["death"].astype(bool), "death_cause"].value_counts(normalize=True)
    return dict(
        sorted(((str(k), float(v)) for k, v in causes.items()), key=lambda kv: (-kv[1], kv[0]))
    )


def report(n: int = 10_000, seed: int = 1) -> str:
    """Simulate ``n`` patients with the default parameters and return the Markdown report."""
    from mst.cohort import build_flat_table
    from mst.simulate import simulate_cohort

    df = build_flat_table(simulate_cohort(n, seed))
    metrics = calibration_metrics(df)
    targets = calibration_targets()
    lines = [
        f"Default simulator, n = {n:,}, seed = {seed}.",
        "",
        "| figure | seed figure | accepted range | simulated | in range |",
        "|---|---|---|---|---|",
    ]
    for name, t in targets.items():
        lo, hi = t["range"]
        v = metrics[name]
        ok = "yes" if lo <= v <= hi else "**no**"
        fmt = "{:.1f}" if name.endswith("months") else "{:.1%}"
        rng = f"{fmt.format(lo)}–{fmt.format(hi)}"
        lines.append(
            f"| {name} ({t['definition']}) | {t['seed']} | {rng} | {fmt.format(v)} | {ok} |"
        )
    lines += [
        "",
        "Causes of death (share of deaths): "
        + ", ".join(f"{k} {v:.1%}" for k, v in death_cause_shares(df).items()),
    ]
    by_age = df.groupby("age_group", sort=True).agg(
        n=("patient_id", "size"),
        cr=("cr", "mean"),
        early_death=("early_death", "mean"),
        relapse=("relapse", "mean"),
        courses_gt3=("courses_gt3", "mean"),
    )
    lines += [
        "",
        "By age group:",
        "",
        "| age group | n | CR | early death | relapse (of CR) | >3 courses |",
        "|---|---|---|---|---|---|",
    ]
    for g, row in by_age.iterrows():
        lines.append(
            f"| {g} | {int(row['n'])} | {row['cr']:.1%} | {row['early_death']:.1%} | "
            f"{row['relapse']:.1%} | {row['courses_gt3']:.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(report(args.n, args.seed))


if __name__ == "__main__":
    main()
