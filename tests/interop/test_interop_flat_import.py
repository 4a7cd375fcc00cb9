"""Flat-table import: every invalid cell rejected with its row, column, value and rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.cohort import build_flat_table, write_flat_table
from mst.interop import read_flat_file, validate_flat_table
from mst.interop.spss import write_sav
from mst.simulate import simulate_cohort


@pytest.fixture(scope="module")
def flat() -> pd.DataFrame:
    return build_flat_table(simulate_cohort(40, seed=4))


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".sav"])
def test_round_trip_gives_the_same_table(flat: pd.DataFrame, tmp_path: Path,
                                         suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    if suffix == ".sav":
        write_sav(flat, path)
    else:
        write_flat_table(flat, path)
    res = read_flat_file(path)
    assert res.rejections == []
    pd.testing.assert_frame_equal(res.table, flat)


# column, bad value, rule fragment; then the accepted value on the other side of the rule
CASES = [
    ("age", "121", "between 0 and 120", "120"),
    ("age", "-1", "between 0 and 120", "0"),
    ("age", "64.5", "integer", "64"),
    ("os_event", "2", "one of [0, 1]", "1"),
    ("crs_status", "3", "one of [0, 1, 2]", "2"),
    ("os_months", "-0.1", ">= 0", "0"),
    ("sex", "X", "one of ['F', 'M']", "F"),
    ("age_group", "70-80", "one of", ">70"),
    ("cr", "maybe", "True/False", "yes"),
    ("diagnosis_date", "2020-13-01", "ISO date", "2020-12-01"),
    ("hla_mismatches_10", "11", "between 0 and 10", "10"),
    ("gvhd_max_grade", "5", "between 0 and 4", "4"),
]


@pytest.mark.parametrize(("column", "bad", "rule", "good"), CASES)
def test_bad_cell_rejected_good_cell_accepted(flat: pd.DataFrame, tmp_path: Path, column: str,
                                              bad: str, rule: str, good: str) -> None:
    path = tmp_path / "t.csv"
    write_flat_table(flat, path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw.loc[2, column] = bad
    raw.loc[5, column] = good
    raw.to_csv(path, index=False)
    res = read_flat_file(path)
    assert [(r.row, r.column, r.value) for r in res.rejections] == [(4, column, bad)]
    assert rule in res.rejections[0].rule
    assert len(res.table) == len(flat) - 1
    assert flat["patient_id"][2] not in set(res.table["patient_id"])


def test_duplicate_and_missing_id_rejected() -> None:
    raw = pd.DataFrame({"patient_id": ["A", "B", "A", ""], "age": ["60", "61", "62", "63"]})
    res = validate_flat_table(raw)
    assert [(r.row, r.column) for r in res.rejections] == [(4, "patient_id"), (5, "patient_id")]
    assert "duplicate of row 2" in res.rejections[0].rule
    assert list(res.table["patient_id"]) == ["A", "B"]
    assert str(res.table["age"].dtype) == "Int64"


@settings(deadline=None, derandomize=True, max_examples=80)
@given(st.integers(min_value=-50, max_value=200))
def test_age_accepted_iff_in_range(age: int) -> None:
    res = validate_flat_table(pd.DataFrame({"patient_id": ["P1"], "age": [str(age)]}))
    assert (len(res.table) == 1) == (0 <= age <= 120)
    if res.rejections:
        assert res.rejections[0].value == str(age)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.text(max_size=12))
def test_sex_parser_never_crashes(value: str) -> None:
    res = validate_flat_table(pd.DataFrame({"patient_id": ["P1"], "sex": [value]}))
    ok = value.strip() in {"M", "F", ""}
    assert (len(res.table) == 1) == ok
