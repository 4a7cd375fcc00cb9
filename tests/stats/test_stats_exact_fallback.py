"""The conventional table test falls back to chi-square, named, when exact enumeration is
infeasible (large n with sparse cells) — instead of exhausting memory or time."""

from __future__ import annotations

import numpy as np
import pytest

from mst.errors import ValidationError
from mst.stats.exact import chisq_test, conventional_table_test, expected_counts, fisher_exact

# 404 patients, a rare sixth category (expected counts < 5): the conventional rule asks
# for Fisher-Freeman-Halton, whose enumeration would need far more than MAX_TABLES tables.
SPARSE = np.array(
    [
        [60, 0, 31, 2, 40, 1],
        [3, 55, 1, 70, 12, 2],
        [0, 9, 44, 1, 30, 0],
        [25, 2, 0, 15, 0, 1],
    ]
)


def test_infeasible_exact_is_refused_before_allocation() -> None:
    with pytest.raises(ValidationError, match="too large for exact enumeration"):
        fisher_exact(SPARSE)


def test_conventional_choice_names_the_fallback() -> None:
    assert expected_counts(SPARSE).min() < 5
    result = conventional_table_test(SPARSE)
    assert result.test.startswith("Pearson chi-square (Fisher-Freeman-Halton infeasible")
    chi = chisq_test(SPARSE)
    assert (result.p, result.statistic, result.df) == (chi.p, chi.statistic, chi.df)


def test_small_sparse_table_stays_exact() -> None:
    small = np.array([[3, 0, 2], [1, 4, 0]])
    assert conventional_table_test(small).test == "Fisher-Freeman-Halton exact"
