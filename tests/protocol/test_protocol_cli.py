"""CLI: ``mst plan``, ``mst cells``, ``mst regimens``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mst.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "plan_new_fit_68.json"
runner = CliRunner()


def test_plan_json() -> None:
    res = runner.invoke(app, ["plan", str(EXAMPLE), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["regimen"]["id"] == "002-IA"
    assert [ln["dose"] for ln in out["doses"]["lines"]] == [18.0, 183.0]
    assert out["calendar"]["infusion"]["earliest"] == "2026-12-08T18:00:00"
    assert out["assessment"]["options"][0]["sources"] == ["004 §4.1"]


def test_plan_start_and_regimen_override() -> None:
    res = runner.invoke(app, ["plan", str(EXAMPLE), "--start", "2026-12-02", "--regimen", "002-MA"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["calendar"]["start_date"] == "2026-12-02" and out["regimen"]["id"] == "002-MA"


def test_plan_text() -> None:
    res = runner.invoke(app, ["plan", str(EXAMPLE), "--text"])
    assert res.exit_code == 0, res.output
    assert "idarubicin    8–10 mg/m2  → 18 mg IV days 1,2,3" in res.stdout
    assert "d8   2026-12-08 Tue  GPBSC infusion window opens 18:00" in res.stdout
    assert "(004 §4.3; 004 §5)" in res.stdout


@pytest.mark.parametrize(
    "args,message",
    [(["--start", "2026-13-01"], "--start"), (["--regimen", "NOPE"], "unknown regimen"),
     (["--start", "2026-11-01"], "before the diagnosis date")],
)  # fmt: skip
def test_plan_errors(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["plan", str(EXAMPLE), *args])
    assert res.exit_code == 2
    assert message in res.stderr


def test_plan_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    res = runner.invoke(app, ["plan", str(bad)])
    assert res.exit_code == 2 and "not valid JSON" in res.stderr
    res = runner.invoke(app, ["plan", str(tmp_path / "missing.json")])
    assert res.exit_code == 2


def test_cells() -> None:
    res = runner.invoke(
        app, ["cells", "--weight", "60", "--mnc", "600", "--cd3", "240", "--courses", "6"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # 004 §2.2: five aliquots of 20% stay within -25% of target; the sixth course needs a donor
    assert out["courses_covered"] == 5 and out["courses_needing_second_donor"] == [6]
    text = runner.invoke(
        app, ["cells", "--weight", "60", "--mnc", "600", "--courses", "2", "--text"]
    )
    assert "course 1: 25.0% of the collection, fresh, MNC 2.50×10⁸/kg (within)" in text.stdout


@pytest.mark.parametrize("args", [["--weight", "0", "--mnc", "600"], ["--weight", "60"]])
def test_cells_errors(args: list[str]) -> None:
    res = runner.invoke(app, ["cells", *args])
    assert res.exit_code == 2 and res.stderr.startswith("error: ")
    assert any(k in res.stderr for k in ("weight", "mnc")) and "Traceback" not in res.stderr


def test_regimens() -> None:
    res = runner.invoke(app, ["regimens"])
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert len(out["regimens"]) == 27 and out["regimens"][0]["id"] == "004-4.1-DA60"
    text = runner.invoke(app, ["regimens", "--text"])
    assert "002-IDAC" in text.stdout


def test_plan_json_carries_warnings() -> None:
    example = EXAMPLE.parent / "plan_consolidation_after_cr.json"
    res = runner.invoke(app, ["plan", str(example)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [w["code"] for w in out["warnings"]] == ["anthracycline_with_risk_factors"]
    assert out["infusion_check"]["status"] == "preferred"


def test_docs_list_every_regimen() -> None:
    from mst.protocol.catalog import load_catalog

    doc = (EXAMPLE.parents[1] / "protocol.md").read_text(encoding="utf-8")
    missing = [rid for rid in load_catalog() if f"`{rid}`" not in doc]
    assert missing == []
