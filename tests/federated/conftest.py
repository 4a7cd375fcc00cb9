"""Shared fixtures of the federated tests: one simulated multi-center flat table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mst.cli.common import to_json


@pytest.fixture(scope="session")
def flat_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flat table of a simulated 360-patient, 3-center cohort, written as CSV."""
    from mst.cohort.flat_table import build_flat_table, write_flat_table
    from mst.simulate import simulate_cohort

    path = tmp_path_factory.mktemp("federated") / "flat.csv"
    write_flat_table(build_flat_table(simulate_cohort(n=360, seed=7, n_centers=3)), path)
    return path


@pytest.fixture(scope="session")
def flat(flat_csv: Path) -> pd.DataFrame:
    """The same table as read by ``mst stats`` (read_table)."""
    from mst.stats.io import read_table

    return read_table(flat_csv)


def as_json(obj: Any) -> Any:
    """What ``--json`` prints, parsed back."""
    return json.loads(to_json(obj))


def assert_same(fed: Any, pooled: Any, rtol: float = 1e-8, path: str = "") -> None:
    """Same keys everywhere; numbers equal within ``rtol`` relative; everything else equal."""
    if isinstance(pooled, dict):
        assert isinstance(fed, dict), path
        assert set(fed) == set(pooled), f"{path}: keys differ {set(fed) ^ set(pooled)}"
        for k in pooled:
            assert_same(fed[k], pooled[k], rtol, f"{path}/{k}")
    elif isinstance(pooled, list):
        assert isinstance(fed, list) and len(fed) == len(pooled), f"{path}: lengths differ"
        for i, (a, b) in enumerate(zip(fed, pooled, strict=True)):
            assert_same(a, b, rtol, f"{path}[{i}]")
    elif isinstance(pooled, float) and not isinstance(pooled, bool):
        assert isinstance(fed, int | float), f"{path}: {fed!r} vs {pooled!r}"
        assert math.isclose(fed, pooled, rel_tol=rtol, abs_tol=1e-300), f"{path}: {fed} != {pooled}"
    else:
        assert fed == pooled, f"{path}: {fed!r} != {pooled!r}"
