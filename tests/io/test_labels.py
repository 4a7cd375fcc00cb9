"""The shared label table: human labels, clinical order, reference levels."""

from __future__ import annotations

import pytest

from mst import labels


def test_age_groups_in_clinical_not_string_order() -> None:
    assert labels.order_levels("age_group", ["60-70", "<60", ">70"]) == ["<60", "60-70", ">70"]


@pytest.mark.parametrize(
    ("col", "value", "shown"),
    [("courses_gt3", True, "Yes"), ("courses_gt3", False, "No"), ("donor_sex", "F", "Female"),
     ("age_group", ">70", "> 70"), ("unknown_col", "x", "x")],
)
def test_level_labels(col: str, value: object, shown: str) -> None:
    assert labels.level_label(col, value) == shown


def test_unlisted_levels_follow_numbers_by_value() -> None:
    assert labels.order_levels("hla_mismatches_10", [10, 2, 5]) == [2, 5, 10]


def test_reference_is_first_observed_clinical_level() -> None:
    assert labels.reference_level("age_group", ["60-70", ">70"]) == "60-70"
    assert labels.reference_level("courses_gt3", [True, False]) is False


def test_every_flat_table_column_has_a_label() -> None:
    from mst.cohort import COLUMNS

    names = list(COLUMNS)
    missing = [n for n in names if labels.column(n).label == n and not n.endswith("_date")]
    assert missing == []
