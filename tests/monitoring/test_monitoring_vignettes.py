"""The monitoring vignettes of docs/examples/vignettes.json give their documented outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "mst_vignette_runner", Path(__file__).parents[1] / "protocol" / "vignette_runner.py"
)
assert _spec is not None and _spec.loader is not None
_runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runner)
check, vignettes = _runner.check, _runner.vignettes

MONITORING = vignettes("monitoring")


@pytest.mark.parametrize("v", MONITORING, ids=[v["name"][:60] for v in MONITORING])
def test_monitoring_vignette(v: dict) -> None:
    check(v)
