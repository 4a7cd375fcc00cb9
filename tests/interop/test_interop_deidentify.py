"""De-identification that holds: secret key per export, offsets not recoverable from a
published cut-off, ages >= 90 top-coded, HLA/KIR dropped, k-anonymity reported."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.cohort import build_flat_table
from mst.domain import Cohort, EventKind
from mst.errors import ValidationError
from mst.interop.deidentify import TOP_AGE, deidentify_cohort, k_anonymity, patient_shift
from mst.io.exchange import write_cohort
from mst.simulate import simulate_cohort

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return simulate_cohort(40, seed=8)


def _alive(rec) -> bool:  # type: ignore[no-untyped-def]
    return not any(e.kind is EventKind.DEATH for e in rec.events)


def test_fresh_random_key_per_export(cohort: Cohort) -> None:
    a = deidentify_cohort(cohort)
    b = deidentify_cohort(cohort)
    assert a.key_hex != b.key_hex and len(bytes.fromhex(a.key_hex)) == 32
    assert a.shifts != b.shifts
    c = deidentify_cohort(cohort, key=KEY)
    d = deidentify_cohort(cohort, key=KEY)
    assert c.cohort == d.cohort and c.shifts == d.shifts  # the custodian can reproduce it
    with pytest.raises(ValidationError):
        deidentify_cohort(cohort, key=b"short")


def test_one_offset_per_patient_keeps_intervals(cohort: Cohort) -> None:
    res = deidentify_cohort(cohort, key=KEY)
    by_shift = {r.patient.id: patient_shift(KEY, r.patient.id, 365) for r in cohort.records}
    assert all(s != 0 and abs(s) <= 365 for s in res.shifts.values())
    assert sorted(res.shifts.values()) == sorted(by_shift.values())
    for rec in res.cohort.records:
        rec.check_consistency()
        s = dt.timedelta(days=res.shifts[rec.patient.id])
        src = next(r for r in cohort.records
                   if r.patient.diagnosis_date == rec.patient.diagnosis_date - s
                   and by_shift[r.patient.id] == res.shifts[rec.patient.id])
        assert [c.start_date - s for c in rec.courses] == [c.start_date for c in src.courses]
        assert [x.date - s for x in rec.labs] == [x.date for x in src.labs]
        assert rec.patient.birth_date is None and all(e.detail is None for e in rec.events)
    a = build_flat_table(cohort)
    b = build_flat_table(res.cohort)
    for col in ("os_event", "n_courses", "age", "donor_age", "sex", "crs_status"):
        assert sorted(a[col].astype(str)) == sorted(b[col].astype(str))
    dead_a = sorted(a.loc[a["os_event"] == 1, "os_days"])
    dead_b = sorted(b.loc[b["os_event"] == 1, "os_days"])
    assert dead_a == dead_b  # event times unchanged
    alive_a = a.loc[a["os_event"] == 0, "os_days"].sum()
    alive_b = b.loc[b["os_event"] == 0, "os_days"].sum()
    assert alive_a - 90 * (a["os_event"] == 0).sum() <= alive_b < alive_a


def test_published_cutoff_does_not_give_the_offset_away(cohort: Cohort) -> None:
    """Every survivor followed to a published cut-off: cut-off minus the released last
    follow-up is not the offset, so the true diagnosis date is not recovered."""
    cutoff = max(r.patient.last_followup_date for r in cohort.records)
    recs = tuple(
        r.model_copy(update={"patient": r.patient.model_copy(
            update={"last_followup_date": cutoff})}) if _alive(r) else r
        for r in cohort.records)
    co = Cohort(centers=cohort.centers, records=recs)
    true_dx = sorted(r.patient.diagnosis_date for r in recs if _alive(r))
    assert len(true_dx) >= 5
    res = deidentify_cohort(co)
    guessed = sorted(
        r.patient.diagnosis_date - (r.patient.last_followup_date - cutoff)
        for r in res.cohort.records if _alive(r))
    hits = len(set(guessed) & set(true_dx))
    assert hits <= 1  # chance coincidences only (40 patients, 90-day window)


def test_seed_zero_attack_no_longer_works(cohort: Cohort) -> None:
    """The old default (--seed 0) made the shifts a function of (seed, n) only."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = len(cohort.records)
    rng.permutation(n)
    mag = rng.integers(1, 366, size=n)
    sign = np.where(rng.random(n) < 0.5, -1, 1)
    old = sorted((mag * sign).tolist())
    res = deidentify_cohort(cohort)
    assert sorted(res.shifts.values()) != old


