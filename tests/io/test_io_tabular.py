"""The one table reader: encodings, delimiters, missing values, bad input."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import ValidationError, plain
from mst.io.tabular import (
    decode_bytes,
    parse_text_table,
    read_table_text,
    sniff_delimiter,
    to_numbers,
)


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        (codecs.BOM_UTF8 + "a,b\né,1\n".encode(), None, "a,b\né,1\n"),
        (codecs.BOM_UTF16_LE + "a,b\né,1\n".encode("utf-16-le"), None, "a,b\né,1\n"),
        (codecs.BOM_UTF16_BE + "a,b\né,1\n".encode("utf-16-be"), None, "a,b\né,1\n"),
        ("a,b\r\né,1\r\n".encode("cp1252"), "cp1252", "a,b\né,1\n"),
        ("a,b\né,1\n".encode("latin-1"), "latin-1", "a,b\né,1\n"),
    ],
)
def test_encodings_by_bom_or_declaration(data: bytes, encoding: str | None, expected: str) -> None:
    assert decode_bytes(data, "f.csv", encoding) == expected


def test_non_utf8_without_declaration_names_byte_and_hint() -> None:
    with pytest.raises(ValidationError, match=r"byte 4.*--encoding"):
        decode_bytes("a,b\né,1\n".encode("cp1252"), "f.csv")


@pytest.mark.parametrize(
    "data",
    [b"", b"PK\x03\x04rest", b"a,b\n\x00\x01\x02", bytes(range(256)) * 4],
)
def test_empty_and_binary_refused(data: bytes) -> None:
    with pytest.raises(ValidationError) as err:
        decode_bytes(data, "f.csv")
    assert "Traceback" not in str(err.value)


def test_unknown_encoding_name_refused() -> None:
    with pytest.raises(ValidationError, match="encoding"):
        decode_bytes(b"a\n1\n", "f.csv", "klingon-8")


@pytest.mark.parametrize(
    ("header", "delim"),
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("a|b|c", "|"), ('"x;y",b', ","),
     ("single", ",")],
)
def test_delimiter_sniffed_outside_quotes(header: str, delim: str) -> None:
    assert sniff_delimiter(header + "\n1,2,3\n") == delim


def test_tsv_suffix_means_tab() -> None:
    assert sniff_delimiter("a,b\tc\n", ".tsv") == "\t"


@pytest.mark.parametrize("token", ["", "NA", "NaN", "#N/A", "NULL", " NA ", "<NA>"])
def test_missing_tokens_are_missing(token: str) -> None:
    df = parse_text_table(f"a,b\n{token},1\n")
    assert df.loc[0, "a"] is None
    assert df.loc[0, "b"] == "1"


def test_extra_missing_codes_of_a_format() -> None:
    df = parse_text_table("a,b\nUNK,1\n", missing={"UNK"})
    assert df.loc[0, "a"] is None


def test_r_write_csv_rows_all_kept() -> None:
    text = '"","id","age"\n"1","p1",NA\n"2","p2",70\n'
    with pytest.raises(ValidationError, match="column 1 has no name"):
        parse_text_table(text)
    df = parse_text_table('"id","age"\n"p1",NA\n"p2",70\n"p3",NA\n')
    assert len(df) == 3 and df["age"].tolist() == [None, "70", None]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a,a\n1,2\n", "used twice"),
        ("a,b\n1,2,3\n", "3 cells"),
        ("   \n", "no header"),
        ('a,b\n"1,2\n', "well-formed"),
    ],
)
def test_bad_tables_name_the_rule(text: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        parse_text_table(text, "t.csv")


def test_overlong_cell_refused() -> None:
    with pytest.raises(ValidationError, match="longer than the limit"):
        parse_text_table("a\n" + "x" * 50 + "\n", max_field_chars=10)


def test_header_only_gives_empty_frame() -> None:
    df = parse_text_table("a,b\n")
    assert list(df.columns) == ["a", "b"] and df.empty


def test_read_table_text_csv_and_xlsx_agree(tmp_path) -> None:
    import openpyxl

    csv_path = tmp_path / "t.csv"
    csv_path.write_text("id;age;note\np1;NA;x\np2;70;\n", encoding="utf-8")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "age", "note"])
    ws.append(["p1", "NA", "x"])
    ws.append(["p2", 70, None])
    xlsx_path = tmp_path / "t.xlsx"
    wb.save(xlsx_path)
    a = read_table_text(csv_path)
    b = read_table_text(xlsx_path)
    assert a.to_dict("records") == b.to_dict("records")
    with pytest.raises(ValidationError, match="sheet"):
        read_table_text(xlsx_path, sheet="nope")


def test_read_table_text_refuses_unknown_extension_and_missing_file(tmp_path) -> None:
    p = tmp_path / "t.json"
    p.write_text("{}")
    with pytest.raises(ValidationError, match=r"\.csv"):
        read_table_text(p)
    with pytest.raises(ValidationError, match="no such file"):
        read_table_text(tmp_path / "absent.csv")


def test_to_numbers_types() -> None:
    df = to_numbers(parse_text_table("a,b,c\n1,1.5,x\nNA,2,3\n"))
    assert str(df["a"].dtype) == "Int64" and str(df["b"].dtype) == "float64"
    assert df["c"].tolist() == ["x", "3"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "(missing)"), (float("inf"), "inf"), (2.5, "2.5"), (True, "true"), ("x", "'x'")],
)
def test_plain_values(value: object, shown: str) -> None:
    assert plain(value) == shown


def test_plain_numpy_and_dates() -> None:
    import datetime as dt

    import numpy as np

    assert plain(np.int64(2)) == "2"
    assert plain(np.float64(np.inf)) == "inf"
    assert plain(dt.date(2020, 1, 2)) == "2020-01-02"
    assert "np." not in str(ValidationError("x", np.int64(2), "rule"))


_cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12
).filter(lambda s: s.strip() == s and s not in {"NA", "NaN", "nan", "NAN", "NULL", "null",
                                                 "#N/A", "<NA>", "None", "N/A", "n/a", "na"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_cell_text, min_size=3, max_size=3), min_size=1, max_size=6),
       st.sampled_from([",", ";", "\t", "|"]))
def test_round_trip_any_cells(rows: list[list[str]], delim: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\n")
    w.writerow(["c1", "c2", "c3"])
    w.writerows(rows)
    df = parse_text_table(buf.getvalue(), delimiter=delim)
    expected = [[c or None for c in r] for r in rows if any(c.strip() for c in r)]
    assert [list(r) for r in df.itertuples(index=False)] == expected
