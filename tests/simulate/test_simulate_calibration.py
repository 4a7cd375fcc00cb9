"""The default simulator reproduces seed 002 within 002's own 95% intervals.

Every target of ``calibration.yaml`` is checked against the interval of 002's figure
(Clopper–Pearson for its counts k/29; t, chi-square and order-statistic intervals for the
donor-age mean and SD and the median MNC; see :func:`target_interval`) — never a range of our
own. The default suite simulates 2,000 patients once for the whole module; the 10,000-patient
check is marked slow and run by its own step of ``.ci/run``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mst.cohort import build_flat_table
from mst.simulate import simulate_cohort
from mst.simulate.calibration_report import (
    calibration_metrics,
    clopper_pearson,
    death_cause_shares,
    km_median,
    km_survival,
    mean_interval,
    median_interval_from_quartiles,
    sd_interval,
    target_interval,
)
from mst.simulate.config import calibration_targets


def _check_against_seed_intervals(df: pd.DataFrame) -> None:
    metrics = calibration_metrics(df)
    outside = []
    for name, target in calibration_targets().items():
        lo, hi, method = target_interval(target)
        value = metrics[name]
        if not lo <= value <= hi:  # NaN fails too
            outside.append(f"{name} = {value:.4f} outside [{lo:.4f}, {hi:.4f}] ({method})")
    assert not outside, "; ".join(outside)
    # older patients do worse (002 Table 2), relapse the commonest cause of death
    assert metrics["os_1y_over_70"] < metrics["os_1y_60_70"] - 0.15
    assert metrics["cr_over_70"] < metrics["cr_60_70"]
    assert metrics["early_death_over_70"] > metrics["early_death_60_70"]
    assert next(iter(death_cause_shares(df))) == "relapse"


@pytest.fixture(scope="module")
def table_2000() -> pd.DataFrame:
    return build_flat_table(simulate_cohort(2000, 2026))


def test_calibration_against_seed_intervals_2000(table_2000: pd.DataFrame) -> None:
    _check_against_seed_intervals(table_2000)


@pytest.mark.slow
def test_calibration_against_seed_intervals_10000() -> None:
    _check_against_seed_intervals(build_flat_table(simulate_cohort(10_000, 2026)))


def test_every_target_has_a_seed_interval_around_the_seed_figure() -> None:
    targets = calibration_targets()
    # the figures of issue 16 item 12 are all there
    assert {"age_under_60", "hla_not_5_or_6_of_10", "chimerism_ever_positive", "mnc_median",
            "donor_age_sd", "ae_nausea", "ae_vomiting", "os_3y_60_70"} <= set(targets)
    for name, t in targets.items():
        lo, hi, method = target_interval(t)
        assert lo <= hi and t["seed"] and t["definition"] and method, name
        if "seed_count" in t:
            k, n = t["seed_count"]
            assert lo <= k / n <= hi, name


def test_calibration_metrics_count_what_they_say() -> None:
    df = pd.DataFrame({
        "age": [59, 60, 70, 71], "sex": ["M", "F", "F", "F"],
        "donor_sex": ["F", "F", "M", "M"], "donor_related": [True, True, False, pd.NA],
        "donor_age": [30, 40, 50, pd.NA], "age_group": ["<60", "60-70", "60-70", ">70"],
        "hla_mismatches_10": pd.array([5, 6, 7, pd.NA], dtype="Int64"),
        "courses_gt3": [True, False, True, False], "mnc_1e8_per_kg": [1.0, 2.0, 3.0, 10.0],
        "cr": [True, True, False, False], "death": [False, True, True, True],
        "early_death": [False, False, pd.NA, True],
        "os_days": [400, 300, 100, 10], "os_event": [0, 1, 1, 1],
        "diagnosis_date": pd.to_datetime(["2020-01-01"] * 4),
        "cr_date": pd.to_datetime(["2020-02-01", "2020-02-01", None, None]),
        "lfs_days": pd.array([300, 200, pd.NA, pd.NA], dtype="Int64"),
        "lfs_event": pd.array([0, 1, pd.NA, pd.NA], dtype="Int64"),
        "gvhd": [False, False, False, True], "chimerism_positive": [pd.NA, False, True, False],
        "ae_nausea": [True, True, False, False], "ae_vomiting": [True, False, False, False],
    })
    m = calibration_metrics(df)
    assert m["age_under_60"] == 0.25 and m["male"] == 0.25 and m["donor_female"] == 0.5
    assert m["donor_related"] == pytest.approx(2 / 3)  # missing values left out
    assert m["donor_age_mean"] == 40 and m["donor_age_sd"] == 10
    assert m["hla_5_of_10"] == pytest.approx(1 / 3)
    assert m["hla_not_5_or_6_of_10"] == pytest.approx(1 / 3)
    assert m["mnc_median"] == 2.5 and m["early_death_rate"] == 0.25
    assert m["chimerism_ever_positive"] == 0.25  # no test counts as negative
    assert m["ae_nausea"] == 0.5 and m["ae_vomiting"] == 0.25
    assert m["ae_sepsis"] != m["ae_sepsis"]  # column absent: NaN, which fails the check
    assert m["os_1y_60_70"] == 0.0 and m["os_1y"] == pytest.approx(0.25)
    # LFS over all patients from diagnosis (002 Table 2): no CR = failure at day 0
    assert m["lfs_1y"] == pytest.approx(0.25)  # two failures at 0, one at 231, censored at 331
    assert m["lfs_1y_60_70"] == 0.0  # relapse at 31 + 200 days, the other without CR


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


def test_clopper_pearson_interval() -> None:
    lo, hi = clopper_pearson(25, 29)  # R: binom.test(25, 29)$conf.int
    assert (round(lo, 4), round(hi, 4)) == (0.6834, 0.9611)
    assert clopper_pearson(0, 29) == (0.0, pytest.approx(0.1194449, abs=1e-7))  # 1-0.025^(1/29)
    assert clopper_pearson(29, 29)[1] == 1.0


def test_mean_and_sd_intervals_match_r() -> None:
    # R: 38.24 + c(-1, 1) * qt(0.975, 28) * 6.16 / sqrt(29)
    lo, hi = mean_interval(38.24, 6.16, 29)
    assert (round(lo, 4), round(hi, 4)) == (35.8969, 40.5831)
    # R: sqrt(28 * 6.16^2 / qchisq(c(0.975, 0.025), 28))
    lo, hi = sd_interval(6.16, 29)
    assert (round(lo, 4), round(hi, 4)) == (4.8884, 8.3311)


def test_median_interval_from_quartiles() -> None:
    # n = 29: qbinom(0.025, 29, 0.5) = 9 -> [x(9), x(21)]; ranks of Q1/median/Q3 7.5/15/22.5
    lo, hi = median_interval_from_quartiles(2.66, 3.57, 4.23, 29)
    assert lo == pytest.approx(2.66 + 1.5 / 7.5 * (3.57 - 2.66))
    assert hi == pytest.approx(3.57 + 6 / 7.5 * (4.23 - 3.57))


def test_target_without_interval_is_refused() -> None:
    from mst.errors import ValidationError

    with pytest.raises(ValidationError, match="no seed interval"):
        target_interval({"seed": "x", "definition": "a figure", "seed_interval": [0, 1]})
