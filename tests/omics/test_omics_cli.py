"""``mst omics simulate | de | enrich | report`` end to end on a small simulated 4-vs-2
study, and bad input exiting with status 2 and a plain message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.domain import Cohort

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("omics")
    paths = {k: d / f"{k}.csv" for k in ("counts", "samples", "truth", "de", "enrich")}
    code, out, err = run(
        "omics", "simulate", "--out", str(paths["counts"]), "--samples", str(paths["samples"]),
        "--truth", str(paths["truth"]), "--genes", "400", "--de", "60", "--seed", "5",
        "--patient-ids", "C01-0001,C01-0002,C01-0003,C01-0004",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["de"] == 60
    code, out, err = run(
        "omics", "de", str(paths["counts"]), "--samples", str(paths["samples"]),
        "--design", "~condition", "--contrast", "condition,MST,healthy",
        "--out", str(paths["de"]), "--json",
    )  # fmt: skip
    assert code == 0, err
    paths["de_json"] = d / "de.json"
    paths["de_json"].write_text(out)
    return paths


def test_simulate_is_deterministic(study: dict[str, Path], tmp_path: Path) -> None:
    c, s = tmp_path / "c.csv", tmp_path / "s.csv"
    args = ["--genes", "400", "--de", "60", "--seed", "5",
            "--patient-ids", "C01-0001,C01-0002,C01-0003,C01-0004"]  # fmt: skip
    code, _, err = run("omics", "simulate", "--out", str(c), "--samples", str(s), *args)
    assert code == 0, err
    assert c.read_bytes() == study["counts"].read_bytes()
    assert s.read_bytes() == study["samples"].read_bytes()
    sheet = pd.read_csv(s, dtype=str, keep_default_na=False)
    assert list(sheet["condition"]) == ["MST"] * 4 + ["healthy"] * 2
    assert list(sheet["patient_id"])[:4] == ["C01-0001", "C01-0002", "C01-0003", "C01-0004"]


def test_de_json_keys_and_recovery_of_the_truth(study: dict[str, Path]) -> None:
    payload = json.loads(study["de_json"].read_text())
    gene = payload["genes"][0]
    for key in ("base_mean", "log2fc", "lfc_se", "stat", "pvalue", "padj"):
        assert key in gene
    s = payload["settings"]
    assert s["design"] == "~condition"
    assert s["contrast"] == ["condition", "MST", "healthy"]
    assert (s["lfc_threshold"], s["padj_threshold"]) == (1.0, 0.05)
    assert payload["input_format"] == "matrix"
    truth = pd.read_csv(study["truth"], index_col=0)
    de = pd.read_csv(study["de"], index_col="gene_id", keep_default_na=True)
    calls = de["direction"].fillna("")
    called = set(calls.index[calls != ""])
    true = set(truth.index[truth["de"]])
    assert len(called & true) / len(called) > 0.9  # few false discoveries
    assert len(called & true) / len(true) > 0.5  # most true changes found with 4 vs 2
    both = sorted(called & true)
    sign_ok = (de.loc[both, "log2fc"] > 0) == (truth.loc[both, "true_log2fc"] > 0)
    assert sign_ok.all()
    assert set(de.columns) >= {"symbol", "entrez_id", "base_mean", "padj"}


def test_enrich_ora_finds_the_simulated_pathways(study: dict[str, Path]) -> None:
    code, out, err = run(
        "omics", "enrich", str(study["de"]), "--gene-sets", "go-bp",
        "--out", str(study["enrich"]), "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    sets = payload["sets"]
    for key in ("term", "overlap", "set_size", "pvalue", "padj", "genes"):
        assert key in sets[0]
    assert isinstance(sets[0]["genes"], list)
    top = {s["term"] for s in sets[:30]}
    assert top & {"GO:0030099", "GO:0002244", "GO:0007040", "GO:0030097"}
    assert payload["info"]["gene_set_source"]["licence"].startswith("CC BY 4.0")


def test_enrich_gsea_with_a_user_gmt(study: dict[str, Path], tmp_path: Path) -> None:
    truth = pd.read_csv(study["truth"], index_col=0)
    up = list(truth.index[truth["true_log2fc"] > 0])[:25]
    rest = list(truth.index[~truth["de"]])[:25]
    gmt = tmp_path / "kegg.gmt"
    gmt.write_text("MY_UP\tna\t" + "\t".join(up) + "\nMY_NULL\tna\t" + "\t".join(rest) + "\n")
    out_csv = tmp_path / "gsea.csv"
    code, out, err = run(
        "omics", "enrich", str(study["de"]), "--gene-sets", str(gmt), "--method", "gsea",
        "--permutations", "200", "--out", str(out_csv), "--json",
    )  # fmt: skip
    assert code == 0, err
    res = {s["term"]: s for s in json.loads(out)["sets"]}
    assert res["MY_UP"]["nes"] > 0
    assert res["MY_UP"]["pvalue"] < 0.05


def _registry(tmp_path: Path, cohort: Cohort) -> str:
    from mst.registry import open_registry

    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    with open_registry(url) as reg:
        reg.import_cohort(cohort)
    return url


def test_report_renders_the_figure4_panels_with_registry_patients(
    study: dict[str, Path], tmp_path: Path, small_cohort: Cohort
) -> None:
    url = _registry(tmp_path, small_cohort)
    sheet = pd.read_csv(study["samples"], dtype=str, keep_default_na=False)
    sheet["patient_id"] = ["C01-0001", "C01-0002", "C02-0001", "", "", ""]
    s = tmp_path / "s.csv"
    sheet.to_csv(s, index=False)
    html_path = tmp_path / "omics.html"
    code, out, err = run(
        "omics", "report", str(study["counts"]), "--samples", str(s),
        "--out", str(html_path), "--db", url, "--result", str(tmp_path / "omics.json"),
    )  # fmt: skip
    assert code == 0, err
    html = html_path.read_text()
    assert html.count("<svg") == 5  # volcano, MA, PCA, heatmap, dot plot
    for marker in ("Volcano", "MA plot", "PCA of VST counts", "Top ", "Enriched pathways"):
        assert marker in html
    assert "C02-0001" in html and "vital_status" in html  # registry link of the samples
    assert 'id="top-degs"' in html and 'id="enrichment"' in html
    summary = json.loads(out)
    de = pd.read_csv(study["de"])
    assert summary["n_up"] == int((de["direction"] == "up").sum())
    # the result file for 'mst report --omics' carries the same DE, the VST and the ORA
    from mst.omics.result import read_result

    res = read_result(tmp_path / "omics.json")
    assert int((res.table["direction"] == "up").sum()) == summary["n_up"]
    assert res.samples.loc["MST03", "patient_id"] == "C02-0001"
    assert res.vst is not None and list(res.vst.columns) == list(sheet["sample_id"])
    assert res.enrich is not None and res.enrich_info is not None
    assert res.enrich_info["method"] == "ora"
    assert int((res.enrich["padj"] <= 0.05).sum()) == summary["enriched_sets"]


def test_report_refuses_a_patient_missing_from_the_registry(
    study: dict[str, Path], tmp_path: Path, small_cohort: Cohort
) -> None:
    url = _registry(tmp_path, small_cohort)
    code, _, err = run(
        "omics", "report", str(study["counts"]), "--samples", str(study["samples"]),
        "--out", str(tmp_path / "o.html"), "--db", url,
    )  # fmt: skip
    assert code == 2
    assert "sample MST03, patient_id: 'C01-0003' rejected — is not a patient of the registry" in err
    assert not (tmp_path / "o.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--contrast", "condition,AML,healthy"], "contrast test level: 'AML'"),
        (["--design", "~batch + condition"], "not full rank"),
        (["--design", "~age"], "design variable age"),
    ],
)
def test_de_bad_design_exits_2(
    study: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    sheet = pd.read_csv(study["samples"], dtype=str, keep_default_na=False)
    sheet["batch"] = ["b1"] * 4 + ["b2"] * 2  # batch coincides with condition
    s = tmp_path / "s.csv"
    sheet.to_csv(s, index=False)
    code, _, err = run(
        "omics", "de", str(study["counts"]), "--samples", str(s), "--out",
        str(tmp_path / "de.csv"), *args,
    )  # fmt: skip
    assert code == 2
    assert message in err
    assert "Traceback" not in err and "np." not in err


def test_de_bad_counts_exit_2(study: dict[str, Path], tmp_path: Path) -> None:
    text = study["counts"].read_text().splitlines()
    parts = text[3].split(",")
    parts[2] = "12.5"
    text[3] = ",".join(parts)
    bad = tmp_path / "c.csv"
    bad.write_text("\n".join(text) + "\n")
    code, _, err = run(
        "omics", "de", str(bad), "--samples", str(study["samples"]), "--out",
        str(tmp_path / "de.csv"),
    )  # fmt: skip
    assert code == 2
    assert re.search(r"c\.csv row 4 \(.+\), sample MST02: '12\.5' rejected", err), err


def test_enrich_bad_inputs_exit_2(study: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = run("omics", "enrich", str(study["de"]), "--gene-sets", "kegg",
                       "--out", str(tmp_path / "e.csv"))  # fmt: skip
    assert code == 2 and "go-bp" in err
    table = tmp_path / "t.csv"
    table.write_text("gene_id,padj\nA,0.1\n")
    code, _, err = run("omics", "enrich", str(table), "--out", str(tmp_path / "e.csv"))
    assert code == 2 and "column log2fc" in err
