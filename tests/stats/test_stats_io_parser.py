"""Property tests of the table parser used by the ``mst stats`` commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import ValidationError
from mst.stats.io import outcome_columns

row = st.one_of(
    st.tuples(st.floats(0, 500, allow_nan=False), st.sampled_from([0, 1, 2])),
    st.just((None, None)),
)


@settings(deadline=None, derandomize=True, max_examples=80)
@given(
    st.lists(row, min_size=1, max_size=30),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=30, max_size=30),
)
def test_valid_tables_parse_and_count_excluded_rows(
    rows: list[tuple[object, object]], groups: list[str]
) -> None:
    df = pd.DataFrame(rows, columns=["t", "s"])
    df["g"] = groups[: len(rows)]
    t, s, g, _, excluded = outcome_columns(df, "t", "s", (0, 1, 2), "g")
    assert excluded == int(df["t"].isna().sum())
    assert t.size == s.size == len(rows) - excluded
    assert g is not None and g.size == t.size
    assert np.all(t >= 0) and set(s.tolist()) <= {0, 1, 2}


@settings(deadline=None, derandomize=True, max_examples=60)
@given(
    st.lists(
        st.tuples(st.floats(0, 500, allow_nan=False), st.sampled_from([0, 1])),
        min_size=1,
        max_size=20,
    ),
    st.data(),
)
def test_one_bad_cell_is_reported_with_its_row(
    rows: list[tuple[float, int]], data: st.DataObject
) -> None:
    df = pd.DataFrame(rows, columns=["t", "e"])
    i = data.draw(st.integers(0, len(rows) - 1))
    kind = data.draw(st.sampled_from(["negative", "code"]))
    if kind == "negative":
        df.loc[i, "t"] = -1.0
        col = "t"
    else:
        df.loc[i, "e"] = 5
        col = "e"
    with pytest.raises(ValidationError) as err:
        outcome_columns(df, "t", "e", (0, 1))
    assert str(err.value).startswith(f"{col} (rows [{i + 1}])")
