"""Regression extras of issue 12 against R (tests/reference/make_reference_regression_extra.R
-> ref_regression_extra.json): Fine-Gray case weights (survival::finegray + coxph), the
standard error of Harrell's C (concordance(fit)), Cox exact ties (coxph ties = "exact") and
Fine-Gray time-varying effects (crr cov2/tf). Committed values, and fresh ones when
MST_R_REFERENCE_DIR is set."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mst.stats import cox, finegray

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "reference" / "data" / "regression"
COMMITTED = ROOT / "tests" / "reference" / "ref_regression_extra.json"
RTOL = 1e-6

pytestmark = pytest.mark.r_parity


def _refs() -> list[dict[str, Any]]:
    out = [json.loads(COMMITTED.read_text())]
    fresh = os.environ.get("MST_R_REFERENCE_DIR")
    if fresh:
        path = Path(fresh) / "ref_regression_extra.json"
        if not path.exists():
            pytest.fail(
                f"{path} missing: run make_reference_regression_extra.R into MST_R_REFERENCE_DIR"
            )
        out.append(json.loads(path.read_text()))
    return out


REFS = _refs()


def _flat(v: Any) -> list[float]:
    return [float(x) for x in np.ravel(np.asarray(v, dtype=np.float64))]


def test_fresh_reference_equals_committed() -> None:
    if len(REFS) < 2:
        pytest.skip("MST_R_REFERENCE_DIR not set")
    a, b = REFS

    def walk(x: Any, y: Any, where: str) -> None:
        if isinstance(x, dict):
            assert set(x) == set(y), where
            for k in x:
                if k != "meta":
                    walk(x[k], y[k], f"{where}.{k}")
        elif isinstance(x, list) and x and isinstance(x[0], int | float | type(None)):
            xa = np.array([np.nan if v is None else v for v in x], dtype=np.float64)
            ya = np.array([np.nan if v is None else v for v in y], dtype=np.float64)
            np.testing.assert_allclose(xa, ya, rtol=1e-10, err_msg=where)
        elif isinstance(x, list):
            assert len(x) == len(y), where
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                walk(u, v, f"{where}[{i}]")
        else:
            assert x == y, where

    walk(a, b, "ref")


# --- Fine-Gray case weights ---------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    df = pd.read_csv(DATA / "sim_ties.csv")
    df["id"] = np.arange(1, len(df) + 1)
    df["w"] = 0.5 + (df["id"] % 5) / 4
    df["t5"] = df["time"] + np.where(df["status"] == 0, 0.5, 0.0)
    return df


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("case", ["cause1", "cause2", "cause1_unweighted", "cause1_tf_log"])
def test_finegray_weights_match_survival_finegray(
    ref: dict[str, Any], case: str, sim: pd.DataFrame
) -> None:
    r = ref["fg_weights"][case]
    fit = finegray(
        sim,
        "Surv(t5, status) ~ x1 + x2 + x3",
        cause=int(_flat(r["cause"])[0]),
        weights=None if case.endswith("unweighted") else "w",
        tf={"x1": "log"} if case.endswith("tf_log") else None,
        tol=1e-10,
        max_iter=100,
        fixed_g_variance=True,
    )
    np.testing.assert_allclose(fit.coef, r["coef"], rtol=RTOL)
    # the log pseudo-likelihood is coxph's weighted Breslow log partial likelihood
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], r["loglik"], rtol=RTOL)
    # the information is coxph's (model-based variance = its inverse)
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(fit.info))), r["naive_se"], rtol=RTOL)
    # without the censoring correction, the sandwich is coxph's robust variance clustered
    # by subject on the expanded rows
    assert fit.var_fixed_g is not None
    np.testing.assert_allclose(np.sqrt(np.diag(fit.var_fixed_g)), r["cluster_id_se"], rtol=RTOL)
    # the reported SE adds crr's correction for the estimated censoring distribution
    assert np.all(fit.se != np.sqrt(np.diag(fit.var_fixed_g)))


def test_finegray_unit_and_constant_weights_equal_unweighted(sim: pd.DataFrame) -> None:
    kw: dict[str, Any] = {"time": "time", "status": "status", "covariates": ["x1", "x2", "x3"]}
    base = finegray(sim, **kw)
    # unit weights: the very same iterations as unweighted (crr's rule)
    one = finegray(sim.assign(c=1.0), weights="c", **kw)
    np.testing.assert_allclose(one.coef, base.coef, rtol=1e-12)
    np.testing.assert_allclose(one.var, base.var, rtol=1e-12)
    # constant weights: converged to 1e-10 (crr's loose rule may stop one step apart)
    kw.update(tol=1e-10, max_iter=50)
    base = finegray(sim, **kw)
    for c in (2.5,):
        df = sim.assign(c=c)
        fit = finegray(df, weights="c", **kw)
        np.testing.assert_allclose(fit.coef, base.coef, rtol=1e-10)
        # constant weights scale every influence term alike: the same variance
        np.testing.assert_allclose(fit.var, base.var, rtol=1e-9)
        assert fit.weighted and not base.weighted


def test_finegray_weights_errors(sim: pd.DataFrame) -> None:
    from mst.errors import ValidationError

    for bad, word in ((0.0, "must be > 0"), (-1.0, ">= 0"), (np.inf, "finite")):
        df = sim.assign(w=sim["w"].where(sim.index != 3, bad))
        with pytest.raises(ValidationError, match=word) as ei:
            finegray(df, time="time", status="status", covariates=["x1"], weights="w")
        assert re.search(r"weights \(rows? 4\)", str(ei.value))
    with pytest.raises(ValidationError, match="wt"):
        finegray(sim, time="time", status="status", covariates=["x1"], weights="wt")
    # a missing weight drops the row, counted as missing
    df = sim.assign(w=sim["w"].where(sim.index != 3))
    fit = finegray(df, time="time", status="status", covariates=["x1"], weights="w")
    assert fit.n_dropped == 1 and fit.n == len(sim) - 1


# --- concordance standard error -----------------------------------------------------


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    df = pd.read_csv(DATA / "lung.csv")
    df = df.dropna(subset=["time", "status", "age", "sex", "ph.ecog"]).reset_index(drop=True)
    df["w"] = 0.5 + ((np.arange(len(df)) + 1) % 4) / 2
    return df


CONC = {
    "lung": ("Surv(time, status) ~ age + sex + ph.ecog", None),
    "lung_tied_lp": ("Surv(time, status) ~ sex + ph.ecog", None),
    "lung_strata": ("Surv(time, status) ~ age + ph.ecog + strata(sex)", None),
    "lung_weighted": ("Surv(time, status) ~ age + sex + ph.ecog", "w"),
    "lung_entry": ("Surv(entry, time, status) ~ age + sex + ph.ecog", None),
    "jasa1_cluster": ("Surv(start, stop, event) ~ transplant + age + surgery + cluster(id)", None),
    "lung_cluster_inst": ("Surv(time, status) ~ age + sex + cluster(inst)", None),
}


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("case", sorted(CONC))
def test_concordance_and_se_match_r(ref: dict[str, Any], case: str, lung: pd.DataFrame) -> None:
    r = ref["concordance"][case]
    formula, w = CONC[case]
    if case == "jasa1_cluster":
        data = pd.read_csv(DATA / "jasa1.csv")
    elif case == "lung_cluster_inst":
        data = pd.read_csv(DATA / "lung.csv")
    else:
        data = lung.assign(entry=np.floor(lung["time"] * 0.25))
    fit = cox(data, formula, weights=w)
    np.testing.assert_allclose(fit.coef, r["coef"], rtol=RTOL)
    np.testing.assert_allclose(fit.concordance, _flat(r["concordance"])[0], rtol=1e-9)
    np.testing.assert_allclose(fit.concordance_se, _flat(r["se"])[0], rtol=1e-9)
    np.testing.assert_allclose([fit.concordance, fit.concordance_se], r["summary"], rtol=1e-9)
    c = fit.concordance_stats
    assert c is not None
    np.testing.assert_allclose(
        [c.concordant, c.discordant, c.tied_x, c.tied_y, c.tied_xy], r["count"], rtol=1e-12
    )
    d = fit.to_dict()
    assert d["concordance_se"] == pytest.approx(fit.concordance_se)
    assert f"se = {fit.concordance_se:.4f}" in fit.summary()


# --- Cox exact ties -----------------------------------------------------------------

EXACT = {
    "lung_60": "Surv(tm, status) ~ age + sex + ph.ecog",
    "lung_60_strata": "Surv(tm, status) ~ age + ph.ecog + strata(sex)",
    "lung_entry": "Surv(entry, time, status) ~ age + sex + ph.ecog",
}


@pytest.fixture(scope="module")
def exact_fits(lung: pd.DataFrame) -> dict[str, Any]:
    df = lung.assign(tm=np.ceil(lung["time"] / 60), entry=np.floor(lung["time"] * 0.25))
    return {k: cox(df, f, ties="exact") for k, f in EXACT.items()}


def _check_exact(fit: Any, r: dict[str, Any]) -> None:
    np.testing.assert_allclose(fit.coef, r["coef"], rtol=RTOL)
    np.testing.assert_allclose(fit.se, r["se"], rtol=RTOL)
    np.testing.assert_allclose(fit.loglik, r["loglik"], rtol=RTOL)
    np.testing.assert_allclose(fit.score_test, _flat(r["score"])[0], rtol=RTOL)
    np.testing.assert_allclose(fit.wald_test, _flat(r["wald"])[0], rtol=RTOL)
    np.testing.assert_allclose(fit.lr_test, _flat(r["lr"])[0], rtol=RTOL)
    assert fit.n == _flat(r["n"])[0] and fit.events == _flat(r["nevent"])[0]


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("case", sorted(EXACT))
def test_cox_exact_matches_r(ref: dict[str, Any], case: str, exact_fits: dict[str, Any]) -> None:
    _check_exact(exact_fits[case], ref["cox_exact"][case])


@pytest.mark.parametrize("ref", REFS)
def test_cox_exact_all_times_tied(ref: dict[str, Any]) -> None:
    r = ref["cox_exact"]["alltied"]
    df = pd.DataFrame({k: r[k] for k in ("time", "status", "x", "g")})
    _check_exact(cox(df, "Surv(time, status) ~ x + g", ties="exact"), r)


# --- Fine-Gray time-varying effects (crr cov2 / tf) -----------------------------------

TF: dict[str, tuple[str, dict[str, Any], list[str], int, str | None]] = {
    "sim_log": ("sim_ties.csv", {"x1": "log"}, ["x1", "x2", "x3"], 1, None),
    "sim_log_cengroup": ("sim_ties.csv", {"x1": "log"}, ["x1", "x2", "x3"], 1, "cg"),
    "sim_step_cause2": ("sim_ties.csv", {"x2": "step:10"}, ["x1", "x2", "x3"], 2, None),
    "bmt_t_step": (
        "kmsurv_bmt.csv",
        {"z1": lambda t: t / 365, "z8": "step:100"},
        ["z1", "z2", "z8"],
        1,
        None,
    ),
    "bmt_two_functions": (
        "kmsurv_bmt.csv",
        {"z1": ["log", lambda t: t / 365]},
        ["z1", "z8"],
        2,
        None,
    ),
}


@pytest.fixture(scope="module")
def tf_fits() -> dict[str, Any]:
    out = {}
    for case, (file, tf, cov, cause, cg) in TF.items():
        df = pd.read_csv(DATA / file)
        time = "time" if "time" in df else "t2"
        out[case] = finegray(
            df, time=time, status="status", covariates=cov, cause=cause, cengroup=cg, tf=tf,
            gtol=1e-10, max_iter=50,
        )  # fmt: skip
    return out


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("case", sorted(TF))
def test_finegray_tf_matches_crr(ref: dict[str, Any], case: str, tf_fits: dict[str, Any]) -> None:
    r = ref["fg_tf"][case]
    fit = tf_fits[case]
    assert len(fit.names) == len(r["names"])
    assert [n.split("*")[0] for n in fit.names] == [n.split("*")[0] for n in r["names"]]
    np.testing.assert_allclose(fit.coef, r["coef"], rtol=RTOL)
    np.testing.assert_allclose(fit.se, r["se"], rtol=RTOL)
    np.testing.assert_allclose(fit.var, np.array(r["var"]), rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(fit.info, np.array(r["inf"]), rtol=RTOL)
    np.testing.assert_allclose([fit.loglik, fit.loglik_null],
                               _flat(r["loglik"]) + _flat(r["loglik_null"]), rtol=RTOL)  # fmt: skip
    np.testing.assert_allclose(fit.uftime, r["uftime"], rtol=1e-12)
    np.testing.assert_allclose(fit.bfitj, r["bfitj"], rtol=RTOL)
    if "pred" in r:
        x1 = np.atleast_2d(np.array(r["newx1"], dtype=float))
        x2 = np.atleast_2d(np.array(r["newx2"], dtype=float))
        pred = fit.predict(np.column_stack([x1, x2]))
        np.testing.assert_allclose(pred.to_numpy(), np.array(r["pred"]).reshape(pred.shape),
                                   rtol=RTOL)  # fmt: skip


def test_fixed_g_variance_only_on_request_without_weights(sim: pd.DataFrame) -> None:
    kw = {"cause": 1, "tol": 1e-10, "max_iter": 100}
    plain = finegray(sim, "Surv(t5, status) ~ x1 + x2 + x3", **kw)
    assert plain.var_fixed_g is None
    asked = finegray(sim, "Surv(t5, status) ~ x1 + x2 + x3", fixed_g_variance=True, **kw)
    assert asked.var_fixed_g is not None
    np.testing.assert_array_equal(plain.se, asked.se)
    weighted = finegray(sim, "Surv(t5, status) ~ x1 + x2 + x3", weights="w", **kw)
    assert weighted.var_fixed_g is not None
