"""Analyst API against R (tests/reference/make_reference_analyst.R -> ref_analyst.json):
factor level order, Cox concordance/AIC/baseline hazard/residuals/prediction/zph per term,
Nelson-Aalen, RMST, Kaplan-Meier with left truncation, pairwise and trend log-rank."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.stats import (
    cox,
    kaplan_meier,
    pairwise_logrank,
    r_sort,
    trend_logrank,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "reference" / "data" / "regression"
COMMITTED = ROOT / "tests" / "reference" / "ref_analyst.json"
RTOL = 1e-7

pytestmark = pytest.mark.r_parity


def _refs() -> list[dict[str, Any]]:
    out = [json.loads(COMMITTED.read_text())]
    fresh = os.environ.get("MST_R_REFERENCE_DIR")
    if fresh:
        path = Path(fresh) / "ref_analyst.json"
        if not path.exists():
            pytest.fail(f"{path} missing: run make_reference_analyst.R into MST_R_REFERENCE_DIR")
        out.append(json.loads(path.read_text()))
    return out


REFS = _refs()


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    df = pd.read_csv(DATA / "lung.csv")
    df = df.dropna(subset=["time", "status", "age", "sex", "ph.ecog"]).reset_index(drop=True)
    df["sex_f"] = np.where(df.sex == 1, "Male", "female")
    df["entry"] = np.floor(df.time * 0.25)
    return df


@pytest.fixture(scope="module")
def fits(lung: pd.DataFrame) -> dict[str, Any]:
    return {
        t: cox(lung, "Surv(time, status) ~ age + sex + ph.ecog", ties=t)
        for t in ("efron", "breslow")
    }


def _one(x: Any) -> float:
    return float(x[0] if isinstance(x, list) else x)


@pytest.mark.parametrize("ref", REFS)
def test_factor_levels_follow_r_sort(ref: dict[str, Any]) -> None:
    fo = ref["factor_order"]
    assert r_sort(fo["labels"]) == fo["sorted"]
    assert fo["levels_low_mid_high"] == ["high", "Low", "Mid"]


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_extras_match_r(ref: dict[str, Any], ties: str, fits: dict[str, Any]) -> None:
    r = ref[f"cox_lung_{ties}"]
    f = fits[ties]
    np.testing.assert_allclose(f.coef, r["coef"], rtol=1e-6)
    assert f.aic == pytest.approx(_one(r["aic"]), rel=1e-9)
    assert f.concordance == pytest.approx(_one(r["concordance"]), rel=1e-12)
    bh = f.baseline_hazard()
    np.testing.assert_allclose(bh.time, r["basehaz_time"])
    np.testing.assert_allclose(bh.cumhaz, r["basehaz_cumhaz"], rtol=1e-6)
    np.testing.assert_allclose(f.residuals("martingale"), r["martingale"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(f.residuals("deviance"), r["deviance"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(f.residuals("score"), r["score"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(f.residuals("dfbeta"), r["dfbeta"], rtol=1e-5, atol=1e-10)
    sch = f.residuals("schoenfeld")
    np.testing.assert_allclose(sch.time, r["schoenfeld_time"])
    np.testing.assert_allclose(sch[f.names], r["schoenfeld"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(f.predict(type="lp"), r["lp"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(f.predict(type="risk"), r["risk"], rtol=1e-6)
    x = np.array(r["newx"])
    surv = f.predict(x, type="survival", times=r["pred_times"]).to_numpy()
    np.testing.assert_allclose(surv, r["pred_surv"], rtol=1e-6)
    np.testing.assert_allclose(f.predict(x, type="median"), np.ravel(r["pred_median"]))
    zr = f.zph_residuals()  # the points plot(cox.zph(fit)) draws
    np.testing.assert_allclose(zr.time, r["zph_time"])
    np.testing.assert_allclose(zr[f.names], r["zph_y"], rtol=1e-6, atol=1e-8)
    if ties == "efron":
        ax = f.plot_zph("age")
        assert ax.get_ylabel() == "Beta(t) for age"


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_case_weights_match_coxph(ref: dict[str, Any], ties: str, lung: pd.DataFrame) -> None:
    df = lung.assign(w=0.5 + ((np.arange(len(lung)) + 1) % 4) / 2)
    f = cox(df, "Surv(time, status) ~ age + sex + ph.ecog", ties=ties, weights="w")
    r = ref[f"cox_weighted_{ties}"]
    np.testing.assert_allclose(f.coef, r["coef"], rtol=1e-6)
    # R switches to the robust variance for non-integer weights; the model-based one is
    # naive.var there (robust variance with weights is not implemented here)
    np.testing.assert_allclose(f.se, r["naive_se"], rtol=1e-6)
    np.testing.assert_allclose(f.loglik, r["loglik"], rtol=1e-9)
    assert f.score_test == pytest.approx(_one(r["score"]), rel=1e-6)
    with pytest.raises(ValidationError, match="case-weighted"):
        f.residuals()


def test_integer_weights_equal_replicated_rows(lung: pd.DataFrame) -> None:
    df = lung.assign(k=1 + np.arange(len(lung)) % 3)
    rep = df.loc[df.index.repeat(df.k)].reset_index(drop=True)
    for ties in ("efron", "breslow"):
        a = cox(df, "Surv(time, status) ~ age + sex", ties=ties, weights="k")
        b = cox(rep, "Surv(time, status) ~ age + sex", ties=ties)
        if ties == "breslow":  # Efron's tie correction differs between the two, as in R
            np.testing.assert_allclose(a.coef, b.coef, rtol=1e-8)
            np.testing.assert_allclose(a.se, b.se, rtol=1e-8)
        assert a.weighted and a.n == len(df)


@pytest.mark.parametrize("ref", REFS)
def test_zph_pooled_per_term(ref: dict[str, Any]) -> None:
    vet = pd.read_csv(DATA / "veteran.csv")
    f = cox(vet, "Surv(time, status) ~ trt + celltype + karno")
    z = f.zph()
    r = ref["zph_terms"]
    assert list(z.index) == ["trt", "celltype", "karno", "GLOBAL"]
    np.testing.assert_allclose(z.chisq, r["chisq"], rtol=1e-6)
    np.testing.assert_array_equal(z.df, r["df"])


@pytest.mark.parametrize("ref", REFS)
def test_text_factor_reference_is_r_default(ref: dict[str, Any], lung: pd.DataFrame) -> None:
    # "female" < "Male" in R's collation (case is ignored first): female is the reference
    a = cox(lung, time="time", event="status", covariates=["age", "sex_f"])
    b = cox(lung, "Surv(time, status) ~ age + sex_f")
    r = ref["cox_text_factor"]
    assert r["names"] == ["age", "grpMale"]
    for fit in (a, b):
        assert fit.names == ["age", "sex_f[Male]"]
        assert fit.references == {"sex_f": "female"}
        np.testing.assert_allclose(fit.coef, r["coef"], rtol=1e-6)
    assert "reference levels: sex_f = female" in a.summary()


@pytest.mark.parametrize("ref", REFS)
def test_nelson_aalen_rmst_and_left_truncation(ref: dict[str, Any], lung: pd.DataFrame) -> None:
    c = kaplan_meier(data=lung, formula="Surv(time, status) ~ 1")["all"]
    na = ref["nelson_aalen"]
    np.testing.assert_allclose(c.time, na["time"])
    np.testing.assert_allclose(c.cumhaz, na["cumhaz"], rtol=1e-12)
    np.testing.assert_allclose(c.std_cumhaz, na["std_chaz"], rtol=1e-12)
    ra = ref["rmean_all"]
    est, se = c.rmst(_one(ra["tau"]))
    assert est == pytest.approx(_one(ra["rmean"]), rel=1e-12)
    assert se == pytest.approx(_one(ra["se"]), rel=1e-10)
    rs = ref["rmean_sex"]
    by = kaplan_meier("time", "status", "sex", data=lung).rmst(_one(rs["tau"]))
    np.testing.assert_allclose(by.rmst, rs["rmean"], rtol=1e-12)
    np.testing.assert_allclose(by.se, rs["se"], rtol=1e-10)
    ke = kaplan_meier(data=lung, formula="Surv(entry, time, status) ~ 1")["all"]
    rt = np.asarray(ref["km_entry"]["time"])
    i = np.searchsorted(ke.time, rt, side="right") - 1
    np.testing.assert_allclose(ke.surv[i], ref["km_entry"]["surv"], rtol=1e-12)
    np.testing.assert_allclose(ke.at(rt)["n_risk"], ref["km_entry"]["n_risk"])


@pytest.mark.parametrize("ref", REFS)
def test_pairwise_and_trend_logrank(ref: dict[str, Any], lung: pd.DataFrame) -> None:
    l3 = lung[lung["ph.ecog"] <= 2]
    pw = pairwise_logrank(data=l3, formula="Surv(time, status) ~ ph.ecog", adjust="none")
    for row, r in zip(pw.itertuples(), ref["pairwise"], strict=True):
        assert (float(row.group_a), float(row.group_b)) == (_one(r["a"]), _one(r["b"]))
        assert row.chisq == pytest.approx(_one(r["chisq"]), rel=1e-10)
        assert row.p == pytest.approx(_one(r["p"]), rel=1e-8)
    stat, p = trend_logrank("time", "status", "ph.ecog", data=l3)
    assert stat == pytest.approx(_one(ref["trend"]["chisq"]), rel=1e-10)
    assert p == pytest.approx(_one(ref["trend"]["p"]), rel=1e-8)


def test_holm_adjustment() -> None:
    # R: p.adjust(c(0.01, 0.04, 0.03), "holm") = 0.03 0.06 0.06
    rng = np.random.default_rng(0)
    n = 90
    df = pd.DataFrame(
        {
            "t": rng.exponential(1, n),
            "e": rng.integers(0, 2, n),
            "g": np.repeat(["a", "b", "c"], n // 3),
        }
    )
    raw = pairwise_logrank(data=df, formula="Surv(t, e) ~ g", adjust="none")
    holm = pairwise_logrank(data=df, formula="Surv(t, e) ~ g", adjust="holm")
    p = raw.p.to_numpy()
    o = np.argsort(p)
    expect = np.minimum(np.maximum.accumulate(p[o] * np.array([3, 2, 1])), 1)
    np.testing.assert_allclose(np.sort(holm.p_adjusted.to_numpy()), np.sort(expect))


def test_concordance_counts_equal_the_pair_definition() -> None:
    from mst.stats._cox_extras import concordance

    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(2, 30))
        t = rng.integers(0, 6, n).astype(float)
        d = rng.random(n) < 0.6
        r = rng.integers(0, 4, n).astype(float)
        conc = disc = tie = 0
        for i in np.flatnonzero(d):
            later = (t > t[i]) | ((t == t[i]) & ~d)
            conc += int((later & (r < r[i])).sum())
            tie += int((later & (r == r[i])).sum())
            disc += int((later & (r > r[i])).sum())
        got = concordance(t, d, r, np.zeros(n, dtype=np.intp))
        assert got[1:4] == (conc, disc, tie)
