"""Registry reliability: tamper-evident audit, constraints in words, busy registry,
backup/restore, migrations with data, crash safety — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from mst.domain import Cohort, Donor
from mst.errors import ConsistencyError
from mst.registry import open_registry
from mst.registry.backup import backup, dump_tables, restore
from mst.registry.db import downgrade, make_engine, upgrade

from ..conftest import build_record

_MST = [sys.executable, "-c", "from mst.cli.main import main; main()"]


def _sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


# -- the audit hash chain --------------------------------------------------------------


def test_untouched_trail_verifies(db_url: str, small_cohort: Cohort) -> None:
    with open_registry(db_url, user="alice") as reg:
        reg.import_cohort(small_cohort)
        rec = reg.get_record("C01-0001")
        reg.save_record(
            rec.model_copy(update={"patient": rec.patient.model_copy(update={"weight_kg": 60.0})})
        )
        reg.delete_patient("C01-0002")
        report = reg.verify_audit()
    assert report.ok, report.problem
    assert set(report.chains) == {"C01", "C02"}
    assert report.rows == sum(report.chains.values()) > 20


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit SET \"user\" = 'x' WHERE pk = 5", "audit row 5 .*does not match its hash"),
        ("UPDATE audit SET after = NULL WHERE pk = 7", "audit row 7 .*does not match its hash"),
        ("DELETE FROM audit WHERE pk = 6", "expected position"),
        ("DELETE FROM audit WHERE pk = (SELECT MAX(pk) FROM audit)", "end of the trail"),
    ],
)
def test_tampering_with_sql_names_the_broken_row(
    db_url: str, small_cohort: Cohort, tamper: str, expected: str
) -> None:
    with open_registry(db_url, user="alice") as reg:
        two = Cohort(centers=small_cohort.centers[:1], records=small_cohort.records[:2])
        reg.import_cohort(two)
    _sql(db_url, tamper)
    with open_registry(db_url) as reg:
        report = reg.verify_audit()
    assert not report.ok
    assert report.problem is not None
    import re

    assert re.search(expected, report.problem), report.problem


def test_audit_verify_command_exit_codes(tmp_path: Path, small_cohort: Cohort) -> None:
    from typer.testing import CliRunner

    from mst.cli.main import app

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with open_registry(url) as reg:
        reg.import_cohort(small_cohort)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", url])
    assert ok.exit_code == 0 and "intact" in ok.output
    _sql(url, "UPDATE audit SET entity_key = 'x' WHERE pk = 3")
    bad = runner.invoke(app, ["audit", "verify", "--db", url])
    assert bad.exit_code == 1 and "audit row 3" in bad.output


# -- constraints and a busy registry in plain words ------------------------------------


def test_donor_id_of_another_patient_is_refused_in_words(db_url: str, small_cohort: Cohort) -> None:
    with open_registry(db_url) as reg:
        reg.import_cohort(small_cohort)
        before = reg.counts()
        clash = build_record("C01-0009")
        donor = Donor(**{**clash.donors[0].model_dump(), "id": "C01-0001-D1"})
        infusions = tuple(i.model_copy(update={"donor_id": donor.id}) for i in clash.infusions)
        labs = tuple(
            lab.model_copy(update={"donor_id": donor.id}) if lab.donor_id else lab
            for lab in clash.labs
        )
        clash = clash.model_copy(
            update={"donors": (donor,), "infusions": infusions, "labs": labs}
        )
        with pytest.raises(ConsistencyError, match=r"donor C01-0001-D1.*patient C01-0001") as e1:
            reg.import_cohort(Cohort(centers=small_cohort.centers, records=(clash,)))
        with pytest.raises(ConsistencyError, match=r"donors\.id.*already exists") as e2:
            reg.save_record(clash)
        for err in (e1, e2):
            assert "INSERT" not in str(err.value) and "sqlite3" not in str(err.value)
        assert reg.counts() == before


def test_sqlite_writer_waits_then_says_busy(
    tmp_path: Path, small_cohort: Cohort, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mst.registry.db as db
    from mst.registry.errors import RegistryBusyError

    path = tmp_path / "r.sqlite"
    url = f"sqlite:///{path}"
    with open_registry(url) as reg:
        reg.import_cohort(Cohort(centers=small_cohort.centers, records=small_cohort.records[:1]))
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program writing
    try:
        with open_registry(url, migrate=False) as reg:
            # readers keep answering during the write (WAL) ...
            assert reg.patient_ids() == ["C01-0001"]
            # ... a second writer waits for the busy timeout, then gets a clear message
            t0 = time.monotonic()
            with pytest.raises(RegistryBusyError, match="registry busy, retry"):
                reg.import_cohort(Cohort(records=small_cohort.records[1:2]))
            assert time.monotonic() - t0 >= 0.25
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with open_registry(url, migrate=False) as reg:
        reg.import_cohort(Cohort(records=small_cohort.records[1:2]))
        assert len(reg.patient_ids()) == 2


def test_two_imports_at_once_both_land(db_url: str, tmp_path: Path) -> None:
    from mst.io.exchange import write_cohort
    from mst.simulate import simulate_cohort

    cohort = simulate_cohort(n=40, seed=5)
    ids = [r.patient.id for r in cohort.records]
    files = []
    for k, part in enumerate((cohort.records[:20], cohort.records[20:])):
        f = tmp_path / f"part{k}.csv"
        write_cohort(Cohort(centers=cohort.centers, records=part), f)
        files.append(f)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [*_MST, "import", str(f), "--db", db_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for f in files
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err
        assert p.returncode in (0, 2), err
        if p.returncode == 2:
            assert "retry" in err or "already exists" in err
    with open_registry(db_url) as reg:
        landed = set(reg.patient_ids())
        assert reg.verify_audit().ok
    ok_parts = [set(ids[:20]), set(ids[20:])]
    assert landed in ({*ok_parts[0], *ok_parts[1]}, ok_parts[0], ok_parts[1])


# -- backup and restore ------------------------------------------------------------------


def _fresh_postgres_db(url: str, name: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def test_backup_restores_every_table_and_the_audit(
    db_url: str, small_cohort: Cohort, tmp_path: Path
) -> None:
    with open_registry(db_url, user="alice") as reg:
        reg.import_cohort(small_cohort)
        reg.delete_patient("C01-0002")
    out = tmp_path / "backup.bin"
    backup(db_url, out)
    if db_url.startswith("sqlite"):
        target = f"sqlite:///{tmp_path / 'restored.sqlite'}"
    else:
        target = _fresh_postgres_db(db_url, "mst_restore_test")
    with open_registry(target):  # an upgraded, empty registry is a valid target
        pass
    restore(out, target)
    assert dump_tables(target) == dump_tables(db_url)
    with open_registry(target) as reg:
        assert reg.verify_audit().ok
        # restore refuses a registry holding data
    from mst.errors import ValidationError

    with pytest.raises(ValidationError, match="empty registry"):
        restore(out, target)


# -- migrations with data, up and down -------------------------------------------------

REVISIONS = ["0001", "0002", "0003"]


@pytest.mark.parametrize("start", REVISIONS)
def test_upgrade_from_each_revision_with_data_and_back(db_url: str, start: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, start)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO centers (id, name, country) VALUES ('C01', 'A', 'CN')"))
            conn.execute(text(
                "INSERT INTO patients (id, center_id, sex, birth_date, age_at_diagnosis, "
                "diagnosis, diagnosis_date) VALUES ('C01-0001', 'C01', 'F', '1950-01-02', 70, "
                "'AML', '2020-03-04')"
            ))
            conn.execute(text(
                "INSERT INTO labs (patient_id, seq, date, analyte, value, unit) "
                "VALUES ('C01-0001', 0, '2020-03-05', 'anc', 1.5, '10^9/L')"
            ))
            conn.execute(text(
                "INSERT INTO audit (at, \"user\", action, entity, entity_key, patient_id, "
                "before, after) VALUES ('2020-03-04 10:00:00.000000', 'alice', 'insert', "
                "'patient', 'C01-0001', 'C01-0001', NULL, '{\"center_id\": \"C01\"}')"
            ))

        def snapshot() -> tuple:
            with engine.connect() as conn:
                return (
                    conn.execute(text("SELECT id, center_id, birth_date FROM patients")).all(),
                    conn.execute(text("SELECT patient_id, analyte, value FROM labs")).all(),
                    conn.execute(text("SELECT \"user\", action, entity_key FROM audit")).all(),
                )

        before = snapshot()
        upgrade(engine, "head")
        assert snapshot() == before
        with open_registry(db_url, migrate=False) as reg:
            assert reg.get_record("C01-0001").labs[0].value == 1.5
            report = reg.verify_audit()
            assert report.ok and report.chains == {"C01": 1}
        downgrade(engine, start)
        assert snapshot() == before
    finally:
        engine.dispose()


# -- crash safety: SIGKILL during an import --------------------------------------------


def test_sigkill_during_import_leaves_registry_unchanged_or_complete(
    db_url: str, tmp_path: Path
) -> None:
    from mst.io.exchange import write_cohort
    from mst.simulate import simulate_cohort

    base = simulate_cohort(n=20, seed=11)
    full = simulate_cohort(n=120, seed=11)  # the same first 20 patients, then 150 more
    with open_registry(db_url) as reg:
        reg.import_cohort(base)
    big = tmp_path / "big.csv"
    write_cohort(full, big)
    before = dump_tables(db_url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    outcomes = set()
    for delay in (1.0, 3.0):
        proc = subprocess.Popen(
            [*_MST, "import", str(big), "--db", db_url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        now = dump_tables(db_url)
        if now == before:
            outcomes.add("unchanged")
        else:
            with open_registry(db_url) as reg:
                assert len(reg.patient_ids()) == len(full.records)
            outcomes.add("complete")
            before = now
        with open_registry(db_url) as reg:
            assert reg.verify_audit().ok
            reg.load_cohort()  # usable
        if db_url.startswith("sqlite"):
            con = sqlite3.connect(db_url.split("///", 1)[1])
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            con.close()
    assert outcomes <= {"unchanged", "complete"}


# -- one registry whatever the backend ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exchange_round_trip_sqlite_postgres_is_byte_identical(
    tmp_path: Path, fmt: str
) -> None:
    from typer.testing import CliRunner

    from mst.cli.main import app
    from mst.simulate import simulate_cohort

    from ..conftest import _postgres_url

    pg = _postgres_url()
    if not pg:
        pytest.skip("PostgreSQL not configured (set MST_TEST_POSTGRES_URL)")
    pg = _fresh_postgres_db(pg, "mst_roundtrip_test")
    lite = f"sqlite:///{tmp_path / 'r.sqlite'}"
    from mst.io.exchange import write_cohort

    source = tmp_path / f"source.{fmt}"
    write_cohort(simulate_cohort(n=25, seed=3), source)
    runner = CliRunner()
    outs = []
    for k, (url, file) in enumerate(((lite, source), (pg, None))):
        src = file if file is not None else outs[-1]
        res = runner.invoke(app, ["import", str(src), "--db", url])
        assert res.exit_code == 0, res.output
        out = tmp_path / f"export{k}.{fmt}"
        res = runner.invoke(app, ["export", "--format", fmt, "--out", str(out), "--db", url])
        assert res.exit_code == 0, res.output
        outs.append(out)
    from mst.io.exchange import read_cohort

    def by_id(c: Cohort) -> list:
        return sorted(c.records, key=lambda r: r.patient.id)

    assert by_id(read_cohort(source)) == by_id(read_cohort(outs[0]))  # registry order
    if fmt == "csv":
        assert outs[0].read_bytes() == outs[1].read_bytes()
    else:  # workbooks carry a timestamp: compare every cell
        from mst.io.tabular import read_workbook

        sheets = ("patient", "infusion", "lab")
        for sheet in sheets:
            b, c = (read_workbook(p, sheet=sheet) for p in outs)
            assert b.equals(c)


def test_exports_are_audited(tmp_path: Path, small_cohort: Cohort) -> None:
    from typer.testing import CliRunner

    from mst.cli.main import app

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with open_registry(url) as reg:
        reg.import_cohort(small_cohort)
    runner = CliRunner()
    for args in (
        ["export", "--out", str(tmp_path / "e.csv")],
        ["fhir", "--out", str(tmp_path / "b.json"), "--deidentify", "--quiet",
         "--timezone", "Europe/Berlin"],
    ):
        res = runner.invoke(app, [*args, "--db", url])
        assert res.exit_code == 0, res.output
    with open_registry(url) as reg:
        actions = [(e.action, e.entity_key) for e in reg.audit_log(entity="registry")]
        assert reg.verify_audit().ok
    assert actions == [("export", "e.csv"), ("deidentified_export", "b.json")]
