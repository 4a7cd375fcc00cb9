"""mst.stats against R (survival 3.x, cmprsk 2.2): reference JSON written by
tests/reference/make_reference.R from the CSV files of tests/reference/data/.

Set MST_R_REFERENCE_DIR to compare with freshly generated JSON (CI re-runs the R script).
Tolerance: 1e-8 relative (absolute 1e-15 only for values that are exactly 0 in R).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mst.stats import (
    chisq_test,
    cumulative_incidence,
    fisher_exact,
    kaplan_meier,
    logrank_test,
    median_followup,
)
from mst.stats.table1 import location_test, mann_whitney

pytestmark = pytest.mark.r_parity

HERE = Path(__file__).resolve().parents[1] / "reference"
DATA = HERE / "data"
REF = Path(os.environ.get("MST_R_REFERENCE_DIR", HERE))
RTOL = 1e-8
ATOL = 1e-15
FILES = [
    "ref_km.json",
    "ref_logrank.json",
    "ref_followup.json",
    "ref_cif.json",
    "ref_table1_tests.json",
]


def ref(name: str) -> dict[str, Any]:
    return json.loads((REF / name).read_text())


def arr(x: Any) -> np.ndarray:
    if not isinstance(x, list):
        x = [x]
    return np.array([np.nan if v is None else v for v in x], dtype=float)


def close(actual: Any, expected: Any, rtol: float = RTOL) -> None:
    a = np.atleast_1d(np.asarray(actual, dtype=float))
    e = arr(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    np.testing.assert_allclose(a, e, rtol=rtol, atol=ATOL, equal_nan=True)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    return pd.read_csv(DATA / "lung.csv")


@pytest.fixture(scope="module")
def veteran() -> pd.DataFrame:
    return pd.read_csv(DATA / "veteran.csv")


@pytest.fixture(scope="module")
def kbmt() -> pd.DataFrame:
    return pd.read_csv(DATA / "kmsurv_bmt.csv")


@pytest.fixture(scope="module")
def scr() -> pd.DataFrame:
    return pd.read_csv(DATA / "scrucca_bmt.csv")


def _km_cases(
    lung: pd.DataFrame, kbmt: pd.DataFrame, scr: pd.DataFrame
) -> dict[str, tuple[Any, Any, Any, Any]]:
    ev = (lung.status == 2).astype(int)
    return {
        "lung_all": (lung.time, ev, None, None),
        "lung_sex": (lung.time, ev, lung.sex, None),
        "lung_weighted": (lung.time, ev, None, lung.age / 60),
        "kmsurv_bmt_dfs": (kbmt.t2, kbmt.d3, kbmt.group, None),
        "scrucca_any": (scr.ftime, (scr.status > 0).astype(int), scr.dis, None),
    }


@pytest.mark.parametrize(
    "case", ["lung_all", "lung_sex", "lung_weighted", "kmsurv_bmt_dfs", "scrucca_any"]
)
@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_km_matches_survfit(
    case: str, conf_type: str, lung: pd.DataFrame, kbmt: pd.DataFrame, scr: pd.DataFrame
) -> None:
    time, event, group, weights = _km_cases(lung, kbmt, scr)[case]
    expected = ref("ref_km.json")[case][conf_type]
    res = kaplan_meier(time, event, group, conf_type=conf_type, weights=weights)  # type: ignore[arg-type]
    assert sorted(res.curves) == sorted(expected)
    for label, r in expected.items():
        c = res[label]
        close(c.time, r["time"])
        close(c.n_risk, r["n_risk"])
        close(c.n_event, r["n_event"])
        close(c.table.n_censor, r["n_censor"])
        close(c.surv, r["surv"])
        close(c.std_err, r["std_err"])
        close(c.lower, r["lower"])
        close(c.upper, r["upper"])
        close(
            [c.median, c.median_lower, c.median_upper],
            [r["median"], r["median_lower"], r["median_upper"]],
        )
        a = c.at(arr(r["at"]["time"]))
        close(a["survival"], r["at"]["surv"])
        close(a["std_err"], r["at"]["std_err"])
        close(a["lower"], r["at"]["lower"])
        close(a["upper"], r["at"]["upper"])
        close(a["n_risk"], r["at"]["n_risk"])


def _lr_cases(
    lung: pd.DataFrame, veteran: pd.DataFrame, kbmt: pd.DataFrame, scr: pd.DataFrame
) -> dict[str, dict[str, Any]]:
    ev = (lung.status == 2).astype(int)
    le = lung[lung["ph.ecog"].notna()]
    eve = (le.status == 2).astype(int)
    return {
        "lung_sex": {"time": lung.time, "event": ev, "group": lung.sex},
        "lung_sex_rho1": {"time": lung.time, "event": ev, "group": lung.sex, "rho": 1},
        "lung_sex_rho05": {"time": lung.time, "event": ev, "group": lung.sex, "rho": 0.5},
        "lung_ecog": {"time": le.time, "event": eve, "group": le["ph.ecog"]},
        "lung_sex_strata_ecog": {
            "time": le.time,
            "event": eve,
            "group": le.sex,
            "strata": le["ph.ecog"],
        },
        "lung_sex_strata_inst_rho1": {
            "time": le.time,
            "event": eve,
            "group": le.sex,
            "strata": le["ph.ecog"],
            "rho": 1,
        },
        "veteran_trt_strata_celltype": {
            "time": veteran.time,
            "event": veteran.status,
            "group": veteran.trt,
            "strata": veteran.celltype,
        },
        "veteran_celltype": {
            "time": veteran.time,
            "event": veteran.status,
            "group": veteran.celltype,
        },
        "kmsurv_bmt_dfs": {"time": kbmt.t2, "event": kbmt.d3, "group": kbmt.group},
        "kmsurv_bmt_dfs_rho1": {"time": kbmt.t2, "event": kbmt.d3, "group": kbmt.group, "rho": 1},
        "scrucca_any": {"time": scr.ftime, "event": (scr.status > 0).astype(int), "group": scr.dis},
    }


LR_CASES = [
    "lung_sex",
    "lung_sex_rho1",
    "lung_sex_rho05",
    "lung_ecog",
    "lung_sex_strata_ecog",
    "lung_sex_strata_inst_rho1",
    "veteran_trt_strata_celltype",
    "veteran_celltype",
    "kmsurv_bmt_dfs",
    "kmsurv_bmt_dfs_rho1",
    "scrucca_any",
]


@pytest.mark.parametrize("case", LR_CASES)
def test_logrank_matches_survdiff(
    case: str, lung: pd.DataFrame, veteran: pd.DataFrame, kbmt: pd.DataFrame, scr: pd.DataFrame
) -> None:
    r = ref("ref_logrank.json")[case]
    res = logrank_test(**_lr_cases(lung, veteran, kbmt, scr)[case])
    close(res.observed, r["observed"])
    close(res.expected, r["expected"])
    close(res.variance.T.ravel(), r["variance"])
    close(res.statistic, r["statistic"])
    assert res.df == r["df"]
    close(res.p, r["p"])


@pytest.mark.parametrize(
    ("case", "time", "event"),
    [("lung", "time", "status"), ("kmsurv_bmt", "t2", "d3"), ("veteran", "time", "status")],
)
def test_reverse_km_followup(
    case: str, time: str, event: str, lung: pd.DataFrame, kbmt: pd.DataFrame, veteran: pd.DataFrame
) -> None:
    df = {"lung": lung, "kmsurv_bmt": kbmt, "veteran": veteran}[case]
    ev = (df[event] == 2).astype(int) if case == "lung" else df[event]
    fu = median_followup(df[time], ev)
    r = ref("ref_followup.json")[case]
    close([fu.median, fu.lower, fu.upper], [r["median"], r["lower"], r["upper"]])


def _cif_cases(kbmt: pd.DataFrame, scr: pd.DataFrame) -> dict[str, dict[str, Any]]:
    ks = np.where(kbmt.d2 == 1, 1, np.where(kbmt.d1 == 1, 2, 0))
    return {
        "scrucca_dis": {"time": scr.ftime, "status": scr.status, "group": scr.dis},
        "scrucca_dis_rho1": {"time": scr.ftime, "status": scr.status, "group": scr.dis, "rho": 1},
        "kmsurv_bmt_group": {"time": kbmt.t2, "status": ks, "group": kbmt.group},
        "kmsurv_bmt_group_strata_z3": {
            "time": kbmt.t2,
            "status": ks,
            "group": kbmt.group,
            "strata": kbmt.z3,
        },
        "kmsurv_bmt_fab": {"time": kbmt.t2, "status": ks, "group": kbmt.z8, "rho": 0.5},
    }


CIF_CASES = [
    "scrucca_dis",
    "scrucca_dis_rho1",
    "kmsurv_bmt_group",
    "kmsurv_bmt_group_strata_z3",
    "kmsurv_bmt_fab",
]


@pytest.mark.parametrize("case", CIF_CASES)
@pytest.mark.parametrize("cause", [1, 2])
def test_cif_and_gray_match_cuminc(
    case: str, cause: int, kbmt: pd.DataFrame, scr: pd.DataFrame
) -> None:
    r = ref("ref_cif.json")[case][str(cause)]
    res = cumulative_incidence(cause=cause, **_cif_cases(kbmt, scr)[case])
    assert sorted(res.curves) == sorted(r["curves"])
    for label, rc in r["curves"].items():
        c = res[label]
        close(c.time, rc["time"])
        close(c.cif, rc["cif"])
        close(c.variance, rc["variance"])
        a = c.at(arr(r["at"]))
        close(a["cif"], rc["at_est"])
        close(a["variance"], rc["at_var"])
    g = r["gray"]
    assert res.gray is not None
    close(res.gray.statistic, g["statistic"])
    assert res.gray.df == g["df"]
    close(res.gray.p, g["p"])
    # cuminc's own p is 1 - pchisq(): equal in absolute terms
    assert abs(res.gray.p - g["p_cuminc"]) < 1e-14


def test_fisher_matches_fisher_test() -> None:
    cases = ref("ref_table1_tests.json")["fisher"]
    assert len(cases) == 9
    for r in cases.values():
        table = arr(r["table"]).reshape(r["nrow"], -1)
        close(fisher_exact(table).p, r["p"])


def test_chisq_matches_chisq_test() -> None:
    for r in ref("ref_table1_tests.json")["chisq"].values():
        res = chisq_test(arr(r["table"]).reshape(r["nrow"], -1))
        close(res.statistic, r["statistic"])
        assert res.df == r["df"]
        close(res.p, r["p"])


@pytest.mark.parametrize(
    ("case", "var", "by", "dataset"),
    [
        ("lung_age_by_sex", "age", "sex", "lung"),
        ("lung_wtloss_by_sex", "wt.loss", "sex", "lung"),
        ("lung_age_by_ecog", "age", "ph.ecog", "lung"),
        ("veteran_karno_by_trt", "karno", "trt", "veteran"),
        ("scrucca_ftime_by_dis", "ftime", "dis", "scr"),
    ],
)
def test_location_tests_match_r(
    case: str,
    var: str,
    by: str,
    dataset: str,
    lung: pd.DataFrame,
    veteran: pd.DataFrame,
    scr: pd.DataFrame,
) -> None:
    df = {"lung": lung, "veteran": veteran, "scr": scr}[dataset]
    df = df[df[var].notna() & df[by].notna()]
    parts = [df.loc[df[by] == lev, var].to_numpy(float) for lev in sorted(df[by].unique())]
    r = ref("ref_table1_tests.json")[case]
    if len(parts) == 2:
        close(location_test(parts, normal=True).p, r["welch"])
        close(location_test(parts, normal=False).p, r["wilcox"])
    else:
        close(location_test(parts, normal=True).p, r["anova"])
        close(location_test(parts, normal=False).p, r["kruskal"])


def test_exact_mann_whitney_matches_r() -> None:
    r = ref("ref_table1_tests.json")["small_exact"]
    res = mann_whitney(arr(r["a"]), arr(r["b"]))
    assert res.test == "Mann-Whitney U (exact)"
    close(res.p, r["wilcox"])


def _walk(a: Any, b: Any, path: str) -> None:
    if isinstance(b, dict):
        assert isinstance(a, dict) and sorted(a) == sorted(b), path
        for k in b:
            if k != "meta":
                _walk(a[k], b[k], f"{path}.{k}")
    elif isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk(x, y, f"{path}[{i}]")
    elif isinstance(b, float | int) and not isinstance(b, bool):
        assert isinstance(a, float | int), path
        assert math.isclose(a, b, rel_tol=1e-10, abs_tol=1e-300), (path, a, b)
    else:
        assert a == b, path


@pytest.mark.skipif(
    "MST_R_REFERENCE_DIR" not in os.environ,
    reason="set MST_R_REFERENCE_DIR to the output of make_reference.R",
)
@pytest.mark.parametrize("name", FILES)
def test_fresh_r_output_equals_committed(name: str) -> None:
    fresh = json.loads((REF / name).read_text())
    committed = json.loads((HERE / name).read_text())
    _walk(fresh, committed, name)


@pytest.mark.parametrize("case", ["cr", "early_death", "none", "all"])
def test_exact_binomial_ci_matches_binom_test(case: str) -> None:
    from mst.stats import proportion

    r = ref("ref_table1_tests.json")["binom"][case]
    k, n = int(r["k"]), int(r["n"])
    p = proportion([1] * k + [0] * (n - k))
    assert (p.k, p.n) == (k, n)
    close([p.lower, p.upper], [r["lower"], r["upper"]])
