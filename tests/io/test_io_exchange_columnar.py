"""The columnar exchange reader agrees with the row-by-row reference (acceptance, message)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mst.domain import Center, Cohort, Patient
from mst.errors import ConsistencyError, ValidationError
from mst.io import exchange_frames
from mst.io.exchange import COLUMNS, _csv_rows, cohort_from_rows, cohort_to_csv, read_cohort
from mst.io.exchange_frames import ColumnarDisagreementError, read_frames
from mst.io.frames import check_schema, frames_from_cohort

from ..conftest import build_record


def _cohort() -> Cohort:
    mm = build_record("C02-0001", "C02")
    patient = mm.patient.model_dump() | {"diagnosis": "myeloma", "eln_risk": None}
    mm = mm.model_copy(update={"patient": Patient(**patient), "responses": ()})
    return Cohort(
        centers=(Center(id="C01", name="Center One", country="CH"), Center(id="C02", name="Two")),
        records=(build_record("C01-0001"), build_record("C01-0002"), mm),
    )


BASE = cohort_to_csv(_cohort())
ROWS = list(csv.reader(io.StringIO(BASE)))

VALUES = [
    "", "NA", " ", "x", "-1", "0", "1", "2", "3", "+3", "03", "3.0", "5", "51", "1e1",
    "1e999", "nan", "inf", "0.5", "250.5", "2020-01-01", "2020-02-30", "1800-01-01",
    "2099-01-01", "2019-12-01", "2021-03-01", "2020-01-20T10:30:00",
    "2020-01-20T10:30:00+05:00", "2020-01-20 10:30", "2020-01-20T24:00:00", "M", "F", "AML",
    "MDS", "myeloma", "death", "gvhd", "crs", "relapse", "fever", "cytogenetics", "del17p",
    "CR", "sCR", "VGPR", "mg", "g", "%", "10^9/L", "g/L", "anc", "platelets", "fresh", "IV",
    "XX", "C01", "C02", "C03", "C01-0001", "C01-0002", "C01-0001-D1", "C01-0002-D1",
    " padded ", "a" * 70, "é", "\u00a0C01", "adverse", "fit", "patient", "lab", "course",
    "administration", "donor", "center", "Lab",
]


@st.composite
def mutated(draw: Any) -> str:
    rows = [list(r) for r in ROWS]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "drop", "dup", "swap"]))
        i = draw(st.integers(1, len(rows) - 1))
        if op == "cell":
            j = draw(st.integers(0, len(COLUMNS) - 1))
            rows[i][j] = draw(st.sampled_from(VALUES))
        elif op == "drop" and len(rows) > 2:
            del rows[i]
        elif op == "dup":
            rows.insert(i, list(rows[i]))
        else:
            k = draw(st.integers(1, len(rows) - 1))
            rows[i], rows[k] = rows[k], rows[i]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _outcome(read: Any) -> tuple[str, Any]:
    try:
        return "ok", read()
    except (ValidationError, ConsistencyError) as exc:
        return type(exc).__name__, str(exc)


def _reference(text: str) -> Cohort:
    return cohort_from_rows(_csv_rows(io.StringIO(text, newline="")))


def _same(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    ref = _outcome(lambda: _reference(text))
    col = _outcome(lambda: read_cohort(path))
    assert col == ref


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated())
def test_columnar_reader_accepts_exactly_what_the_reference_accepts(
    tmp_path: Path, text: str
) -> None:
    _same(tmp_path / "m.csv", text)


@pytest.mark.parametrize(
    ("row_type", "column", "value"),
    [
        ("patient", "birth_date", "1800-01-01"),  # before 1900
        ("patient", "diagnosis_date", "2020-02-30"),  # no such day
        ("lab", "date", "2099-01-01"),  # in the future
        ("lab", "unit", "mmol/L"),  # unit not accepted for the analyte
        ("lab", "value", "400"),  # outside the physiological range
        ("event", "grade", "2"),  # fever takes no grade
        ("course", "course_number", "+1"),  # Python int() accepts it: the reference decides
        ("donor", "patient_id", "C09-0001"),  # no such patient
        ("infusion", "infused_at", "2020-01-20T10:30:00+05:00"),  # offset refused
        ("response", "date", "2019-12-01"),  # before diagnosis
        ("antibody", "date", "2019-12-01"),  # labs/antibodies: 30-day work-up window
    ],
)
def test_single_mutations_same_message(tmp_path: Path, row_type: str, column: str,
                                       value: str) -> None:
    rows = [list(r) for r in ROWS]
    j = COLUMNS.index(column)
    i = next(k for k, r in enumerate(rows) if r[0] == row_type)
    rows[i][j] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    _same(tmp_path / "one.csv", buf.getvalue())


def test_frames_equal_the_frames_of_the_objects(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text(BASE, encoding="utf-8")
    frames = read_frames(p)
    check_schema(frames)
    expected = frames_from_cohort(_cohort())
    for (name, got), (_, want) in zip(frames.items(), expected.items(), strict=True):
        pd.testing.assert_frame_equal(got.drop(columns="row"), want.drop(columns="row"),
                                      check_dtype=True, obj=name)
    assert frames.patients["row"].tolist() == [
        k + 1 for k, r in enumerate(ROWS) if r[0] == "patient"
    ]


def test_a_twin_that_flags_a_valid_record_is_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "c.csv"
    p.write_text(BASE, encoding="utf-8")
    monkeypatch.setattr(exchange_frames, "_inconsistent",
                        lambda cf, *_: set(cf.patients["id"]))
    with pytest.raises(ColumnarDisagreementError, match="check_consistency accepts"):
        read_frames(p)


def test_a_field_twin_that_flags_a_valid_row_is_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    p = tmp_path / "c.csv"
    p.write_text(BASE, encoding="utf-8")
    monkeypatch.setitem(exchange_frames._RULES, "event",
                        lambda k: np.zeros(len(k.pos), dtype=bool))
    with pytest.raises(ColumnarDisagreementError, match="row-by-row reader accepts"):
        read_frames(p)


@pytest.mark.parametrize(
    ("sheet", "column", "value"),
    [
        (None, None, None),  # as written: numbers in numeric columns
        ("lab", "value", 400),  # an int outside the range
        ("donor", "age", 41.0),  # a float in an int column: the reference decides
        ("donor", "donor_id", 123),  # a number in a text column: refused by the reference
        ("administration", "course_number", 1.0),  # int() of a float: the reference decides
        ("patient", "height_cm", 172),  # an int in a float column
    ],
)
def test_xlsx_same_answer_as_the_reference(tmp_path: Path, sheet: str | None,
                                           column: str | None, value: Any) -> None:
    from openpyxl import load_workbook

    from mst.io.exchange import _xlsx_rows, write_cohort

    p = tmp_path / "c.xlsx"
    write_cohort(_cohort(), p)
    if sheet is not None:
        wb = load_workbook(p)
        ws = wb[sheet]
        j = [c.value for c in ws[1]].index(column) + 1
        ws.cell(row=2, column=j, value=value)
        wb.save(p)
    ref = _outcome(lambda: cohort_from_rows(_xlsx_rows(p)))
    assert _outcome(lambda: read_cohort(p)) == ref


# --------------------------------------------------------------------------- sliced parsing
def _frames_or_message(path: Path) -> Any:
    try:
        return read_frames(path)
    except (ValidationError, ConsistencyError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _assert_same_outcome(got: Any, want: Any) -> None:
    assert isinstance(got, str) == isinstance(want, str)
    if isinstance(want, str):
        assert got == want
        return
    for (name, a), (_, b) in zip(got.items(), want.items(), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)


def _with_rows(edit: Any) -> str:
    rows = [list(r) for r in ROWS]
    edit(rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _set(rows: list[list[str]], kind: str, column: str, value: str) -> None:
    next(r for r in rows if r[0] == kind)[COLUMNS.index(column)] = value


@pytest.mark.parametrize(
    ("text", "stays_sliced"),
    [
        (BASE, True),
        # quoted cells with commas and doubled quotes, blank lines
        (_with_rows(lambda r: _set(r, "center", "name", 'Center, "One"')).replace(
            "\nlab,", "\n\nlab,", 3), True),
        (_with_rows(lambda r: _set(r, "event", "detail", "x" * 10_001)), True),  # too long
        (_with_rows(lambda r: r.insert(5, ["lab", "C01-0001"])), False),  # a short row
        (_with_rows(lambda r: r.insert(5, ["Lab", *r[5][1:]])), True),  # unknown record type
        (_with_rows(lambda r: _set(r, "lab", "unit", "mmol/L")), True),  # a rejected row
        (BASE.rstrip("\n"), True),  # no line break after the last row
        (BASE[: BASE.index("\n") + 1], True),  # the header alone
        (BASE.replace("\n", "\r\n"), True),  # CR LF line endings
        ("\ufeff" + _with_rows(lambda r: _set(r, "center", "name", "Zürich\u00a0")), True),
    ],
    ids=["valid", "quotes-blank-lines", "too-long", "short-row", "unknown-type", "rejected",
         "no-final-break", "header-only", "crlf", "bom-non-ascii"],
)
def test_sliced_parse_equals_the_streamed_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                text: str, stays_sliced: bool) -> None:
    p = tmp_path / "s.csv"
    p.write_text(text, encoding="utf-8")
    sliced: list[bool] = []
    split = exchange_frames._split_slices

    def spy(raw: bytes, names: list[str]) -> Any:
        out = split(raw, names)
        sliced.append(out is not None)
        return out

    monkeypatch.setattr(exchange_frames, "_split_slices", spy)
    monkeypatch.setattr(exchange_frames, "_SLICE_BYTES", 300)  # many slices, cut at rows
    got = _frames_or_message(p)
    assert sliced == [stays_sliced]  # an irregular row hands the file to the streamed parse
    monkeypatch.setattr(exchange_frames, "_split_slices", lambda raw, names: None)
    _assert_same_outcome(got, _frames_or_message(p))


def test_a_line_break_in_a_quoted_cell_keeps_the_streamed_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _with_rows(lambda r: _set(r, "center", "name", "Center\nOne"))
    p = tmp_path / "q.csv"
    p.write_text(text, encoding="utf-8")

    def refuse(raw: bytes, names: list[str]) -> None:
        raise AssertionError("sliced a file with a line break inside a quoted cell")

    monkeypatch.setattr(exchange_frames, "_split_slices", refuse)
    monkeypatch.setattr(exchange_frames, "_SLICE_BYTES", 300)
    frames = read_frames(p)
    assert frames.centers["name"].tolist()[0] == "Center\nOne"
    assert frames.patients["row"].tolist() == [  # file rows (records), not lines
        k + 1 for k, r in enumerate(ROWS) if r[0] == "patient"
    ]
    assert _outcome(lambda: read_cohort(p)) == _outcome(lambda: _reference(text))


@pytest.mark.parametrize("exotic", [False, True])
def test_cleaning_each_distinct_cell_once_gives_the_cells_and_their_codes(exotic: bool) -> None:
    import pyarrow as pa

    raw = pa.array([" a", "a", "NA", None, "b ", " a", "", "b", "\u00a0c"], pa.string())
    out, coded = exchange_frames._clean_column(raw, exotic)
    c = "c" if exotic else "\u00a0c"  # Python's strip removes a no-break space, ASCII trim not
    assert out.to_pylist() == ["a", "a", None, None, "b", "a", None, "b", c]
    assert coded.array is out
    assert sorted(coded.dictionary.to_pylist()) == sorted({"a", "b", c})  # distinct, no null
    assert [None if j < 0 else coded.dictionary[int(j)].as_py() for j in coded.codes] \
        == out.to_pylist()
    same, kept = exchange_frames._clean_column(pa.array(["x", "y", "x"]), exotic)
    assert kept.array is same and kept.codes.tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    ("kind", "column", "value"),
    [
        (None, None, None),
        ("response", "date", "2019-12-01"),  # before diagnosis
        ("lab", "date", "2019-12-01"),  # inside the 30-day work-up window
        ("course", "start_date", "2019-12-01"),  # a course before diagnosis
    ],
)
def test_patient_rows_from_the_reference_lookups_equal_a_fresh_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str | None, column: str | None,
    value: str | None,
) -> None:
    text = BASE if kind is None else _with_rows(lambda r: _set(r, kind, column, value))
    p = tmp_path / "c.csv"
    p.write_text(text, encoding="utf-8")
    inconsistent = exchange_frames._inconsistent
    given: list[set[str]] = []

    def both(cf: Any, rows: dict[str, Any]) -> set[str]:
        assert set(rows) == {name for name, _ in cf.items()} - {"centers", "patients"}
        given.append(inconsistent(cf, rows))
        assert given[-1] == inconsistent(cf)  # looked up afresh from the frames
        return given[-1]

    monkeypatch.setattr(exchange_frames, "_inconsistent", both)
    assert _outcome(lambda: read_frames(p))[0] == _outcome(lambda: _reference(text))[0]
    assert len(given) == 1 and bool(given[0]) == (kind is not None)
