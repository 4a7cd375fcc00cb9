"""Federated results equal the pooled ``mst stats`` results (same keys, 1e-8 relative)."""

from __future__ import annotations

import pandas as pd
import pytest

from mst.federated.analyses import Options, run_federated, run_pooled
from mst.federated.simulation import simulated_federation

from .conftest import as_json, assert_same

CASES = {
    "km": Options(time="os_months", event="os_event", group="age_group", at=[12.0, 36.0]),
    "km-strata-rho": Options(
        time="os_months",
        event="os_event",
        group="sex",
        strata="center_id",
        rho=1.0,
        conf_type="log",
    ),
    "cif-gray": Options(
        time="crs_months", status="crs_status", cause=1, group="age_group", at=[12.0]
    ),
    "cif-gray-strata": Options(
        time="crs_months", status="crs_status", cause=2, group="sex", strata="center_id"
    ),
    "followup": Options(time="os_months", event="os_event"),
    "cox-efron": Options(
        time="os_days", event="os_event", covariates=["age_group", "courses_gt3", "age"]
    ),
    "cox-strata-center-robust": Options(
        time="os_days",
        event="os_event",
        strata="center_id",
        covariates=["age_group", "courses_gt3", "age"],
        robust=True,
    ),
    "cox-breslow-cluster-center": Options(
        time="os_days",
        event="os_event",
        ties="breslow",
        covariates=["courses_gt3", "age"],
        cluster="center_id",
        reference={},
    ),
    "cox-reference": Options(
        time="os_days",
        event="os_event",
        covariates=["age_group", "sex"],
        reference={"age_group": ">70"},
    ),
    "finegray": Options(
        time="crs_days", status="crs_status", cause=1, covariates=["age_group", "age"]
    ),
    "finegray-cengroup": Options(
        time="crs_days",
        status="crs_status",
        cause=2,
        covariates=["courses_gt3", "age"],
        cengroup="sex",
    ),
    "table1": Options(
        by="age_group", variables=["sex", "age", "cr", "n_courses", "eln_risk", "cd34_1e6_per_kg"]
    ),
}


def _analysis(case: str) -> str:
    return case.split("-")[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_federated_equals_pooled(flat: pd.DataFrame, case: str) -> None:
    opts = CASES[case]
    fed, _ = simulated_federation(flat, "center_id")
    got = as_json(run_federated(fed, _analysis(case), opts, split_by="center_id"))
    want = as_json(run_pooled(flat, _analysis(case), opts))
    assert_same(got, want)
    assert fed.centers == ["C01", "C02", "C03"]


def test_centers_really_differ(flat: pd.DataFrame) -> None:
    """Guard against a vacuous test: each center alone gives a different Cox fit."""
    opts = CASES["cox-efron"]
    pooled = run_pooled(flat, "cox", opts)["coef"]
    for _, part in flat.groupby("center_id"):
        alone = run_pooled(part, "cox", opts)["coef"]
        assert abs(alone["age"] - pooled["age"]) > 1e-4
