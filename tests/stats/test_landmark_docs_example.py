"""The immortal-time worked example of docs/regression.md runs and its table is current."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "regression.md"


def _example_code() -> str:
    text = DOC.read_text()
    start = text.index("Worked example on the simulated demo cohort")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block is not None
    return block.group(1)


def _table_hr(label: str) -> tuple[float, float, float]:
    text = DOC.read_text()
    row = re.search(
        rf"^\| {re.escape(label)} \|.*\| ([0-9.]+) \| ([0-9.]+)–([0-9.]+) \|$", text, re.M
    )
    assert row is not None, label
    return float(row.group(1)), float(row.group(2)), float(row.group(3))


def _doc_version() -> str:
    m = re.search(r"calibration version `([^`]+)`", DOC.read_text())
    assert m is not None
    return m.group(1)


def test_docs_example_matches_its_table() -> None:
    from mst import simulate

    ns: dict = {}
    exec(compile(_example_code(), str(DOC), "exec"), ns)
    # the bias the example is about: the naive estimate is the most "protective"
    assert ns["naive"].hr[0] < ns["td"].hr[0]
    assert ns["naive"].hr[0] < ns["land"].hr[0]
    assert simulate.calibration_version() == _doc_version(), (
        "simulator recalibrated: regenerate the table in docs/regression.md"
    )
    for label, fit in [
        ("naive (fixed covariate)", ns["naive"]),
        ("time-dependent covariate", ns["td"]),
        ("landmark at 12 months", ns["land"]),
    ]:
        hr, lo, hi = _table_hr(label)
        assert round(float(fit.hr[0]), 2) == hr
        assert round(float(fit.lower[0]), 2) == lo
        assert round(float(fit.upper[0]), 2) == hi
