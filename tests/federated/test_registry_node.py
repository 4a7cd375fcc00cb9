"""A node answering from a registry (SQLite, and PostgreSQL when configured) and writing one
audit row per query into that registry."""

from __future__ import annotations

import pytest

from mst.federated.analyses import Options, run_federated, run_pooled
from mst.federated.disclosure import DisclosurePolicy
from mst.federated.errors import FederationError
from mst.federated.federation import Federation
from mst.federated.node import registry_node

from .conftest import as_json, assert_same

KM = Options(time="os_months", event="os_event", group="age_group")


def test_registry_node_answers_and_audits(db_url: str, tmp_path: object) -> None:
    from mst.cohort.flat_table import build_flat_table
    from mst.registry import open_registry
    from mst.simulate import simulate_cohort

    with open_registry(db_url, user="setup") as reg:
        reg.import_cohort(simulate_cohort(n=20, seed=4, n_centers=2))
        own = build_flat_table(reg.load_records(center_id="C01"))
    node = registry_node(db_url, "C01", DisclosurePolicy(min_cell=1), user="node-C01")
    fed = Federation(lambda c, b: node.handle(b), ["C01"])
    got = run_federated(fed, "km", KM)
    assert_same(as_json(got), as_json(run_pooled(own, "km", KM)))
    assert got["n"] == len(own) < 20  # only this center's patients
    strict = registry_node(db_url, "C01", DisclosurePolicy(min_cell=5), user="node-C01")
    with pytest.raises(FederationError, match="center C01: refused"):
        run_federated(Federation(lambda c, b: strict.handle(b), ["C01"]), "km", KM)
    with open_registry(db_url, migrate=False) as reg:
        log = reg.audit_log(entity="federated")
    assert [(e.action, e.entity_key) for e in log] == [
        ("query", "hello"),
        ("query", "outcome_counts"),
        ("query", "hello"),
        ("refused", "outcome_counts"),
    ]
    assert all(e.user == "node-C01" for e in log)
    assert len(log[1].after["sha256"]) == 64 and log[1].after["released"]["count"]["array"]
