"""`mst chimerism …`, `mst recovery`, `mst alerts` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from mst.cli.main import app

EX = Path(__file__).parents[2] / "docs" / "examples"
runner = CliRunner()


def _run(*args: str) -> object:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_chimerism_ngs_cli() -> None:
    out = _run("chimerism", "ngs", str(EX / "chimerism_ngs.csv"), "--json")
    res = {r["sample"]: r for r in out["results"]}
    assert res["S1"]["pooled"]["percent"] == pytest.approx(0.1)
    assert res["S2"]["pooled"]["display"] == "< 0.01%" and res["S2"]["pooled"]["percent"] is None


def test_chimerism_qpcr_and_str_cli() -> None:
    q = _run("chimerism", "qpcr", str(EX / "chimerism_qpcr.csv"), "--json")
    assert q["method"] == "ddct"
    assert q["results"][0]["value"]["percent"] == pytest.approx(1.5625)
    q90 = _run(
        "chimerism",
        "qpcr",
        str(EX / "chimerism_qpcr.csv"),
        "--efficiency-target",
        "0.9",
        "--efficiency-reference",
        "0.9",
        "--json",
    )
    assert q90["results"][0]["value"]["percent"] == pytest.approx(100 * 1.9**-6)
    s = _run("chimerism", "str", str(EX / "chimerism_str.csv"), "--json")
    assert s["results"][0]["mean"]["percent"] == pytest.approx(20.0)


def test_recovery_cli() -> None:
    out = _run(
        "recovery",
        str(EX / "counts_course.csv"),
        "--chemo-start",
        "2024-01-01",
        "--chemo-end",
        "2024-01-07",
        "--json",
    )
    assert out["recovery_date"] == "2024-01-17" and out["gaps"] == [["2024-01-13", "2024-01-13"]]


def test_cli_errors_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,anc\n2024-01-01,1\n", encoding="utf-8")
    res = runner.invoke(app, ["recovery", str(bad), "--chemo-start", "2024-01-01", "--json"])
    assert res.exit_code == 2 and "platelets" in res.output
    res = runner.invoke(
        app, ["chimerism", "qpcr", str(EX / "chimerism_qpcr.csv"), "--method", "curve", "--json"]
    )
    assert res.exit_code == 2


def test_alerts_cli_from_exchange_file(tmp_path: Path, cases: SimpleNamespace) -> None:
    from mst.domain import Center, Cohort
    from mst.io.exchange import write_cohort

    case = cases.seed002_case()
    path = tmp_path / "cohort.csv"
    write_cohort(Cohort(centers=(Center(id="C1", name="Center 1"),), records=(case,)), path)
    out = _run("alerts", "--from", str(path), "--patient", case.patient.id, "--json")
    hr = [a for a in out if a["rule"] == "gvhd_high_risk"]
    assert [a["date"] for a in hr] == [cases.day(4).isoformat()]
    high = _run("alerts", "--from", str(path), "--severity", "high", "--json")
    assert {a["severity"] for a in high} == {"high"}
    res = runner.invoke(app, ["alerts", "--from", str(path), "--patient", "nobody", "--json"])
    assert res.exit_code == 2


def test_alerts_cli_from_registry(tmp_path: Path, cases: SimpleNamespace) -> None:
    from mst.domain import Center, Cohort
    from mst.registry import open_registry

    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    with open_registry(url) as reg:
        reg.import_cohort(
            Cohort(centers=(Center(id="C1", name="C"),), records=(cases.seed002_case(),))
        )
    out = _run("alerts", "--db", url, "--json")
    assert any(a["rule"] == "gvhd_high_risk" and a["date"] == cases.day(4).isoformat() for a in out)
    one = _run(
        "alerts", "--db", url, "--patient", cases.PID, "--as-of", cases.day(3).isoformat(), "--json"
    )
    assert all(a["rule"] != "gvhd_high_risk" for a in one)


def test_recovery_and_chimerism_print_labelled_text_without_json() -> None:
    res = runner.invoke(
        app,
        ["recovery", str(EX / "counts_course.csv"), "--chemo-start", "2024-01-01",
         "--chemo-end", "2024-01-07"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "recovery (3 days ANC > 0.5 and platelets > 30): 2024-01-17" in res.stdout
    assert "\t" not in res.stdout
    s = runner.invoke(app, ["chimerism", "str", str(EX / "chimerism_str.csv")])
    assert "sample: S2; date: 2024-05-01; donor: D1;" in s.stdout and "< 5%" in s.stdout
    assert "labelled" in runner.invoke(app, ["recovery", "--help"]).stdout


@pytest.mark.parametrize(
    "args",
    [["recovery", "{p}", "--chemo-start", "2026-12-01"], ["grade", "gvhd", "{p}"],
     ["grade", "crs", "{p}"], ["chimerism", "ngs", "{p}"], ["chimerism", "str", "{p}"],
     ["alerts", "--from", "{p}"], ["plan", "{p}"]],
)  # fmt: skip
def test_cli_missing_file_is_a_plain_error(tmp_path: Path, args: list[str]) -> None:
    p = str(tmp_path / "absent.csv")
    res = runner.invoke(app, [a.replace("{p}", p) for a in args])
    assert res.exit_code == 2
    assert "no such file" in res.output and "Errno" not in res.output


def _counts(tmp_path: Path, text: str) -> str:
    f = tmp_path / "counts.csv"
    f.write_text(text, encoding="utf-8")
    return str(f)


@pytest.mark.parametrize(
    ("text", "needle"),
    [("date,anc,platelets\n2026-12-01,0.4,25\n,0.3,20\n", "counts.csv row 3: date: is required"),
     ("date,anc,platelets\n01/12/2026,0.4,25\n", "counts.csv row 2: date"),
     ("date,anc,platelets\n2026-12-01,0.4,25\n2026-12-01,0.5,25\n", "already given on row 2")],
)  # fmt: skip
def test_recovery_cli_bad_dates_name_the_row(tmp_path: Path, text: str, needle: str) -> None:
    res = runner.invoke(app, ["recovery", _counts(tmp_path, text), "--chemo-start", "2026-12-01"])
    assert res.exit_code == 2 and needle in res.output, res.output


def test_alerts_text_is_labelled_with_evidence() -> None:
    res = runner.invoke(app, ["alerts", "--from", str(EX / "alerts_gvhd_signs.csv")])
    assert res.exit_code == 0, res.output
    assert "\t" not in res.stdout
    assert "2025-12-20  patient VG-GVHD-1  [warning] gvhd_suspicion" in res.stdout
    assert "(004 §2.3)" in res.stdout and "  - rash" in res.stdout
