"""``mst stats km | cif | table1 | followup | outcomes`` on files, and bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.stats import cumulative_incidence, kaplan_meier, logrank_test

DATA = Path(__file__).resolve().parents[1] / "reference" / "data"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture()
def lung_csv(tmp_path: Path) -> Path:
    df = pd.read_csv(DATA / "lung.csv")
    df["dead"] = (df["status"] == 2).astype(int)
    p = tmp_path / "lung.csv"
    df.to_csv(p, index=False)
    return p


def test_km_json_keys_and_values(lung_csv: Path) -> None:
    code, out, err = run(
        "stats",
        "km",
        str(lung_csv),
        "--time",
        "time",
        "--event",
        "dead",
        "--group",
        "sex",
        "--at",
        "180,365",
        "--json",
    )
    assert code == 0, err
    d = json.loads(out)
    assert set(d["groups"]) == {"1", "2"}
    for key in ("times", "survival", "lower", "upper", "n_risk", "median"):
        assert key in d["groups"]["1"]
    assert set(d["logrank"]) >= {"statistic", "df", "p"}
    df = pd.read_csv(lung_csv)
    km = kaplan_meier(df.time, df.dead, df.sex)
    np.testing.assert_allclose(d["groups"]["2"]["survival"], km["2"].surv, rtol=1e-15)
    assert d["groups"]["1"]["median"] == km["1"].median
    lr = logrank_test(df.time, df.dead, df.sex)
    assert d["logrank"]["statistic"] == pytest.approx(lr.statistic, rel=1e-15)
    assert d["groups"]["1"]["at"]["time"] == [180.0, 365.0]


def test_km_from_xlsx(lung_csv: Path, tmp_path: Path) -> None:
    x = tmp_path / "lung.xlsx"
    pd.read_csv(lung_csv).to_excel(x, index=False)
    code, out, err = run("stats", "km", str(x), "--time", "time", "--event", "dead", "--json")
    assert code == 0, err
    assert json.loads(out)["groups"]["all"]["median"] == 310.0


def test_cif_json_with_gray() -> None:
    code, out, err = run(
        "stats",
        "cif",
        str(DATA / "scrucca_bmt.csv"),
        "--time",
        "ftime",
        "--status",
        "status",
        "--cause",
        "1",
        "--group",
        "dis",
        "--json",
    )
    assert code == 0, err
    d = json.loads(out)
    for key in ("times", "cif", "variance"):
        assert key in d["groups"]["0"]
    df = pd.read_csv(DATA / "scrucca_bmt.csv")
    res = cumulative_incidence(df.ftime, df.status, 1, df.dis)
    assert d["gray"]["statistic"] == pytest.approx(res.gray.statistic, rel=1e-15)  # type: ignore[union-attr]
    assert d["gray"]["df"] == 1


def test_table1_json_and_html(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "grp": ["a"] * 6 + ["b"] * 6,
            "sex": list("MFMFMMFFFFMF"),
            "age": [61, 65, 70, 62, 68, 66, 72, 75, 80, 71, 73, 78],
        }
    )
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    code, out, err = run("stats", "table1", str(p), "--by", "grp", "--vars", "sex,age", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert [v["variable"] for v in d["variables"]] == ["sex", "age"]
    assert d["variables"][0]["test"] == "Fisher exact"
    code, out, _ = run("stats", "table1", str(p), "--by", "grp", "--html")
    assert code == 0 and out.startswith("<table")


def test_followup_and_outcomes(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "os_months": [1.0, 5.0, 12.0, 30.0, 40.0, 60.0, 3.0, 70.0],
            "os_event": [1, 1, 0, 1, 0, 0, 1, 0],
            "lfs_months": [None, 4.0, 10.0, 20.0, 40.0, 55.0, None, 65.0],
            "lfs_event": [None, 1, 0, 1, 0, 0, None, 0],
            "crs_months": [None, 4.0, 10.0, 20.0, 40.0, 55.0, None, 65.0],
            "crs_status": [None, 1, 0, 2, 0, 0, None, 0],
            "cr": [False, True, True, True, True, True, False, True],
            "early_death": [True, False, False, False, False, False, False, False],
            "age_group": ["60-70", ">70"] * 4,
        }
    )
    p = tmp_path / "flat.csv"
    df.to_csv(p, index=False)
    code, out, err = run("stats", "followup", str(p), "--json")
    assert code == 0, err
    assert json.loads(out)["method"] == "reverse Kaplan-Meier"
    code, out, err = run("stats", "outcomes", str(p), "--by", "age_group")
    assert code == 0, err
    d = json.loads(out)
    assert d["cr"]["60-70"]["k"] == 2 and d["cr"]["60-70"]["n"] == 4
    assert {"os", "lfs", "cir", "nrm", "followup"} <= set(d)
    assert "logrank" in d["os"] and "gray" in d["cir"]
    code, out, err = run(
        "stats", "km", str(p), "--time", "lfs_months", "--event", "lfs_event", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["excluded_rows"] == 2


@pytest.mark.parametrize(
    ("rows", "args", "needle"),
    [
        # missing column
        ({"t": [1, 2], "e": [1, 0]}, ["km", "--time", "t", "--event", "dead"], "dead"),
        # negative time, row 2
        ({"t": [1, -2], "e": [1, 0]}, ["km", "--time", "t", "--event", "e"], "t (rows [2])"),
        # event not 0/1, row 1
        ({"t": [1, 2], "e": [2, 0]}, ["km", "--time", "t", "--event", "e"], "e (rows [1])"),
        # status not in declared codes, row 3
        (
            {"t": [1, 2, 3], "s": [1, 0, 3]},
            ["cif", "--time", "t", "--status", "s", "--cause", "1"],
            "s (rows [3])",
        ),
        # empty group, row 2
        (
            {"t": [1, 2, 3], "e": [1, 0, 1], "g": ["a", None, "b"]},
            ["km", "--time", "t", "--event", "e", "--group", "g"],
            "g (rows [2])",
        ),
        # only one of time/status missing, row 2
        (
            {"t": [1, None, 3], "e": [1, 0, 1]},
            ["km", "--time", "t", "--event", "e"],
            "t (rows [2])",
        ),
        # time not a number
        ({"t": ["1", "x"], "e": [1, 0]}, ["km", "--time", "t", "--event", "e"], "must be a number"),
        # table1: unknown grouping column
        ({"t": [1, 2], "e": [1, 0]}, ["table1", "--by", "grp"], "grp"),
    ],
)
def test_bad_input_exits_nonzero_naming_column_and_rows(
    tmp_path: Path, rows: dict[str, list[object]], args: list[str], needle: str
) -> None:
    p = tmp_path / "bad.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    code, _, err = run("stats", args[0], str(p), *args[1:], "--json")
    assert code == 2
    assert needle in err


def test_bad_at_option(lung_csv: Path) -> None:
    code, _, err = run(
        "stats", "km", str(lung_csv), "--time", "time", "--event", "dead", "--at", "12,x"
    )
    assert code == 2 and "--at" in err


def test_boolean_event_column_with_gaps(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    # row 3 has no outcome (outside the analysed population); a blank line is no row at all
    p.write_text("id,t,e\na,1,True\nb,2,False\nc,,\n\nd,4,True\n")
    code, out, err = run("stats", "km", str(p), "--time", "t", "--event", "e", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["excluded_rows"] == 1
    assert d["groups"]["all"]["n"] == 3 and d["groups"]["all"]["events"] == 2
