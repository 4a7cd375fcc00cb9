"""Exchange files: lossless CSV/XLSX round trips and row-level error messages."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.domain import Cohort
from mst.errors import ConsistencyError, ValidationError
from mst.io.exchange import COLUMNS, cohort_to_csv, read_cohort, write_cohort


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_roundtrip(tmp_path: Path, small_cohort: Cohort, suffix: str) -> None:
    path = tmp_path / f"cohort{suffix}"
    write_cohort(small_cohort, path)
    assert read_cohort(path) == small_cohort


def test_csv_is_deterministic(small_cohort: Cohort) -> None:
    assert cohort_to_csv(small_cohort) == cohort_to_csv(small_cohort)
    assert cohort_to_csv(small_cohort).splitlines()[0].split(",") == list(COLUMNS)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize(
    ("record_type", "column", "value", "field", "rule"),
    [
        ("lab", "value", "999", "labresult.value", "physiological range"),
        ("lab", "unit", "mg/dL", "labresult.unit", "must be reported in one of"),
        ("patient", "weight_kg", "0", "patient.weight_kg", "greater than or equal to 25"),
        ("infusion", "mnc_1e8_per_kg", "-1", "infusion.mnc_1e8_per_kg", "greater than 0"),
        ("event", "kind", "hiccups", "clinicalevent.kind", "Input should be"),
    ],
)
def test_bad_row_named(
    tmp_path: Path,
    small_cohort: Cohort,
    record_type: str,
    column: str,
    value: str,
    field: str,
    rule: str,
) -> None:
    src = tmp_path / "good.csv"
    write_cohort(small_cohort, src)
    rows = _rows(src)
    index = next(i for i, r in enumerate(rows) if r["record_type"] == record_type)
    rows[index][column] = value
    bad = tmp_path / "bad.csv"
    _write(bad, rows)
    with pytest.raises(ValidationError) as exc:
        read_cohort(bad)
    assert exc.value.field == f"row {index + 2}: {field}"
    assert rule in exc.value.rule
    assert (
        str(exc.value.value) == value or exc.value.value == float(value) or value in str(exc.value)
    )


def test_orphan_row_and_unknown_type(tmp_path: Path, small_cohort: Cohort) -> None:
    src = tmp_path / "good.csv"
    write_cohort(small_cohort, src)
    rows = _rows(src)
    rows.insert(1, {**rows[-1], "patient_id": "C01-0001"})  # a response before its patient
    _write(tmp_path / "orphan.csv", rows)
    with pytest.raises(ValidationError, match=r"row 3: patient_id.*earlier row"):
        read_cohort(tmp_path / "orphan.csv")
    rows = _rows(src)
    rows[0]["record_type"] = "widget"
    _write(tmp_path / "kind.csv", rows)
    with pytest.raises(ValidationError, match="row 2: record_type"):
        read_cohort(tmp_path / "kind.csv")


def test_cross_record_error_names_patient_row(tmp_path: Path, small_cohort: Cohort) -> None:
    src = tmp_path / "good.csv"
    write_cohort(small_cohort, src)
    rows = _rows(src)
    i = next(i for i, r in enumerate(rows) if r["record_type"] == "event" and r["kind"] == "fever")
    rows[i]["date"] = "2021-06-01"  # after the death (2021-03-01)
    _write(tmp_path / "late.csv", rows)
    with pytest.raises(
        ConsistencyError, match=r"row 4: patient C01-0001 / event 1 \(fever\).*after death"
    ):
        read_cohort(tmp_path / "late.csv")


def test_wrong_suffix(tmp_path: Path, small_cohort: Cohort) -> None:
    with pytest.raises(ValidationError, match=r"\.csv or \.xlsx"):
        write_cohort(small_cohort, tmp_path / "x.json")


@settings(deadline=None, derandomize=True, max_examples=200)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=len(COLUMNS)))
def test_arbitrary_rows_fail_cleanly(
    tmp_path_factory: pytest.TempPathFactory, cells: list[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerow(cells)
    with contextlib.suppress(ValidationError, ConsistencyError):
        read_cohort(path)