@pytest.mark.parametrize(("age", "shown"), [(89, 89), (90, TOP_AGE), (97, TOP_AGE)])
def test_ages_90_or_older_are_top_coded(cohort: Cohort, age: int, shown: int) -> None:
    r0 = cohort.records[0]
    p = r0.patient.model_copy(update={"age_at_diagnosis": age, "birth_date": None})
    co = Cohort(centers=cohort.centers, records=(r0.model_copy(update={"patient": p}),))
    out = deidentify_cohort(co, key=KEY)
    assert out.cohort.records[0].patient.age_at_diagnosis == shown
    assert out.summary["changed"][-1].endswith(f"({int(age >= 90)} patient(s))")


def test_hla_kir_dropped_by_default_counts_kept(cohort: Cohort, tmp_path: Path) -> None:
    res = deidentify_cohort(cohort, key=KEY)
    assert all(r.patient.hla_typing is None for r in res.cohort.records)
    assert all(d.hla_typing is None and d.kir_genotype is None
               for r in res.cohort.records for d in r.donors)
    assert all(not r.antibodies for r in res.cohort.records)
    orig = build_flat_table(cohort)
    assert sorted(orig["hla_mismatches_10"].dropna().astype(int)) == sorted(
        v["hla_mismatches_10"] for v in res.hla_mismatches.values()
        if v["hla_mismatches_10"] is not None)
    kept = deidentify_cohort(cohort, key=KEY, keep_hla=True)
    assert any(r.patient.hla_typing for r in kept.cohort.records)
    assert "HLA/KIR kept" in kept.summary["status"]
    write_cohort(cohort, tmp_path / "c.csv")
    r = CliRunner().invoke(app, ["deidentify", "--from", str(tmp_path / "c.csv"), "--out",
                                 str(tmp_path / "d.csv"), "--flat", str(tmp_path / "f.csv"),
                                 "--save-key", str(tmp_path / "key.txt")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert "not Safe Harbor" in out["status"] and out["k_anonymity"]["k"] >= 1
    text = (tmp_path / "d.csv").read_text(encoding="utf-8")
    assert not any(rec.patient.hla_typing and rec.patient.hla_typing in text
                   for rec in cohort.records)
    flat = pd.read_csv(tmp_path / "f.csv")
    assert flat["hla_mismatches_10"].notna().sum() == orig["hla_mismatches_10"].notna().sum()
    again = CliRunner().invoke(app, ["deidentify", "--from", str(tmp_path / "c.csv"), "--out",
                                     str(tmp_path / "d2.csv"), "--key-file",
                                     str(tmp_path / "key.txt")])
    assert again.exit_code == 0
    assert (tmp_path / "d2.csv").read_bytes() == (tmp_path / "d.csv").read_bytes()


def test_k_anonymity_counts_classes(cohort: Cohort) -> None:
    recs = cohort.records[:3]
    same = tuple(r.model_copy(update={"patient": r.patient.model_copy(update={
        "center_id": "C1", "sex": recs[0].patient.sex, "age_at_diagnosis": 70,
        "birth_date": None, "diagnosis_date": dt.date(2015, 3, 1 + i),
        "last_followup_date": None})}) for i, r in enumerate(recs))
    co = Cohort(centers=cohort.centers, records=same)
    k = k_anonymity(co)
    assert k["k"] == 3 and k["exact"]["classes"] == 1
    assert k["exact"]["patients_in_classes_below_5"] == 3
