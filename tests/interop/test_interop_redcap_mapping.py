"""REDCap export + data dictionary + mapping file (the shipped examples), and mapping errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mst.cli.main import app
from mst.errors import ValidationError
from mst.interop import load_mapping, read_flat_file
from mst.interop.mapping import parse_mapping
from mst.interop.redcap import parse_choices, read_redcap
from mst.interop.spss import write_sav

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_redcap_example_import() -> None:
    res = read_redcap(EX / "redcap_export.csv", EX / "redcap_dictionary.csv",
                      EX / "mapping_redcap.yaml")
    rej = [(r.row, r.column, r.value) for r in res.rejections]
    assert rej == [(5, "sex", "3"), (6, "diagnosis_date", "31/11/2016"), (7, "os_days", "-5")]
    t = res.table
    assert list(t["patient_id"]) == ["1", "2", "3", "7"]
    assert list(t["sex"]) == ["M", "F", "F", "F"]
    assert list(t["age_group"]) == ["60-70", ">70", "60-70", "60-70"]
    assert list(t["donor_related"]) == [True, True, False, True]
    assert list(t["os_event"]) == [0, 1, 1, 0]
    assert list(t["center_id"]) == ["C01", "C01", "C02", "C01"]
    assert t["diagnosis_date"][0] == pd.Timestamp("2012-04-03")
    assert set(t["diagnosis"]) == {"AML"}


def test_redcap_cli_writes_table_and_rejections(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [
        "import-table", str(EX / "redcap_export.csv"), "--dictionary",
        str(EX / "redcap_dictionary.csv"), "--mapping", str(EX / "mapping_redcap.yaml"),
        "--out", str(tmp_path / "t.csv"), "--rejections", str(tmp_path / "rej.csv"),
        "--allow-rejects"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["accepted"] == 4 and out["rejected"] == 3
    rej = pd.read_csv(tmp_path / "rej.csv")
    assert list(rej["row"]) == [5, 6, 7]
    assert len(pd.read_csv(tmp_path / "t.csv")) == 4


def test_spss_mapping_example(tmp_path: Path) -> None:
    src = pd.DataFrame({"ID": ["a1", "a2", "a3"], "GENDER": [1.0, 2.0, 3.0],
                        "AGE": [64.0, 73.0, 66.0], "AGEGRP": [1.0, 2.0, 1.0],
                        "OS_M": [20.5, 3.25, 40.0], "DEATH": [1.0, 1.0, 0.0]})
    write_sav(src, tmp_path / "study.sav")
    res = read_flat_file(tmp_path / "study.sav", EX / "mapping_spss.toml")
    assert [(r.row, r.column) for r in res.rejections] == [(3, "sex")]
    assert list(res.table["sex"]) == ["M", "F"]
    assert list(res.table["age_group"]) == ["60-70", ">70"]
    assert list(res.table["os_months"]) == [20.5, 3.25]


@pytest.mark.parametrize(("doc", "field"), [
    ({"columns": {"not_a_column": "x"}}, "mapping.columns"),
    ({"columns": {"age": "x"}, "extra": 1}, "mapping"),
    ({"values": {"sex": {"1": "M"}}}, "mapping.columns"),
    ({"columns": {"sex": "s"}, "values": {"sex": "M"}}, "mapping.values.sex"),
])
def test_mapping_errors_name_the_field(doc: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_mapping(doc)
    assert exc.value.field == field


def test_missing_source_column_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id,age\n1,60\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text("columns: {patient_id: record_id}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="source column"):
        read_flat_file(tmp_path / "t.csv", tmp_path / "m.yaml")
    assert load_mapping(EX / "mapping_redcap.yaml").date_format == "%d/%m/%Y"


@pytest.mark.parametrize(("text", "expected"), [
    ("1, Male | 2, Female", {"1": "Male", "2": "Female"}),
    ("0, No|1, Yes, definitely", {"0": "No", "1": "Yes, definitely"}),
    ("", {}),
])
def test_parse_choices(text: str, expected: dict[str, str]) -> None:
    assert parse_choices(text) == expected


def test_parse_choices_rejects_missing_comma() -> None:
    with pytest.raises(ValidationError):
        parse_choices("1 Male | 2, Female")


_LABEL = st.text(alphabet=st.characters(blacklist_characters="|\r\n",
                                        blacklist_categories=("Cs", "Cc", "Zs")),
                 min_size=1, max_size=12)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.dictionaries(st.integers(min_value=0, max_value=99).map(str), _LABEL,
                       min_size=1, max_size=6))
def test_parse_choices_round_trip(choices: dict[str, str]) -> None:
    text = " | ".join(f"{c}, {lab}" for c, lab in choices.items())
    assert parse_choices(text) == choices


def test_redcap_export_needs_a_mapping() -> None:
    from mst.errors import ValidationError
    from mst.interop.redcap import read_table

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    with pytest.raises(ValidationError, match="needs a mapping file"):
        read_table(examples / "redcap_export.csv", None, examples / "redcap_dictionary.csv")
