"""Command-line faces of the regression extras (issue 12): ``mst stats finegray --weights``,
``--tf``, ``mst stats cox --ties exact`` and the concordance standard error in the text and
JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app

DATA = Path(__file__).resolve().parents[2] / "tests" / "reference" / "data" / "regression"
runner = CliRunner()


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = pd.read_csv(DATA / "sim_ties.csv")
    df["w"] = 0.5 + (np.arange(1, len(df) + 1) % 5) / 4
    path = tmp_path_factory.mktemp("fg") / "sim.csv"
    df.to_csv(path, index=False)
    return path


def _fg(path: Path, *extra: str) -> list[str]:
    return [
        "stats", "finegray", str(path), "--time", "time", "--status", "status",
        "--covariates", "x1,x2,x3", *extra,
    ]  # fmt: skip


def test_finegray_weights_cli_equals_api(sim_csv: Path) -> None:
    from mst.stats import finegray

    res = runner.invoke(app, [*_fg(sim_csv, "--weights", "w"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    fit = finegray(
        pd.read_csv(sim_csv), time="time", status="status", covariates=["x1", "x2", "x3"],
        weights="w",
    )  # fmt: skip
    np.testing.assert_allclose(list(out["coef"].values()), fit.coef, rtol=1e-12)
    np.testing.assert_allclose(list(out["se"].values()), fit.se, rtol=1e-12)
    assert out["weighted"] is True and out["weights"] == "w"
    text = runner.invoke(app, _fg(sim_csv, "--weights", "w"))
    assert text.exit_code == 0 and "case weights: w" in text.stdout


def test_finegray_weights_cli_errors(sim_csv: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, _fg(sim_csv, "--weights", "nope"))
    assert res.exit_code == 2 and "nope" in res.output
    df = pd.read_csv(sim_csv)
    df.loc[2, "w"] = 0
    bad = tmp_path / "zero.csv"
    df.to_csv(bad, index=False)
    res = runner.invoke(app, _fg(bad, "--weights", "w"))
    assert res.exit_code == 2 and "weights (row 3)" in res.output and "> 0" in res.output
    assert "Traceback" not in res.output


def test_cox_text_and_json_show_concordance_se() -> None:
    args = [
        "stats", "cox", str(DATA / "lung.csv"), "--time", "time", "--event", "status",
        "--covariates", "age,sex,ph.ecog",
    ]  # fmt: skip
    ref = json.loads((DATA.parent.parent / "ref_regression_extra.json").read_text())
    r = ref["concordance"]["lung"]
    out = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert out["concordance"] == pytest.approx(r["concordance"][0], rel=1e-9)
    assert out["concordance_se"] == pytest.approx(r["se"][0], rel=1e-9)
    text = runner.invoke(app, args).stdout
    assert f"Concordance = {r['concordance'][0]:.4f} (se = {r['se'][0]:.4f})" in text


def test_cox_exact_ties_cli() -> None:
    args = [
        "stats", "cox", str(DATA / "veteran.csv"), "--time", "time", "--event", "status",
        "--covariates", "trt,karno", "--ties", "exact",
    ]  # fmt: skip
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    from mst.stats import cox

    fit = cox(
        pd.read_csv(DATA / "veteran.csv"), time="time", event="status",
        covariates=["trt", "karno"], ties="exact",
    )  # fmt: skip
    out = json.loads(res.stdout)
    assert out["ties"] == "exact"
    np.testing.assert_allclose(list(out["coef"].values()), fit.coef, rtol=1e-12)
    res = runner.invoke(app, [*args, "--robust"])
    assert res.exit_code == 2 and "robust variance is not available with exact ties" in res.output


def test_finegray_tf_cli_equals_api(sim_csv: Path) -> None:
    from mst.stats import finegray

    res = runner.invoke(app, [*_fg(sim_csv, "--tf", "x1:log", "--tf", "x2:step:10"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    fit = finegray(
        pd.read_csv(sim_csv), time="time", status="status", covariates=["x1", "x2", "x3"],
        tf={"x1": "log", "x2": "step:10"},
    )  # fmt: skip
    assert list(out["coef"]) == ["x1", "x2", "x3", "x1*log(t)", "x2*I(t>10)"]
    assert out["time_varying"] == ["x1*log(t)", "x2*I(t>10)"]
    np.testing.assert_allclose(list(out["se"].values()), fit.se, rtol=1e-12)
    text = runner.invoke(app, _fg(sim_csv, "--tf", "x1:log")).stdout
    assert "x1*log(t)" in text


@pytest.mark.parametrize(
    ("tf", "message"),
    [
        ("x1", "must be col:function"),
        ("x1:cube", "must be log, t, sqrt or step:c"),
        ("x1:step:soon", "step needs a number"),
        ("nope:log", "nope"),
        ("x2:step:1000", "0 at every failure time"),
    ],
)
def test_finegray_tf_cli_errors(sim_csv: Path, tf: str, message: str) -> None:
    res = runner.invoke(app, _fg(sim_csv, "--tf", tf))
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
