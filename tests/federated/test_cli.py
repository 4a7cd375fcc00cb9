"""``mst federated simulate`` and ``mst federated report --from`` command lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mst.cli.main import app

from .conftest import assert_same

runner = CliRunner()
#: the fast tests use the in-process transport; Flower's simulation runtime (Ray, the default
#: engine) is tested in test_flower_simulation.py (slow)
FAST = ["--engine", "in-process"]


@pytest.mark.parametrize(
    "args",
    [
        [
            "--analysis",
            "cif",
            "--time",
            "crs_months",
            "--status",
            "crs_status",
            "--group",
            "age_group",
            "--at",
            "12",
        ],
        [
            "--analysis",
            "finegray",
            "--time",
            "crs_days",
            "--status",
            "crs_status",
            "--covariates",
            "age_group,age",
            "--cengroup",
            "sex",
        ],
    ],
)
def test_simulate_prints_federated_and_pooled(flat_csv: Path, args: list[str]) -> None:
    res = runner.invoke(
        app, ["federated", "simulate", "--from", str(flat_csv), *FAST, *args, "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out) == {"federated", "pooled", "federation"}
    assert_same(out["federated"], out["pooled"])
    assert out["federation"]["centers"] == ["C01", "C02", "C03"]
    assert out["federation"]["bytes_from_nodes"] > 0


def test_simulate_with_coarsening_says_so(flat_csv: Path) -> None:
    args = [
        "--analysis",
        "km",
        "--time",
        "os_months",
        "--event",
        "os_event",
        "--coarsen-months",
        "3",
    ]
    res = runner.invoke(
        app, ["federated", "simulate", "--from", str(flat_csv), *FAST, *args, "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert_same(out["federated"], out["pooled"])
    assert "coarsened" in out["federation"]["note"]
    assert all(t % 3.0 == 0 for t in out["federated"]["groups"]["all"]["times"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--analysis", "km", "--time", "os_months", "--event", "os_event", "--min-cell", "5"],
            "center C01: refused the query",
        ),
        (["--analysis", "survival", "--time", "os_months"], "analysis: 'survival' rejected"),
        (
            ["--analysis", "cox", "--time", "os_days", "--event", "os_event"],
            "--covariates: is required for cox",
        ),
        (
            [
                "--analysis",
                "km",
                "--time",
                "os_months",
                "--event",
                "os_event",
                "--split-by",
                "site",
            ],
            "--split-by: 'site' rejected",
        ),
        (
            [
                "--analysis",
                "cox",
                "--time",
                "os_days",
                "--event",
                "os_event",
                "--covariates",
                "age",
                "--cluster",
                "sex",
            ],
            "clusters by center only",
        ),
    ],
)
def test_bad_input_exits_2_with_a_plain_message(
    flat_csv: Path, args: list[str], message: str
) -> None:
    res = runner.invoke(app, ["federated", "simulate", "--from", str(flat_csv), *FAST, *args])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_report_from_a_table(flat_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = runner.invoke(
        app, ["federated", "report", "--from", str(flat_csv), *FAST, "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "no patient row left any center" in text
    assert "Fine–Gray model of relapse" in text and "C01, C02, C03" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "run",
                "km",
                "--link",
                "127.0.0.1:1",
                "--centers",
                "C01",
                "--time",
                "t",
                "--event",
                "e",
            ],
            "--ca: ",
        ),
        (
            ["run", "km", "--link", "127.0.0.1:1", "--centers", "", "--insecure"],
            "--centers: '' rejected",
        ),
        (
            ["node", "--db", "sqlite:///x.sqlite", "--link", "127.0.0.1:1", "--center", "C01"],
            "--ca: ",
        ),
        (["report", "--out", "r.html"], "give exactly one: --link (deployment) or --from"),
        (["simulate", "--from", "x.csv", "--analysis", "km", "--engine", "ray"], "--engine"),
    ],
)
def test_deployment_commands_refuse_incomplete_options(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["federated", *args])
    assert res.exit_code == 2
    assert message in res.output
