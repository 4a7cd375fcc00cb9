"""Library-level input checks: every error names the field, the value and the rule."""

from __future__ import annotations

import numpy as np
import pytest

from mst.errors import ValidationError
from mst.stats import (
    cumulative_incidence,
    fisher_exact,
    gray_test,
    kaplan_meier,
    logrank_test,
    median_followup,
    table1,
)


@pytest.mark.parametrize(
    ("time", "event", "match"),
    [
        ([1.0, -0.5, 2.0], [1, 0, 1], r"time \(rows 2\).*>= 0"),
        ([1.0, np.nan, 2.0], [1, 0, 1], r"time \(rows 2\).*missing"),
        ([1.0, 2.0, np.inf], [1, 0, 1], r"time \(rows 3\)"),
        ([1.0, 2.0, 3.0], [1, 2, 1], r"event \(rows 2\).*\[0, 1\]"),
        ([1.0, 2.0], [1, 0, 1], "same length"),
        ([], [], "no observations"),
    ],
)
def test_kaplan_meier_rejects(time: list[float], event: list[int], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        kaplan_meier(time, event)


def test_zero_time_is_allowed_boundary() -> None:
    res = kaplan_meier([0.0, 1.0, 2.0], [1, 0, 1])["all"]
    assert res.surv[0] == pytest.approx(2 / 3)


def test_bad_conf_type_and_level() -> None:
    with pytest.raises(ValidationError, match="conf_type"):
        kaplan_meier([1, 2], [1, 0], conf_type="logit")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="conf_level"):
        kaplan_meier([1, 2], [1, 0], conf_level=1.0)


def test_missing_group_label_is_named() -> None:
    with pytest.raises(ValidationError, match=r"group \(rows 2\)"):
        kaplan_meier([1, 2, 3], [1, 0, 1], ["a", None, "b"])


def test_logrank_needs_two_groups() -> None:
    with pytest.raises(ValidationError, match="at least two groups"):
        logrank_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cause": 0}, "censoring code"),
        ({"cause": 3, "codes": (0, 1, 2)}, "declared codes"),
        ({"cause": 1, "codes": (0, 1)}, r"status \(rows 3\)"),
    ],
)
def test_cif_rejects(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        cumulative_incidence([1, 2, 3], [1, 0, 2], **kwargs)  # type: ignore[arg-type]


def test_gray_rejects_non_integer_status() -> None:
    with pytest.raises(ValidationError, match="integers"):
        gray_test([1, 2, 3], [1, 0.5, 2], ["a", "b", "a"])


def test_fisher_rejects_non_counts() -> None:
    with pytest.raises(ValidationError, match="non-negative integer"):
        fisher_exact([[1, -1], [2, 3]])
    with pytest.raises(ValidationError, match="two-way"):
        fisher_exact([1, 2, 3])


def test_followup_needs_rows() -> None:
    with pytest.raises(ValidationError, match="no observations"):
        median_followup([], [])


def test_table1_rejects_unknown_columns() -> None:
    import pandas as pd

    df = pd.DataFrame({"g": ["a", "b"], "x": [1, 2]})
    with pytest.raises(ValidationError, match="columns not found"):
        table1(df, "g", ["y"])
    with pytest.raises(ValidationError, match="at least two groups"):
        table1(df[df.g == "a"], "g")
