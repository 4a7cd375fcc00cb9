"""Fine–Gray model against R cmprsk::crr (reference JSON from make_reference_regression.R)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mst.stats.finegray_model import finegray

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "reference" / "data" / "regression"
REF_DIR = Path(os.environ.get("MST_R_REFERENCE_DIR", ROOT / "tests" / "reference"))
CASES = sorted(p.name for p in (ROOT / "tests" / "reference").glob("ref_crr_*.json"))
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
    cat = ref.get("categorical") or []
    cat = [cat] if isinstance(cat, str) else cat
    for c in cat:
        df[c] = df[c].astype(str)
    cols = ref["columns"]
    cols = [cols] if isinstance(cols, str) else cols
    return finegray(
        df,
        time=ref["time"],
        status=ref["status"],
        covariates=cols,
        cause=int(ref["failcode"]),
        cengroup=ref.get("cengroup"),
    )


@pytest.mark.r_parity
@pytest.mark.parametrize("name", CASES)
def test_finegray_matches_crr(name: str) -> None:
    ref = _load(name)
    res = _fit(ref)
    names = list(ref["coef"])
    assert res.names == names
    assert res.converged and ref["converged"]
    np.testing.assert_allclose(res.coef, [ref["coef"][k] for k in names], rtol=RTOL)
    np.testing.assert_allclose(res.se, [ref["se"][k] for k in names], rtol=RTOL)
    np.testing.assert_allclose(res.var, np.array(ref["var"]), rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(res.info, np.array(ref["inf"]), rtol=RTOL)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=1e-10)
    np.testing.assert_allclose(res.loglik_null, ref["loglik_null"], rtol=1e-10)
    np.testing.assert_allclose(res.uftime, ref["uftime"])
    np.testing.assert_allclose(res.bfitj, ref["bfitj"], rtol=RTOL)
    assert res.n == ref["n"]
    if "predict_x" in ref:
        x = np.array(ref["predict_x"], dtype=float)
        want = np.array(ref["predict_cif"], dtype=float).reshape(len(ref["uftime"]), -1)
        np.testing.assert_allclose(res.predict(x).to_numpy(), want, rtol=RTOL, atol=1e-12)


def test_finegray_reference_cases_exist() -> None:
    assert len(CASES) >= 9
