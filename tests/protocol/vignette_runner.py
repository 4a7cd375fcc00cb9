"""Run the vignettes of ``docs/examples/vignettes.json`` (protocol and monitoring tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mst.cli.main import app

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"


def vignettes(face: str) -> list[dict[str, Any]]:
    doc = json.loads((EX / "vignettes.json").read_text(encoding="utf-8"))
    return [v for v in doc["vignettes"] if v["face"] == face]


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def _codes(obj: Any) -> set[str]:
    if isinstance(obj, dict):
        out = {obj["code"]} if isinstance(obj.get("code"), str) else set()
        for v in obj.values():
            out |= _codes(v)
        return out
    if isinstance(obj, list):
        return set().union(*(_codes(v) for v in obj)) if obj else set()
    return set()


def check(v: dict[str, Any]) -> None:
    """Run one vignette and compare with its expected output."""
    args = [str(EX / a) if (EX / a).is_file() else a for a in v["args"]]
    res = CliRunner().invoke(app, args)
    if "exit" in v:
        assert res.exit_code == v["exit"], res.output
        for word in v["message"]:
            assert word in res.output, (word, res.output)
        assert "Traceback" not in res.output
        return
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for path, want in v.get("expect", {}).items():
        assert _get(out, path) == want, (path, _get(out, path))
    missing = set(v.get("codes", ())) - _codes(out)
    assert not missing, missing
    if "count" in v:
        assert len(out) == v["count"], out
    if "absent_options" in v:
        ids = {o["regimen_id"] for o in out["assessment"]["options"]}
        assert not ids & set(v["absent_options"])
