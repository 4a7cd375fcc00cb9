"""Federated fits against R directly: survival's ``lung`` is a multi-institution data set,
so each institution becomes a node (coxph with strata(sex) and cluster(inst))."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mst.federated import coordinator as co
from mst.federated.simulation import simulated_federation

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "reference" / "data" / "regression"
REF = ROOT / "tests" / "reference"
RTOL = 1e-6  # the tolerance of tests/stats/test_cox_reference.py


@pytest.mark.r_parity
def test_lung_by_institution_equals_coxph() -> None:
    ref = json.loads((REF / "ref_cox_lung_strata_cluster_efron.json").read_text())
    df = pd.read_csv(DATA / ref["dataset"]).dropna(subset=ref["na_omit"]).reset_index(drop=True)
    df["inst"] = df["inst"].astype(int).map(lambda i: f"I{i:02d}")
    fed, nodes = simulated_federation(df, "inst")
    assert len(nodes) == 18
    res = co.cox_payload(
        fed,
        "time",
        "status",
        ref["covariates"],
        ["sex"],
        "inst",
        True,
        "efron",
        {},
        0.95,
        split_by="inst",
    )
    names = list(ref["coef"])
    np.testing.assert_allclose(
        [res["coef"][k] for k in names], [ref["coef"][k] for k in names], rtol=RTOL
    )
    np.testing.assert_allclose(
        [res["se"][k] for k in names], [ref["robust_se"][k] for k in names], rtol=RTOL
    )
    np.testing.assert_allclose(res["loglik"], ref["loglik"], rtol=1e-10)
    np.testing.assert_allclose(
        res["tests"]["wald"]["statistic"], ref["robust_wald_test"], rtol=RTOL
    )
    assert (res["n"], res["events"]) == (ref["n"], ref["events"])


@pytest.mark.r_parity
def test_mgus2_finegray_cengroup_equals_crr() -> None:
    ref = json.loads((REF / "ref_crr_mgus2_cengroup.json").read_text())
    df = pd.read_csv(DATA / ref["dataset"]).dropna(subset=ref["na_omit"]).reset_index(drop=True)
    df["center"] = [f"C{i % 3 + 1}" for i in range(len(df))]
    fed, _ = simulated_federation(df, "center")
    res = co.finegray_payload(
        fed,
        ref["time"],
        ref["status"],
        ref["failcode"],
        ref["covariates"],
        0,
        ref["cengroup"],
        {},
        0.95,
    )
    names = list(ref["coef"])
    np.testing.assert_allclose(
        [res["coef"][k] for k in names], [ref["coef"][k] for k in names], rtol=RTOL
    )
    np.testing.assert_allclose(
        [res["se"][k] for k in names], [ref["se"][k] for k in names], rtol=RTOL
    )
    np.testing.assert_allclose(res["loglik"], ref["loglik"], rtol=1e-9)
    assert res["n"] == ref["n"]
