"""Cox model against R survival::coxph (reference JSON from make_reference_regression.R)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mst.stats.cox_model import cox

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "reference" / "data" / "regression"
REF_DIR = Path(os.environ.get("MST_R_REFERENCE_DIR", ROOT / "tests" / "reference"))
CASES = sorted(p.name for p in (ROOT / "tests" / "reference").glob("ref_cox_*.json"))
RTOL = 1e-6


def _load(name: str) -> dict:
    path = REF_DIR / name
    if not path.exists():
        pytest.fail(f"reference file missing: {path} (run make_reference_regression.R)")
    return json.loads(path.read_text())


def _fit(ref: dict):
    df = pd.read_csv(DATA / ref["dataset"])
    if ref.get("na_omit"):
        df = df.dropna(subset=ref["na_omit"]).reset_index(drop=True)
    cluster = ref["cluster"] if ref.get("cluster") not in (None, "(row)") else None
    return cox(
        df,
        time=ref["time"],
        event=ref["event"],
        covariates=ref["covariates"],
        start=ref.get("start"),
        strata=ref.get("strata"),
        cluster=cluster,
        robust=bool(ref.get("robust")),
        ties=ref["ties"],
    )


@pytest.mark.r_parity
@pytest.mark.parametrize("name", CASES)
def test_cox_matches_coxph(name: str) -> None:
    ref = _load(name)
    res = _fit(ref)
    names = list(ref["coef"])
    assert res.names == names
    np.testing.assert_allclose(res.coef, [ref["coef"][k] for k in names], rtol=RTOL)
    np.testing.assert_allclose(res.naive_se, [ref["se"][k] for k in names], rtol=RTOL)
    if "robust_se" in ref:
        assert res.robust
        np.testing.assert_allclose(res.se, [ref["robust_se"][k] for k in names], rtol=RTOL)
        np.testing.assert_allclose(res.wald_test, ref["robust_wald_test"], rtol=RTOL)
    else:
        np.testing.assert_allclose(res.wald_test, ref["wald_test"], rtol=RTOL)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=1e-10)
    np.testing.assert_allclose(res.score_test, ref["score_test"], rtol=RTOL)
    np.testing.assert_allclose(res.lr_test, ref["lr_test"], rtol=RTOL)
    assert res.n == ref["n"]
    assert res.events == ref["events"]


@pytest.mark.r_parity
@pytest.mark.parametrize("name", CASES)
def test_zph_matches_cox_zph(name: str) -> None:
    ref = _load(name)
    z = _fit(ref).zph(terms=False)  # the reference is cox.zph(terms = FALSE)
    assert list(z.index) == list(ref["zph_chisq"])
    np.testing.assert_allclose(z.chisq, list(ref["zph_chisq"].values()), rtol=RTOL)
    np.testing.assert_allclose(z.p, list(ref["zph_p"].values()), rtol=RTOL)


def test_cox_reference_cases_exist() -> None:
    assert len(CASES) >= 10
