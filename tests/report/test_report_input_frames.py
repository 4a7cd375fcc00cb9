"""The report's input from an exchange file: file → frames → flat table, with named phases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mst.cohort import build_flat_table
from mst.io.exchange import write_cohort
from mst.report.inputs import load_input
from mst.simulate import simulate_cohort
from mst.stats import course_days


def test_exchange_file_goes_through_frames(tmp_path: Path) -> None:
    cohort = simulate_cohort(8, seed=21)
    path = tmp_path / "cohort.csv"
    write_cohort(cohort, path)
    phases: list[str] = []
    inp = load_input(path=path, progress=lambda phase, _k, _t: phases.append(phase))
    assert inp.frames is not None and len(inp.frames.patients) == 8
    pd.testing.assert_frame_equal(inp.table, build_flat_table(cohort))
    assert inp.course_days == course_days(cohort.records)
    seen = list(dict.fromkeys(phases))
    assert seen == ["reading", "flat table"]
