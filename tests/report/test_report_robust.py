"""The report never crashes on ordinary data: missing cells, absent columns, a wrong --by."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.cohort import build_flat_table, write_flat_table
from mst.errors import ValidationError
from mst.report import ReportConfig, build_report
from mst.simulate import simulate_cohort

runner = CliRunner()


@pytest.fixture(scope="module")
def flat() -> pd.DataFrame:
    return build_flat_table(simulate_cohort(60, seed=7))


def _report(tmp_path: Path, df: pd.DataFrame, *extra: str) -> dict:
    write_flat_table(df, tmp_path / "t.csv")
    res = runner.invoke(app, ["report", "--from", str(tmp_path / "t.csv"),
                              "--out", str(tmp_path / "r.html"), "--quiet", *extra])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    return json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))


def test_one_blank_donor_age_cell(tmp_path: Path, flat: pd.DataFrame) -> None:
    df = flat.copy()
    df.loc[3, "donor_age"] = pd.NA
    num = _report(tmp_path, df)
    assert num["n"] == 60
    assert "donor_age_group" in num["km"]["os"]
    assert num["km"]["os"]["donor_age_group"]["n"] == 59


def test_missing_values_in_every_column(tmp_path: Path, flat: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    df = flat.copy()
    for c in df.columns:
        if c != "patient_id":
            df.loc[rng.random(len(df)) < 0.15, c] = None
    num = _report(tmp_path, df)
    q = num["quality"]
    assert q["n_excluded"] > 0  # missing group or OS time/event
    assert num["n"] == 60 - q["n_excluded"]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Traceback" not in html


@pytest.mark.parametrize("cols", [
    ["patient_id", "age_group", "os_months", "os_event"],
    ["patient_id", "age", "os_days", "os_event"],
    ["patient_id", "age_group"],
    ["patient_id", "age_group", "donor_sex", "cr"],
])
def test_minimal_tables(tmp_path: Path, flat: pd.DataFrame, cols: list[str]) -> None:
    num = _report(tmp_path, flat[cols])
    assert num["n"] == 60
    if "os_event" not in cols:
        assert any(s.startswith("OS") for s in num["not_available"])
    else:
        assert "os" in num["km"]
    assert "donor_age" in num["table1_not_reported"]


def test_absent_column_skipped_with_a_line(flat: pd.DataFrame) -> None:
    rep = build_report(flat.drop(columns=["donor_age"]), ReportConfig())
    assert "donor_age" in rep.numbers["table1_not_reported"]
    assert "donor_age" in rep.numbers["regression"]["covariates_not_used"]
    assert "donor_age" in rep.html


def test_text_in_a_numeric_column_is_listed_and_missing(flat: pd.DataFrame) -> None:
    df = flat.astype({"mnc_1e8_per_kg": object})
    df.loc[2, "mnc_1e8_per_kg"] = "lots"
    rep = build_report(df, ReportConfig())
    bad = rep.numbers["quality"]["invalid_cells"]
    assert [(b["row"], b["column"], b["value"]) for b in bad] == [(3, "mnc_1e8_per_kg", "'lots'")]
    row = next(v for v in rep.numbers["table2"]["variables"] if v["variable"] == "mnc_1e8_per_kg")
    assert row["kind"] == "continuous" and row["n_missing"] == 1


def test_unknown_by_names_the_column(tmp_path: Path, flat: pd.DataFrame) -> None:
    write_flat_table(flat, tmp_path / "t.csv")
    res = runner.invoke(app, ["report", "--from", str(tmp_path / "t.csv"), "--out",
                              str(tmp_path / "r.html"), "--quiet", "--by", "age_grup"])
    assert res.exit_code == 2
    assert "age_grup" in res.output and "no such column" in res.output
    with pytest.raises(ValidationError) as exc:
        build_report(flat, ReportConfig(by="agegroup"))
    assert exc.value.field == "--by"
