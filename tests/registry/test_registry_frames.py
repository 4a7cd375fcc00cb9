"""The registry read as frames equals the registry read as objects, then laid out as frames."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from mst.domain import Center, Cohort, Donor, Patient, PatientRecord
from mst.io.frames import check_schema, frames_from_cohort
from mst.registry import open_registry
from mst.simulate import simulate_cohort


def _edge_cohort() -> Cohort:
    """Two centers of simulated patients, plus a brand-new patient (no donor, no course,
    age without birth date) and one with a donor but no course yet."""
    sim = simulate_cohort(10, seed=5, n_centers=2)
    bare = PatientRecord(
        patient=Patient(id="C02-9001", center_id="C02", sex="M", age_at_diagnosis=67,
                        diagnosis="AML", diagnosis_date=dt.date(2024, 5, 2))
    )
    donor_only = PatientRecord(
        patient=Patient(id="C01-9002", center_id="C01", sex="F", birth_date=dt.date(1961, 3, 9),
                        diagnosis="MDS", diagnosis_date=dt.date(2023, 1, 20)),
        donors=(Donor(id="C01-9002-D1", patient_id="C01-9002", relationship="child", sex="M",
                      age=35),),
    )
    centers = tuple(sim.centers) + (Center(id="C03", name="Center without patients"),)
    return Cohort(centers=centers, records=(*sim.records, bare, donor_only))


def _same(reg, center_id: str | None = None) -> pd.DataFrame:
    got = reg.load_frames(center_id=center_id)
    want = frames_from_cohort(reg.load_cohort(center_id=center_id))
    check_schema(got)
    for (name, a), (_, b) in zip(got.items(), want.items(), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    return got


def test_load_frames_equals_load_cohort(db_url: str) -> None:
    cohort = _edge_cohort()
    with open_registry(db_url) as reg:
        reg.import_cohort(cohort)
        # soft-delete the first lab of a patient with labs (kept in deleted_records only)
        rec = next(r for r in cohort.records if len(r.labs) > 1)
        gone = rec.labs[0]
        version = reg.record_version(rec.patient.id)
        reg.correct_record(rec.model_copy(update={"labs": rec.labs[1:]}), "entered twice",
                           version, [("lab", gone.analyte, gone.model_dump(mode="json"))])
        f = _same(reg)
        _same(reg, "C01")
        _same(reg, "C03")  # a center without patients: its row, no records
        _same(reg, "C99")  # no such center: empty frames
    n_labs = sum(len(r.labs) for r in cohort.records)
    assert len(f.labs) == n_labs - 1  # the soft-deleted lab is not read
    assert {"C02-9001", "C01-9002"} <= set(f.patients["id"])
    assert not f.donors["patient_id"].eq("C02-9001").any()
    assert list(f.centers["id"]) == ["C01", "C02", "C03"]

    with open_registry(db_url, user="c02", center_scope=["C02"]) as reg:  # a scoped user
        f = _same(reg)
        _same(reg, "C01")  # outside the scope: nothing
    assert set(f.patients["center_id"]) == {"C02"}
    assert set(f.labs["patient_id"]) <= set(f.patients["id"])
    assert list(f.centers["id"]) == ["C02"]


def test_readers_of_frames_give_what_the_objects_gave(tmp_path: Path) -> None:
    """Export, the web's cohort table, `mst cohort --db` and the report's registry input."""
    from typer.testing import CliRunner

    from mst.cli.main import app
    from mst.cohort import build_flat_table, write_flat_table
    from mst.io.exchange import write_cohort
    from mst.report.inputs import load_input
    from mst.web.routes.cohort import _flat

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with open_registry(url) as reg:
        reg.import_cohort(_edge_cohort())
        table = build_flat_table(reg.load_cohort())
        pd.testing.assert_frame_equal(_flat(reg.load_frames()), table)  # web cohort cache
        write_cohort(reg.load_cohort(center_id="C02"), tmp_path / "want.csv")
        write_flat_table(build_flat_table(reg.load_cohort(center_id="C01")), tmp_path / "w.csv")
    pd.testing.assert_frame_equal(load_input(db=url).table, table)  # mst report --db
    run = CliRunner()
    res = run.invoke(app, ["export", "--center", "C02", "--out", str(tmp_path / "e.csv"),
                           "--db", url])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "e.csv").read_bytes() == (tmp_path / "want.csv").read_bytes()
    res = run.invoke(app, ["cohort", "--center", "C01", "--out", str(tmp_path / "t.csv"),
                           "--db", url])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t.csv").read_bytes() == (tmp_path / "w.csv").read_bytes()
