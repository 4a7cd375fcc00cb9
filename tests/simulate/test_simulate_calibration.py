"""The default simulator reproduces the seed figures (targets in calibration.yaml).

The non-slow test uses 3,000 patients (about 8 s): with that n a proportion near 0.5 has a
standard error of about 0.009, a quarter of the distance to the nearer bound of the ranges.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mst.cohort import build_flat_table
from mst.simulate import simulate_cohort
from mst.simulate.calibration_report import (
    calibration_metrics,
    death_cause_shares,
    km_median,
    km_survival,
)
from mst.simulate.config import calibration_targets


def _check(df: pd.DataFrame) -> None:
    metrics = calibration_metrics(df)
    for name, target in calibration_targets().items():
        lo, hi = target["range"]
        assert lo <= metrics[name] <= hi, f"{name} = {metrics[name]:.3f} outside [{lo}, {hi}]"
    # older patients do worse (002 Table 2)
    assert metrics["os_1y_over_70"] < metrics["os_1y_60_70"] - 0.15
    by_age = df.groupby("age_group")[["cr", "early_death"]].mean()
    assert by_age.loc[">70", "cr"] < by_age.loc["60-70", "cr"]
    assert by_age.loc[">70", "early_death"] > by_age.loc["60-70", "early_death"]
    # relapse is the commonest cause of death
    shares = death_cause_shares(df)
    assert next(iter(shares)) == "relapse"


def test_calibration_3000() -> None:
    _check(build_flat_table(simulate_cohort(3000, 2026)))


@pytest.mark.slow
def test_calibration_10000_other_seed() -> None:
    _check(build_flat_table(simulate_cohort(10_000, 99)))


@pytest.mark.parametrize(
    ("days", "events", "at", "expected"),
    [
        ([1, 2, 3, 4], [1, 1, 1, 1], 2, 0.5),
        ([1, 2, 3, 4], [1, 0, 1, 0], 3, 0.75 * 0.5),  # censored at 2 leaves 2 at risk at 3
        ([5, 5, 10], [1, 0, 1], 4.9, 1.0),
        ([5, 5, 10], [1, 0, 1], 5, 2 / 3),  # events at t count at t; censoring at t after events
    ],
)
def test_km_survival(days: list[int], events: list[int], at: float, expected: float) -> None:
    assert km_survival(days, events, at) == pytest.approx(expected)  # type: ignore[arg-type]


def test_km_median() -> None:
    assert km_median([1, 2, 3, 4], [1, 1, 1, 1]) == 2  # type: ignore[arg-type]
    assert km_median([1, 2, 3, 4], [0, 0, 0, 1]) == 4  # type: ignore[arg-type]
    assert km_median([1, 2], [0, 0]) != km_median([1, 2], [0, 0])  # NaN: not reached  # type: ignore[arg-type]


def _check_clopper_pearson(df: pd.DataFrame) -> None:
    from mst.simulate.calibration_report import clopper_pearson

    metrics = calibration_metrics(df)
    for name, target in calibration_targets().items():
        if "seed_count" not in target:
            continue
        k, n = target["seed_count"]
        lo, hi = clopper_pearson(k, n)
        assert lo <= metrics[name] <= hi, (
            f"{name} = {metrics[name]:.3f} outside 002's 95% CI [{lo:.3f}, {hi:.3f}] ({k}/{n})")


def test_clopper_pearson_interval() -> None:
    from mst.simulate.calibration_report import clopper_pearson

    lo, hi = clopper_pearson(25, 29)  # R: binom.test(25, 29)$conf.int
    assert (round(lo, 4), round(hi, 4)) == (0.6834, 0.9611)
    assert clopper_pearson(0, 29)[0] == 0.0 and clopper_pearson(29, 29)[1] == 1.0


def test_calibration_against_seed_intervals_3000() -> None:
    _check_clopper_pearson(build_flat_table(simulate_cohort(3000, 7)))


@pytest.mark.slow
def test_calibration_against_seed_intervals_10000() -> None:
    _check_clopper_pearson(build_flat_table(simulate_cohort(10_000, 2026)))
