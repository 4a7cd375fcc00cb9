"""The columnar twin of a cohort: schema, counts and values agree with the objects."""

from __future__ import annotations

import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.io.frames import SCHEMA, CohortFrames, check_schema, frame, frames_from_cohort
from mst.simulate import simulate_cohort


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(25, seed=11)


def test_frames_follow_the_schema_and_count_every_record(cohort) -> None:
    f = frames_from_cohort(cohort)
    check_schema(f)
    recs = cohort.records
    assert len(f.patients) == len(recs)
    assert len(f.labs) == sum(len(r.labs) for r in recs)
    assert len(f.administrations) == sum(len(c.administrations) for r in recs for c in r.courses)
    assert f.patients["row"].isna().all()


def test_values_are_plain_and_dates_at_midnight(cohort) -> None:
    f = frames_from_cohort(cohort)
    rec = cohort.records[0]
    first = f.patients.iloc[0]
    assert type(first["sex"]) is str and first["sex"] == rec.patient.sex.value
    assert first["diagnosis_date"] == pd.Timestamp(rec.patient.diagnosis_date)
    labs = f.labs[f.labs["patient_id"] == rec.patient.id]
    assert list(labs["value"]) == [x.value for x in rec.labs]
    assert (f.labs["date"].dt.normalize() == f.labs["date"]).all()
    ev = f.events.iloc[0]
    assert type(ev["kind"]) is str


def test_empty_cohort_gives_empty_frames_with_schema() -> None:
    f = frames_from_cohort(simulate_cohort(0, seed=1))
    check_schema(f)
    assert all(len(df) == 0 for name, df in f.items() if name != "centers")


def test_bad_frame_requests_are_named() -> None:
    with pytest.raises(ValidationError, match="frame"):
        frame("patient", {}, 0)
    with pytest.raises(ValidationError, match=r"labs.*colour"):
        frame("labs", {"colour": []}, 0)
    with pytest.raises(ValidationError, match=r"labs\.value"):
        frame("labs", {"value": [1.0]}, 2)


def test_check_schema_names_a_wrong_dtype(cohort) -> None:
    f = frames_from_cohort(cohort)
    bad = CohortFrames(
        **{n: (df.astype({"value": "object"}) if n == "labs" else df) for n, df in f.items()}
    )
    with pytest.raises(ValidationError, match=r"labs\.value"):
        check_schema(bad)
    assert set(SCHEMA) == {n for n, _ in f.items()}
