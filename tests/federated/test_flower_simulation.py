"""Flower's simulation runtime (Ray backend), one virtual SuperNode per center: the federated
km, cif, cox, finegray and table1 equal ``mst stats`` on the pooled table within 1e-8
relative, through the library and through ``mst federated simulate`` (its default engine).

Slow (Ray starts a local cluster, ~30 s on the 2-core test machine): CI runs it in the
federated step (``python -m pytest -m slow tests/federated``).
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.federated.analyses import Options, run_federated, run_pooled

from .conftest import as_json, assert_same

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None or importlib.util.find_spec("flwr") is None,
        reason="flwr[simulation] (Ray) not installed",
    ),
    # ray.shutdown() leaves its helper processes' Popen objects to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

#: Cox stratified by center with robust SEs (in the plain and the secure simulation).
STRATIFIED_COX: tuple[str, Options] = (
    "cox",
    Options(
        time="os_days",
        event="os_event",
        covariates=["age_group", "courses_gt3"],
        strata="center_id",
        robust=True,
    ),
)

ANALYSES: list[tuple[str, Options]] = [
    ("km", Options(time="os_months", event="os_event", group="age_group", at=[12.0])),
    ("cif", Options(time="crs_months", status="crs_status", group="age_group", at=[12.0])),
    STRATIFIED_COX,
    ("finegray", Options(time="crs_days", status="crs_status", covariates=["age_group", "age"])),
    ("table1", Options(by="age_group", variables=["sex", "age", "courses_gt3"])),
]


def test_flower_simulation_equals_pooled(flat: pd.DataFrame) -> None:
    from mst.federated.flower_simulation import run_flower_simulation

    seen: list[str] = []

    def work(fed: Any) -> list[dict[str, Any]]:
        return [run_federated(fed, a, o, split_by="center_id") for a, o in ANALYSES]

    results, fed = run_flower_simulation(
        flat, "center_id", work, observer=lambda c, data: seen.append(c)
    )
    assert fed.centers == ["C01", "C02", "C03"] and fed.missing == []
    # every query went to each of the three virtual nodes over Flower's in-memory SuperLink
    assert sorted(set(seen)) == fed.centers and len(seen) == 3 * fed.queries
    for (analysis, opts), got in zip(ANALYSES, results, strict=True):
        assert_same(as_json(got), as_json(run_pooled(flat, analysis, opts)), path=analysis)


def test_cli_simulate_runs_on_flower(flat_csv: Path) -> None:
    from mst.cli.main import app

    args = ["--analysis", "cox", "--time", "os_days", "--event", "os_event"]
    args += ["--covariates", "age_group,courses_gt3", "--robust", "--json"]
    res = CliRunner().invoke(app, ["federated", "simulate", "--from", str(flat_csv), *args])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["federation"]["engine"].startswith("Flower simulation runtime (Ray")
    assert_same(out["federated"], out["pooled"])


def test_secagg_plus_totals_equal_pooled(flat: pd.DataFrame) -> None:
    """Flower's SecAgg+ (SecAggPlusWorkflow + secaggplus_mod) over the simulation runtime:
    the centers release counts only through it (--secure-aggregation-only), the coordinator
    receives labels in the clear and counts only as SecAgg+ totals, and the exact
    fixed-point encoding keeps the result equal to the pooled analysis (to the last bit)."""
    from mst.federated.analyses import coarsened_table
    from mst.federated.disclosure import DisclosurePolicy
    from mst.federated.flower_simulation import run_flower_simulation
    from mst.federated.wire import decode

    plain: list[dict[str, Any]] = []
    analyses = [
        ("km", Options(time="os_months", event="os_event", group="age_group", at=[12.0])),
        ("cif", Options(time="crs_days", status="crs_status", group="age_group")),
    ]
    results, fed = run_flower_simulation(
        flat,
        "center_id",
        lambda f: [run_federated(f, a, o) for a, o in analyses],
        DisclosurePolicy(min_cell=1, coarsen_months=1, secure_only=True),
        observer=lambda c, data: plain.append(decode(data, c)),
        secure=True,
    )
    assert fed.secure_rounds == 2
    # in the clear: only the labels round (no count, no center's vector)
    assert {m["kind"] for m in plain} == {"outcome_labels"}
    assert not any("count" in m or "secure_vector" in m for m in plain)
    for (analysis, opts), got in zip(analyses, results, strict=True):
        want = run_pooled(coarsened_table(flat, opts.time, 1), analysis, opts)
        assert_same(as_json(got), as_json(want), rtol=0.0, path=analysis)


def test_secagg_plus_cox_and_table1_coordinator_sees_masked_vectors(flat: pd.DataFrame) -> None:
    """Cox (stratified by center, robust SE) and Table 1 through Flower's SecAgg+: every
    Flower message the coordinator receives is inspected. Numbers arrive only as masked
    vectors, one per node and SecAgg+ round (entries spread over the 2^32 modulus, where the
    unmasked limbs lie below 2^17); the plain replies carry labels and shapes only; the
    totals after unmasking give the pooled fit within 1e-8 relative."""
    from flwr.common import bytes_to_ndarray
    from flwr.common.secure_aggregation.secaggplus_constants import Key

    from mst.federated.analyses import coarsened_table
    from mst.federated.disclosure import DisclosurePolicy
    from mst.federated.flower_simulation import run_flower_simulation
    from mst.federated.wire import decode

    plain: list[dict[str, Any]] = []
    masked: list[tuple[int, Any]] = []

    def receive(msg: Any) -> None:
        if not msg.has_content():  # an error reply (the workflow reports it)
            return
        for rec in msg.content.config_records.values():
            if Key.MASKED_PARAMETERS in rec:
                vecs = [bytes_to_ndarray(b) for b in rec[Key.MASKED_PARAMETERS]]
                masked.append((msg.metadata.src_node_id, vecs))

    analyses = [
        STRATIFIED_COX,
        ("table1", Options(by="age_group", variables=["sex", "courses_gt3"])),
    ]
    results, fed = run_flower_simulation(
        flat,
        "center_id",
        lambda f: [run_federated(f, a, o, split_by="center_id") for a, o in analyses],
        DisclosurePolicy(min_cell=1, coarsen_months=1, secure_only=True),
        observer=lambda c, data: plain.append(decode(data, c)),
        secure=True,
        message_observer=receive,
    )
    assert {m["kind"] for m in plain} == {"secure_labels"}
    numbers = {"n", "d", "c0", "c1", "sum_x", "rr", "rcrc", "level_counts", "v0_count"}
    assert not any(numbers & set(m) or "secure_vector" in m for m in plain)
    # one masked vector per node and SecAgg+ round, none of them a plain limb vector
    per_node = Counter(nid for nid, _ in masked)
    assert len(per_node) == 3 and set(per_node.values()) == {fed.secure_rounds}
    for _, vecs in masked:
        v = np.concatenate([np.ravel(a) for a in vecs]).astype(np.float64)
        assert v.max() < 2.0**32 and np.mean(v >= 2.0**17) > 0.9
    for (analysis, opts), got in zip(analyses, results, strict=True):
        table = coarsened_table(flat, opts.time, 1) if opts.time else flat
        assert_same(as_json(got), as_json(run_pooled(table, analysis, opts)), path=analysis)
