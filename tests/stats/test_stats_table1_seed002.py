"""Table 1 of seed 002 (29 patients, 60–70 y n = 20 vs > 70 y n = 9) rebuilt from its
published counts: the conventional test choice must reproduce the published p-values."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mst.stats import table1
from mst.stats.exact import chisq_test, conventional_table_test, fisher_exact
from mst.stats.table1 import format_p

# variable -> {level: (count in 60-70, count in >70)}  (002 Table 1)
SEED_TABLE1 = {
    "sex": {"M": (9, 2), "F": (11, 7)},
    "donor_sex": {"M": (11, 4), "F": (9, 5)},
    "donor_related": {"unrelated": (5, 0), "related": (15, 9)},
    "hla_mismatch": {"5/10": (14, 8), "6/10": (6, 1)},
    "courses": {">3": (18, 2), "1-3": (2, 7)},
    "donor_patient_sex": {"F->F": (3, 5), "F->M": (4, 0), "M->F": (8, 2), "M->M": (5, 2)},
}
# (variable, published p as printed in 002 Table 1, test the convention must pick)
PUBLISHED = [
    ("sex", "0.412", "Fisher exact"),
    ("donor_sex", "0.700", "Fisher exact"),
    ("donor_related", "0.153", "Fisher exact"),
    ("hla_mismatch", "0.382", "Fisher exact"),
    ("courses", "<0.001", "Fisher exact"),
]


def seed_cohort() -> pd.DataFrame:
    """29 patients whose margins are exactly those of 002 Table 1."""
    groups = ["60-70"] * 20 + [">70"] * 9
    df = pd.DataFrame({"age_group": groups})
    for var, levels in SEED_TABLE1.items():
        young = [lev for lev, (a, _) in levels.items() for _ in range(a)]
        old = [lev for lev, (_, b) in levels.items() for _ in range(b)]
        assert len(young) == 20 and len(old) == 9, var
        df[var] = young + old
    return df


@pytest.fixture(scope="module")
def tab() -> dict[str, object]:
    return {r.variable: r for r in table1(seed_cohort(), "age_group").rows}


@pytest.mark.parametrize(("var", "published", "test"), PUBLISHED)
def test_seed002_table1_fisher_p_values(
    var: str, published: str, test: str, tab: dict[str, object]
) -> None:
    row = tab[var]
    assert row.test == test  # type: ignore[attr-defined]
    assert format_p(row.p) == published  # type: ignore[attr-defined]


def test_seed002_counts_and_percentages(tab: dict[str, object]) -> None:
    levels = {lev["level"]: lev for lev in tab["courses"].levels}  # type: ignore[attr-defined]
    assert levels[">3"]["All patients"] == "20 (68.97)"
    assert levels[">3"]["60-70"] == "18 (90.00)"
    assert levels[">3"][">70"] == "2 (22.22)"


def test_seed002_donor_patient_sex_chi_square_is_the_published_0107() -> None:
    # the paper's 0.107 for the 4 x 2 donor->patient sex table is Pearson's chi-square;
    # with expected counts < 5 the convention picks Fisher-Freeman-Halton instead
    counts = [list(v) for v in SEED_TABLE1["donor_patient_sex"].values()]
    assert format_p(chisq_test(counts).p) == "0.107"
    res = conventional_table_test(counts)
    assert res.test == "Fisher-Freeman-Halton exact"
    assert res.p == pytest.approx(fisher_exact(counts).p, rel=1e-12)
    assert res.p > 0.05


@pytest.mark.parametrize(
    ("table", "expected_test"),
    [
        ([[5, 5], [5, 5]], "Pearson chi-square with Yates correction"),  # min expected = 5
        ([[5, 5], [5, 4]], "Fisher exact"),  # min expected 4.74 < 5
        ([[10, 10, 10], [10, 10, 10]], "Pearson chi-square"),
        ([[10, 10, 4], [10, 10, 5]], "Fisher-Freeman-Halton exact"),
    ],
)
def test_test_choice_boundaries(table: list[list[int]], expected_test: str) -> None:
    assert conventional_table_test(table).test == expected_test


def test_html_and_json_name_the_test() -> None:
    t = table1(seed_cohort(), "age_group", ["sex", "courses"])
    html = t.to_html()
    assert "Fisher exact" in html and "&lt;0.001" in html and "(n = 29)" in html
    d = json.loads(json.dumps(t.to_dict()))
    assert d["n"] == {"All patients": 29, "60-70": 20, ">70": 9}
    assert [v["test"] for v in d["variables"]] == ["Fisher exact", "Fisher exact"]


def test_continuous_variables_pick_test_by_normality() -> None:
    df = pd.DataFrame(
        {
            "g": ["a"] * 8 + ["b"] * 8,
            "normalish": [35, 36, 37, 38, 39, 34, 36, 37, 43, 44, 45, 42, 46, 44, 43, 45],
            "skewed": [1, 1, 1, 1, 2, 1, 1, 90, 1, 2, 2, 2, 2, 3, 2, 80],
        }
    )
    rows = {r.variable: r for r in table1(df, "g").rows}
    assert rows["normalish"].test == "Welch t-test"
    assert rows["normalish"].summary == "mean ± SD"
    assert rows["skewed"].test == "Mann-Whitney U"
    assert rows["skewed"].summary == "median (Q1, Q3)"
    forced = {r.variable: r for r in table1(df, "g", normal={"skewed": True}).rows}
    assert forced["skewed"].test == "Welch t-test"
