"""The flat table from a cohort's frames: edge cases, and one rule behind both APIs
(per-record endpoints and recovery = the vectorised cohort functions, patient by patient)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mst.cohort import build_flat_table, flat_table_from_frames, patient_endpoints
from mst.cohort.endpoints import ENDPOINT_COLUMNS, endpoints_frame
from mst.cohort.flat_table import _pair_mismatches
from mst.domain import CourseKind, PatientRecord
from mst.errors import ValidationError
from mst.io.frames import frames_from_records
from mst.monitoring.recovery import courses_recovery, record_recovery
from mst.simulate import simulate_cohort


def _renamed(rec: PatientRecord, pid: str, **changes: object) -> PatientRecord:
    kw: dict[str, object] = {"patient": rec.patient.model_copy(update={"id": pid})}
    for name in ("donors", "courses", "infusions", "labs", "events", "responses", "antibodies"):
        kw[name] = tuple(x.model_copy(update={"patient_id": pid}) for x in getattr(rec, name))
    out = rec.model_copy(update=kw)
    return out.model_copy(update=changes) if changes else out


@pytest.fixture(scope="module")
def records() -> list[PatientRecord]:
    base = list(simulate_cohort(30, seed=5).records)
    r = [_renamed(x, f"C09-{i:04d}") for i, x in enumerate(base[:9])]
    edge = [
        r[0].model_copy(update={"donors": (), "infusions": (),
                                "labs": tuple(x for x in r[0].labs if x.donor_id is None)}),
        r[1].model_copy(update={"courses": (), "infusions": ()}),
        r[2].model_copy(update={"infusions": ()}),
        r[3].model_copy(update={"labs": ()}),
        r[4].model_copy(update={"donors": tuple(reversed(r[4].donors))}),
        r[5].model_copy(update={
            "courses": tuple(c.model_copy(update={"number": c.number + 1}) for c in r[5].courses),
            "infusions": tuple(x.model_copy(update={"course_number": x.course_number + 1})
                               for x in r[5].infusions)}),
        r[6].model_copy(update={"courses": tuple(
            c.model_copy(update={"kind": CourseKind.CONSOLIDATION}) for c in r[6].courses)}),
    ]
    return base + edge


@pytest.fixture(scope="module")
def table(records: list[PatientRecord]) -> pd.DataFrame:
    return flat_table_from_frames(frames_from_records(records))


def test_build_flat_table_is_the_frames_table(records, table) -> None:  # type: ignore[no-untyped-def]
    pd.testing.assert_frame_equal(build_flat_table(records), table)


def test_per_record_endpoints_equal_the_cohort_frame(records) -> None:  # type: ignore[no-untyped-def]
    frame = endpoints_frame(frames_from_records(records))
    assert list(frame.columns) == list(ENDPOINT_COLUMNS)
    for i, rec in enumerate(records):
        if 5 <= i < len(records) - 9:  # the edge cases and a few ordinary patients
            continue
        e = patient_endpoints(rec)
        row = frame.iloc[i]
        for col in ENDPOINT_COLUMNS:
            v = getattr(e, col)
            if v is None:
                assert pd.isna(row[col]), (i, col)
            elif col.endswith("_date"):
                assert row[col].date() == v, (i, col)
            else:
                assert row[col] == v, (i, col)


def test_per_record_recovery_equals_the_cohort_frame(records) -> None:  # type: ignore[no-untyped-def]
    frame = courses_recovery(frames_from_records(records))
    assert len(frame) == sum(len(r.courses) for r in records)
    by_patient = frame.groupby("patient_id", sort=False)
    for rec in records[-9:]:  # the edge cases and two ordinary patients
        if not rec.courses:
            assert rec.patient.id not in by_patient.groups
            continue
        per_record = record_recovery(rec)
        rows = by_patient.get_group(rec.patient.id)
        assert sorted(per_record) == sorted(rows["number"])
        for _, row in rows.iterrows():
            one = per_record[int(row["number"])]
            for col in ("aplasia_start", "recovery_date", "neutrophil_recovery_date",
                        "platelet_recovery_date"):
                v = getattr(one, col)
                assert (pd.isna(row[col]) if v is None else row[col].date() == v), col
            for col in ("recovery_days_from_aplasia", "neutrophil_days_from_chemo_start",
                        "platelet_days_from_chemo_end"):
                v = getattr(one, col)
                assert (pd.isna(row[col]) if v is None else row[col] == v), col
            assert bool(row["counts_fell"]) == one.counts_fell


def test_edge_cases(records, table) -> None:  # type: ignore[no-untyped-def]
    t = table.set_index("patient_id")
    no_donor, no_course, no_inf, no_labs, reversed_donors, from_two, consolidation = (
        r.patient.id for r in records[-7:])
    donor_cols = ["donor_sex", "donor_age", "donor_related", "donor_relationship",
                  "donor_patient_sex", "hla_mismatches_10", "hla_mismatches_12"]
    assert t.loc[no_donor, donor_cols].isna().all()
    assert np.isnan(t.loc[no_donor, "mnc_1e8_per_kg"])
    assert t.loc[no_course, "n_courses"] == 0 and not t.loc[no_course, "courses_gt3"]
    assert pd.isna(t.loc[no_course, "first_chemo_date"])
    assert pd.isna(t.loc[no_course, "early_death"]) and not t.loc[no_course, "cr"]
    assert t.loc[no_course, "induction_regimen"] is None
    assert pd.isna(t.loc[no_course, "aplasia_days"])
    rec_no_inf = next(r for r in records if r.patient.id == no_inf)
    assert t.loc[no_inf, "donor_age"] == rec_no_inf.donors[0].age  # the first recorded donor
    assert np.isnan(t.loc[no_inf, "mnc_1e8_per_kg"])
    assert pd.isna(t.loc[no_labs, "chimerism_positive"])
    assert t.loc[no_labs, ["aplasia_days", "neutrophil_recovery_days"]].isna().all()
    # the first-course donor is the donor of the first infusion, whatever the donor order
    rec = next(r for r in records if r.patient.id == reversed_donors)
    first = min(rec.infusions, key=lambda x: (x.course_number, x.infused_at))
    donor = next(d for d in rec.donors if d.id == first.donor_id)
    assert t.loc[reversed_donors, "donor_age"] == donor.age
    # without a course numbered 1 there is no course-1 recovery; the regimen is the first's
    assert t.loc[from_two, ["aplasia_days", "platelet_recovery_days"]].isna().all()
    rec = next(r for r in records if r.patient.id == from_two)
    assert t.loc[from_two, "induction_regimen"] == min(
        rec.courses, key=lambda c: c.number).regimen_id
    # consolidation courses only: no induction, so no CR (004 §4.3)
    assert not t.loc[consolidation, "cr"] and pd.isna(t.loc[consolidation, "relapse"])


def test_duplicate_patient_ids_are_refused(records) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="appears more than once"):
        build_flat_table([records[0], records[0]])


def test_mismatch_counted_once_per_typing_pair(records) -> None:  # type: ignore[no-untyped-def]
    rec = records[0]
    twins = [_renamed(rec, f"C08-{i:04d}") for i in range(5)]
    _pair_mismatches.cache_clear()
    t = build_flat_table(twins)
    info = _pair_mismatches.cache_info()
    assert info.misses == 1 and info.hits == 4
    assert t["hla_mismatches_10"].nunique() == 1


def test_last_known_date_per_record_equals_the_cohort_rule(records) -> None:  # type: ignore[no-untyped-def]
    from mst.cohort.endpoints import last_known_date, last_known_dates

    open_ended = [r.model_copy(update={"patient": r.patient.model_copy(
        update={"last_followup_date": None})}) for r in records[-9:]]
    cohort_rule = last_known_dates(frames_from_records(open_ended))
    for i, rec in enumerate(open_ended):
        assert last_known_date(rec) == cohort_rule.iloc[i].date()
        dated = [rec.patient.diagnosis_date, *(c.last_chemo_date for c in rec.courses),
                 *(x.date for x in rec.labs), *(x.date for x in rec.events)]
        assert last_known_date(rec) >= max(dated)
