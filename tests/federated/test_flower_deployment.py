"""The Flower deployment runtime end to end: a SuperLink and three SuperNodes (``mst federated
node``) as separate processes on loopback, over TLS, each node with its own registry holding
one center of the demo cohort (one of them on PostgreSQL when MST_TEST_POSTGRES_URL is set).

Slow (Flower starts a fresh ClientApp process for every message): run with
``python -m pytest -m slow tests/federated``; CI runs it in its own step.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mst.federated.analyses import Options, run_pooled

from .conftest import as_json, assert_same

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("flower-superlink") is None, reason="flwr not installed"),
]

CENTERS = ["C01", "C02", "C03"]
#: the ``mst`` command line (this interpreter, this checkout's ``mst``)
MST = [sys.executable, "-c", "from mst.cli.main import main; main()"]
ANALYSES: list[tuple[str, Options]] = [
    ("km", Options(time="os_months", event="os_event", group="age_group", at=[12.0])),
    ("cif", Options(time="crs_months", status="crs_status", group="age_group")),
    ("cox", Options(time="os_days", event="os_event", covariates=["age_group", "courses_gt3"])),
    (
        "cox",
        Options(
            time="os_days",
            event="os_event",
            covariates=["age_group", "courses_gt3"],
            strata="center_id",
            robust=True,
        ),
    ),
    ("finegray", Options(time="crs_days", status="crs_status", covariates=["age_group", "age"])),
]
#: one more analysis in the same request, through Flower's SecAgg+ (no grid needed)
SECURE_TABLE1 = Options(by="age_group", variables=["sex", "courses_gt3"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _registries(work: Path) -> tuple[dict[str, str], pd.DataFrame]:
    """One registry per center; the pooled flat table read back from them."""
    from mst.cohort.flat_table import build_flat_table
    from mst.domain import Cohort
    from mst.registry import open_registry
    from mst.simulate import simulate_cohort

    cohort = simulate_cohort(n=150, seed=19, n_centers=3)
    urls = {c: f"sqlite:///{work / f'{c}.sqlite'}" for c in CENTERS}
    pg = os.environ.get("MST_TEST_POSTGRES_URL")
    if pg:
        from sqlalchemy import text

        from mst.registry.db import make_engine

        engine = make_engine(pg)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        urls["C03"] = pg
    parts = []
    for center in cohort.centers:
        recs = tuple(r for r in cohort.records if r.patient.center_id == center.id)
        with open_registry(urls[center.id], user="test-setup") as reg:
            reg.import_cohort(Cohort(centers=(center,), records=recs))
            parts.append(build_flat_table(reg.load_records()))
    return urls, pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """SuperLink + three nodes as separate processes (stopped, with their children, at the end)."""
    from mst.federated import deploy

    work = tmp_path_factory.mktemp("flower")
    urls, pooled = _registries(work)
    port = _free_port()
    env = deploy.python_env()
    procs: list[subprocess.Popen[bytes]] = []
    logs = []

    def start(cmd: list[str], name: str) -> None:
        log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        procs.append(
            subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    # the coordinator's SuperLink, started as a user would (it creates its CA on first use)
    start(
        [*MST, "federated", "link", "--state-dir", str(work / "link"), "--port", str(port)], "link"
    )
    ca = work / "link" / "tls" / "ca.pem"
    deadline = time.monotonic() + 120
    while not ca.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    for c in CENTERS:
        start(
            [
                *MST,
                "federated",
                "node",
                "--db",
                urls[c],
                "--link",
                f"127.0.0.1:{port}",
                "--center",
                c,
                "--min-cell",
                "1",
                "--ca",
                str(ca),
                "--state-dir",
                str(work / f"node-{c}"),
                "--port",
                str(_free_port()),
            ],
            f"node-{c}",
        )
    try:
        deploy.wait_for_port("127.0.0.1", port, 120)
        yield {"work": work, "port": port, "ca": ca, "pooled": pooled, "urls": urls}
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        for log in logs:
            log.close()


def _run(
    fed: dict[str, Any],
    analyses: list[tuple[str, Options]],
    centers: list[str],
    allow_missing: bool = False,
    wait: float = 120,
    secure: Sequence[tuple[str, Options]] = (),
) -> dict[str, Any]:
    from mst.federated import deploy

    items = [{"analysis": a, "options": asdict(o)} for a, o in analyses]
    items += [{"analysis": a, "options": asdict(o), "secure": True} for a, o in secure]
    req = {
        "centers": centers,
        "timeout": 300,
        "wait": wait,
        "allow_missing": allow_missing,
        "split_by": "center_id",
        "analyses": items,
    }
    return deploy.submit(
        req, fed["work"] / "coordinator", f"127.0.0.1:{fed['port']}", fed["ca"], wait=3000
    )


def test_flower_federation_equals_pooled(federation: dict[str, Any]) -> None:
    """The plain analyses, then Table 1 through Flower's SecAgg+ in the same request
    (same SuperLink, SuperNodes and ServerApp run): all equal ``mst stats`` on the pooled
    table; each center's audit trail shows its secure counts left only as a limb vector
    (masked by secaggplus_mod before leaving the node)."""
    res = _run(federation, ANALYSES, CENTERS, secure=[("table1", SECURE_TABLE1)])
    assert res["centers"] == CENTERS and res["missing_centers"] == []
    assert res["secure_rounds"] == 1
    wanted = [*ANALYSES, ("table1", SECURE_TABLE1)]
    for (analysis, opts), got in zip(wanted, res["results"], strict=True):
        want = as_json(run_pooled(federation["pooled"], analysis, opts))
        assert_same(got, want)
    # every query was logged in each center's own registry
    from mst.registry import open_registry

    for c in CENTERS:
        with open_registry(federation["urls"][c], migrate=False) as reg:
            log = reg.audit_log(entity="federated")
        kinds = [e.entity_key for e in log]
        assert "cox_cells" in kinds and "finegray_residuals" in kinds
        secure = [e.after["released"] for e in log if e.entity_key == "table1_counts"]
        assert secure and "secure_vector" in secure[-1] and "v0_count" not in secure[-1]


def test_missing_center_is_named(federation: dict[str, Any]) -> None:
    km = [ANALYSES[0]]
    from mst.federated.errors import FederationError

    with pytest.raises(FederationError, match="center C04: did not join the federation"):
        _run(federation, km, [*CENTERS, "C04"], wait=15)
    res = _run(federation, km, [*CENTERS, "C04"], allow_missing=True, wait=15)
    assert res["missing_centers"] == ["C04"] and res["centers"] == CENTERS


def _mst(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``mst ARGS --json`` as a user would (a new process); its JSON output."""
    from mst.federated import deploy

    proc = subprocess.run(
        [*MST, *args], env=env or deploy.python_env(), capture_output=True, text=True, timeout=3000
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_cli_run_and_report_equal_mst_stats_on_the_pooled_table(
    federation: dict[str, Any],
) -> None:
    """`mst federated run` at the coordinator (CLI) against the nodes started with
    `mst federated node --link` (CLI): the JSON equals `mst stats` (CLI) on the pooled table;
    `mst federated report --out` writes the report from the same federation."""
    work: Path = federation["work"]
    pooled_csv = work / "pooled.csv"
    federation["pooled"].to_csv(pooled_csv, index=False)
    link = ["--link", f"127.0.0.1:{federation['port']}", "--ca", str(federation["ca"])]
    link += ["--centers", ",".join(CENTERS), "--work-dir", str(work / "cli-coordinator")]
    cox = ["--time", "os_days", "--event", "os_event", "--covariates", "age_group,courses_gt3"]
    cox += ["--strata", "center_id", "--robust", "--json"]
    got = _mst("federated", "run", "cox", *link, *cox)
    fed = got.pop("federation")
    assert fed["centers"] == CENTERS and fed["missing_centers"] == [] and fed["queries"] > 3
    want = _mst("stats", "cox", str(pooled_csv), *cox)
    assert isinstance(want["concordance"], float)
    assert_same(got, want)
    km = ["--time", "os_months", "--event", "os_event", "--group", "age_group", "--at", "12"]
    got = _mst("federated", "run", "km", *link, *km, "--json")
    got.pop("federation")
    assert_same(got, _mst("stats", "km", str(pooled_csv), *km, "--json"))

    out = work / "report.html"
    from mst.federated import deploy

    proc = subprocess.run(
        [*MST, "federated", "report", "--out", str(out), *link],
        env=deploy.python_env(),
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = out.read_text(encoding="utf-8")
    assert "Flower deployment runtime" in text and "C01, C02, C03" in text
    # the report's Cox model is the stratified robust fit compared above
    hr = next(iter(want["hr"].values()))
    assert f"{hr:.3g}" in text and f"{want['concordance']:.3g}" in text
