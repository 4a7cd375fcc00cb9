"""One reader and one validator for every ``mst stats`` command and API function: codings,
empty and header-only files, ``;`` delimiters, duplicate columns, plain messages, exit 2;
R's factor level order and a Categorical's order; the public names; the analyst API's
text, tables and figures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mst.stats
from mst.cli.main import app
from mst.errors import ValidationError
from mst.stats import (
    cox,
    cumulative_incidence,
    finegray,
    gray_test,
    kaplan_meier,
    logrank_test,
)

runner = CliRunner()

ROWS = [
    # time, event (text), status, group, x
    (5, "yes", 1, "Low", 1.2),
    (8, "no", 0, "Mid", 0.4),
    (9, "yes", 2, "high", 2.5),
    (12, "yes", 1, "Low", 1.1),
    (15, "no", 0, "Mid", 3.0),
    (16, "yes", 1, "high", 0.2),
    (20, "yes", 2, "Low", 2.2),
    (21, "no", 1, "high", 1.9),
    (25, "yes", 1, "Mid", 0.7),
    (30, "no", 0, "Low", 1.4),
    (33, "yes", 2, "Mid", 2.8),
    (40, "yes", 1, "high", 0.9),
]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["time", "event", "status", "grp", "x"])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("input")
    out = {
        "comma": d / "comma.csv",
        "semi": d / "semi.csv",
        "empty": d / "empty.csv",
        "header": d / "header.csv",
        "dup": d / "dup.csv",
    }
    frame.to_csv(out["comma"], index=False)
    frame.to_csv(out["semi"], index=False, sep=";", decimal=",")
    out["empty"].write_bytes(b"")
    out["header"].write_text("time,event,status,grp,x\n")
    out["dup"].write_text("time,event,x,x\n1,1,2,3\n2,0,3,4\n")
    return out


COMMANDS = {
    "km": ["--time", "time", "--event", "event", "--group", "grp"],
    "cif": ["--time", "time", "--status", "status", "--cause", "1", "--group", "grp"],
    "cox": ["--time", "time", "--event", "event", "--covariates", "grp,x"],
    "finegray": ["--time", "time", "--status", "status", "--covariates", "x"],
}


@pytest.mark.parametrize("cmd", list(COMMANDS))
@pytest.mark.parametrize("kind", ["comma", "semi"])
def test_text_events_and_semicolons_are_read_alike(
    files: dict[str, Path], cmd: str, kind: str
) -> None:
    res = runner.invoke(app, ["stats", cmd, str(files[kind]), *COMMANDS[cmd], "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] == len(ROWS)


@pytest.mark.parametrize("cmd", list(COMMANDS))
@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("empty", "empty (0 bytes)"),
        ("header", "no data rows"),
        ("dup", "used twice"),
    ],
)
def test_unreadable_tables_exit_2_in_plain_words(
    files: dict[str, Path], cmd: str, kind: str, needle: str
) -> None:
    res = runner.invoke(app, ["stats", cmd, str(files[kind]), *COMMANDS[cmd]])
    assert res.exit_code == 2
    assert needle in res.stderr
    assert "Traceback" not in res.output and "reference" not in res.stderr


def test_cox_text_output_names_the_reference_level(files: dict[str, Path]) -> None:
    res = runner.invoke(app, ["stats", "cox", str(files["comma"]), *COMMANDS["cox"]])
    assert res.exit_code == 0, res.output
    # R: levels(factor(c("Low", "Mid", "high"))) is "high" "Low" "Mid"
    assert "reference levels: grp = high" in res.stdout
    js = runner.invoke(app, ["stats", "cox", str(files["comma"]), *COMMANDS["cox"], "--json"])
    assert json.loads(js.stdout)["references"] == {"grp": "high"}


def test_bad_event_code_message_is_plain(files: dict[str, Path], tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("time,event,x\n1,2,0.5\n2,1,0.1\n3,0,0.2\n")
    for cmd in ("km", "cox"):
        args = ["--time", "time", "--event", "event"]
        args += ["--covariates", "x"] if cmd == "cox" else []
        res = runner.invoke(app, ["stats", cmd, str(p), *args])
        assert res.exit_code == 2
        assert "np." not in res.stderr and "float64" not in res.stderr
        assert "event" in res.stderr


def test_api_refuses_duplicate_columns_and_empty_frames(frame: pd.DataFrame) -> None:
    dup = pd.concat([frame, frame[["x"]]], axis=1)
    with pytest.raises(ValidationError, match="duplicate column names: x"):
        cox(dup, time="time", event="event", covariates=["x"])
    with pytest.raises(ValidationError, match="duplicate column names"):
        kaplan_meier("time", "event", data=dup)
    with pytest.raises(ValidationError, match="no rows"):
        finegray(frame.iloc[:0], time="time", status="status", covariates=["x"])


def test_text_event_coding_in_the_api(frame: pd.DataFrame) -> None:
    coded = frame.assign(event=(frame.event == "yes").astype(int))
    a = cox(frame, time="time", event="event", covariates=["x"])
    b = cox(coded, time="time", event="event", covariates=["x"])
    np.testing.assert_array_equal(a.coef, b.coef)
    with pytest.raises(ValidationError, match="yes/no"):
        cox(frame.assign(event="maybe"), time="time", event="event", covariates=["x"])


def test_categorical_order_is_honoured_everywhere(frame: pd.DataFrame) -> None:
    cat = frame.assign(grp=pd.Categorical(frame.grp, categories=["Mid", "Low", "high"]))
    a = cox(cat, time="time", event="event", covariates=["grp", "x"])
    b = cox(cat, "Surv(time, event) ~ grp + x")
    assert a.references == b.references == {"grp": "Mid"}
    assert a.names == b.names == ["grp[Low]", "grp[high]", "x"]
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    km = kaplan_meier("time", "event", "grp", data=cat)
    assert list(km.curves) == ["Mid", "Low", "high"]
    lr = logrank_test(data=cat, formula="Surv(time, event) ~ grp")
    assert lr.groups == ["Mid", "Low", "high"]
    ci = cumulative_incidence(data=cat, formula="Surv(time, status) ~ grp", cause=1)
    assert list(ci.curves) == ["Mid", "Low", "high"]
    # without a Categorical: R's factor() order
    plain = kaplan_meier(data=frame, formula="Surv(time, event) ~ grp")
    assert list(plain.curves) == ["high", "Low", "Mid"]


def test_data_and_formula_forms_equal_the_array_form(frame: pd.DataFrame) -> None:
    ev = (frame.event == "yes").astype(int).to_numpy()
    arr = logrank_test(frame.time.to_numpy(), ev, frame.grp.to_numpy())
    by_name = logrank_test("time", "event", "grp", data=frame)
    assert by_name.statistic == pytest.approx(arr.statistic, rel=1e-14)
    g1 = gray_test(frame.time, frame.status, frame.grp, cause=1)
    g2 = gray_test(data=frame, formula="Surv(time, status) ~ grp", cause=1)
    assert g2.statistic == pytest.approx(g1.statistic, rel=1e-14)
    with pytest.raises(ValidationError, match="one grouping column"):
        kaplan_meier(data=frame, formula="Surv(time, event) ~ grp + x")


def test_public_names_are_the_functions() -> None:
    from mst.stats import cox as c
    from mst.stats import finegray as f

    assert callable(c) and c.__name__ == "cox"
    assert callable(f) and f.__name__ == "finegray"
    for name in ("kaplan_meier", "logrank_test", "cumulative_incidence", "gray_test"):
        assert callable(getattr(mst.stats, name))


def test_summaries_tables_and_repr(frame: pd.DataFrame) -> None:
    fit = cox(frame, time="time", event="event", covariates=["grp", "x"])
    text = fit.summary()
    assert "Concordance" in text and "AIC" in text and "reference levels: grp = high" in text
    buf = io.StringIO()
    fit.print_summary(file=buf)
    assert buf.getvalue().strip() == text
    assert repr(fit).startswith("<CoxResult n=12 events=8")
    assert list(fit.to_frame().index) == fit.names
    km = kaplan_meier(data=frame, formula="Surv(time, event) ~ grp")
    assert set(km.to_frame().columns) >= {"time", "survival", "lower", "upper", "cumhaz", "group"}
    assert km.survival_function.shape[1] == 3
    assert "median" in km.summary()
    fg = finegray(frame, "Surv(time, status) ~ x")
    assert "converged by crr's rule" in fg.summary()
    assert repr(fg).startswith("<FineGrayResult cause=1")


def test_plots_return_axes_and_numeric_groups_get_a_risk_table() -> None:
    from mst.stats.plotting import risk_counts

    df = pd.DataFrame(
        {"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 0, 1, 1, 0, 1, 0, 1], "dose": [1, 2] * 4}
    )
    km = kaplan_meier("t", "e", "dose", data=df)
    ax = km.plot(at_risk=True, times=[0, 2, 4, 6])
    assert ax.figure is not None
    assert risk_counts(km, [0, 2, 4, 6]) == {"1": [4, 3, 2, 1], "2": [4, 4, 3, 2]}
    texts = [t.get_text() for t in ax.texts]
    assert "Number at risk" in texts and texts.count("4") >= 3
    ci = cumulative_incidence("t", "e", cause=1, group="dose", data=df)
    ax2 = ci.plot(labels={"1": "1 course", "2": "2 courses"})
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["1 course", "2 courses"]


def test_cli_weights_and_finegray_tolerance(frame: pd.DataFrame, tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    df = frame.assign(w=[1.0, 2.0, 1.5, 1.0, 0.5, 1.0, 2.0, 1.0, 1.0, 1.5, 1.0, 2.0])
    df.to_csv(p, index=False)
    res = runner.invoke(app, ["stats", "cox", str(p), *COMMANDS["cox"], "--weights", "w", "--json"])
    assert res.exit_code == 0, res.output
    fit = cox(df, time="time", event="event", covariates=["grp", "x"], weights="w")
    out = json.loads(res.stdout)
    assert out["coef"]["x"] == pytest.approx(float(fit.coef[-1]), rel=1e-12)
    # weighted concordance as R (pairs count w_i·w_j; checked in test_regression_extra_reference)
    assert out["concordance"] == pytest.approx(fit.concordance, rel=1e-12)
    res = runner.invoke(
        app, ["stats", "finegray", str(p), *COMMANDS["finegray"], "--tol", "1e-9", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["convergence"].startswith("relative change")
