"""`mst report --disease myeloma`: seed 003's analyses, KM/log-rank/paired tests equal to R.

R reference: tests/reference/make_reference_myeloma.R on tests/reference/data/myeloma_demo.csv
(the myeloma flat table of the demo cohort) → ref_myeloma.json (committed; fresh copy in
$MST_R_REFERENCE_DIR when CI re-runs the script).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.report.myeloma import compute_myeloma, numbers_from_myeloma_html, paired_tests

runner = CliRunner()
HERE = Path(__file__).resolve().parents[1] / "reference"
DATA = HERE / "data" / "myeloma_demo.csv"
REF_DIRS = [HERE] + ([Path(os.environ["MST_R_REFERENCE_DIR"])]
                     if os.environ.get("MST_R_REFERENCE_DIR") else [])
RTOL = 1e-8


def _close(a: Any, b: Any) -> None:
    a = np.asarray([np.nan if v is None else v for v in np.atleast_1d(a)], dtype=float)
    b = np.asarray([np.nan if v is None else v for v in np.atleast_1d(b)], dtype=float)
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-14, equal_nan=True)


@pytest.fixture(scope="module")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("mmrep")
    res = runner.invoke(app, ["report", "--disease", "myeloma", "--from", str(DATA),
                              "--out", str(d / "r.html")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] == 40 and out["time_dependent_cycles"] is False
    num = json.loads((d / "r.json").read_text(encoding="utf-8"))
    assert numbers_from_myeloma_html((d / "r.html").read_text(encoding="utf-8")) == num
    return num


@pytest.fixture(scope="module", params=REF_DIRS, ids=lambda p: "fresh" if p != HERE else
                "committed")
def ref(request: pytest.FixtureRequest) -> dict[str, Any]:
    return json.loads((request.param / "ref_myeloma.json").read_text())


@pytest.mark.r_parity
@pytest.mark.parametrize("ep", ["os", "pfs", "dor"])
def test_km_equals_r(numbers: dict[str, Any], ref: dict[str, Any], ep: str) -> None:
    g = next(iter(numbers["km"][ep]["all"]["groups"].values()))
    r = ref["km"][ep]
    assert g["n"] == r["n"] and g["events"] == r["events"]
    for k in ("survival", "lower", "upper", "n_risk"):
        _close(g["at"][k], r[k])
    for k in ("median", "median_lower", "median_upper"):
        _close(g[k], r[k])


@pytest.mark.r_parity
@pytest.mark.parametrize("group", ["age_group", "iss", "ds_stage", "msmart", "pre_mst_status",
                                   "cycles_group"])
def test_logrank_equals_r(numbers: dict[str, Any], ref: dict[str, Any], group: str) -> None:
    lr = numbers["os_by"][group]["logrank"]
    r = ref["logrank"][group]
    assert lr["df"] == r["df"]
    _close([lr["statistic"], lr["p"]], [r["statistic"], r["p"]])


@pytest.mark.r_parity
@pytest.mark.parametrize("subset", ["cd3", "cd4", "cd4_cd8", "th0"])
def test_paired_tests_equal_r(numbers: dict[str, Any], ref: dict[str, Any], subset: str) -> None:
    m, r = numbers["immune"][subset], ref["paired"][subset]
    assert m["n"] == r["n"]
    _close([m["wilcoxon"]["statistic_V"], m["wilcoxon"]["p"]], [r["V"], r["wilcox_p"]])
    _close([m["t_test"]["statistic"], m["t_test"]["df"], m["t_test"]["p"]],
           [r["t"], r["t_df"], r["t_p"]])


@pytest.mark.r_parity
def test_orr_interval_equals_binom_test(numbers: dict[str, Any], ref: dict[str, Any]) -> None:
    o, r = numbers["orr"], ref["orr"]
    assert (o["x"], o["n"]) == (r["x"], r["n"])
    _close([o["lower"], o["upper"]], [r["lower"], r["upper"]])


def test_report_sections(numbers: dict[str, Any]) -> None:
    assert set(numbers["os_by"]) == {"age_group", "iss", "ds_stage", "msmart",
                                     "pre_mst_status", "cycles_group"}
    assert set(numbers["per_course"]) == {"fever", "crs", "fever_or_crs"}
    assert set(numbers["chimerism"]) == {"d14", "m1", "m3", "m6"}
    assert "note" in numbers["cycles_time_dependent"]  # a flat table has no course dates
    assert numbers["immune"]["cd3"]["wilcoxon"]["method"].startswith("Wilcoxon signed-rank")


def test_demo_table_is_the_committed_reference_data(tmp_path: Path) -> None:
    from mst.cohort import write_flat_table
    from mst.cohort.myeloma_table import build_myeloma_table
    from mst.simulate.myeloma import demo_myeloma_cohort

    cohort = demo_myeloma_cohort()
    df = build_myeloma_table(cohort)
    write_flat_table(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == DATA.read_bytes()
    days = {r.patient.id: [float((c.start_date - r.courses[0].start_date).days)
                           for c in r.courses] for r in cohort.records}
    num, _ = compute_myeloma(df, days)
    td = num["cycles_time_dependent"]["time_dependent"]
    assert "cycles_so_far" in td["hr"] and td["intervals"] > len(df)
    tdg = num["cycles_time_dependent"]["time_dependent_ge"]
    assert "cycles_ge3_so_far" in tdg["hr"]
    # the naive fixed covariate credits the cycles from day 0 (immortal time): its HR is lower
    assert num["cycles_time_dependent"]["naive_ge"]["hr"]["cycles_ge3"] < tdg["hr"][
        "cycles_ge3_so_far"]


def test_paired_test_choice() -> None:
    exact = paired_tests([1, 2, 3, 4], [2.5, 4, 3.5, 8])
    assert exact["wilcoxon"]["method"].endswith("exact")
    ties = paired_tests([1, 2, 3, 4], [2, 3, 4, 4])  # a zero and tied differences
    assert "approximation" in ties["wilcoxon"]["method"]


def test_bad_disease_and_pdf_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", "--disease", "lymphoma", "--from", str(DATA),
                              "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "--disease" in res.stderr
    res = runner.invoke(app, ["report", "--disease", "myeloma", "--from", str(DATA),
                              "--out", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "p")])
    assert res.exit_code == 2 and "--pdf" in res.stderr


def test_bad_flat_table_cell_names_row_and_column(tmp_path: Path) -> None:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[2].split(",")
    row[header.index("os_months")] = "soon"
    (tmp_path / "bad.csv").write_text("\n".join([lines[0], lines[1], ",".join(row)]) + "\n",
                                      encoding="utf-8")
    res = runner.invoke(app, ["report", "--disease", "myeloma", "--from",
                              str(tmp_path / "bad.csv"), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "row 3: os_months" in res.stderr
    assert "Traceback" not in res.output


def test_demo_cohort_then_report_from_the_registry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    res = runner.invoke(app, ["demo", "--disease", "myeloma", "--no-serve", "--json",
                              "--db", url])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["diagnoses"] == {"myeloma": 40} and summary["centers"] == 4
    res = runner.invoke(app, ["cohort", "--disease", "myeloma", "--db", url,
                              "--out", str(tmp_path / "t.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t.csv").read_bytes() == DATA.read_bytes()
    res = runner.invoke(app, ["report", "--disease", "myeloma", "--db", url,
                              "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] == 40 and out["time_dependent_cycles"] is True
    num = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert "cycles_so_far" in num["cycles_time_dependent"]["time_dependent"]["hr"]
    res = runner.invoke(app, ["demo", "--disease", "lymphoma", "--no-serve", "--db", url])
    assert res.exit_code == 2 and "--disease" in res.stderr


@pytest.mark.r_parity
@pytest.mark.skipif(not os.environ.get("MST_R_REFERENCE_DIR"), reason="no fresh R output")
def test_fresh_r_output_equals_committed() -> None:
    fresh = json.loads((Path(os.environ["MST_R_REFERENCE_DIR"]) / "ref_myeloma.json").read_text())
    committed = json.loads((HERE / "ref_myeloma.json").read_text())

    def walk(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict):
            assert set(a) == set(b), where
            for k in a:
                if k != "meta":
                    walk(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{where}[{i}]")
        elif isinstance(a, int | float) and not isinstance(a, bool):
            np.testing.assert_allclose(a, b, rtol=1e-10, err_msg=where)
        else:
            assert a == b, where

    walk(fresh, committed, "ref_myeloma")
