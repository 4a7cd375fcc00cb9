"""Import from validated frames: the same registry as the object path, byte for byte
(every table, audit rows and hash chain), the same refusals, all or nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mst.domain import Cohort, Donor, PatientRecord
from mst.errors import ConsistencyError
from mst.io.frames import frames_from_cohort
from mst.registry import open_registry
from mst.registry.backup import dump_tables

from ..conftest import build_record

_AT = dt.datetime(2026, 11, 28, 9, 30, 0, 123456)


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    """Simulated patients of two centers and one hand-made record with awkward text."""
    from mst.simulate import simulate_cohort

    sim = simulate_cohort(n=9, seed=21, n_centers=2)
    odd = build_record("C02-9001", "C02")
    events = tuple(
        e.model_copy(update={"detail": 'fièvre "F" – ☃\\ 40.1°C'}) for e in odd.events
    )
    labs = odd.labs + tuple(lab.model_copy() for lab in odd.labs[:2])  # repeated lab keys
    odd = odd.model_copy(update={"events": events, "labs": labs})
    return Cohort(centers=sim.centers, records=(*sim.records, odd))


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import mst.registry.frames_import as fi
    import mst.registry.repository as repo

    monkeypatch.setattr(repo, "_now", lambda: _AT)
    monkeypatch.setattr(fi, "CHUNK_PATIENTS", 4)  # several chunks, one of them partial


def _wipe(url: str) -> None:
    if url.startswith("sqlite"):
        from pathlib import Path

        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
        return
    from sqlalchemy import text

    from mst.registry.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _both_ways(url: str, base: Cohort | None, cohort: Cohort) -> list[dict[str, Any]]:
    """Tables after importing ``cohort`` (over ``base``) via objects, then via frames."""
    dumps = []
    for via_frames in (False, True):
        _wipe(url)
        with open_registry(url, user="importer") as reg:
            if base is not None:
                reg.import_cohort(base)
            if via_frames:
                seen: list[int] = []
                assert reg.import_frames(frames_from_cohort(cohort), seen.append) == len(
                    cohort.records
                )
                assert seen[-1] == len(cohort.records)
            else:
                reg.import_cohort(cohort)
            report = reg.verify_audit()
            assert report.ok, report.problem
        dumps.append(dump_tables(url))
    return dumps


def test_frames_import_writes_the_object_path_registry(db_url: str, cohort: Cohort) -> None:
    by_objects, by_frames = _both_ways(db_url, None, cohort)
    assert len(by_frames["audit"]) > 500
    assert len(by_frames["administrations"]) > 0
    for table in by_objects:
        assert by_frames[table] == by_objects[table], table


def test_patients_already_present_are_replaced_as_by_the_object_path(
    db_url: str, cohort: Cohort
) -> None:
    recs = cohort.records
    changed = recs[1].model_copy(
        update={"patient": recs[1].patient.model_copy(update={"weight_kg": 61.5}),
                "labs": recs[1].labs[:-3]}
    )
    base = Cohort(centers=cohort.centers, records=(recs[0], changed, recs[5]))
    by_objects, by_frames = _both_ways(db_url, base, cohort)
    updates = [a for a in by_frames["audit"] if a["action"] in ("update", "delete")]
    assert updates  # the changed patient was replaced entity by entity
    for table in by_objects:
        assert by_frames[table] == by_objects[table], table


def _clash(cohort: Cohort) -> PatientRecord:
    rec = build_record("C01-0999")
    taken = cohort.records[0].donors[0].id
    donor = Donor(**{**rec.donors[0].model_dump(), "id": taken})
    return rec.model_copy(update={
        "donors": (donor,),
        "infusions": tuple(i.model_copy(update={"donor_id": taken}) for i in rec.infusions),
        "labs": tuple(x.model_copy(update={"donor_id": taken}) if x.donor_id else x
                      for x in rec.labs),
    })


def test_refusals_leave_the_registry_unchanged(db_url: str, cohort: Cohort) -> None:
    with open_registry(db_url) as reg:
        reg.import_cohort(Cohort(centers=cohort.centers, records=cohort.records[:2]))
        before = dump_tables(db_url)
        clash = Cohort(records=(*cohort.records[2:5], _clash(cohort)))
        with pytest.raises(ConsistencyError) as by_objects:
            reg.import_cohort(clash)
        with pytest.raises(ConsistencyError) as by_frames:
            reg.import_frames(frames_from_cohort(clash))
        assert str(by_frames.value) == str(by_objects.value)
        assert f"donor {cohort.records[0].donors[0].id}" in str(by_frames.value)
        unknown = Cohort(records=(*cohort.records[2:6], build_record("X09-0001", "X09")))
        with pytest.raises(ConsistencyError, match=r"patient X09-0001.*center X09 is not "
                                                   r"registered"):
            reg.import_frames(frames_from_cohort(unknown))
    with open_registry(db_url, center_scope={"C01"}) as reg:
        c02 = [r for r in cohort.records if r.patient.center_id == "C02"][:1]
        with pytest.raises(ConsistencyError, match="outside this user's centers"):
            reg.import_frames(frames_from_cohort(Cohort(records=tuple(c02))))
    assert dump_tables(db_url) == before


def test_a_child_without_its_patient_is_refused(tmp_path: Any, cohort: Cohort) -> None:
    from dataclasses import replace

    frames = frames_from_cohort(Cohort(centers=cohort.centers, records=cohort.records[:3]))
    frames = replace(frames, patients=frames.patients.iloc[1:].reset_index(drop=True))
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with open_registry(url) as reg:
        with pytest.raises(ConsistencyError, match=r"patient .*not in the import"):
            reg.import_frames(frames)
        assert reg.counts()["patients"] == 0


def test_mst_import_takes_the_frames_path_and_the_trail_verifies(
    tmp_path: Any, cohort: Cohort, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from mst.cli.main import app
    from mst.io.exchange import write_cohort
    from mst.registry.repository import Repository

    def no_objects(*_a: Any, **_k: Any) -> None:
        raise AssertionError("mst import built the cohort as objects")

    monkeypatch.setattr(Repository, "import_cohort", no_objects)
    source = tmp_path / "c.csv"
    write_cohort(Cohort(centers=cohort.centers, records=cohort.records[:5]), source)
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    runner = CliRunner()
    res = runner.invoke(app, ["import", str(source), "--db", url])
    assert res.exit_code == 0, res.output
    assert "imported 5 patients" in res.output
    res = runner.invoke(app, ["audit", "verify", "--db", url])
    assert res.exit_code == 0 and "intact" in res.output, res.output
