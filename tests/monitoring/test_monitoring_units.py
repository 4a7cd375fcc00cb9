"""Counts enter in 10⁹/L: values outside the plausible range are refused, naming the unit.

Seed 002 (Study endpoints) states ANC and platelets in 10⁹/L; the plausible ranges are those
of ``mst/data/analytes.yaml`` (ANC 0–200, platelets 0–3000 × 10⁹/L).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.errors import ValidationError
from mst.monitoring.recovery import course_recovery

runner = CliRunner()


def _csv(tmp_path: Path, anc: str, platelets: str) -> Path:
    p = tmp_path / "counts.csv"
    p.write_text(f"date,anc,platelets\n2026-12-08,0.3,20\n2026-12-09,{anc},{platelets}\n")
    return p


@pytest.mark.parametrize(
    ("anc", "platelets", "column", "unit"),
    [("1500", "25", "anc", "/uL"), ("0.4", "90000", "platelets", "/uL"),
     ("200.5", "25", "anc", "/uL"), ("0.4", "3000.5", "platelets", "/uL")],
)  # fmt: skip
def test_recovery_cli_refuses_counts_in_cells_per_ul(
    tmp_path: Path, anc: str, platelets: str, column: str, unit: str
) -> None:
    res = runner.invoke(
        app, ["recovery", str(_csv(tmp_path, anc, platelets)), "--chemo-start", "2026-12-01"]
    )
    assert res.exit_code == 2
    assert f"counts.csv row 3: {column}" in res.output
    assert "physiological range" in res.output and f"reported in {unit}" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(("anc", "platelets"), [("200", "25"), ("0.4", "3000"), ("NA", "")])
def test_recovery_cli_accepts_the_range_edges_and_missing(
    tmp_path: Path, anc: str, platelets: str
) -> None:
    res = runner.invoke(
        app, ["recovery", str(_csv(tmp_path, anc, platelets)), "--chemo-start", "2026-12-01"]
    )
    assert res.exit_code == 0, res.output


def test_recovery_api_refuses_counts_out_of_range() -> None:
    with pytest.raises(ValidationError) as exc:
        course_recovery([0.3, 1500], [20, 25], "2026-12-01", dates=["2026-12-08", "2026-12-09"])
    assert exc.value.field == "anc[1]" and "/uL" in exc.value.rule
