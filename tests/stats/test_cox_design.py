"""Formula parsing and design matrices for the regression models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import ValidationError
from mst.stats._design import (
    check_design,
    design_from_columns,
    design_from_formula,
    parse_surv_formula,
)

IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(
    start=st.one_of(st.none(), IDENT),
    stop=IDENT,
    event=IDENT,
    terms=st.lists(IDENT, min_size=1, max_size=4),
    strata=st.lists(IDENT, max_size=2),
    cluster=st.one_of(st.none(), IDENT),
)
def test_formula_round_trip(start, stop, event, terms, strata, cluster) -> None:
    surv = f"Surv({start}, {stop}, {event})" if start else f"Surv({stop},{event})"
    rhs = list(terms) + [f"strata({s})" for s in strata]
    if cluster:
        rhs.append(f"cluster( {cluster} )")
    f = parse_surv_formula(f"{surv} ~ {' + '.join(rhs)}")
    assert (f.start, f.stop, f.event) == (start, stop, event)
    assert f.rhs == " + ".join(terms)
    assert f.strata == list(strata)
    assert f.cluster == ([cluster] if cluster else [])


@pytest.mark.parametrize(
    "formula",
    [
        "time ~ x",
        "Surv(time) ~ x",
        "Surv(a, b, c, d) ~ x",
        "Surv(t, e) ~ x ~ y",
        "Surv(t, e) ~ x + cluster(a) + cluster(b)",
    ],
)
def test_bad_formulas(formula: str) -> None:
    with pytest.raises(ValidationError):
        parse_surv_formula(formula)


DF = pd.DataFrame(
    {
        "x": [1.0, 2.0, 3.0, 4.0, 5.0],
        "flag": [True, False, True, True, False],
        "grp": ["b", "a", "c", "a", "b"],
    }
)


def test_columns_coding() -> None:
    d = design_from_columns(DF, ["x", "flag", "grp"])
    assert d.names == ["x", "flag", "grp[b]", "grp[c]"]
    np.testing.assert_array_equal(d.X[:, 1], [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(d.X[:, 2], [1, 0, 0, 0, 1])
    assert d.references == {"grp": "a"}
    d = design_from_columns(DF, ["grp"], reference={"grp": "c"})
    assert d.names == ["grp[a]", "grp[b]"]


def test_formula_coding_matches_columns() -> None:
    a = design_from_formula(DF, "x + grp")
    b = design_from_columns(DF, ["x", "grp"])
    assert a.names == b.names
    np.testing.assert_array_equal(a.X, b.X)
    c = design_from_formula(DF, "C(grp, contr.treatment('c'))")
    assert c.names == ["grp[a]", "grp[b]"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"covariates": ["grp"], "reference": {"grp": "z"}}, "must be one of the levels"),
        ({"covariates": ["x"], "reference": {"x": "1"}}, "categorical columns only"),
        ({"covariates": ["x"], "reference": {"grp": "a"}}, "not a covariate"),
        ({"covariates": ["nope"]}, "not in the data"),
    ],
)
def test_column_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        design_from_columns(DF, **kwargs)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.column_stack([np.arange(5.0), np.ones(5)]), "constant"),
        (np.column_stack([np.arange(5.0), np.arange(5.0) * 2 + 1]), "collinear"),
        (np.array([[1.0, 2.0, 3.0], [4.0, 6.0, 5.0]]), "more covariates than rows"),
        (np.zeros((5, 0)), "at least one covariate"),
    ],
)
def test_check_design(X: np.ndarray, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_design(X, [f"c{i}" for i in range(X.shape[1])])
