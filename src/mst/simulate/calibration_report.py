"""Calibration report: the default simulator's figures against the seed figures.

Run ``python -m mst.simulate.calibration_report [--n 10000] [--seed 1]`` to print the
Markdown table of ``docs/simulator.md``. :func:`calibration_metrics` is also used by the
calibration test.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

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


def _share(x: pd.Series) -> float:
    """Share of True among non-missing values (NaN if none)."""
    x = x.dropna().astype(bool)
    return float(x.mean()) if len(x) else math.nan


def _flag_share(x: pd.Series) -> float:
    """Share of True among all rows, a missing value counting as False."""
    return float(x.astype("boolean").fillna(False).astype(bool).mean())


def calibration_metrics(df: pd.DataFrame) -> dict[str, float]:
    """Compute the calibrated figures from a flat table (see ``calibration.yaml`` targets).

    Parameters
    ----------
    df : pandas.DataFrame
        A flat analysis table (:func:`mst.cohort.build_flat_table`).

    Returns
    -------
    dict[str, float]
        One value per target name (NaN where the table lacks what a figure needs).
    """
    days = df["os_days"].to_numpy(dtype=float)
    ev = df["os_event"].to_numpy(dtype=int)
    # LFS as 002 Table 2 counts it, n (%) of all patients: from diagnosis, a patient without
    # CR fails at day 0 (the flat table's lfs_days start at CR and are empty without CR)
    in_cr = df["lfs_days"].notna().to_numpy()
    to_cr = (pd.to_datetime(df["cr_date"]) - pd.to_datetime(df["diagnosis_date"])).dt.days
    lfs_days = np.where(in_cr, to_cr.fillna(0).to_numpy(dtype=float)
                        + pd.to_numeric(df["lfs_days"]).fillna(0).to_numpy(dtype=float), 0.0)
    lfs_ev = np.where(in_cr, pd.to_numeric(df["lfs_event"]).fillna(0).to_numpy(dtype=int), 1)
    groups = df["age_group"].to_numpy()
    young, old = groups == "60-70", groups == ">70"
    year = 365.25
    mm10 = pd.to_numeric(df["hla_mismatches_10"]).dropna()  # typed donors only
    out: dict[str, float] = {
        "age_under_60": float((pd.to_numeric(df["age"]) < 60).mean()),
        "male": float((df["sex"] == "M").mean()),
        "donor_female": float((df["donor_sex"] == "F").mean()),
        "donor_related": _share(df["donor_related"]),
        "donor_age_mean": float(pd.to_numeric(df["donor_age"]).mean()),
        "donor_age_sd": float(pd.to_numeric(df["donor_age"]).std(ddof=1)),
        "donor_age_mean_60_70": float(pd.to_numeric(df.loc[young, "donor_age"]).mean()),
        "donor_age_mean_over_70": float(pd.to_numeric(df.loc[old, "donor_age"]).mean()),
        "hla_5_of_10": _share(mm10 == 5),
        "hla_not_5_or_6_of_10": _share(~mm10.isin([5, 6])),
        "courses_gt3": _share(df["courses_gt3"]),
        "courses_gt3_60_70": _share(df.loc[young, "courses_gt3"]),
        "courses_gt3_over_70": _share(df.loc[old, "courses_gt3"]),
        "mnc_median": float(pd.to_numeric(df["mnc_1e8_per_kg"]).median()),
        "cr_rate": _share(df["cr"]),
        "cr_60_70": _share(df.loc[young, "cr"]),
        "cr_over_70": _share(df.loc[old, "cr"]),
        "death": _share(df["death"]),
        "early_death_rate": _flag_share(df["early_death"]),
        "early_death_60_70": _flag_share(df.loc[young, "early_death"]),
        "early_death_over_70": _flag_share(df.loc[old, "early_death"]),
        "median_os_months": km_median(days, ev) / 30.4375,
        "gvhd_rate": _share(df["gvhd"]),
        "chimerism_ever_positive": _flag_share(df["chimerism_positive"])
        if "chimerism_positive" in df.columns else math.nan,
    }
    for k, label in ((1, "1y"), (3, "3y"), (5, "5y")):
        out[f"os_{label}"] = km_survival(days, ev, k * year)
        out[f"os_{label}_60_70"] = km_survival(days[young], ev[young], k * year)
        out[f"os_{label}_over_70"] = km_survival(days[old], ev[old], k * year)
        out[f"lfs_{label}"] = km_survival(lfs_days, lfs_ev, k * year)
        out[f"lfs_{label}_60_70"] = km_survival(lfs_days[young], lfs_ev[young], k * year)
        out[f"lfs_{label}_over_70"] = km_survival(lfs_days[old], lfs_ev[old], k * year)
    for col in ("cardiac_failure", "arrhythmia", "hepatotoxicity", "nausea", "vomiting",
                "diarrhea", "sepsis"):
        name = f"ae_{col}"
        out[name] = _share(df[name]) if name in df.columns else math.nan
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) confidence interval of a proportion k/n."""
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def mean_interval(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of a mean from its summary (mean, SD, n)."""
    from scipy.stats import t

    half = float(t.ppf(1 - (1 - level) / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def sd_interval(sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Chi-square confidence interval of a standard deviation (normal data)."""
    from scipy.stats import chi2

    a = (1 - level) / 2
    df = n - 1
    return (math.sqrt(df * sd**2 / float(chi2.ppf(1 - a, df))),
            math.sqrt(df * sd**2 / float(chi2.ppf(a, df))))


def median_interval_from_quartiles(
    q1: float, median: float, q3: float, n: int, level: float = 0.95
) -> tuple[float, float]:
    """Distribution-free interval of a median, [x_(k), x_(n-k+1)], from reported quartiles.

    ``k`` is the largest rank with P(Bin(n, 1/2) <= k - 1) <= (1 - level) / 2, so the
    interval covers the median with probability >= ``level``. A paper gives only the
    quartiles, so the two order statistics are interpolated linearly between Q1, median and
    Q3 placed at ranks p (n + 1) (approximate; exact only with the data).
    """
    from scipy.stats import binom

    a = (1 - level) / 2
    k = 0
    while binom.cdf(k, n, 0.5) <= a:  # ends at the largest k with P(X <= k - 1) <= a
        k += 1
    ranks = [0.25 * (n + 1), 0.5 * (n + 1), 0.75 * (n + 1)]
    lo = float(np.interp(k, ranks, [q1, median, q3]))
    hi = float(np.interp(n - k + 1, ranks, [q1, median, q3]))
    return lo, hi


def target_interval(target: dict[str, Any]) -> tuple[float, float, str]:
    """The 95% interval of a seed figure, and how it was obtained.

    Parameters
    ----------
    target : dict
        One entry of ``calibration.yaml`` ``targets``: ``seed_count: [k, n]`` (proportion:
        Clopper–Pearson), ``seed_mean_sd_n`` (mean: Student t), ``seed_sd_n`` (SD: chi-square),
        ``seed_quartiles_n: [q1, median, q3, n]`` (median: distribution-free, interpolated) or
        ``seed_interval: [low, high]`` with its ``interval_method`` stated.

    Returns
    -------
    tuple
        ``(low, high, method)``.

    Raises
    ------
    mst.errors.ValidationError
        If the target states no interval.
    """
    from mst.errors import ValidationError

    if "seed_count" in target:
        k, n = target["seed_count"]
        return (*clopper_pearson(int(k), int(n)), f"Clopper-Pearson {k}/{n}")
    if "seed_mean_sd_n" in target:
        m, sd, n = target["seed_mean_sd_n"]
        return (*mean_interval(m, sd, int(n)), f"t interval of {m} +/- {sd}, n = {n}")
    if "seed_sd_n" in target:
        sd, n = target["seed_sd_n"]
        return (*sd_interval(sd, int(n)), f"chi-square interval of SD {sd}, n = {n}")
    if "seed_quartiles_n" in target:
        q1, med, q3, n = target["seed_quartiles_n"]
        return (*median_interval_from_quartiles(q1, med, q3, int(n)),
                f"order statistics of n = {n} from Q1/median/Q3 {q1}/{med}/{q3}")
    if "seed_interval" in target and target.get("interval_method"):
        lo, hi = target["seed_interval"]
        return float(lo), float(hi), str(target["interval_method"])
    raise ValidationError("targets", target.get("definition"), "states no seed interval")


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
    lines = [
        f"Default simulator, n = {n:,}, seed = {seed}.",
        "",
        "| figure | 002 | 002's 95% interval (method) | simulated | inside |",
        "|---|---|---|---|---|",
    ]
    for name, t in calibration_targets().items():
        lo, hi, method = target_interval(t)
        v = metrics[name]
        ok = "yes" if lo <= v <= hi else "**no**"
        fmt = "{:.1%}" if "seed_count" in t else "{:.2f}"
        lines.append(
            f"| {name} ({t['definition']}) | {t['seed']} | {fmt.format(lo)}–{fmt.format(hi)} "
            f"({method}) | {fmt.format(v)} | {ok} |"
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
