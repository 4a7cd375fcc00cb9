"""Secure aggregation (SecAgg+) of the outcome counts, the Cox and Fine–Gray sums and Table 1:
the exact fixed-point encoding, the shared layouts, and the node's rules. The same path runs
over Flower's SecAgg+ in test_flower_simulation.py (slow, with the masked messages
inspected); here the centers' vectors are summed in process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.federated.analyses import Options, coarsened_table, run_federated, run_pooled
from mst.federated.disclosure import DisclosurePolicy
from mst.federated.errors import FederationError
from mst.federated.secure import FRACTION_BITS, N_LIMBS, decode_fixed, encode_fixed
from mst.federated.simulation import simulated_federation
from mst.federated.wire import decode

from .conftest import as_json, assert_same

SECURE = DisclosurePolicy(min_cell=1, coarsen_months=1, secure_only=True)


def test_fixed_point_limbs_add_exactly() -> None:
    rng = np.random.default_rng(19)
    vals = [
        np.array([0.0, 1.0, -1.0, 2.0**62, -(2.0**62), 3.0, 1e-300]),
        np.concatenate([rng.normal(0, 1e6, 200), rng.integers(-(10**9), 10**9, 200)]),
    ]
    for v in vals:
        limbs = encode_fixed(v)
        assert limbs.shape == (N_LIMBS + 1, v.size)
        assert np.all((limbs >= 0) & (limbs < 2**16) & (limbs == np.rint(limbs)))
    a = np.concatenate([vals[1], [2.5, -7.0]])
    b = np.concatenate([rng.normal(0, 1e3, 400), [-2.5, 7.0]])
    got = decode_fixed(encode_fixed(a) + encode_fixed(b) + encode_fixed(-a))
    # exact up to the fixed-point resolution 2^-64 of each term
    assert np.all(np.abs(got - b) <= 3 * 2.0**-FRACTION_BITS * (1 + np.abs(b) * 2**-40))
    ints = rng.integers(0, 10**6, 50).astype(float)
    assert np.array_equal(decode_fixed(sum(encode_fixed(ints) for _ in range(3))), 3 * ints)
    with pytest.raises(ValidationError, match="range of the exact fixed-point encoding"):
        encode_fixed(np.array([2.0**63]))


@pytest.mark.parametrize(
    ("analysis", "opts"),
    [
        ("km", Options(time="os_months", event="os_event", group="age_group", at=[12.0])),
        ("cif", Options(time="crs_days", status="crs_status", group="age_group", strata="sex")),
    ],
)
def test_secure_totals_equal_pooled(flat: pd.DataFrame, analysis: str, opts: Options) -> None:
    fed, _ = simulated_federation(flat, "center_id", SECURE, secure=True)
    got = run_federated(fed, analysis, opts)
    assert fed.secure_rounds == 1
    pooled = run_pooled(coarsened_table(flat, opts.time, 1), analysis, opts)
    assert_same(as_json(got), as_json(pooled), rtol=0.0)


SECURE_MODELS = [
    ("cox", Options(time="os_days", event="os_event", covariates=["age_group", "courses_gt3"])),
    (
        "cox",
        Options(
            time="os_days",
            event="os_event",
            covariates=["age_group", "age"],
            strata="center_id",
            robust=True,
            ties="breslow",
        ),
    ),
    ("finegray", Options(time="crs_days", status="crs_status", covariates=["age_group", "age"])),
    ("table1", Options(by="age_group", variables=["sex", "age", "courses_gt3"])),
]


@pytest.mark.parametrize(("analysis", "opts"), SECURE_MODELS)
def test_secure_models_equal_pooled(flat: pd.DataFrame, analysis: str, opts: Options) -> None:
    """Cox (Efron; Breslow stratified by center with robust SE), Fine–Gray and Table 1 from
    secure totals only equal ``mst stats`` on the pooled table (on the shared grid)."""
    seen: list[dict] = []
    fed, _ = simulated_federation(
        flat, "center_id", SECURE, secure=True, observer=lambda c, b: seen.append(decode(b, c))
    )
    got = run_federated(fed, analysis, opts, split_by="center_id")
    table = coarsened_table(flat, opts.time, 1) if opts.time else flat
    assert_same(as_json(got), as_json(run_pooled(table, analysis, opts)))
    assert fed.notes == [] and fed.secure_rounds >= 1
    # in the clear only labels and shapes; every number arrived as a secure vector
    plain = [m for m in seen if "secure_vector" not in m]
    assert {m["kind"] for m in plain} == {"hello", "secure_labels"}
    numbers = {"n", "d", "c0", "sum_x", "rr", "uu", "count", "level_counts", "v0_count"}
    assert not any(numbers & set(m) for m in plain)


def test_secure_cox_clustered_by_center(flat: pd.DataFrame) -> None:
    """Σ_c r_c r_cᵀ is additive (each node sends its r_c r_cᵀ): the clustered sandwich equals
    the pooled one; so does the clustered concordance SE (Σ_c D_c², D_c the center's summed
    influence terms)."""
    opts = Options(
        time="os_days",
        event="os_event",
        covariates=["age_group", "courses_gt3"],
        cluster="center_id",
    )
    fed, _ = simulated_federation(flat, "center_id", SECURE, secure=True)
    got = as_json(run_federated(fed, "cox", opts, split_by="center_id"))
    want = as_json(run_pooled(coarsened_table(flat, "os_days", 1), "cox", opts))
    assert isinstance(want["concordance_se"], float) and fed.notes == []
    assert_same(got, want)


def test_secure_sum_refuses_a_value_beyond_the_encoding(flat: pd.DataFrame) -> None:
    big = flat.assign(age_e10=flat["age"] * 1e10)
    fed, _ = simulated_federation(big, "center_id", SECURE, secure=True)
    with pytest.raises(
        FederationError,
        match=r"center C01: refused the query: cannot add regression_moments securely "
        r"\(a value exceeds ±2\^63",
    ):
        run_federated(fed, "cox", Options(time="os_days", event="os_event", covariates=["age_e10"]))


def test_secure_only_node_refuses_plain_counts(flat: pd.DataFrame) -> None:
    fed, _ = simulated_federation(flat, "center_id", SECURE)
    with pytest.raises(FederationError, match="center C01: refused the query: this center "):
        run_federated(fed, "km", Options(time="os_months", event="os_event"))


def test_secure_needs_the_public_grid_and_count_analyses(flat: pd.DataFrame) -> None:
    fed, _ = simulated_federation(flat, "center_id", DisclosurePolicy(min_cell=1), secure=True)
    with pytest.raises(FederationError, match="needs the public time grid of --coarsen-months"):
        run_federated(fed, "km", Options(time="os_months", event="os_event"))
    fed, _ = simulated_federation(
        flat, "center_id", DisclosurePolicy(min_cell=1, secure_only=True), secure=True
    )
    with pytest.raises(FederationError, match="needs the public time grid of --coarsen-months"):
        run_federated(
            fed, "cox", Options(time="os_days", event="os_event", covariates=["age_group"])
        )
    grids = {"C01": SECURE, "C02": SECURE, "C03": DisclosurePolicy(1, 3, True)}
    fed, _ = simulated_federation(flat, "center_id", grids, secure=True)
    with pytest.raises(FederationError, match="same time grid at every center"):
        run_federated(fed, "km", Options(time="os_months", event="os_event"))
