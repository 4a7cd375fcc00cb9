"""Myeloma response over time (IMWG 2016, Kumar et al. Lancet Oncol 2016, Tables 2-3)."""

from __future__ import annotations

import datetime as dt

import pytest

from mst.errors import ValidationError
from mst.monitoring.myeloma_course import (
    MyelomaVisit,
    category_rank,
    course_from_categories,
    myeloma_course,
)

D0 = dt.date(2020, 1, 1)


def d(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


BASE = MyelomaVisit(date=D0, serum_m=4.0, immunofixation="positive", marrow_plasma_cells=40)


def v(day: int, m: float, **kw: object) -> MyelomaVisit:
    return MyelomaVisit(date=d(day), serum_m=m, **kw)  # type: ignore[arg-type]


def test_single_pr_is_not_confirmed() -> None:
    c = myeloma_course(BASE, [v(30, 1.9), v(60, 2.3)])  # +0.4 g/dL from nadir: not PD
    assert [p.category for p in c.points] == ["PR", "MR"]
    assert c.best_response == "MR" and not c.responder and c.response_date is None


def test_pair_confirms_the_lower_category_dated_at_its_first() -> None:
    c = myeloma_course(BASE, [v(30, 1.9), v(60, 0.3), v(90, 0.3)], start=d(-5))
    assert [p.category for p in c.points] == ["PR", "VGPR", "VGPR"]
    assert [p.confirmed for p in c.points] == [None, "PR", "VGPR"]
    assert c.best_response == "VGPR" and c.best_response_date == d(60)
    assert c.response_date == d(30) and c.time_to_response_days == 35
    assert c.responder


def test_pr_boundary_50_percent() -> None:
    # 2.0 is exactly a 50 % reduction from 4.0: PR; 2.01 is not
    assert myeloma_course(BASE, [v(30, 2.0), v(60, 2.0)]).best_response == "PR"
    assert myeloma_course(BASE, [v(30, 2.01), v(60, 2.01)]).best_response == "MR"


def test_progression_from_nadir_needs_two_assessments() -> None:
    # nadir 1.0; +0.5 g/dL and +25 % (1.5) is PD; a single PD is not progression
    visits = [v(30, 1.0), v(60, 1.0), v(90, 1.5), v(120, 1.0)]
    c = myeloma_course(BASE, visits)
    assert c.points[2].category == "PD" and c.progression_date is None
    c = myeloma_course(BASE, [v(30, 1.0), v(60, 1.0), v(90, 1.5), v(120, 1.6)])
    assert c.progression_date == d(90) and c.best_response == "PR"
    # +0.49 g/dL from the nadir is not PD
    c = myeloma_course(BASE, [v(30, 1.0), v(60, 1.0), v(90, 1.49), v(120, 1.49)])
    assert c.progression_date is None


def test_new_lesion_needs_no_confirmation() -> None:
    c = myeloma_course(BASE, [v(30, 1.0), v(60, 1.0), v(90, 1.0, new_lesion=True)])
    assert c.progression_date == d(90)


def test_cr_relapse_from_cr_and_mrd() -> None:
    cr = {"immunofixation": "negative", "marrow_plasma_cells": 2.0}
    visits = [
        v(30, 0.0, **cr, mrd_pct=0.0005),
        v(60, 0.0, **cr, mrd_pct=0.0),
        v(400, 0.0, **cr, mrd_pct=0.0009),
        v(430, 0.0, immunofixation="positive"),
        v(460, 0.0, immunofixation="positive"),
    ]
    c = myeloma_course(BASE, visits)
    assert c.best_response == "CR" and c.cr_date == d(30)
    assert c.relapse_from_cr_date == d(430)
    assert c.first_mrd_negative_date == d(30) and c.sustained_mrd_negative is True
    assert c.progression_date is None  # reappearance by immunofixation alone is not PD


def test_mrd_boundary_and_not_sustained() -> None:
    cr = {"immunofixation": "negative", "marrow_plasma_cells": 2.0}
    c = myeloma_course(BASE, [v(30, 0.0, **cr, mrd_pct=0.001), v(60, 0.0, **cr, mrd_pct=0.0)])
    assert [p.mrd_negative for p in c.points] == [False, True]  # 0.001 % is not < 10^-5
    assert c.sustained_mrd_negative is False
    c = myeloma_course(BASE, [v(30, 0.0, **cr, mrd_pct=0.0), v(394, 0.0, **cr, mrd_pct=0.0)])
    assert c.sustained_mrd_negative is False  # 364 days apart
    c = myeloma_course(BASE, [v(30, 0.0, **cr, mrd_pct=0.0), v(395, 0.0, **cr, mrd_pct=0.0)])
    assert c.sustained_mrd_negative is True  # 365 days apart


def test_relapse_from_cr_marrow_boundary() -> None:
    cr = {"immunofixation": "negative", "marrow_plasma_cells": 2.0}
    base_visits = [v(30, 0.0, **cr), v(60, 0.0, **cr)]
    mk = lambda pc: [  # noqa: E731
        *base_visits,
        v(90, 0.0, immunofixation="negative", marrow_plasma_cells=pc),
        v(120, 0.0, immunofixation="negative", marrow_plasma_cells=pc),
    ]
    assert myeloma_course(BASE, mk(5.0)).relapse_from_cr_date == d(90)
    assert myeloma_course(BASE, mk(4.9)).relapse_from_cr_date is None


def test_categories_only() -> None:
    c = course_from_categories(
        [(d(30), "PR"), (d(60), "VGPR"), (d(90), "CR"), (d(120), "CR"), (d(300), "PD"),
         (d(330), "PD")], start=D0)
    assert c.best_response == "CR" and c.response_date == d(30)
    assert c.progression_date == d(300) and c.relapse_from_cr_date == d(300)
    assert c.sustained_mrd_negative is None
    with pytest.raises(ValidationError):
        course_from_categories([(d(1), "CR_MRD-")], start=D0)


def test_dates_must_increase_and_ranks() -> None:
    with pytest.raises(ValidationError, match="must be after"):
        myeloma_course(BASE, [v(30, 1.0), v(30, 1.0)])
    assert category_rank("PD") < category_rank("SD") < category_rank("sCR")
    with pytest.raises(ValidationError, match="immunofixation"):
        myeloma_course(BASE, [MyelomaVisit(date=d(3), serum_m=1.0, immunofixation="pos")])


def test_unknown_category_listed_in_words() -> None:
    with pytest.raises(ValidationError) as e:
        category_rank("nCR")
    assert "[" not in str(e.value) and "PD, SD, MR, PR, VGPR, CR, sCR" in str(e.value)


@pytest.mark.parametrize(("m", "progressed"), [(5.99, False), (6.0, True)])
def test_progression_from_a_nadir_of_5_needs_1_g_not_25_percent(m: float, progressed: bool) -> None:
    """IMWG 2016 Table 3 (after Durie 2006): serum M-protein increase >= 1 g/dL suffices when
    the lowest M-component was >= 5 g/dL (5.0 -> 6.0 is +20 %)."""
    base = MyelomaVisit(date=D0, serum_m=10.0, immunofixation="positive")
    c = myeloma_course(base, [v(30, 5.0), v(60, 5.0), v(90, m), v(120, m)])
    assert (c.progression_date == d(90)) is progressed
