"""Report from an exchange file: bias-corrected courses analyses equal ``mst stats cox``; the
PDF renders (pages saved as PNG under artifacts/report/ for review)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from mst.cli.main import app
from mst.cohort import build_flat_table
from mst.io.exchange import write_cohort
from mst.report.compute import DAYS_PER_MONTH
from mst.simulate import simulate_cohort
from mst.stats.landmark import landmark_table
from mst.stats.timedep import course_days, split_at_times

runner = CliRunner()
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("report_cohort")
    cohort = simulate_cohort(150, seed=21)
    write_cohort(cohort, d / "cohort.csv")
    res = runner.invoke(app, ["report", "--from", str(d / "cohort.csv"), "--out",
                              str(d / "r.html"), "--pdf", str(d / "r.pdf"), "--quiet"])
    assert res.exit_code == 0, res.output
    return {"dir": d, "cohort": cohort, "summary": json.loads(res.stdout),
            "numbers": json.loads((d / "r.json").read_text(encoding="utf-8"))}


def _cox_cli(path: Path, *args: str) -> dict[str, Any]:
    res = runner.invoke(app, ["stats", "cox", str(path), *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_time_dependent_equals_stats_cox(built: dict[str, Any]) -> None:
    d, cohort = built["dir"], built["cohort"]
    flat = build_flat_table(cohort)
    long = split_at_times(flat[["patient_id", "os_days", "os_event", "age_group"]],
                          course_days(cohort.records), id="patient_id", time="os_days",
                          event="os_event")
    long["courses_gt3_td"] = long["courses"] > 3
    long.to_csv(d / "long.csv", index=False)
    cli = _cox_cli(d / "long.csv", "--start", "tstart", "--time", "tstop", "--event", "status",
                   "--covariates", "courses_gt3_td,age_group", "--cluster", "patient_id",
                   "--robust")
    rep = built["numbers"]["immortal_time"]["time_dependent"]
    assert rep["intervals"] == len(long)
    for k in ("hr", "lower", "upper", "p"):
        np.testing.assert_allclose([rep[k][t] for t in cli[k]], list(cli[k].values()),
                                   rtol=1e-10)


def test_landmark_equals_stats_cox(built: dict[str, Any]) -> None:
    d, cohort = built["dir"], built["cohort"]
    flat = build_flat_table(cohort)
    lm = landmark_table(flat, landmark=12 * DAYS_PER_MONTH, time="os_days", event="os_event",
                        id="patient_id", times=course_days(cohort.records))
    lm["courses_gt3_lm"] = lm["courses"] > 3
    lm[["lm_time", "lm_event", "courses_gt3_lm", "age_group"]].to_csv(d / "lm.csv",
                                                                     index=False)
    cli = _cox_cli(d / "lm.csv", "--time", "lm_time", "--event", "lm_event",
                   "--covariates", "courses_gt3_lm,age_group")
    rep = built["numbers"]["immortal_time"]["landmark"]
    assert rep["n"] == cli["n"] == len(lm)
    for k in ("hr", "lower", "upper", "p"):
        np.testing.assert_allclose([rep[k][t] for t in cli[k]], list(cli[k].values()),
                                   rtol=1e-10)


def test_naive_courses_effect_larger_than_corrected(built: dict[str, Any]) -> None:
    it = built["numbers"]["immortal_time"]
    naive = it["naive"]["hr"]["courses_gt3"]
    assert naive < it["time_dependent"]["hr"]["courses_gt3_td"]
    assert naive < it["landmark"]["hr"]["courses_gt3_lm"]


def test_html_is_self_contained(built: dict[str, Any]) -> None:
    text = (built["dir"] / "r.html").read_text(encoding="utf-8")
    assert "<svg" in text
    for external in ('src="http', "src='http", 'href="http', "<link", "<img"):
        assert external not in text  # no external resource: one file is the whole report
    assert text.count("<svg") == built["summary"]["figures"]
    assert "Transcriptomic profiling" not in text  # the omics section only with --omics
    assert "omics" not in built["numbers"] and "omics" not in built["summary"]
    for name in ("log-rank", "Gray", "Fine-Gray", "Kaplan-Meier", "matplotlib",
                 "Data quality", "Number at risk", "Table 2 (continued)", "All patients"):
        assert name in text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_pdf_is_typeset_from_the_same_content(built: dict[str, Any]) -> None:
    pdf = built["dir"] / "r.pdf"
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(pdf)], check=True,
                          capture_output=True, text=True).stdout
    sizes = {ln.split(":", 1)[1].split("(")[0].strip() for ln in info.splitlines()
             if ln.startswith("Page") and "size" in ln}
    assert sizes == {"595.276 x 841.89 pts"}  # A4 on every page
    n_pages = int(next(ln for ln in info.splitlines() if ln.startswith("Pages:")).split()[1])
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    html = (built["dir"] / "r.html").read_text(encoding="utf-8")
    for phrase in ("Table 1. Patient and donor characteristics", " ± ",
                   "pooled variance", "(reference)", "Supplementary Table 1. Adverse events",
                   "Median follow-up", "Number at risk",  # SVG figure text stays text
                   "Subdistribution hazard ratio"):
        assert phrase in text, phrase  # the same content in both outputs
        assert phrase in html, phrase
    assert f"1 / {n_pages}" in text and f"{n_pages} / {n_pages}" in text  # page numbers
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("page-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(ARTIFACTS / "page")],
                   check=True)
    pages = sorted(ARTIFACTS.glob("page-*.png"))
    assert len(pages) == n_pages
    for p in pages:
        img = imread(p)
        ink = (img[..., :3].mean(axis=2) < 0.5).mean()
        assert 0.002 < ink < 0.5, p.name  # neither blank nor a solid block
