"""The optional omics section of the cohort report (``mst report --omics``, issue 17): the
DE and enrichment numbers in the HTML, the PDF and the JSON equal the omics tables; the five
Figure 4 panels are drawn; bad omics input exits 2 naming the file and the field."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.io.exchange import write_cohort
from mst.simulate import simulate_cohort

runner = CliRunner()
PANELS = ("omics_volcano", "omics_ma", "omics_pca", "omics_heatmap", "omics_dots")


def _run(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("report_omics")
    p = {k: d / f"{k}.csv" for k in ("counts", "samples", "de", "enrich", "cohort")}
    p["result"] = d / "omics.json"
    r = _run("omics", "simulate", "--out", str(p["counts"]), "--samples", str(p["samples"]),
             "--genes", "250", "--de", "50", "--seed", "4",
             "--patient-ids", "C01-0001,C01-0002,C01-0003,C01-0004")
    assert r.exit_code == 0, r.output
    r = _run("omics", "de", str(p["counts"]), "--samples", str(p["samples"]),
             "--out", str(p["de"]), "--result", str(p["result"]))
    assert r.exit_code == 0, r.output
    r = _run("omics", "enrich", str(p["de"]), "--out", str(p["enrich"]))
    assert r.exit_code == 0, r.output
    write_cohort(simulate_cohort(80, seed=21), p["cohort"])
    r = _run("report", "--from", str(p["cohort"]), "--out", str(d / "r.html"), "--pdf",
             str(d / "r.pdf"), "--quiet", "--omics", str(p["result"]),
             "--omics-enrichment", str(p["enrich"]))
    assert r.exit_code == 0, r.output
    return {"dir": d, "paths": p, "summary": json.loads(r.stdout),
            "numbers": json.loads((d / "r.json").read_text(encoding="utf-8")),
            "html": (d / "r.html").read_text(encoding="utf-8")}


def test_numbers_equal_the_de_and_enrichment_tables(built: dict[str, Any]) -> None:
    de = pd.read_csv(built["paths"]["de"], keep_default_na=True)
    en = pd.read_csv(built["paths"]["enrich"])
    o = built["numbers"]["omics"]
    direction = de["direction"].fillna("")
    assert o["up"] == int((direction == "up").sum()) > 0
    assert o["down"] == int((direction == "down").sum()) > 0
    assert o["genes"] == len(de) == 250
    assert o["genes_tested"] == int(de["pvalue"].notna().sum())
    assert o["genes_adjusted"] == int(de["padj"].notna().sum())
    assert (o["lfc_threshold"], o["padj_threshold"]) == (1.0, 0.05)
    assert o["samples_per_level"] == {"MST": 4, "healthy": 2}
    assert o["patients_linked"] == 4
    degs = de[direction != ""].sort_values(["padj", "pvalue"], kind="stable")
    assert [g["gene_id"] for g in o["top_genes"]] == list(degs["gene_id"].head(20))
    e = o["enrichment"]
    assert e["method"] == "ora"
    assert e["sets_tested"] == len(en)
    assert e["sets_significant"] == int((en["padj"] <= 0.05).sum())
    assert e["top_terms"][0]["term"] == en.sort_values(["padj", "pvalue"]).iloc[0]["term"]
    assert built["summary"]["omics"]["up"] == o["up"]  # the CLI's summary line


def test_html_shows_the_section_and_the_five_panels(built: dict[str, Any]) -> None:
    html, o = built["html"], built["numbers"]["omics"]
    assert "Figure 4. Transcriptomic profiling" in html
    for fid in PANELS:
        assert f'<figure id="{fid}">' in html
    assert built["summary"]["figures"] == html.count("<svg")
    assert f"<td>Up in MST</td><td>{o['up']}</td>" in html
    assert f"<td>Down in MST</td><td>{o['down']}</td>" in html
    assert f"{o['genes_tested']} were tested" in html
    assert o["enrichment"]["top_terms"][0]["description"] in html
    assert not built["numbers"]["quality"].get("skipped")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_carries_the_same_section(built: dict[str, Any]) -> None:
    text = subprocess.run(["pdftotext", "-layout", str(built["dir"] / "r.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout
    o = built["numbers"]["omics"]
    for phrase in ("Figure 4. Transcriptomic profiling", "Genes tested (with a p-value)",
                   f"were up and {o['down']}", "Top 20 DEGs by adjusted p",
                   "PCA of VST counts", "Enriched pathways", "gene sets tested",
                   o["top_genes"][0]["gene_id"]):
        assert phrase in text, phrase


def _bad(built: dict[str, Any], tmp: Path, edit: Any) -> Path:
    data = json.loads(built["paths"]["result"].read_text(encoding="utf-8"))
    edit(data)
    out = tmp / "bad.json"
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


def _set(path: list[Any], value: Any) -> Any:
    def edit(data: dict[str, Any]) -> None:
        obj = data
        for k in path[:-1]:
            obj = obj[k]
        if value is KeyError:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value
    return edit


@pytest.mark.parametrize(("path", "value", "message"), [
    (["format"], "something", "bad.json, field format"),
    (["settings", "contrast"], KeyError, "bad.json, field settings.contrast: is missing"),
    (["settings", "padj_threshold"], 5, "bad.json, field settings.padj_threshold"),
    (["genes", 0, "padj"], "small", "bad.json, field genes[0].padj"),
    (["genes", 0, "log2fc"], KeyError, "bad.json, field genes[0].log2fc: is missing"),
    (["samples", 1, "condition"], KeyError, "bad.json, field samples[1].condition"),
    (["vst", "values", 0], [1.0], "bad.json, field vst.values[0]"),
])
def test_bad_result_file_names_the_field(built: dict[str, Any], tmp_path: Path,
                                         path: list[Any], value: Any, message: str) -> None:
    bad = _bad(built, tmp_path, _set(path, value))
    r = _run("report", "--from", str(built["paths"]["cohort"]), "--out",
             str(tmp_path / "x.html"), "--quiet", "--omics", str(bad))
    assert r.exit_code == 2
    assert message in r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "x.html").exists()


def test_direction_that_disagrees_with_the_thresholds(built: dict[str, Any],
                                                      tmp_path: Path) -> None:
    def flip(data: dict[str, Any]) -> None:
        g = next(g for g in data["genes"] if g["direction"] == "up")
        g["direction"] = None

    r = _run("report", "--from", str(built["paths"]["cohort"]), "--out",
             str(tmp_path / "x.html"), "--quiet", "--omics", str(_bad(built, tmp_path, flip)))
    assert r.exit_code == 2
    assert "direction" in r.stderr and "expected up" in r.stderr


def test_bad_files_and_flags(built: dict[str, Any], tmp_path: Path) -> None:
    base = ["report", "--from", str(built["paths"]["cohort"]), "--out",
            str(tmp_path / "x.html"), "--quiet"]
    r = _run(*base, "--omics", str(tmp_path / "missing.json"))
    assert r.exit_code == 2 and "missing.json: no such file" in r.stderr
    (tmp_path / "de.json").write_text("gene_id,padj\n", encoding="utf-8")
    r = _run(*base, "--omics", str(tmp_path / "de.json"))
    assert r.exit_code == 2 and "de.json: is not a JSON omics result" in r.stderr
    r = _run(*base, "--omics-enrichment", str(built["paths"]["enrich"]))
    assert r.exit_code == 2 and "--omics-enrichment" in r.stderr and "needs --omics" in r.stderr
    en = pd.read_csv(built["paths"]["enrich"])
    en.drop(columns=["padj"]).to_csv(tmp_path / "e1.csv", index=False)
    r = _run(*base, "--omics", str(built["paths"]["result"]), "--omics-enrichment",
             str(tmp_path / "e1.csv"))
    assert r.exit_code == 2 and "e1.csv, column padj: is required" in r.stderr
    en["pvalue"] = en["pvalue"].astype(object)
    en.loc[2, "pvalue"] = "low"
    en.to_csv(tmp_path / "e2.csv", index=False)
    r = _run(*base, "--omics", str(built["paths"]["result"]), "--omics-enrichment",
             str(tmp_path / "e2.csv"))
    assert r.exit_code == 2 and "e2.csv, row 4, pvalue: 'low' rejected" in r.stderr
    r = _run(*base, "--omics-enrichment", str(built["paths"]["de"]), "--omics",
             str(built["paths"]["result"]))
    assert r.exit_code == 2 and "de.csv, column nes or query_size" in r.stderr
    r = _run(*base, "--disease", "myeloma", "--omics", str(built["paths"]["result"]))
    assert r.exit_code == 2 and "AML cohort report only" in r.stderr
    assert not (tmp_path / "x.html").exists()
