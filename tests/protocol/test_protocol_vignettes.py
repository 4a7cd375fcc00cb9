"""The protocol vignettes of docs/examples/vignettes.json give their documented outputs."""

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
EX, check, vignettes = _runner.EX, _runner.check, _runner.vignettes

PROTOCOL = vignettes("protocol")


@pytest.mark.parametrize("v", PROTOCOL, ids=[v["name"][:60] for v in PROTOCOL])
def test_protocol_vignette(v: dict) -> None:
    check(v)


def test_every_plan_example_is_a_vignette() -> None:
    used = {a for v in PROTOCOL for a in v["args"] if a.endswith(".json")}
    new = {p.name for p in EX.glob("*plan_*.json")} - {
        "plan_new_fit_68.json",
        "plan_consolidation_after_cr.json",
    }
    assert new <= used
