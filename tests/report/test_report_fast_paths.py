"""The report's shortcuts (issue 16, speed) give exactly what the general code gives."""

from __future__ import annotations

import pytest

from mst.cohort import build_flat_table
from mst.report import ReportConfig, add_derived_columns
from mst.report.compute import _model_dict
from mst.simulate import simulate_cohort
from mst.stats.cox_model import cox
from mst.stats.finegray_model import finegray

KEEP = ("coef", "se", "hr", "lower", "upper", "p", "n", "events", "n_dropped", "references",
        "tests", "competing", "censored")


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return add_derived_columns(build_flat_table(simulate_cohort(80, seed=11)), ReportConfig())


def test_model_dict_is_to_dict_without_concordance(table) -> None:  # type: ignore[no-untyped-def]
    ref = {"sex": "F"}
    fits = [cox(table, time="os_months", event="os_event", covariates=["sex", "donor_age"],
                reference=ref),
            finegray(table, time="crs_months", status="crs_status",
                     covariates=["sex", "donor_age"], cause=1, reference=ref)]
    for res in fits:
        short = _model_dict(res)
        assert "concordance_stats" not in vars(res)  # Harrell's C (all pairs) not computed
        full = res.to_dict()
        assert short == {k: full[k] for k in KEEP if k in full}
    assert "tests" in _model_dict(fits[0]) and "competing" in _model_dict(fits[1])


def test_crosstab_counts_equal_pandas() -> None:
    import numpy as np
    import pandas as pd

    from mst.report.compute import _crosstab

    by = pd.Series(["a", "b", "a", "c", "b", "a", None, "c"])
    cols = [pd.Series([1, 2, 2, None, 1, 1, 3, 3.0]),
            pd.Series(["x", None, "y", "y", "x", "x", "z", "x"], dtype=object),
            pd.Series([True, False, None, True, True, False, True, None], dtype="boolean"),
            pd.Series(pd.Categorical(["p", "q", "p", "p", None, "q", "q", "p"],
                                     categories=["p", "q", "r"]))]
    for col in cols:
        want = pd.crosstab(col, by).to_numpy()
        got = _crosstab(col, by)
        assert np.array_equal(got, want)


def test_step_band_draws_the_same_region() -> None:
    import numpy as np

    from mst.report.figures import _step_band

    rng = np.random.default_rng(5)
    x = np.concatenate([[0.0], np.sort(rng.uniform(0, 100, 300))])
    lo = np.repeat(np.sort(rng.uniform(0, 0.5, 100))[::-1], 3)[: x.size - 1]
    lo = np.concatenate([[1.0], lo])
    hi = lo + np.concatenate([[0.0], np.repeat(rng.uniform(0, 0.1, 100), 3)])
    xs, los, his = _step_band(x, lo, hi)
    assert xs.size < x.size and xs[0] == x[0] and xs[-1] == x[-1]
    grid = np.linspace(0, x[-1], 5001)
    i = np.searchsorted(x, grid, side="right") - 1
    j = np.searchsorted(xs, grid, side="right") - 1
    assert np.array_equal(lo[i], los[j]) and np.array_equal(hi[i], his[j])
