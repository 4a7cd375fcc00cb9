"""`mst grade gvhd|crs|imwg FILE [--json]` on the documented example files, at the boundaries.

MAGIC: Harris AC et al., BBMT 2016;22:4 (Table 1: skin stage 2 from 25% BSA; liver stage 1
from 2 mg/dL, stage 2 above 3; lower GI stage 3 above 1500 mL/day). ASTCT: Lee DW et al., BBMT
2019;25:625 (fever >= 38.0 °C; low-flow cannula <= 6 L/min is grade 2). IMWG 2016: Kumar S et
al., Lancet Oncol 2016;17:e328 (PD: +0.5 g/dL and +25% from nadir; VGPR: >= 90% reduction).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mst.cli.main import app

EX = Path(__file__).parents[2] / "docs" / "examples"
runner = CliRunner()


def _json(kind: str, name: str) -> list[dict]:
    res = runner.invoke(app, ["grade", kind, str(EX / name), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_grade_gvhd_file_magic_boundaries() -> None:
    got = {r["id"]: (r["grade"], r["stages"]) for r in _json("gvhd", "grade_gvhd.csv")}
    assert got["rash 24.9% only"][1]["skin"] == 1 and got["rash 25% only"][1]["skin"] == 2
    assert got["bilirubin 2.0"] == (2, {"skin": 0, "liver": 1, "upper_gi": 0, "lower_gi": 0})
    assert got["bilirubin 3.1"][0] == 3
    assert got["stool 1501 mL"] == (3, {"skin": 0, "liver": 0, "upper_gi": 0, "lower_gi": 3})
    assert got["erythroderma with bullae"][0] == 4


def test_grade_crs_file_astct_boundaries() -> None:
    got = {r["id"]: r["grade"] for r in _json("crs", "grade_crs.json")}
    assert got == {
        "37.9 C, no other sign": 0,
        "fever 38.0 C": 1,
        "fever, hypotension without vasopressor": 2,
        "fever, low-flow 6 L/min": 2,
        "fever, low-flow 7 L/min": 3,
        "fever, two vasopressors": 4,
        "fever, hypotension on vasopressin alone": 3,
    }


def test_grade_imwg_file_boundaries_at_reported_precision() -> None:
    got = {r["id"]: r["category"] for r in _json("imwg", "grade_imwg.csv")}
    assert got == {
        "+0.5 g/dL from nadir 0.9": "PD",
        "+0.49 g/dL from nadir 0.9": "PR",
        "-90% from baseline 3.0": "VGPR",
    }


def test_grade_text_output() -> None:
    res = runner.invoke(app, ["grade", "gvhd", str(EX / "grade_gvhd.csv")])
    assert res.exit_code == 0
    assert "bilirubin 3.1 2026-12-14: grade III (skin 0, liver 2" in res.stdout


@pytest.mark.parametrize(
    ("kind", "text", "where"),
    [("gvhd", "id,rash_bsa,bogus\nA,10,1\n", "g.csv row 2: bogus"),
     ("gvhd", "id,rash_bsa\nA,ten\n", "g.csv row 2: rash_bsa"),
     ("gvhd", "id,rash_bsa\nA,101\n", "g.csv row 2: rash_bsa"),
     ("crs", "id,temperature_c,oxygen_device\nA,39,helmet\n", "g.csv row 2: oxygen_device"),
     ("crs", "id,temperature_c,hypotension\nA,39,maybe\n", "g.csv row 2: hypotension"),
     ("imwg", "id,role,serum_m\nA,assessment,1\n", "baseline"),
     ("imwg", "id,role,serum_m\nA,baseline,1\nB,follow-up,1\n", "g.csv row 3: role")],
)  # fmt: skip
def test_grade_bad_input_exits_2_naming_row_and_field(
    tmp_path: Path, kind: str, text: str, where: str
) -> None:
    f = tmp_path / "g.csv"
    f.write_text(text, encoding="utf-8")
    res = runner.invoke(app, ["grade", kind, str(f)])
    assert res.exit_code == 2, res.output
    assert where in res.output and "Traceback" not in res.output


def test_grade_file_refuses_a_bad_date_naming_the_row(tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_text("id,date,rash_bsa\na,2026-12-01,10\nb,2026-13-01,10\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["grade", "gvhd", str(f)])
    assert res.exit_code == 2 and "g.csv row 3: date" in res.output and "YYYY-MM-DD" in res.output
