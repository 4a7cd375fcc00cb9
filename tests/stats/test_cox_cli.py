"""``mst stats cox`` and ``mst stats finegray`` command lines."""

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
KEYS = {"coef", "se", "hr", "lower", "upper", "p", "n", "events"}


def test_cox_json_matches_the_library() -> None:
    from mst.stats.cox_model import cox

    res = runner.invoke(
        app,
        [
            "stats",
            "cox",
            str(DATA / "veteran.csv"),
            "--time",
            "time",
            "--event",
            "status",
            "--covariates",
            "trt,celltype,karno",
            "--reference",
            "celltype=squamous",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS
    df = pd.read_csv(DATA / "veteran.csv")
    fit = cox(
        df,
        time="time",
        event="status",
        covariates=["trt", "celltype", "karno"],
        reference={"celltype": "squamous"},
    )
    assert list(out["coef"]) == fit.names
    np.testing.assert_allclose(list(out["coef"].values()), fit.coef, rtol=1e-12)
    assert out["n"] == 137 and out["events"] == 128


def test_cox_strata_cluster_and_text(tmp_path: Path) -> None:
    xlsx = tmp_path / "lung.xlsx"
    pd.read_csv(DATA / "lung.csv").to_excel(xlsx, index=False)
    res = runner.invoke(
        app,
        [
            "stats",
            "cox",
            str(xlsx),
            "--time",
            "time",
            "--event",
            "status",
            "--covariates",
            "age,ph.ecog",
            "--strata",
            "sex",
            "--cluster",
            "inst",
            "--zph",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "robust SE" in res.stdout and "ph.ecog" in res.stdout
    assert "GLOBAL" in res.stdout
    res = runner.invoke(
        app,
        [
            "stats",
            "cox",
            str(xlsx),
            "--time",
            "time",
            "--event",
            "status",
            "--covariates",
            "age,ph.ecog",
            "--strata",
            "sex",
            "--cluster",
            "inst",
            "--zph",
            "--json",
        ],
    )
    ref = json.loads((DATA.parent.parent / "ref_cox_lung_strata_cluster_efron.json").read_text())
    out = json.loads(res.stdout)
    assert out["zph"]["ph.ecog"]["chisq"] == pytest.approx(ref["zph_chisq"]["ph.ecog"], rel=1e-6)


def test_finegray_json() -> None:
    res = runner.invoke(
        app,
        [
            "stats",
            "finegray",
            str(DATA / "mgus2.csv"),
            "--time",
            "etime",
            "--status",
            "status",
            "--cause",
            "1",
            "--covariates",
            "age,sex,hgb",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS
    assert list(out["coef"]) == ["age", "sex[M]", "hgb"]
    ref = json.loads((DATA.parent.parent / "ref_crr_mgus2_cause1.json").read_text())
    assert out["coef"]["age"] == pytest.approx(ref["coef"]["age"], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "cox",
                "veteran.csv",
                "--time",
                "time",
                "--event",
                "status",
                "--covariates",
                "trt,trt",
            ],
            "collinear",
        ),
        (
            ["cox", "veteran.csv", "--time", "time", "--event", "nope", "--covariates", "trt"],
            "not in the data",
        ),
        (
            [
                "cox",
                "veteran.csv",
                "--time",
                "time",
                "--event",
                "status",
                "--covariates",
                "trt",
                "--ties",
                "discrete",
            ],
            "efron, breslow or exact",
        ),
        (
            ["cox", "missing.csv", "--time", "t", "--event", "e", "--covariates", "x"],
            "no such file",
        ),
        (
            [
                "finegray",
                "mgus2.csv",
                "--time",
                "etime",
                "--status",
                "status",
                "--cause",
                "5",
                "--covariates",
                "age",
            ],
            "no event of the cause",
        ),
        (
            [
                "finegray",
                "mgus2.csv",
                "--time",
                "etime",
                "--status",
                "status",
                "--covariates",
                "age",
                "--reference",
                "sex",
            ],
            "col=level",
        ),
    ],
)
def test_errors_exit_2(args: list[str], message: str) -> None:
    args = ["stats", args[0], str(DATA / args[1]), *args[2:]]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert message in res.stderr
