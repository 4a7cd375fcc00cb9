"""R's NA and the formats' own missing codes lose no row; REDCap checkboxes, repeating
instruments, missing-data codes and validation min/max; XLSX --sheet; exit code on rejects."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.errors import ValidationError
from mst.interop import read_flat_file
from mst.interop.redcap import read_redcap

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"
runner = CliRunner()

# As R's write.csv writes it: quoted strings, NA for missing, row names column dropped.
R_CSV = (
    '"patient_id","age_group","sex","donor_age","os_months","os_event","cr"\n'
    + "".join(
        f'"P{i:02d}","{"60-70" if i % 2 else ">70"}",{"NA" if i % 2 else chr(34) + "F" + chr(34)},'
        f'{"NA" if i % 3 == 0 else 30 + i},{10.5 + i},{i % 2},{"NA" if i % 4 == 0 else "TRUE"}\n'
        for i in range(1, 13)
    )
)


def test_r_write_csv_na_keeps_every_row(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(R_CSV, encoding="utf-8")
    res = read_flat_file(tmp_path / "r.csv")
    assert res.rejections == []
    t = res.table
    assert len(t) == 12
    assert t["sex"].isna().sum() == 6 and t["donor_age"].isna().sum() == 4
    assert t["cr"].isna().sum() == 3


def test_xlsx_reads_na_the_same_way_and_sheet_option(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(R_CSV, encoding="utf-8")
    df = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    with pd.ExcelWriter(tmp_path / "t.xlsx") as w:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(w, sheet_name="cover", index=False)
        df.to_excel(w, sheet_name="data", index=False)
    csv_t = read_flat_file(tmp_path / "r.csv").table
    xl = read_flat_file(tmp_path / "t.xlsx", sheet="data")
    assert xl.rejections == []
    pd.testing.assert_frame_equal(xl.table, csv_t)
    with pytest.raises(ValidationError) as exc:
        read_flat_file(tmp_path / "t.xlsx", sheet="Data2")
    assert "cover, data" in str(exc.value)
    res = runner.invoke(app, ["import-table", str(tmp_path / "t.xlsx"), "--sheet", "data",
                              "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["accepted"] == 12


def test_import_exits_non_zero_on_rejects_unless_allowed(tmp_path: Path) -> None:
    bad = R_CSV.replace('"P04",">70"', '"P04","seventy"')
    (tmp_path / "b.csv").write_text(bad, encoding="utf-8")
    args = ["import-table", str(tmp_path / "b.csv"), "--out", str(tmp_path / "o.csv")]
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    assert "1 row(s) rejected" in res.output and "11 accepted" in res.output
    res = runner.invoke(app, [*args, "--allow-rejects"])
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert (out["accepted"], out["rejected"]) == (11, 1)
    assert out["rejections"][0]["column"] == "age_group"


def test_rejection_messages_are_plain_words(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("patient_id,donor_age,mnc_1e8_per_kg\nA,abc,x1\n",
                                    encoding="utf-8")
    rules = {r.column: r.rule for r in read_flat_file(tmp_path / "t.csv").rejections}
    assert rules == {"donor_age": "must be an integer", "mnc_1e8_per_kg": "must be a number"}


DICT_EXTRA = (
    'ae,adverse,,checkbox,Adverse events,"1, Nausea | 2, Vomiting | 3, Diarrhea",,,,,,,,,,,,\n'
    "ae_grade,adverse,,text,Highest grade,,,integer,1,5,,,,,,,,\n"
)


def _redcap(tmp_path: Path, rows: list[str], header_extra: str = "") -> Path:
    (tmp_path / "dict.csv").write_text(
        (EX / "redcap_dictionary.csv").read_text(encoding="utf-8") + DICT_EXTRA,
        encoding="utf-8")
    head = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,site,sex,age_dx,"
            "age_cat,dx_date,don_sex,don_age,don_related,courses,cr,os_days,dead,"
            "ae___1,ae___2,ae___3,ae_grade" + header_extra)
    (tmp_path / "exp.csv").write_text(head + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text(
        (EX / "mapping_redcap.yaml").read_text(encoding="utf-8")
        + "missing_codes: [UNK, NASK]\n", encoding="utf-8")
    return tmp_path


def test_redcap_checkbox_repeating_missing_codes_and_min_max(tmp_path: Path) -> None:
    d = _redcap(tmp_path, [
        "1,,,1,1,64,1,03/04/2012,2,34,1,5,1,2410,0,1,0,1,2",
        "1,adverse_events,1,,,,,,,,,,,,,1,1,0,3",
        "1,adverse_events,2,,,,,,,,,,,,,0,0,1,1",
        "2,,,1,2,UNK,2,15/09/2013,1,NASK,1,2,0,95,1,0,0,0,",
        "3,,,2,2,66,1,28/02/2014,1,29,0,4,1,1830,1,0,1,0,7",
        "4,,,2,1,61,1,01/06/2015,1,70,1,4,1,1830,1,0,2,0,",
    ])
    res = read_redcap(d / "exp.csv", d / "dict.csv", d / "map.yaml")
    rej = [(r.row, r.column, r.value) for r in res.rejections]
    assert rej == [(6, "ae_grade", "7"), (7, "ae___2", "2"), (7, "don_age", "70")]
    assert any(r.column == "don_age" and "between 18 and 55" in r.rule
               for r in res.rejections)
    assert list(res.table["patient_id"]) == ["1", "2"]
    row2 = res.table.iloc[1]
    assert pd.isna(row2["age"]) and pd.isna(row2["donor_age"])  # UNK / NASK = missing
    assert res.notes == ["2 row(s) of repeating instruments set aside (adverse_events: 2); "
                         "the flat table has one row per patient"]


def test_redcap_checkbox_decoded_labels(tmp_path: Path) -> None:
    from mst.interop.redcap import decode_export, read_dictionary

    d = _redcap(tmp_path, [])
    dd = read_dictionary(d / "dict.csv")
    exp = pd.DataFrame({"ae___1": ["1", "0"], "ae___2": ["1", "0"], "ae___3": ["0", "0"]},
                       dtype=object)
    out, rej = decode_export(exp, dd)
    assert rej == []
    assert list(out["ae"]) == ["Nausea; Vomiting", None]
    assert list(out["ae___1"]) == ["Checked", "Unchecked"]


def test_spss_labels_measures_formats(tmp_path: Path) -> None:
    import pyreadstat

    from mst.cohort import build_flat_table
    from mst.interop.spss import write_sav
    from mst.simulate import simulate_cohort

    flat = build_flat_table(simulate_cohort(12, seed=3))
    write_sav(flat, tmp_path / "t.sav")
    _df, meta = pyreadstat.read_sav(str(tmp_path / "t.sav"), metadataonly=True)
    lab = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert lab["donor_age"] == "Donor age (years)" and lab["sex"] == "Sex"
    vl = meta.variable_value_labels
    assert vl["sex"] == {1.0: "Male", 2.0: "Female"}
    assert vl["courses_gt3"] == {0.0: "No", 1.0: "Yes"}
    assert vl["crs_status"][2.0] == "Death without relapse"
    assert meta.variable_measure["age_group"] == "ordinal"
    assert meta.variable_measure["sex"] == "nominal"
    assert meta.variable_measure["mnc_1e8_per_kg"] == "scale"
    assert meta.original_variable_types["donor_age"] == "F8.0"
    assert meta.original_variable_types["mnc_1e8_per_kg"] == "F8.2"
    back = read_flat_file(tmp_path / "t.sav")
    assert back.rejections == []
    assert list(back.table["sex"]) == list(flat["sex"])
