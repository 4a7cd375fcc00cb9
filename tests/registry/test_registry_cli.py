"""CLI: import → export → import is lossless; a bad row leaves the database exactly as before."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from mst.cli.main import app
from mst.domain import Cohort
from mst.io.exchange import COLUMNS, read_cohort, write_cohort
from mst.registry import open_registry
from mst.registry.db import head_revision

runner = CliRunner()


def test_import_export_import_lossless(tmp_path: Path, db_url: str, small_cohort: Cohort) -> None:
    src = tmp_path / "in.csv"
    write_cohort(small_cohort, src)
    result = runner.invoke(app, ["import", str(src), "--db", db_url])
    assert result.exit_code == 0, result.output
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"out.{fmt}"
        result = runner.invoke(app, ["export", "--format", fmt, "--out", str(out), "--db", db_url])
        assert result.exit_code == 0, result.output
        assert read_cohort(out) == small_cohort
    # Re-importing the export changes nothing (and writes no audit rows).
    with open_registry(db_url) as reg:
        n_audit = len(reg.audit_log())
    result = runner.invoke(app, ["import", str(tmp_path / "out.xlsx"), "--db", db_url])
    assert result.exit_code == 0, result.output
    with open_registry(db_url) as reg:
        assert reg.load_cohort() == small_cohort
        assert len(reg.audit_log()) == n_audit


def test_bad_row_rejected_database_unchanged(
    tmp_path: Path, db_url: str, small_cohort: Cohort
) -> None:
    first = Cohort(centers=small_cohort.centers, records=small_cohort.records[:1])
    write_cohort(first, tmp_path / "first.csv")
    assert (
        runner.invoke(app, ["import", str(tmp_path / "first.csv"), "--db", db_url]).exit_code == 0
    )
    with open_registry(db_url) as reg:
        before = reg.counts(), reg.load_cohort(), reg.audit_log()

    write_cohort(small_cohort, tmp_path / "all.csv")
    with (tmp_path / "all.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad_index = max(
        i for i, r in enumerate(rows) if r["record_type"] == "lab"
    )  # last patient's lab
    rows[bad_index]["value"] = "250"  # ANC 250 × 10⁹/L: outside the physiological range
    with (tmp_path / "bad.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    result = runner.invoke(app, ["import", str(tmp_path / "bad.csv"), "--db", db_url])
    assert result.exit_code == 2
    assert f"row {bad_index + 2}: labresult.value" in result.output
    assert "physiological range" in result.output
    with open_registry(db_url) as reg:
        assert (reg.counts(), reg.load_cohort(), reg.audit_log()) == before


def test_audit_command_reads_back(tmp_path: Path, db_url: str, small_cohort: Cohort) -> None:
    write_cohort(small_cohort, tmp_path / "in.csv")
    runner.invoke(
        app, ["import", str(tmp_path / "in.csv"), "--db", db_url], env={"MST_USER": "carol"}
    )
    result = runner.invoke(app, ["audit", "--patient", "C02-0001", "--db", db_url])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert entries and all(e["patient_id"] == "C02-0001" for e in entries)
    assert {e["user"] for e in entries} == {"carol"}
    assert entries[0]["entity"] == "patient" and entries[0]["after"]["id"] == "C02-0001"


def test_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    result = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output


def test_export_format_mismatch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    result = runner.invoke(
        app, ["export", "--format", "csv", "--out", str(tmp_path / "x.xlsx"), "--db", url]
    )
    assert result.exit_code == 2
    assert "--out" in result.output
