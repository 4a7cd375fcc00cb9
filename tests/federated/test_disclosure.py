"""Disclosure control at the node: every message that leaves a node is inspected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.federated.analyses import Options, coarsened_table, run_federated, run_pooled
from mst.federated.disclosure import DisclosurePolicy, coarsen, time_unit
from mst.federated.errors import FederationError
from mst.federated.simulation import simulated_federation
from mst.federated.wire import decode

from .conftest import as_json, assert_same

K = 5
#: fields holding numbers of patients (every one must be 0 or >= K)
COUNT_FIELDS = {"count", "n", "d", "cens", "fail", "comp", "n_complete"}
QUERIES = {
    "km": Options(time="os_months", event="os_event", group="arm", at=[12.0]),
    "cif": Options(time="crs_months", status="crs_status", group="arm"),
    "cox": Options(time="os_days", event="os_event", covariates=["arm", "female"], robust=True),
    "finegray": Options(time="crs_days", status="crs_status", covariates=["arm", "female"]),
    "table1": Options(by="arm", variables=["female", "risk"]),
}


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    """A synthetic 3-center trial, large enough that yearly cells all hold >= 5 patients."""
    rng = np.random.default_rng(19)
    n = 2400
    arm = rng.choice(["A", "B"], n)
    female = rng.random(n) < 0.45
    rate = np.where(arm == "A", 0.025, 0.035) * np.where(female, 0.8, 1.0)
    t = np.minimum(rng.exponential(1 / rate), 60.0)
    ev = (t < 60.0).astype(int)
    cause = np.where(rng.random(n) < 0.6, 1, 2)
    c_t = np.minimum(rng.exponential(1 / (rate * 1.2)), 60.0)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(n)],
            "center_id": [f"C0{i % 3 + 1}" for i in range(n)],
            "arm": arm,
            "female": female,
            "risk": rng.choice(["adverse", "favorable", "intermediate"], n),
            "os_months": t,
            "os_days": t * 30.4375,
            "os_event": ev,
            "crs_months": c_t,
            "crs_days": c_t * 30.4375,
            "crs_status": np.where(c_t < 60.0, cause, 0),
        }
    )


def _check_message(center: str, data: bytes, n_center: int, ids: set[str]) -> None:
    msg = decode(data, center)
    assert msg["center"] == center
    assert "error" not in msg
    for key, val in msg.items():
        if isinstance(val, np.ndarray):
            # per-cell arrays: at most n/K cells; fixed-size arrays: covariates only
            assert val.shape[0] <= max(n_center // K, 10), (key, val.shape)
            if key in COUNT_FIELDS or key.endswith("_count"):
                assert not np.any((val > 0) & (val < K)), (center, key)
        elif key in COUNT_FIELDS:
            assert not (0 < val < K), (center, key)
        if key == "level_counts":
            assert all(v >= K for lv in val.values() for v in lv.values())
        assert not (ids & set(map(str, np.ravel(val) if isinstance(val, np.ndarray) else [val])))
    assert not any(pid in repr(msg) for pid in list(ids)[:50])


@pytest.mark.parametrize("analysis", sorted(QUERIES))
def test_every_message_leaving_a_node_is_aggregate(trial: pd.DataFrame, analysis: str) -> None:
    seen: list[tuple[str, bytes]] = []
    policy = DisclosurePolicy(min_cell=K, coarsen_months=12)
    fed, _ = simulated_federation(
        trial, "center_id", policy, observer=lambda c, b: seen.append((c, b))
    )
    got = run_federated(fed, analysis, QUERIES[analysis], split_by="center_id")
    sizes = trial["center_id"].value_counts().to_dict()
    ids = set(trial["patient_id"])
    assert len(seen) >= 3 * 2
    for center, data in seen:
        _check_message(center, data, sizes[center], ids)
    # with coarsening the result equals the pooled analysis on the coarsened times
    opts = QUERIES[analysis]
    pooled = run_pooled(coarsened_table(trial, opts.time, 12), analysis, opts)
    assert_same(as_json(got), as_json(pooled))


def test_small_cell_is_refused_naming_the_center(trial: pd.DataFrame) -> None:
    fed, _ = simulated_federation(trial, "center_id", DisclosurePolicy(min_cell=K))
    with pytest.raises(FederationError, match=r"center C01: refused the query") as exc:
        run_federated(fed, "km", QUERIES["km"])
    assert "between 1 and 4 patients" in str(exc.value)


def test_min_cell_boundary(trial: pd.DataFrame) -> None:
    """A cell of exactly k patients leaves the node; k - 1 is refused."""
    part = trial[trial["center_id"] == "C01"].reset_index(drop=True).copy()
    women = np.flatnonzero(part["female"].to_numpy())
    part["grade"] = "low"
    part.loc[women[:5], "grade"] = "high"  # one cell (female, high) of exactly 5 patients
    opts = Options(by="female", variables=["grade"])
    fed, _ = simulated_federation(part, "center_id", DisclosurePolicy(min_cell=5))
    t1 = run_federated(fed, "table1", opts)
    high = next(lv for lv in t1["variables"][0]["levels"] if lv["level"] == "high")
    assert high["count"]["True"] == 5
    part.loc[women[4], "grade"] = "low"  # now 4
    fed, _ = simulated_federation(part, "center_id", DisclosurePolicy(min_cell=5))
    with pytest.raises(FederationError, match="one value of grade"):
        run_federated(fed, "table1", opts)
    fed, _ = simulated_federation(part, "center_id", DisclosurePolicy(min_cell=4))
    assert sum(run_federated(fed, "table1", opts)["n"].values()) == 2 * len(part)


def test_coarsening_grid_and_units() -> None:
    t = np.array([0.0, 0.5, 1.0, 1.0001, 30.4375, 30.5])
    assert coarsen(t, "os_days", 1).tolist() == [0.0, 30.4375, 30.4375, 30.4375, 30.4375, 60.875]
    assert coarsen(np.array([0.2, 3.0, 3.1]), "os_months", 3).tolist() == [3.0, 3.0, 6.0]
    assert coarsen(t, "os_days", None) is t
    assert time_unit("pfs_years") == "years"
    with pytest.raises(ValidationError, match="unit in the column name"):
        coarsen(t, "survival", 1)


@pytest.mark.parametrize(("k", "ok"), [(0, False), (1, True), (5, True), (2.5, False)])
def test_policy_validation(k: object, ok: bool) -> None:
    if ok:
        assert DisclosurePolicy(min_cell=k).min_cell == k  # type: ignore[arg-type]
    else:
        with pytest.raises(ValidationError, match="min_cell"):
            DisclosurePolicy(min_cell=k)  # type: ignore[arg-type]


def test_every_query_is_audited(trial: pd.DataFrame) -> None:
    logs: dict[str, list[tuple[str, dict]]] = {c: [] for c in ("C01", "C02", "C03")}
    sinks = {c: (lambda a, d, c=c: logs[c].append((a, d))) for c in logs}
    fed, _ = simulated_federation(
        trial, "center_id", DisclosurePolicy(min_cell=K, coarsen_months=12), audit=sinks
    )
    run_federated(fed, "km", QUERIES["km"])
    for c in logs:
        assert [(a, d["kind"]) for a, d in logs[c]] == [
            ("query", "hello"),
            ("query", "outcome_counts"),
        ]
        d = logs[c][1][1]
        assert len(d["sha256"]) == 64 and d["bytes"] > 0
        assert d["released"]["count"]["array"][0] > 0
        assert d["policy"] == {"min_cell": K, "coarsen_months": 12}
    fed, _ = simulated_federation(trial, "center_id", DisclosurePolicy(min_cell=K), audit=sinks)
    with pytest.raises(FederationError):
        run_federated(fed, "km", QUERIES["km"])
    assert logs["C01"][-1][0] == "refused"


def test_concordance_needs_covariate_patterns_of_min_cell(trial: pd.DataFrame) -> None:
    """Harrell's C needs counts per (time point, status, risk score): with categorical
    covariates they leave the node (cells >= K, compared with the pooled C in the test
    above); with a continuous covariate every pattern is one patient, so the node refuses
    that one query and the coordinator reports the model without a concordance, saying why."""
    rng = np.random.default_rng(3)
    df = trial.assign(age=np.round(rng.uniform(40, 80, len(trial)), 3))
    opts = Options(time="os_days", event="os_event", covariates=["arm", "age"])
    seen: list[tuple[str, bytes]] = []
    fed, _ = simulated_federation(
        df,
        "center_id",
        DisclosurePolicy(min_cell=K, coarsen_months=12),
        observer=lambda c, b: seen.append((c, b)),
    )
    got = as_json(run_federated(fed, "cox", opts))
    assert got["concordance"] is None and got["concordance_se"] is None
    assert len(fed.notes) == 1
    assert "concordance not computed: center C01: refused" in fed.notes[0]
    assert "one covariate pattern" in fed.notes[0]
    sizes = df["center_id"].value_counts().to_dict()
    for center, data in seen:
        if "error" not in decode(data, center):
            _check_message(center, data, sizes[center], set(df["patient_id"]))
    pooled = as_json(run_pooled(coarsened_table(df, "os_days", 12), "cox", opts))
    assert isinstance(pooled["concordance"], float)
    released = {"concordance": pooled["concordance"], "concordance_se": pooled["concordance_se"]}
    assert_same({**got, **released}, pooled)
