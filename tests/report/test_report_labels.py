"""Labels, clinical order, reference levels, HR per 10 years, Student's t (issue items 3, 2)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats as sst

from mst.cohort import build_flat_table
from mst.report import ReportConfig, build_report
from mst.simulate import simulate_cohort


@pytest.fixture(scope="module")
def rep():  # type: ignore[no-untyped-def]
    df = build_flat_table(simulate_cohort(90, seed=4))
    df = df[df["age"] >= 60].reset_index(drop=True)  # 002 enrolled >= 60: two age groups
    r = build_report(df, ReportConfig())
    return df, r, r.document()


def _table(doc, tid):  # type: ignore[no-untyped-def]
    return next(b for s in doc.sections for b in s.blocks if getattr(b, "id", None) == tid)


def test_groups_in_clinical_order_with_labels(rep) -> None:  # type: ignore[no-untyped-def]
    _df, _r, doc = rep
    head = _table(doc, "table1").header
    assert head[1].startswith("All patients") and head[2].startswith("60–70 (n = ")
    assert head[3].startswith("> 70 (n = ")
    first = [r.cells[0] for r in _table(doc, "table1").rows]
    assert "Sex, n (%)" in first and "Male" in first and "courses_gt3" not in " ".join(first)
    assert "> 3 MST courses, n (%)" in first


def test_donor_age_student_t_pooled(rep) -> None:  # type: ignore[no-untyped-def]
    df, r, doc = rep
    a = df.loc[df["age_group"] == "60-70", "donor_age"].astype(float)
    b = df.loc[df["age_group"] == ">70", "donor_age"].astype(float)
    want = sst.ttest_ind(a, b, equal_var=True)
    got = r.numbers["table_extras"]["donor_age"]["student_t"]
    assert got["test"] == "Student's t-test (pooled variance)"
    np.testing.assert_allclose(got["p"], want.pvalue, rtol=1e-12)
    assert got["df"] == len(a) + len(b) - 2
    row = next(x for x in _table(doc, "table1").rows if x.cells[0].startswith("Donor age"))
    assert row.cells[0] == "Donor age (years), mean ± SD"
    assert row.cells[2] == f"{a.mean():.2f} ± {a.std(ddof=1):.2f}"
    assert row.cells[-1] == "Student's t-test (pooled variance)"


def test_year_of_diagnosis_as_integers(rep) -> None:  # type: ignore[no-untyped-def]
    df, _r, doc = rep
    row = next(x for x in _table(doc, "table1").rows if x.cells[0].startswith("Year"))
    assert row.cells[0] == "Year of diagnosis, median (range)"
    y = df["year_of_diagnosis"].astype(float)
    assert row.cells[1] == f"{np.median(y):.0f} ({y.min():.0f}–{y.max():.0f})"
    assert all(re.fullmatch(r"\d{4}(\.5)? \(\d{4}–\d{4}\)", c) for c in row.cells[1:4])


def test_cox_reference_rows_and_donor_age_per_10_years(rep) -> None:  # type: ignore[no-untyped-def]
    _df, r, doc = rep
    reg = r.numbers["regression"]
    assert reg["references"] == {"age_group": "60-70", "sex": "M", "donor_sex": "M"}
    cells = [x.cells for x in _table(doc, "cox_os").rows]
    labels = [c[0] for c in cells]
    i = labels.index("Age group (years)")
    assert cells[i + 1][:2] == ["60–70 (reference)", "1.00"]
    assert cells[i + 2][0] == "> 70"
    m = reg["cox_os_multivariate"]
    row = next(c for c in cells if c[0] == "Donor age (per 10 years)")
    hr, lo, hi = (m[k]["donor_age"] ** 10 for k in ("hr", "lower", "upper"))
    assert row[3] == f"{hr:.2f} ({lo:.2f}–{hi:.2f})"
    gt3 = next(c for c in cells if c[0].startswith("> 3 MST courses"))
    assert gt3[0] == "> 3 MST courses: Yes (vs No)"
    fg = [x.cells for x in _table(doc, "finegray_cir").rows]
    assert _table(doc, "finegray_cir").header[1] == "Univariate SHR (95% CI)"
    assert any(c[0] == "> 70" and c[1] not in ("", "NA") for c in fg)  # univariate Fine-Gray


def test_all_patients_rows_and_followup(rep) -> None:  # type: ignore[no-untyped-def]
    df, r, doc = rep
    rows = [x.cells for x in _table(doc, "rates").rows]
    allos = next(c for c in rows if c[0] == "Overall survival" and c[1] == "All patients")
    t = df["os_months"].astype(float)
    assert allos[4].endswith(f"({t.min():.1f}–{t.max():.1f})")
    assert "range of follow-up among patients alive" in r.html
    t2 = _table(doc, "table2")
    names = [x.cells[0] for x in t2.rows]
    for want in ("Acute GVHD, n (%)", "Donor microchimerism detected, n (%)",
                 "Induction regimen, n (%)"):
        assert any(n.startswith(want) for n in names), want
    assert any(n.startswith("Neutrophil recovery (days)") for n in names)
    ae = _table(doc, "adverse_events")
    assert "Cardiac failure, n (%)" in [x.cells[0] for x in ae.rows]
    # nausea and vomiting (002 Supplementary Table 1), in 002's order, counted from the table
    first = [x.cells[0] for x in ae.rows]
    assert first.index("Elevated liver enzymes, n (%)") < first.index("Nausea, n (%)") \
        < first.index("Vomiting, n (%)") < first.index("Diarrhea, n (%)")
    for col, name in (("ae_nausea", "Nausea, n (%)"), ("ae_vomiting", "Vomiting, n (%)")):
        i = first.index(name)
        assert [x.cells[0] for x in ae.rows[i + 1:i + 3]] == ["No", "Yes"]
        assert 0 < int(df[col].sum()) < len(df)
        assert ae.rows[i + 2].cells[1].startswith(f"{int(df[col].sum())} (")
    assert "Nausea" in r.html and "Vomiting" in r.html


def test_fine_gray_forest_says_subdistribution(rep) -> None:  # type: ignore[no-untyped-def]
    _df, r, _doc = rep
    fig = dict((fid, f) for fid, _c, f in r.figures)["forest_finegray_cir"]
    assert "Subdistribution hazard ratio" in fig.axes[0].get_xlabel()
    km = dict((fid, f) for fid, _c, f in r.figures)["km_os_age_group"]
    legend = [t.get_text() for t in km.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("60–70") and legend[1].startswith("> 70")
