"""Table 1 with pandas nullable columns holding missing values (a patient without donor/course)."""

from __future__ import annotations

import pandas as pd

from mst.stats import table1


def test_nullable_boolean_and_string_columns_with_missing_values() -> None:
    df = pd.DataFrame(
        {
            "sex": ["M", "F", "M", "F"],
            "donor_related": pd.array([True, pd.NA, False, True], dtype="boolean"),
            "donor_sex": pd.array(["F", pd.NA, "M", "M"], dtype="string"),
        }
    )
    t = table1(df, by="sex", variables=["donor_related", "donor_sex"])
    related = next(r for r in t.rows if r.variable == "donor_related")
    assert related.n_missing == 1
    counts = {row["level"]: row["count"] for row in related.levels}
    assert counts[True] == {"All patients": 2, "F": 1, "M": 1}
    assert counts[False] == {"All patients": 1, "F": 0, "M": 1}
