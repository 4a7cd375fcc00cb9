"""Hematopoietic recovery rule (002 Study endpoints) at its thresholds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import ValidationError
from mst.monitoring.recovery import course_recovery, record_recovery

D0 = dt.date(2024, 1, 1)
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "counts_course.csv"


def _days(n: int) -> list[dt.date]:
    return [D0 + dt.timedelta(days=i) for i in range(n)]


def test_example_file_hand_computed() -> None:
    df = pd.read_csv(EXAMPLE)
    r = course_recovery(
        df.anc.tolist(), df.platelets.tolist(), "2024-01-01", "2024-01-07", dates=df.date.tolist()
    )
    assert r.aplasia_start == dt.date(2024, 1, 8)
    # ANC > 0.5 on 15, 16, 17 Jan; platelets 30 on 11 Jan is not > 30; > 30 from 17 Jan.
    assert r.neutrophil_recovery_date == dt.date(2024, 1, 15)
    assert r.platelet_recovery_date == dt.date(2024, 1, 17)
    assert r.recovery_date == dt.date(2024, 1, 17)
    assert r.recovery_days_from_aplasia == 9
    assert r.recovery_days_from_chemo_start == 16
    assert r.neutrophil_days_from_chemo_start == 14
    assert r.platelet_days_from_chemo_start == 16
    assert r.gaps == ((dt.date(2024, 1, 13), dt.date(2024, 1, 13)),)


# (label, anc value on the 3 aplasia days, platelets, aplasia found?)
APLASIA_ROWS = [
    ("both just below", 1.99, 99.9, True),
    ("ANC at 2.0 (not < 2)", 2.0, 50, False),
    ("platelets at 100 (not < 100)", 1.0, 100, False),
    ("both well below", 0.1, 10, True),
]


@pytest.mark.parametrize(("label", "anc", "plt", "found"), APLASIA_ROWS)
def test_aplasia_threshold(label: str, anc: float, plt: float, found: bool) -> None:
    days = _days(6)
    a = [5.0, anc, anc, anc, 5.0, 5.0]
    p = [200, plt, plt, plt, 200, 200]
    r = course_recovery(a, p, D0, dates=days)
    assert (r.aplasia_start == days[1]) is found, label
    if not found:
        assert r.aplasia_start is None and r.recovery_date is None


# (label, ANC on recovery days, platelets on recovery days, joint recovered?)
RECOVERY_ROWS = [
    ("just above both", 0.51, 30.1, True),
    ("ANC exactly 0.5", 0.5, 50, False),
    ("platelets exactly 30", 1.0, 30, False),
]


@pytest.mark.parametrize(("label", "anc", "plt", "recovered"), RECOVERY_ROWS)
def test_recovery_threshold(label: str, anc: float, plt: float, recovered: bool) -> None:
    days = _days(8)
    a = [1.0, 0.1, 0.1, 0.1, anc, anc, anc, 0.1]
    p = [50, 10, 10, 10, plt, plt, plt, 10]
    r = course_recovery(a, p, D0, dates=days)
    assert r.aplasia_start == days[0]
    assert (r.recovery_date == days[4]) is recovered, label
    assert r.recovery_date is None or recovered


def test_two_days_are_not_three() -> None:
    days = _days(7)
    a = [1.0, 0.1, 0.1, 1.0, 1.0, 0.1, 0.1]
    p = [50, 10, 10, 60, 60, 10, 10]
    r = course_recovery(a, p, D0, dates=days)
    assert r.aplasia_start == days[0]
    assert r.recovery_date is None


def test_missing_day_breaks_the_run_and_is_reported() -> None:
    days = _days(10)
    del days[5]  # 6 Jan missing
    a = [1.0, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0, 1.0]
    p = [50, 10, 10, 10, 60, 60, 60, 60, 60]
    r = course_recovery(a, p, D0, dates=days)
    # 5 Jan, (6 Jan missing), 7, 8, 9 Jan: the run restarts on 7 Jan.
    assert r.recovery_date == dt.date(2024, 1, 7)
    assert r.gaps == ((dt.date(2024, 1, 6), dt.date(2024, 1, 6)),)


def test_aplasia_searched_from_chemo_end_and_until() -> None:
    days = _days(12)
    a = [0.1] * 12
    p = [10] * 12
    r = course_recovery(a, p, D0, D0 + dt.timedelta(days=4), dates=days)
    assert r.aplasia_start == dt.date(2024, 1, 5)
    r2 = course_recovery(a, p, D0, dates=days, until=dt.date(2024, 1, 2))
    assert r2.aplasia_start is None


def test_counts_that_never_fell_have_no_recovery_date() -> None:
    days = _days(6)
    r = course_recovery([1.5] * 6, [80] * 6, D0, dates=days)
    assert r.aplasia_start == days[0]
    assert r.recovery_date is None and not r.counts_fell and not r.anc_fell


def test_pandas_series_and_dict_inputs_agree() -> None:
    days = _days(8)
    a = [1.0, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.1]
    p = [50, 10, 10, 10, 40, 40, 40, 10]
    s1 = course_recovery(pd.Series(a, index=pd.to_datetime(days)), pd.Series(p, index=days), D0)
    s2 = course_recovery(dict(zip(days, a, strict=True)), dict(zip(days, p, strict=True)), D0)
    s3 = course_recovery(a, p, D0, dates=days)
    assert s1 == s2 == s3
    assert s3.recovery_date == days[4]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"anc": [-1.0], "platelets": [10], "dates": [D0]}, "anc[0]"),
        ({"anc": [1.0], "platelets": [10], "dates": ["2024-13-01"]}, "anc[0].date"),
        ({"anc": [1.0, 2.0], "platelets": [10, 10], "dates": [D0]}, "anc"),
    ],
)
def test_invalid_input(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as ei:
        course_recovery(chemo_start=D0, **kwargs)
    assert ei.value.field == field


def test_chemo_end_before_start() -> None:
    with pytest.raises(ValidationError, match="chemo_end"):
        course_recovery([1.0], [1.0], D0, D0 - dt.timedelta(days=1), dates=[D0])


@settings(deadline=None, derandomize=True, max_examples=200)
@given(
    st.lists(
        st.tuples(st.floats(0, 5, allow_nan=False), st.floats(0, 200, allow_nan=False)),
        min_size=1,
        max_size=40,
    )
)
def test_invariants(rows: list[tuple[float, float]]) -> None:
    days = _days(len(rows))
    r = course_recovery([x for x, _ in rows], [y for _, y in rows], D0, dates=days)
    if r.aplasia_start is not None:
        i = days.index(r.aplasia_start)
        assert all(a < 2 and p < 100 for a, p in rows[i : i + 3])
    if r.recovery_date is not None:
        assert r.aplasia_start is not None and r.recovery_date > r.aplasia_start
        i = days.index(r.recovery_date)
        assert len(rows[i : i + 3]) == 3
        assert all(a > 0.5 and p > 30 for a, p in rows[i : i + 3])
        assert r.recovery_days_from_aplasia == (r.recovery_date - r.aplasia_start).days
    assert r.gaps == ()


def test_record_recovery_per_course(cases: SimpleNamespace) -> None:
    rec = cases.record(n_courses=2)
    c1, c2 = sorted(rec.courses, key=lambda c: c.number)
    labs = []
    for start in (c1.start_date, c2.start_date):
        anc = [3.0, 1.0, 0.3, 0.2, 0.1, 0.6, 0.9, 1.2]
        plt = [150, 80, 25, 20, 10, 40, 60, 90]
        for i, (a, p) in enumerate(zip(anc, plt, strict=True)):
            d = start + dt.timedelta(days=i)
            labs += [cases.lab(d, "anc", a, "10^9/L"), cases.lab(d, "platelets", p, "10^9/L")]
    rec = rec.model_copy(update={"labs": tuple(labs)})
    out = record_recovery(rec)
    assert set(out) == {1, 2}
    for c in (c1, c2):
        r = out[c.number]
        assert r.aplasia_start == c.start_date + dt.timedelta(days=1)
        assert r.recovery_date == c.start_date + dt.timedelta(days=5)
        assert r.recovery_days_from_chemo_start == 5


def test_days_from_chemo_end_and_half_missing_day() -> None:
    df = pd.read_csv(EXAMPLE)
    r = course_recovery(
        df.anc.tolist(), df.platelets.tolist(), "2024-01-01", "2024-01-07", dates=df.date.tolist()
    )
    assert r.neutrophil_days_from_chemo_end == 8 and r.platelet_days_from_chemo_end == 10
    days = _days(4)
    r2 = course_recovery([1.0, 0.1, None, 0.1], [50, 10, 10, 10], D0, dates=days)
    assert r2.gaps == ((days[2], days[2]),)
    assert r2.aplasia_start is None  # the half-missing day breaks the joint run
