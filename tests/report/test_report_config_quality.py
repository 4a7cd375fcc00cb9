"""Report configuration (TOML), the data-quality section, days as the time unit, --db input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.cohort import build_flat_table
from mst.errors import ValidationError
from mst.report import ReportConfig, build_report, load_config
from mst.report.quality import data_quality
from mst.simulate import simulate_cohort

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(scope="module")
def flat() -> pd.DataFrame:
    return build_flat_table(simulate_cohort(60, seed=31))


def test_example_config_loads() -> None:
    cfg = load_config(EX / "report_config.toml")
    assert cfg.reference == {"age_group": "60-70"}
    assert cfg.times == [12.0, 36.0, 60.0]
    assert load_config(EX / "report_config.toml", by="sex").by == "sex"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("colour = 'red'", "config"),
        ("years = 3", "config.years"),
        ("time_unit = 'weeks'", "time_unit"),
        ("years = [0, 1]", "years"),
        ("landmark_months = 0", "landmark_months"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, field: str) -> None:
    (tmp_path / "r.toml").write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        load_config(tmp_path / "r.toml")
    assert exc.value.field == field


@pytest.mark.parametrize(("years", "ok"), [([0.001], True), ([0.0], False), ([-1.0], False)])
def test_years_boundary(years: list[float], ok: bool) -> None:
    if ok:
        assert ReportConfig(years=years).years == years
    else:
        with pytest.raises(ValidationError):
            ReportConfig(years=years)


# (column, value, excluded issue or None, inconsistent issue or None)
QUALITY = [
    ("age_group", None, "missing group (age_group)", None),
    ("os_days", None, "missing os_days", None),
    ("os_event", None, "missing os_event", None),
    ("death_date", None, None, "os_event = 1 but no death_date"),
]


@pytest.mark.parametrize(("column", "value", "excluded", "inconsistent"), QUALITY)
def test_quality_flags(
    flat: pd.DataFrame, column: str, value: object, excluded: str | None, inconsistent: str | None
) -> None:
    df = flat.copy()
    row = int(np.flatnonzero(df["os_event"].to_numpy() == 1)[0])
    df.loc[row, column] = value
    q = data_quality(df, "age_group")
    ex = [(r["row"], r["issue"]) for r in q["excluded"]]
    inc = [(r["row"], r["issue"]) for r in q["inconsistent"]]
    assert ex == ([(row + 1, excluded)] if excluded else [])
    assert inc == ([(row + 1, inconsistent)] if inconsistent else [])


def test_excluded_rows_are_left_out_and_listed(flat: pd.DataFrame) -> None:
    df = flat.copy()
    df.loc[3, "age_group"] = None
    rep = build_report(df)
    assert rep.numbers["n"] == len(df) - 1
    assert rep.numbers["quality"]["excluded"][0]["patient_id"] == df["patient_id"][3]
    assert "Excluded rows" in rep.html and df["patient_id"][3] in rep.html


def test_days_unit_reads_rates_at_365_25_days(flat: pd.DataFrame) -> None:
    rep = build_report(flat, ReportConfig(time_unit="days", years=[1.0, 2.0]))
    block = rep.numbers["km"]["os"]["age_group"]
    assert block["time"] == "os_days"
    assert next(iter(block["groups"].values()))["at"]["time"] == [365.25, 730.5]
    assert "Time (days)" in rep.html


def test_report_from_registry(flat: pd.DataFrame, tmp_path: Path) -> None:
    from mst.registry import open_registry

    cohort = simulate_cohort(25, seed=32)
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    with open_registry(url) as reg:
        reg.import_cohort(cohort)
    r = CliRunner().invoke(
        app, ["report", "--db", url, "--out", str(tmp_path / "r.html"), "--quiet"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 25
    nums = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert "time_dependent" in nums["immortal_time"]


def test_report_sources(tmp_path: Path) -> None:
    both = CliRunner().invoke(
        app, ["report", "--db", "sqlite://", "--from", "x.csv", "--out", str(tmp_path / "r.html")]
    )
    assert both.exit_code == 2 and "not both" in both.output
    # neither: the registry named by $MST_DATABASE_URL (here a new, empty one)
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    empty = CliRunner().invoke(
        app,
        ["report", "--out", str(tmp_path / "r.html"), "--quiet"],
        env={"MST_DATABASE_URL": url},
    )
    assert empty.exit_code == 2 and "no analysable rows" in empty.output


def test_report_from_partial_redcap_table(tmp_path: Path) -> None:
    """A spreadsheet with OS in days only: months derived, missing endpoints named."""
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "import-table",
            str(EX / "redcap_export.csv"),
            "--dictionary",
            str(EX / "redcap_dictionary.csv"),
            "--mapping",
            str(EX / "mapping_redcap.yaml"),
            "--out",
            str(tmp_path / "t.csv"),
            "--allow-rejects",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["report", "--from", str(tmp_path / "t.csv"), "--out", str(tmp_path / "r.html"), "--quiet"],
    )
    assert r.exit_code == 0, r.output
    nums = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert nums["not_available"] == [
        "LFS (lfs_months, lfs_event)",
        "CIR (crs_months, crs_status)",
        "NRM (crs_months, crs_status)",
    ]
    assert nums["km"]["os"]["age_group"]["groups"][">70"]["n"] == 1
    assert "naive" in nums["immortal_time"]  # courses_gt3 derived from n_courses


@pytest.mark.parametrize(("n_courses", "gt3"), [(3, False), (4, True)])
def test_courses_gt3_derived_at_the_boundary(n_courses: int, gt3: bool) -> None:
    from mst.report import add_derived_columns

    df = pd.DataFrame({"patient_id": ["P1"], "n_courses": [n_courses]})
    assert bool(add_derived_columns(df, ReportConfig())["courses_gt3"][0]) is gt3


def test_report_directly_from_redcap_lists_rejections(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "report",
            "--from",
            str(EX / "redcap_export.csv"),
            "--dictionary",
            str(EX / "redcap_dictionary.csv"),
            "--mapping",
            str(EX / "mapping_redcap.yaml"),
            "--out",
            str(tmp_path / "r.html"),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["import_rejections"] == 3
    nums = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [x["row"] for x in nums["quality"]["import_rejections"]] == [5, 6, 7]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Rows rejected at import" in html and "31/11/2016" in html


@pytest.mark.parametrize(("exact_max_n", "attempted"), [(59, False), (60, True)])
def test_large_sparse_table_uses_chi_square(
    flat: pd.DataFrame, exact_max_n: int, attempted: bool
) -> None:
    from scipy.stats import chi2_contingency

    from mst.report.compute import describe

    tab = describe(flat, "age_group", ["donor_patient_sex"], [], exact_max_n=exact_max_n)
    row = tab["variables"][0]
    assert ("not attempted" in row["test"]) is not attempted
    if not attempted:
        counts = pd.crosstab(flat["donor_patient_sex"], flat["age_group"]).to_numpy()
        assert row["p"] == pytest.approx(
            chi2_contingency(counts, correction=False).pvalue, rel=1e-12
        )
        assert [lv["count"]["All patients"] for lv in row["levels"]] == list(counts.sum(1))
