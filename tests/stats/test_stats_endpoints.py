"""Seed-002 endpoints from a flat analysis table (tests/stats/data/flat_small.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.stats import endpoint_data, kaplan_meier, outcome_summary, proportion, rates_at
from mst.stats.endpoints import days_summary

FLAT = Path(__file__).parent / "data" / "flat_small.csv"


@pytest.fixture(scope="module")
def flat() -> pd.DataFrame:
    return pd.read_csv(FLAT)


@pytest.mark.parametrize(
    ("endpoint", "n", "events"),
    [
        ("os", 14, 11),  # every patient, deaths
        ("lfs", 11, 8),  # CR patients only; relapse or death
        ("cir", 11, 5),  # relapses
        ("nrm", 11, 3),  # deaths without relapse
    ],
)
def test_endpoint_population_and_events(
    flat: pd.DataFrame, endpoint: str, n: int, events: int
) -> None:
    t, s, _ = endpoint_data(flat, endpoint)
    assert t.size == n
    cause = {"os": 1, "lfs": 1, "cir": 1, "nrm": 2}[endpoint]
    assert int((s == cause).sum()) == events


def test_cir_plus_nrm_equals_one_minus_lfs(flat: pd.DataFrame) -> None:
    grid = [6.0, 12.0, 24.0, 36.0, 60.0]
    lfs = rates_at(flat, "lfs", [g / 12 for g in grid])["all"]
    cir = rates_at(flat, "cir", [g / 12 for g in grid])["all"]
    nrm = rates_at(flat, "nrm", [g / 12 for g in grid])["all"]
    for a, b, c in zip(lfs, cir, nrm, strict=True):
        assert b["rate"] + c["rate"] == pytest.approx(1 - a["rate"], abs=1e-12)


def test_rates_are_read_at_12_months_per_year(flat: pd.DataFrame) -> None:
    r = rates_at(flat, "os", (1, 3), by="age_group")
    for label in ("60-70", ">70"):
        sub = flat[flat.age_group == label]
        km = kaplan_meier(sub.os_months, sub.os_event)["all"].at([12.0, 36.0])
        np.testing.assert_allclose([x["rate"] for x in r[label]], km["survival"], rtol=1e-15)


@pytest.mark.parametrize(("status", "ok"), [(2, True), (3, False), (-1, False)])
def test_crs_status_codes(flat: pd.DataFrame, status: int, ok: bool) -> None:
    df = flat.copy()
    df.loc[0, "crs_status"] = status
    if ok:
        endpoint_data(df, "cir")
    else:
        with pytest.raises(ValidationError, match=r"crs_status \(rows 1\)"):
            endpoint_data(df, "cir")


def test_negative_time_names_column_and_row(flat: pd.DataFrame) -> None:
    df = flat.copy()
    df.loc[2, "os_months"] = -0.1
    with pytest.raises(ValidationError, match=r"os_months \(rows 3\).*>= 0"):
        endpoint_data(df, "os")


def test_missing_column_is_named(flat: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="lfs_event"):
        endpoint_data(flat.drop(columns="lfs_event"), "lfs")


def test_outcome_summary_blocks(flat: pd.DataFrame) -> None:
    d = outcome_summary(flat, by="age_group")
    assert d["cr"]["60-70"]["k"] == 7 and d["cr"]["60-70"]["n"] == 8
    assert d["early_death"][">70"]["k"] == 1
    assert d["os"]["median"]["60-70"]["events"] == 6
    assert d["os"]["logrank"]["df"] == 1
    assert d["cir"]["gray"]["df"] == 1
    assert d["followup"]["method"] == "reverse Kaplan-Meier"
    assert d["source"] == "002 Study endpoints"


@pytest.mark.parametrize(
    ("values", "k", "n"), [([True, False, None, True], 2, 3), ([0, 0], 0, 2), ([1], 1, 1)]
)
def test_proportion_ignores_missing(values: list[object], k: int, n: int) -> None:
    p = proportion(values)
    assert (p.k, p.n) == (k, n)
    assert 0 <= p.lower <= p.proportion <= p.upper <= 1


def test_proportion_rejects_non_boolean() -> None:
    with pytest.raises(ValidationError, match="boolean"):
        proportion([0, 2])


def test_recovery_days_summary(flat: pd.DataFrame) -> None:
    d = days_summary(flat, ["anc_recovery_days", "plt_recovery_days"])
    assert d["anc_recovery_days"]["n"] == 12
    assert d["anc_recovery_days"]["median"] == 12.0
    assert d["plt_recovery_days"]["n"] == 11
