"""Time-dependent course counts, landmark tables and forest-plot data."""

from __future__ import annotations

import datetime as dt

import matplotlib
import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.stats.cox_model import cox
from mst.stats.forest import forest_data, forest_plot
from mst.stats.landmark import landmark_table
from mst.stats.timedep import course_days, split_at_times

matplotlib.use("Agg")

BASE = pd.DataFrame(
    {
        "pid": ["p1", "p2", "p3", "p4"],
        "t": [100.0, 30.0, 200.0, 50.0],
        "e": [1, 1, 0, 0],
        "age": [61, 72, 65, 80],
    }
)
COURSES = {"p1": [0.0, 40.0, 80.0], "p2": [5.0], "p3": [10.0, 60.0, 60.0, 250.0], "p4": []}

# (patient, expected rows as (tstart, tstop, status, courses))
EXPECTED = [
    ("p1", [(0.0, 40.0, 0, 1), (40.0, 80.0, 0, 2), (80.0, 100.0, 1, 3)]),
    ("p2", [(0.0, 5.0, 0, 0), (5.0, 30.0, 1, 1)]),
    ("p3", [(0.0, 10.0, 0, 0), (10.0, 60.0, 0, 1), (60.0, 200.0, 0, 3)]),
    ("p4", [(0.0, 50.0, 0, 0)]),
]


@pytest.mark.parametrize(("pid", "rows"), EXPECTED)
def test_split_at_course_starts(pid: str, rows: list[tuple]) -> None:
    long = split_at_times(BASE, COURSES, id="pid", time="t", event="e")
    got = long.loc[long.pid == pid, ["tstart", "tstop", "status", "courses"]]
    assert [tuple(r) for r in got.itertuples(index=False)] == rows
    assert (long.loc[long.pid == pid, "age"] == BASE.set_index("pid").age[pid]).all()


def test_split_preserves_follow_up_and_events() -> None:
    long = split_at_times(BASE, COURSES, id="pid", time="t", event="e")
    per = long.groupby("pid").apply(lambda d: (d.tstop - d.tstart).sum(), include_groups=False)
    assert per.to_dict() == BASE.set_index("pid").t.to_dict()
    assert long.status.sum() == BASE.e.sum()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (BASE.assign(t=[100.0, 0.0, 200.0, 50.0]), "after the entry"),
        (pd.concat([BASE, BASE.iloc[[0]]]), "one row per patient"),
        (BASE.assign(e=[1, None, 0, 0]), "must not be missing"),
    ],
)
def test_split_errors(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        split_at_times(frame, COURSES, id="pid", time="t", event="e")


def test_course_days_from_records() -> None:
    from mst.domain import Course, Patient, PatientRecord

    pat = Patient(
        id="P1",
        center_id="C1",
        sex="M",
        age_at_diagnosis=66,
        diagnosis="AML",
        diagnosis_date=dt.date(2020, 1, 1),
    )
    rec = PatientRecord(
        patient=pat,
        courses=(
            Course(
                patient_id="P1",
                number=1,
                kind="induction",
                regimen_id="IA",
                start_date=dt.date(2020, 1, 5),
            ),
            Course(
                patient_id="P1",
                number=2,
                kind="consolidation",
                regimen_id="MA",
                start_date=dt.date(2020, 2, 4),
            ),
        ),
    )
    assert course_days([rec]) == {"P1": [4.0, 34.0]}
    assert course_days([rec], origin={"P1": dt.date(2020, 1, 10)}) == {"P1": [-5.0, 25.0]}
    assert course_days([rec], origin={}) == {}


@pytest.mark.parametrize(
    ("landmark", "kept", "counts"),
    [
        (20.0, ["p1", "p2", "p3", "p4"], [1, 1, 1, 0]),
        (30.0, ["p1", "p3", "p4"], [1, 1, 0]),
        (60.0, ["p1", "p3"], [2, 3]),
    ],
)
def test_landmark_table(landmark: float, kept: list[str], counts: list[int]) -> None:
    lm = landmark_table(BASE, landmark=landmark, time="t", event="e", id="pid", times=COURSES)
    assert lm.pid.tolist() == kept
    assert lm.courses.tolist() == counts
    np.testing.assert_allclose(lm.lm_time, lm.t - landmark)


@pytest.mark.parametrize("landmark", [0.0, -1.0, 500.0])
def test_landmark_errors(landmark: float) -> None:
    with pytest.raises(ValidationError):
        landmark_table(BASE, landmark=landmark, time="t", event="e")


def test_time_dependent_fit_runs_and_forest_data() -> None:
    rng = np.random.default_rng(4)
    n = 150
    base = pd.DataFrame(
        {
            "pid": np.arange(n),
            "t": rng.exponential(300, n).round() + 1,
            "e": rng.binomial(1, 0.7, n),
            "age": rng.normal(65, 6, n),
        }
    )
    times = {i: list(np.cumsum(rng.uniform(20, 60, 5))) for i in range(n)}
    long = split_at_times(base, times, id="pid", time="t", event="e")
    fit = cox(long, "Surv(tstart, tstop, status) ~ courses + age + cluster(pid)")
    assert fit.names == ["courses", "age"]
    assert fit.n == len(long) and fit.events == base.e.sum()
    fd = forest_data([fit], labels=["time-dependent"])
    assert fd.columns.tolist() == ["model", "term", "hr", "lower", "upper", "p", "n", "events"]
    assert (fd.lower <= fd.hr).all() and (fd.hr <= fd.upper).all()
    fig = forest_plot(fd)
    assert len(fig.axes[0].get_yticklabels()) == 2
    with pytest.raises(ValidationError):
        forest_data([fit], labels=["a", "b"])
