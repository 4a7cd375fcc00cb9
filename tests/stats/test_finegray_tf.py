"""Fine-Gray time-varying effects (crr cov2/tf) and case weights: properties and edge cases
(R parity is in test_regression_extra_reference.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.stats import finegray, finegray_fit

DATA = Path(__file__).resolve().parents[2] / "tests" / "reference" / "data" / "regression"


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return pd.read_csv(DATA / "sim_ties.csv")


def test_named_function_equals_callable_and_crr_style_matrix(sim: pd.DataFrame) -> None:
    a = finegray(sim, time="time", status="status", covariates=["x1", "x2"], tf={"x1": "t"})
    b = finegray(sim, time="time", status="status", covariates=["x1", "x2"], tf={"x1": lambda t: t})
    X = sim[["x1", "x2"]].to_numpy()
    c = finegray_fit(
        X, sim.time, sim.status, cov2=X[:, 0], tf=lambda u: u[:, None], names=["x1", "x2"]
    )
    for f in (b, c):
        np.testing.assert_allclose(a.coef, f.coef, rtol=1e-12)
        np.testing.assert_allclose(a.var, f.var, rtol=1e-12)
    assert a.names[-1] == "x1*t" and c.names[-1] == "z1*tf1"


def test_constant_weights_with_tf_equal_unweighted(sim: pd.DataFrame) -> None:
    kw = {"time": "time", "status": "status", "covariates": ["x1", "x2"], "tf": {"x1": "log"},
          "tol": 1e-10, "max_iter": 50}  # fmt: skip
    a = finegray(sim, **kw)
    b = finegray(sim.assign(w=2.5), weights="w", **kw)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    np.testing.assert_allclose(a.var, b.var, rtol=1e-9)


def test_tf_with_one_failure_time(sim: pd.DataFrame) -> None:
    # the cause of interest happens at one time only: x·f(t) is x rescaled by f(u1)
    df = sim.assign(status=np.where((sim.status == 1) & (sim.time != 5), 2, sim.status))
    assert df.time[df.status == 1].nunique() == 1
    plain = finegray(df, time="time", status="status", covariates=["x1", "x3"])
    tv = finegray(df, time="time", status="status", covariates=["x3"], tf={"x1": "log"})
    assert tv.uftime.tolist() == [5.0]
    np.testing.assert_allclose(tv.coef[-1] * np.log(5.0), plain.coef[0], rtol=1e-8)
    np.testing.assert_allclose(tv.se[-1] * np.log(5.0), plain.se[0], rtol=1e-8)
    with pytest.raises(ValidationError, match="collinear with x1") as ei:
        finegray(df, time="time", status="status", covariates=["x1"], tf={"x1": "log"})
    assert "x1*log(t)" in str(ei.value) and "1 failure time" in str(ei.value)


def test_tf_errors_name_the_field(sim: pd.DataFrame) -> None:
    kw = {"time": "time", "status": "status", "covariates": ["x1"]}
    zero = sim.assign(time=np.where(sim.index == 0, 0.0, sim.time), status=sim.status)
    zero.loc[0, "status"] = 1
    with pytest.raises(ValidationError, match="log needs times > 0") as ei:
        finegray(zero, tf={"x2": "log"}, **kw)
    assert "tf (x2)" in str(ei.value)
    with pytest.raises(ValidationError, match="must be log, t, sqrt or step"):
        finegray(sim, tf={"x2": "exp"}, **kw)
    with pytest.raises(ValidationError, match="one value per failure time"):
        finegray(sim, tf={"x2": lambda t: 1.0}, **kw)
    with pytest.raises(ValidationError, match="0 at every failure time"):
        finegray(sim, tf={"x2": "step:30"}, **kw)
    with pytest.raises(ValidationError, match="constant covariate"):
        finegray(sim.assign(k=1.0), tf={"k": "log"}, **kw)
    with pytest.raises(ValidationError, match="x4"):
        finegray(sim.assign(x4=["a"] * len(sim)), tf={"x4": "log"}, **kw)
    X = sim[["x1"]].to_numpy()
    with pytest.raises(ValidationError, match="cov2 needs its functions of time"):
        finegray_fit(X, sim.time, sim.status, cov2=X)
    with pytest.raises(ValidationError, match="tf needs the covariates"):
        finegray_fit(X, sim.time, sim.status, tf=["log"])


def test_tf_only_without_fixed_covariates(sim: pd.DataFrame) -> None:
    f = finegray(sim, time="time", status="status", covariates=[], tf={"x1": ["log", "t"]})
    assert f.names == ["x1*log(t)", "x1*t"]
    assert np.all(np.isfinite(f.se)) and "time-varying terms" in f.summary()
    pred = f.predict([[1.0, 1.0]])
    assert pred.shape == (f.uftime.size, 1) and np.all(np.diff(pred[0].to_numpy()) >= 0)


def test_formula_with_tf_and_weights_with_censoring_groups(sim: pd.DataFrame) -> None:
    a = finegray(sim, "Surv(time, status) ~ x1 + x2", tf={"x1": "log"})
    b = finegray(sim, time="time", status="status", covariates=["x1", "x2"], tf={"x1": "log"})
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    assert a.names == b.names == ["x1", "x2", "x1*log(t)"]
    # converged to 1e-10 (crr's loose rule may stop one iteration apart on rescaled data)
    kw = {"time": "time", "status": "status", "covariates": ["x1", "x2"], "cengroup": "cg",
          "tol": 1e-10, "max_iter": 50}  # fmt: skip
    c = finegray(sim, **kw)
    d = finegray(sim.assign(w=3.0), weights="w", **kw)
    np.testing.assert_allclose(c.coef, d.coef, rtol=1e-10)
    np.testing.assert_allclose(c.var, d.var, rtol=1e-9)
